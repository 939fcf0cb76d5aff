//! The plain tower way to require a scope, for servers without axum's extractors.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::http::{ResponseBody, ResponseFuture};
use crate::standard_claims::HasScopes;

/// Lets through only requests whose verified [`Claims<C>`](crate::Claims) grant `scope`; put it
/// inside the session or verifier layer, around the routes that need the scope. A missing
/// scope is 403 `insufficient_scope` with `scope="..."` (RFC 6750 §3.1), gRPC
/// `PERMISSION_DENIED`; a request without claims (a public route, optional mode) is the
/// layer's 401.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_jwt_sessions::{RequireScopeLayer, StandardClaims};
///
/// let writes = ServiceBuilder::new()
///     .layer(RequireScopeLayer::<StandardClaims>::new("write"))
///     .service(tower::service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("written")))
///     }));
/// ```
#[must_use]
pub struct RequireScopeLayer<C> {
    scope: Cow<'static, str>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> RequireScopeLayer<C> {
    /// Requires `scope` of the claims of type `C`.
    pub fn new(scope: impl Into<Cow<'static, str>>) -> Self {
        RequireScopeLayer {
            scope: scope.into(),
            _claims: PhantomData,
        }
    }
}

impl<T, C> Layer<T> for RequireScopeLayer<C> {
    type Service = RequireScope<T, C>;

    fn layer(&self, inner: T) -> Self::Service {
        RequireScope {
            inner,
            scope: self.scope.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> Clone for RequireScopeLayer<C> {
    fn clone(&self) -> Self {
        RequireScopeLayer::new(self.scope.clone())
    }
}

impl<C> fmt::Debug for RequireScopeLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("scope", &self.scope)
            .finish()
    }
}

/// The service of [`RequireScopeLayer`].
pub struct RequireScope<T, C> {
    inner: T,
    scope: Cow<'static, str>,
    _claims: PhantomData<fn() -> C>,
}

impl<T, C, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<T, C>
where
    T: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: HasScopes + Send + Sync + 'static,
    ResBody: http_body::Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = T::Error;
    type Future = ResponseFuture<T::Future, T, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let scope = &self.scope;
        match crate::http::check_claims::<C, _>(&req, |claims| claims.require_scope(scope)) {
            None => ResponseFuture::inner(self.inner.call(req)),
            Some(response) => ResponseFuture::answered(response),
        }
    }
}

impl<T: Clone, C> Clone for RequireScope<T, C> {
    fn clone(&self) -> Self {
        RequireScope {
            inner: self.inner.clone(),
            scope: self.scope.clone(),
            _claims: PhantomData,
        }
    }
}

impl<T: fmt::Debug, C> fmt::Debug for RequireScope<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("scope", &self.scope)
            .finish()
    }
}
