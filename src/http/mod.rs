//! The ground floor of the wire, shared by the three layers (sessions, verify-only, scope):
//! reading credentials, refusing as HTTP or gRPC, the response body and future, and the mark
//! a layer leaves on requests it let through without claims. Nothing here knows sessions or
//! issuers.

use bytes::Bytes;
use http::{Request, Response};

use crate::error::{AuthError, ErrorRenderer};
use crate::token::Claims;

mod body;
pub(crate) mod credentials;
mod future;
pub(crate) mod grpc;

pub use body::ResponseBody;
pub(crate) use credentials::{RawToken, bearer_token, credentials};
pub use future::ResponseFuture;
pub(crate) use future::{CheckFuture, RefreshFuture};

/// Left in the extensions of requests that passed a layer without claims (public routes,
/// anonymous requests in optional mode), so that an extractor or the scope guard can tell "no
/// token" from "the layer is not installed", and refuse as that layer renders.
#[derive(Clone)]
pub(crate) struct LayerMark(pub(crate) ErrorRenderer);

/// The response refusing a request: a gRPC status for a gRPC request (`grpc`, from
/// [`grpc::is_grpc`]: a gRPC client cannot read an HTTP 401), else the layer's own HTTP
/// rendering.
pub(crate) fn refusal(
    err: &AuthError,
    grpc: bool,
    render: impl FnOnce(&AuthError) -> Response<Bytes>,
) -> Response<Bytes> {
    if grpc {
        grpc::response(err)
    } else {
        render(err)
    }
}

/// The refusal of a request without claims behind a layer (a public route, an anonymous
/// request in optional mode): that layer's own 401, or the crate's when no layer marked it.
pub(crate) fn no_claims<B>(req: &Request<B>, grpc: bool) -> (AuthError, Response<Bytes>) {
    let err = AuthError::MissingCredentials;
    let renderer = req.extensions().get::<LayerMark>().map(|mark| &mark.0);
    let response = refusal(&err, grpc, |err| match renderer {
        Some(renderer) => renderer.render(err),
        None => ErrorRenderer::default().render(err),
    });
    (err, response)
}

/// What a rule about the request's claims (a scope, a step-up) answers: `None` lets the
/// request through; a refusal is rendered as the layer that verified the claims renders, and
/// counted.
pub(crate) fn check_claims<C: Send + Sync + 'static, B>(
    req: &Request<B>,
    rule: impl FnOnce(&Claims<C>) -> Result<(), AuthError>,
) -> Option<Response<Bytes>> {
    let grpc = grpc::is_grpc(req.headers());
    let (err, response) = match req.extensions().get::<Claims<C>>() {
        Some(claims) => {
            let err = rule(claims).err()?;
            let response = refusal(&err, grpc, |err| claims.render(err));
            (err, response)
        }
        None => no_claims(req, grpc),
    };
    crate::telemetry::access_refused(&err);
    Some(response)
}

/// `get_ref`, `get_mut` and `into_inner` for a service whose inner service is `inner` (as
/// tower-http's services have them).
macro_rules! inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &T {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut T {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> T {
            self.inner
        }
    };
}
pub(crate) use inner_service_accessors;
