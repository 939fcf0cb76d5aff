//! The middleware: checks access tokens, answers the refresh route, passes the rest on.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response};
use tower_service::Service;

use crate::backend::SessionBackend;
use crate::bearer::bearer_token;
use crate::body::ResponseBody;
use crate::claims::Claims;
use crate::error::{AuthError, ErrorRenderer};
use crate::future::ResponseFuture;
use crate::grpc;
use crate::refresh;
use crate::routes::Route;
use crate::sessions::Shared;

/// Left in the extensions of requests that passed the layer without claims (public routes,
/// anonymous requests in optional mode), so that an extractor can tell "no token" from "the
/// layer is not installed".
#[derive(Clone)]
pub(crate) struct LayerMark(
    #[cfg_attr(not(feature = "axum"), allow(dead_code))] pub(crate) ErrorRenderer,
);

/// Guards an inner service with JWT sessions; made by [`SessionLayer`](crate::SessionLayer).
///
/// - Protected requests need `Authorization: Bearer <access token>`; the verified
///   [`Claims`] go into the request extensions. Refusals are responses (401, 400, 503), so the
///   inner service's error type is kept.
/// - `POST` on the refresh route is answered here and never reaches the inner service.
/// - Public routes pass through untouched.
/// - gRPC requests (`content-type: application/grpc*`) are refused the gRPC way: HTTP 200
///   with `grpc-status` 16 (`UNAUTHENTICATED`), 7 (`PERMISSION_DENIED`) or 14
///   (`UNAVAILABLE`) and a `grpc-message`.
pub struct SessionService<S, B> {
    inner: S,
    shared: Arc<Shared<B>>,
}

impl<S, B> SessionService<S, B> {
    pub(crate) fn from_shared(inner: S, shared: Arc<Shared<B>>) -> Self {
        SessionService { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> SessionService<S, B>
where
    B: SessionBackend,
{
    fn authenticate<T>(&self, req: &Request<T>) -> Result<Option<Claims<B::Claims>>, AuthError> {
        match bearer_token(req.headers(), req.uri())? {
            Some(token) => self.shared.verify_access(token).map(Some),
            None if self.shared.optional => Ok(None),
            None => Err(AuthError::MissingCredentials),
        }
    }

    fn refuse<F>(&self, err: &AuthError, headers: &http::HeaderMap) -> ResponseFuture<F> {
        crate::debug_event!("request refused: {}", err);
        if grpc::is_grpc(headers) {
            return ResponseFuture::answered(grpc::response(err));
        }
        ResponseFuture::answered(self.shared.renderer.render(err))
    }
}

impl<S, B, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S, B>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    B: SessionBackend,
    ResBody: http_body::Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match self.shared.routes.classify(req.method(), req.uri().path()) {
            Route::Public => {
                req.extensions_mut()
                    .insert(LayerMark(self.shared.renderer.clone()));
            }
            Route::Refresh => {
                if req.method() != Method::POST {
                    return self.refuse(&AuthError::MethodNotAllowed, req.headers());
                }
                let token = bearer_token(req.headers(), req.uri()).map(|t| t.map(str::to_owned));
                let shared = Arc::clone(&self.shared);
                return ResponseFuture::refresh(Box::pin(refresh::respond(shared, token)));
            }
            Route::Protected => match self.authenticate(&req) {
                Ok(Some(claims)) => {
                    req.extensions_mut()
                        .insert(claims.with_renderer(&self.shared.renderer));
                }
                Ok(None) => {
                    req.extensions_mut()
                        .insert(LayerMark(self.shared.renderer.clone()));
                }
                Err(err) => return self.refuse(&err, req.headers()),
            },
        }
        // The ready service is the one we were polled with; keep it and leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::inner(inner.call(req))
    }
}

impl<S: Clone, B> Clone for SessionService<S, B> {
    fn clone(&self) -> Self {
        SessionService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, B> fmt::Debug for SessionService<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
