//! The middleware: checks access tokens, answers the refresh route, passes the rest on.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response};
use tower_service::Service;

use tower_jwt_sessions_core::{SessionBackend, Users};

use crate::access::{Access, Shared};
use crate::cookie::Via;
use crate::error::AuthError;
use crate::error::refusals::ACCESS_AS_REFRESH;
use crate::refresh;
use crate::routes::Route;
use crate::token::Claims;

mod layer;

pub use layer::SessionLayer;

use crate::http::{
    CheckFuture, LayerMark, RefreshFuture, ResponseBody, ResponseFuture, bearer_token, credentials,
    grpc,
};
use crate::refresh::form;

/// An access token's claims, and the DPoP proof to record when the token is bound.
type Authenticated<C> = (Access<C>, Option<crate::dpop::Proof>);

/// Guards an inner service with JWT sessions; made by [`SessionLayer`](crate::SessionLayer).
///
/// - Protected requests need `Authorization: Bearer <access token>`; the verified
///   [`Claims`] go into the request extensions. Refusals are responses (401, 400, 503), so the
///   inner service's error type is kept.
/// - `POST` on the refresh route is answered here and never reaches the inner service.
/// - Public routes pass through untouched, and so do CORS preflights (`OPTIONS` with
///   `Origin` and `Access-Control-Request-Method`), which never carry credentials: a
///   CORS layer, inside or outside this one, answers them.
/// - gRPC requests (`content-type: application/grpc*`) are refused the gRPC way: HTTP 200
///   with `grpc-status` 16 (`UNAUTHENTICATED`), 7 (`PERMISSION_DENIED`) or 14
///   (`UNAVAILABLE`) and a `grpc-message`.
pub struct SessionService<T, S, U = S> {
    inner: T,
    shared: Arc<Shared<S, U>>,
}

impl<T, S, U> SessionService<T, S, U> {
    pub(crate) fn from_shared(inner: T, shared: Arc<Shared<S, U>>) -> Self {
        SessionService { inner, shared }
    }

    crate::http::inner_service_accessors!();
}

