//! The MCP layer: the token's scopes and step-ups against the table, from the headers before
//! the body when they name the call, then from the body, which the headers must match.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::future::{McpBody, Pending, ResponseFuture};
use super::message::Mirrored;
use super::policy::Policy;
use super::reply;
use crate::standard_claims::HasScopes;
use crate::step_up::HasAuthentication;
use crate::token::Claims;

/// Authorizes each MCP call by a table of scopes and step-ups; put it inside the
/// [`Verifier`](crate::Verifier)'s (or the session) layer, around the MCP endpoint. Built by
/// [`McpLayer::builder`]; see the [module docs](super).
#[must_use]
pub struct McpLayer<C> {
    policy: Arc<Policy>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> McpLayer<C> {
    pub(super) fn new(policy: Arc<Policy>) -> Self {
        McpLayer {
            policy,
            _claims: PhantomData,
        }
    }

    #[cfg(test)]
    pub(super) fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
    }
}

impl<T, C> Layer<T> for McpLayer<C> {
    type Service = McpService<T, C>;

    fn layer(&self, inner: T) -> Self::Service {
        McpService {
            inner,
            policy: Arc::clone(&self.policy),
            _claims: PhantomData,
        }
    }
}

impl<C> Clone for McpLayer<C> {
    fn clone(&self) -> Self {
        McpLayer::new(Arc::clone(&self.policy))
    }
}

impl<C> fmt::Debug for McpLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpLayer")
            .field("policy", &self.policy)
            .finish()
    }
}

/// The service of [`McpLayer`]: the MCP server `T` gets each request it lets through with
/// the body it read ([`McpBody`]).
pub struct McpService<T, C> {
    inner: T,
    policy: Arc<Policy>,
    _claims: PhantomData<fn() -> C>,
}

impl<T, C> McpService<T, C> {
    crate::http::inner_service_accessors!();
}

impl<T, C, ReqBody, ResBody> Service<Request<ReqBody>> for McpService<T, C>
where
    T: Service<Request<McpBody>, Response = Response<ResBody>> + Clone,
    C: HasScopes + HasAuthentication + Send + Sync + 'static,
    ReqBody: http_body::Body,
    ResBody: http_body::Body<Data = Bytes>,
{
    type Response = Response<crate::ResponseBody<ResBody>>;
    type Error = T::Error;
    type Future = ResponseFuture<T::Future, T, ReqBody, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The token first, before a byte of the body is read.
        let Some(claims) = req.extensions().get::<Claims<C>>().cloned() else {
            let (err, response) = crate::http::no_claims(&req, false);
            crate::telemetry::access_refused(&err);
            return ResponseFuture::answered(response);
        };
        let mirrored = match Mirrored::read(req.headers()) {
            Ok(mirrored) => mirrored,
            Err(reply) => return ResponseFuture::answered(reply.response()),
        };
        // Headers that name the call decide now: a refusal costs no body. They are checked
        // against the body before the call runs.
        let now = crate::clock::unix_now();
        let early = match mirrored.call() {
            Some(call) => self.policy.decide([call], &*claims, now),
            None => self.policy.decide([], &*claims, now),
        };
        if let Err(err) = early {
            crate::telemetry::access_refused(&err);
            return ResponseFuture::answered(claims.render(&err));
        }
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.policy.body_limit as u64) {
            return ResponseFuture::answered(reply::BODY_TOO_LARGE.response());
        }
        let (parts, body) = req.into_parts();
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::reading(
            body,
            Pending {
                service,
                parts,
                claims,
                policy: Arc::clone(&self.policy),
                mirrored,
            },
        )
    }
}

impl<T: Clone, C> Clone for McpService<T, C> {
    fn clone(&self) -> Self {
        McpService {
            inner: self.inner.clone(),
            policy: Arc::clone(&self.policy),
            _claims: PhantomData,
        }
    }
}

impl<T: fmt::Debug, C> fmt::Debug for McpService<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
