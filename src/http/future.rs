//! The response future of the crate's services.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::body::ResponseBody;

/// The refresh route's work: boxed because it awaits the app's backend and user directory, whose futures
/// cannot be named. Only refreshes pay for the box; the access path does not.
pub(crate) type RefreshFuture = Pin<Box<dyn Future<Output = Response<Bytes>> + Send>>;

/// Work that must end before the request goes on, boxed for the same reason (rare): the check
/// of an access token's session while the revoked set is over its budget, the record of a
/// DPoP proof, a wait for an issuer's keys. `Ok` holds what to add to the request's
/// extensions (the claims, when they were only known after the wait); `Err` is the rendered
/// refusal.
pub(crate) type CheckFuture =
    Pin<Box<dyn Future<Output = Result<http::Extensions, Response<Bytes>>> + Send>>;

pin_project! {
    /// Response future of the crate's services ([`SessionService`](crate::SessionService),
    /// [`RequireScope`](crate::RequireScope), and the verifier's): the inner service's future
    /// `F`, a refusal or refresh answer of the layer, or, rarely, a check (a session, a DPoP
    /// record, a wait for an issuer's keys) that then calls the inner service `S` with the
    /// request.
    pub struct ResponseFuture<F, S, ReqBody> {
        #[pin]
        kind: Kind<F, S, ReqBody>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, S, ReqBody> {
        Inner { #[pin] future: F },
        Answered { response: Option<Response<Bytes>> },
        Refresh { future: RefreshFuture },
        // Boxed: rare, and a request inline would make every response future (and its moves
        // on the hot path) hundreds of bytes larger.
        Checking { check: CheckFuture, then: Option<Box<(S, Request<ReqBody>)>> },
    }
}

impl<F, S, ReqBody> ResponseFuture<F, S, ReqBody> {
    pub(crate) fn inner(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn answered(response: Response<Bytes>) -> Self {
        ResponseFuture {
            kind: Kind::Answered {
                response: Some(response),
            },
        }
    }

    pub(crate) fn refresh(future: RefreshFuture) -> Self {
        ResponseFuture {
            kind: Kind::Refresh { future },
        }
    }

    /// Calls `service` (already polled ready) with `request` once `check` passes.
    pub(crate) fn checking(check: CheckFuture, service: S, request: Request<ReqBody>) -> Self {
        ResponseFuture {
            kind: Kind::Checking {
                check,
                then: Some(Box::new((service, request))),
            },
        }
    }
}

/// Polling again after completion is a caller bug; answer an empty 500 rather than panic
/// inside a server.
fn polled_after_completion() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

impl<F, S, ReqBody, B, E> Future for ResponseFuture<F, S, ReqBody>
where
    S: Service<Request<ReqBody>, Future = F>,
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut kind = self.as_mut().project().kind;
            match kind.as_mut().project() {
                KindProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                KindProj::Answered { response } => {
                    let response = response.take().unwrap_or_else(polled_after_completion);
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
                KindProj::Refresh { future } => {
                    let response = ready!(future.as_mut().poll(cx));
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
                KindProj::Checking { check, then } => {
                    let extensions = match ready!(check.as_mut().poll(cx)) {
                        Ok(extensions) => extensions,
                        Err(refusal) => return Poll::Ready(Ok(refusal.map(ResponseBody::full))),
                    };
                    let Some((mut service, mut request)) = then.take().map(|then| *then) else {
                        let response = polled_after_completion();
                        return Poll::Ready(Ok(response.map(ResponseBody::full)));
                    };
                    request.extensions_mut().extend(extensions);
                    kind.set(Kind::Inner {
                        future: service.call(request),
                    });
                }
            }
        }
    }
}

impl<F, S, ReqBody> std::fmt::Debug for ResponseFuture<F, S, ReqBody> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