impl<T, S, U> SessionService<T, S, U>
where
    S: SessionBackend,
    U: Users,
{
    /// The access token's claims, and the DPoP proof to record when the token is bound.
    fn authenticate<B>(
        &self,
        req: &Request<B>,
    ) -> Result<Option<Authenticated<U::Claims>>, AuthError> {
        let dpop = self.shared.dpop.as_ref();
        match credentials(req.headers(), req.uri(), dpop.is_some())? {
            Some((scheme, token)) => {
                let access = self.shared.verify_access(token)?;
                let (Access::Granted(claims) | Access::CheckSession(claims)) = &access;
                let proof = crate::dpop::bind(dpop, scheme, token.bytes(), claims.dpop_jkt(), req)?;
                Ok(Some((access, proof)))
            }
            None if self.shared.policy.optional => Ok(None),
            None => Err(AuthError::MissingCredentials),
        }
    }

    fn render(&self, err: &AuthError, grpc: bool) -> Response<Bytes> {
        crate::http::refusal(err, grpc, |err| self.shared.renderer.render(err))
    }

    fn refuse<F, X, B>(
        &self,
        err: &AuthError,
        headers: &http::HeaderMap,
    ) -> ResponseFuture<F, X, B> {
        crate::telemetry::access_refused(err);
        ResponseFuture::answered(self.render(err, grpc::is_grpc(headers)))
    }

    /// The session check of the fallback path and the record of a DPoP proof, whichever the
    /// request needs, refusing as the layer would have.
    fn check_later(
        &self,
        session: Option<Claims<U::Claims>>,
        proof: Option<crate::dpop::Proof>,
        grpc: bool,
    ) -> CheckFuture {
        let service = self.clone_shared();
        Box::pin(async move {
            let shared = &service.shared;
            let checked = async {
                if let Some(claims) = &session {
                    shared.check_session(claims).await?;
                }
                match &proof {
                    Some(proof) => shared.record_proof(proof).await,
                    None => Ok(()),
                }
            };
            match checked.await {
                Ok(()) => {
                    crate::telemetry::access_accepted();
                    Ok(http::Extensions::new())
                }
                Err(err) => {
                    crate::telemetry::access_refused(&err);
                    Err(service.render(&err, grpc))
                }
            }
        })
    }

    /// A handle on the shared state alone, for futures that outlive this call.
    fn clone_shared(&self) -> SessionService<(), S, U> {
        SessionService {
            inner: (),
            shared: Arc::clone(&self.shared),
        }
    }

    /// The refresh route. The original API's form (the refresh token as a Bearer header, or
    /// in the cookie) is read and verified here, so that a bad one is refused without boxing a
    /// future; the standard form (RFC 6749 §6) needs its body, read in the boxed future.
    fn refresh<B, F, X, B2>(&self, req: Request<B>) -> ResponseFuture<F, X, B2>
    where
        B: http_body::Body + Send + 'static,
    {
        if req.method() != Method::POST {
            // Not a refresh attempt: counted with the layer's other refusals.
            crate::telemetry::access_refused(&AuthError::MethodNotAllowed);
            return ResponseFuture::answered(
                self.render(&AuthError::MethodNotAllowed, grpc::is_grpc(req.headers())),
            );
        }
        // A Bearer header keeps the original API's answer, whatever the body: clients such as
        // jQuery label every `POST` a form.
        if form::is_form(req.headers())
            && matches!(bearer_token(req.headers(), req.uri()), Ok(None))
        {
            return ResponseFuture::refresh(self.form_grant(req));
        }
        match self.by_header(req.headers(), req.method(), req.uri()) {
            Refreshing::Answered(response) => ResponseFuture::answered(response),
            Refreshing::Working(future) => ResponseFuture::refresh(future),
        }
    }

    /// The original API's refresh: the Bearer header, or the cookie.
    fn by_header(&self, headers: &http::HeaderMap, method: &Method, uri: &http::Uri) -> Refreshing {
        // Bearer credentials first, as the original API has them; the cookie (when on) only
        // for a request without them, whatever other `Authorization` it has (a browser's
        // cached Basic credentials, say), or whose Bearer token is an access token: HTTP
        // clients that attach the access token to every call, this one included, must not
        // mask the cookie. That is decided by the token's `typ`, before its signature or
        // expiry, as the app's access token has often expired by then; a forged one gains
        // nothing, since the cookie is then checked as if it came alone.
        let codec = &self.shared.codec;
        let by_cookie = || {
            let token = self.shared.cookie.as_ref()?.token(headers)?;
            Some((token.and_then(|t| codec.verify_refresh(t)), Via::Cookie))
        };
        let (verified, via) = match bearer_token(headers, uri) {
            Ok(Some(token)) => match codec.verify_refresh(token) {
                Err(err) if err == ACCESS_AS_REFRESH => {
                    by_cookie().unwrap_or((Err(err), Via::Bearer))
                }
                verified => (verified, Via::Bearer),
            },
            Ok(None) => by_cookie().unwrap_or((Err(AuthError::MissingCredentials), Via::Bearer)),
            Err(err) => (Err(err), Via::Bearer),
        };
        match verified {
            Ok(claims) => Refreshing::Working(Box::pin(refresh::respond(
                Arc::clone(&self.shared),
                claims,
                via,
                self.refresh_proof(headers, method, uri),
            ))),
            Err(err) => {
                crate::telemetry::refresh_refused(&err);
                Refreshing::Answered(refresh::refusal(&self.shared, &err, via))
            }
        }
    }

    /// The standard form (RFC 6749 §6): the body read up to
    /// [`MAX_FORM_LEN`](crate::limits::MAX_FORM_LEN), then the grant answered as a token
    /// endpoint answers (RFC 6749 §5, RFC 9449 §5).
    fn form_grant<B>(&self, req: Request<B>) -> RefreshFuture
    where
        B: http_body::Body + Send + 'static,
    {
        let service = self.clone_shared();
        let (parts, body) = req.into_parts();
        Box::pin(async move {
            let read = form::Collect::new(body).await;
            let token = match read.and_then(|body| form::refresh_token(&body)) {
                Ok(Some(token)) => token,
                // No parameter at all: the original API's request, answered as before.
                Ok(None) => {
                    return match service.by_header(&parts.headers, &parts.method, &parts.uri) {
                        Refreshing::Answered(response) => response,
                        Refreshing::Working(future) => future.await,
                    };
                }
                Err(err) => {
                    crate::telemetry::refresh_refused(&err);
                    return refresh::refusal(&service.shared, &err, Via::Form);
                }
            };
            match service.shared.codec.verify_refresh(&token) {
                Ok(claims) => {
                    let proof = service.refresh_proof(&parts.headers, &parts.method, &parts.uri);
                    refresh::respond(Arc::clone(&service.shared), claims, Via::Form, proof).await
                }
                Err(err) => {
                    crate::telemetry::refresh_refused(&err);
                    refresh::refusal(&service.shared, &err, Via::Form)
                }
            }
        })
    }

    /// The refresh's DPoP proof (RFC 9449 §5: no `ath`), checked now, against the request;
    /// whether the session needs it is known once it is loaded.
    fn refresh_proof(
        &self,
        headers: &http::HeaderMap,
        method: &Method,
        uri: &http::Uri,
    ) -> refresh::ProofCheck {
        match &self.shared.dpop {
            Some(dpop) if headers.contains_key("dpop") => {
                crate::dpop::check(dpop, headers, method, uri, None, crate::clock::unix_now())
                    .map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// The refresh route's answer: ready, or the work on the backend.
enum Refreshing {
    Answered(Response<Bytes>),
    Working(RefreshFuture),
}

impl<T, S, U, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<T, S, U>
where
    T: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S: SessionBackend,
    U: Users,
    ReqBody: http_body::Body + Send + 'static,
    ResBody: http_body::Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = T::Error;
    type Future = ResponseFuture<T::Future, T, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let check = match self.shared.routes.classify_request(&req) {
            Route::Public => {
                crate::telemetry::access_anonymous();
                req.extensions_mut()
                    .insert(LayerMark(self.shared.renderer.clone()));
                None
            }
            Route::Refresh => return self.refresh(req),
            Route::Jwks => match &self.shared.jwks {
                Some(jwks) => {
                    return ResponseFuture::answered(jwks.respond(req.method(), req.headers()));
                }
                None => None,
            },
            Route::IssuerMetadata => match &self.shared.issuer_metadata {
                Some(metadata) => return ResponseFuture::answered(metadata.respond(req.method())),
                None => None,
            },
            Route::Protected => match self.authenticate(&req) {
                Ok(Some((Access::Granted(claims), None))) => {
                    crate::telemetry::access_accepted();
                    req.extensions_mut().insert(claims);
                    None
                }
                Ok(Some((Access::Granted(claims), Some(proof)))) => {
                    let check = self.check_later(None, Some(proof), grpc::is_grpc(req.headers()));
                    req.extensions_mut().insert(claims);
                    Some(check)
                }
                Ok(Some((Access::CheckSession(claims), proof))) => {
                    let grpc = grpc::is_grpc(req.headers());
                    let check = self.check_later(Some(claims.clone()), proof, grpc);
                    req.extensions_mut().insert(claims);
                    Some(check)
                }
                Ok(None) => {
                    crate::telemetry::access_anonymous();
                    req.extensions_mut()
                        .insert(LayerMark(self.shared.renderer.clone()));
                    None
                }
                Err(err) => return self.refuse(&err, req.headers()),
            },
        };
        match check {
            // Called later: the future takes the service we were polled ready with and
            // leaves a clone behind.
            Some(check) => {
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::checking(check, inner, req)
            }
            // Called now, while the service we were polled with is still ready: no clone
            // needed (tower-service's "be careful when cloning inner services").
            None => ResponseFuture::inner(self.inner.call(req)),
        }
    }
}

impl<T: Clone, S, U> Clone for SessionService<T, S, U> {
    fn clone(&self) -> Self {
        SessionService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: fmt::Debug, S, U> fmt::Debug for SessionService<T, S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
