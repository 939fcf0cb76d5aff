//! The layer for axum apps: the same [`SessionService`], answering axum's own `Body`.
//!
//! axum turns any other body type into its `Body` by boxing it, once per response. This
//! layer hands axum the app's body itself when the request passed (and a `Body` made from
//! the JSON when the layer answered), so nothing is boxed again.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum_core::body::Body;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::http::ResponseBody;
use crate::service::{SessionLayer, SessionService};
use crate::sessions::Sessions;

impl<S, U> Sessions<S, U> {
    /// [`layer`](Self::layer) for axum: the same checks and answers, with responses in
    /// axum's `Body`, so that axum does not box them again (about 40 ns a request).
    ///
    /// ```
    /// use axum::Router;
    /// use axum::routing::get;
    /// use tower::Layer;
    /// use tower_jwt_sessions::{Claims, Keys, MachinableClaims, MemoryBackend, Sessions};
    ///
    /// let memory = MemoryBackend::<MachinableClaims>::new();
    /// let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
    /// let sessions = Sessions::builder(keys, memory.clone(), memory)
    ///     .build()?;
    /// let routes = Router::new()
    ///     .route("/me", get(|claims: Claims<MachinableClaims>| async move { claims.user.name.clone() }));
    /// // Around the whole router (see the module docs for why).
    /// let app: Router = Router::new().fallback_service(sessions.axum_layer().layer(routes));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn axum_layer(&self) -> AxumLayer<S, U> {
        AxumLayer {
            inner: self.layer(),
        }
    }
}

/// Wraps a service in [`AxumService`]; made by [`Sessions::axum_layer`].
#[must_use]
pub struct AxumLayer<S, U = S> {
    inner: SessionLayer<S, U>,
}

impl<T, S, U> Layer<T> for AxumLayer<S, U> {
    type Service = AxumService<T, S, U>;

    fn layer(&self, inner: T) -> Self::Service {
        AxumService {
            inner: self.inner.layer(inner),
        }
    }
}

impl<S, U> Clone for AxumLayer<S, U> {
    fn clone(&self) -> Self {
        AxumLayer {
            inner: self.inner.clone(),
        }
    }
}

impl<S, U> fmt::Debug for AxumLayer<S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AxumLayer").finish_non_exhaustive()
    }
}

/// [`SessionService`] answering axum's `Body`; made by [`AxumLayer`].
pub struct AxumService<T, S, U = S> {
    inner: SessionService<T, S, U>,
}

impl<T, S, U> AxumService<T, S, U> {
    /// The inner service.
    pub fn get_ref(&self) -> &T {
        self.inner.get_ref()
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: Clone, S, U> Clone for AxumService<T, S, U> {
    fn clone(&self) -> Self {
        AxumService {
            inner: self.inner.clone(),
        }
    }
}

impl<T, S, U> fmt::Debug for AxumService<T, S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AxumService").finish_non_exhaustive()
    }
}

impl<T, S, U, ReqBody> Service<Request<ReqBody>> for AxumService<T, S, U>
where
    SessionService<T, S, U>: Service<Request<ReqBody>, Response = Response<ResponseBody<Body>>>,
{
    type Response = Response<Body>;
    type Error = <SessionService<T, S, U> as Service<Request<ReqBody>>>::Error;
    type Future = AxumFuture<<SessionService<T, S, U> as Service<Request<ReqBody>>>::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        AxumFuture {
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// Response future of [`AxumService`].
    pub struct AxumFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, E> Future for AxumFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody<Body>>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().inner.poll(cx))?;
        Poll::Ready(Ok(response.map(ResponseBody::into_axum)))
    }
}

impl<F> fmt::Debug for AxumFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AxumFuture").finish_non_exhaustive()
    }
}
