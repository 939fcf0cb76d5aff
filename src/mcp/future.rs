//! The MCP layer's response future: it reads the request body (bounded), decides, then calls
//! the MCP server with the body it read. Its own future rather than the crate's
//! [`ResponseFuture`](crate::ResponseFuture), because the request the inner service gets
//! carries another body than the one that came in.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::message::{self, Mirrored};
use super::policy::Policy;
use super::reply;
use crate::http::ResponseBody;
use crate::standard_claims::HasScopes;
use crate::step_up::HasAuthentication;
use crate::token::Claims;

/// The request body an MCP server behind [`McpLayer`](super::McpLayer) gets: the body the
/// layer read and checked, whole.
#[derive(Debug, Default)]
pub struct McpBody {
    data: Option<Bytes>,
}

impl McpBody {
    fn new(data: Bytes) -> Self {
        McpBody {
            data: (!data.is_empty()).then_some(data),
        }
    }
}

impl Body for McpBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// What the decision after the body needs, and the service to call then.
pub(super) struct Pending<S, C> {
    pub(super) service: S,
    pub(super) parts: http::request::Parts,
    pub(super) claims: Claims<C>,
    pub(super) policy: Arc<Policy>,
    pub(super) mirrored: Mirrored,
}

pin_project! {
    /// Response future of [`McpService`](super::McpService): the body being read, the MCP
    /// server's future, or the layer's own answer.
    pub struct ResponseFuture<F, S, B, C> {
        #[pin]
        state: State<F, S, B, C>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B, C> {
        Reading {
            #[pin]
            body: B,
            read: BytesMut,
            // Boxed: the request head inline would make every future hundreds of bytes larger.
            then: Option<Box<Pending<S, C>>>,
        },
        Inner { #[pin] future: F },
        Answered { response: Option<Response<Bytes>> },
    }
}

impl<F, S, B, C> ResponseFuture<F, S, B, C> {
    pub(super) fn answered(response: Response<Bytes>) -> Self {
        ResponseFuture {
            state: State::Answered {
                response: Some(response),
            },
        }
    }

    pub(super) fn reading(body: B, then: Pending<S, C>) -> Self
    where
        B: Body,
    {
        // One allocation for a body of known size (within the limit).
        let hint = body.size_hint().lower().min(then.policy.body_limit as u64);
        ResponseFuture {
            state: State::Reading {
                body,
                read: BytesMut::with_capacity(usize::try_from(hint).unwrap_or(0)),
                then: Some(Box::new(then)),
            },
        }
    }
}

/// The decision once the body is in: its calls, checked against the headers, and what they
/// need (when the headers named the call, that was decided before the read). The refusal,
/// if any.
fn refusal<S, C>(pending: &Pending<S, C>, body: &[u8]) -> Option<Response<Bytes>>
where
    C: HasScopes + HasAuthentication + Send + Sync + 'static,
{
    if pending.parts.method != Method::POST {
        return None;
    }
    let mirrored = &pending.mirrored;
    let calls = match message::calls(body, mirrored.allows_batches()) {
        Ok(calls) => calls,
        Err(reply) => return Some(reply.response()),
    };
    if let Err(reply) = mirrored.check(&calls) {
        return Some(reply.response());
    }
    if mirrored.call().is_some() {
        return None;
    }
    let calls = calls
        .iter()
        .filter_map(|call| Some((call.method.as_deref()?, call.name.as_deref())));
    let err = pending
        .policy
        .decide(calls, &*pending.claims, crate::clock::unix_now())
        .err()?;
    crate::telemetry::access_refused(&err);
    Some(pending.claims.render(&err))
}

impl<F, S, B, C, ResBody, E> Future for ResponseFuture<F, S, B, C>
where
    S: Service<Request<McpBody>, Future = F>,
    F: Future<Output = Result<Response<ResBody>, E>>,
    B: Body,
    C: HasScopes + HasAuthentication + Send + Sync + 'static,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut state = self.as_mut().project().state;
            match state.as_mut().project() {
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Answered { response } => {
                    let response = response.take().unwrap_or_else(polled_after_completion);
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
                StateProj::Reading {
                    mut body,
                    read,
                    then,
                } => {
                    let limit = then.as_ref().map_or(0, |t| t.policy.body_limit);
                    let answer = match ready!(body.as_mut().poll_frame(cx)) {
                        Some(Ok(frame)) => {
                            let Ok(mut data) = frame.into_data() else {
                                continue; // trailers
                            };
                            // Counted as it streams: a chunked body has no length to trust.
                            if read.len().saturating_add(data.remaining()) > limit {
                                reply::BODY_TOO_LARGE.response()
                            } else {
                                while data.has_remaining() {
                                    let chunk = data.chunk();
                                    let len = chunk.len();
                                    read.put_slice(chunk);
                                    data.advance(len);
                                }
                                continue;
                            }
                        }
                        Some(Err(_)) => reply::BODY_UNREADABLE.response(),
                        None => {
                            let Some(pending) = then.take() else {
                                let response = polled_after_completion();
                                return Poll::Ready(Ok(response.map(ResponseBody::full)));
                            };
                            let body = std::mem::take(read).freeze();
                            match refusal(&pending, &body) {
                                None => {
                                    let Pending {
                                        mut service, parts, ..
                                    } = *pending;
                                    let request = Request::from_parts(parts, McpBody::new(body));
                                    state.set(State::Inner {
                                        future: service.call(request),
                                    });
                                    continue;
                                }
                                Some(response) => response,
                            }
                        }
                    };
                    state.set(State::Answered {
                        response: Some(answer),
                    });
                }
            }
        }
    }
}

/// Polling again after completion is a caller bug; an empty 500 rather than a panic.
fn polled_after_completion() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

impl<F, S, B, C> std::fmt::Debug for ResponseFuture<F, S, B, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
