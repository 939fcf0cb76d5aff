//! The refresh route: a verified refresh token in, a new access token out.
//!
//! The service has already read and verified the refresh token. Here: load its session
//! through the backend's cache -> check owner, generation, expiry and idleness -> read the
//! user's current claims -> settle the rotation (when on) -> mint -> record the use
//! (debounced).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};
use tower_jwt_sessions_core::{SessionBackend, UserClaims, Users};

use crate::access::Shared;
use crate::clock::unix_now;
use crate::cookie::Via;
use crate::dpop::{Proof, TokenType};
use crate::error::AuthError;
use crate::error::refusals::{
    DPOP_REQUIRED, PROOF_MISSING, PROOF_OTHER_KEY, SESSION_ENDED, SESSION_EXPIRED, SESSION_IDLE,
    TOKEN_REPLACED, USER_INACTIVE,
};
use crate::store::LoadError;
use crate::token::{MintError, RefreshClaims};

pub(crate) mod form;
mod rotation;

/// Answers one refresh request whose token verified. Never fails: every refusal is a
/// rendered response.
pub(crate) async fn respond<S: SessionBackend, U: Users>(
    shared: Arc<Shared<S, U>>,
    claims: RefreshClaims,
    via: Via,
    proof: ProofCheck,
) -> Response<Bytes> {
    let work = refresh(&shared, claims, via, proof);
    #[cfg(feature = "tracing")]
    let span = tracing::debug_span!("refresh", outcome = tracing::field::Empty);
    #[cfg(feature = "tracing")]
    let work = tracing::Instrument::instrument(work, span.clone());
    let result = work.await;
    #[cfg(feature = "tracing")]
    span.record(
        "outcome",
        match &result {
            Ok(_) => "refreshed",
            Err(err) => err.code().unwrap_or("refused"),
        },
    );
    match result {
        Ok(refreshed) => {
            crate::telemetry::refreshed();
            refreshed.into_response()
        }
        Err(err) => {
            crate::telemetry::refresh_refused(&err);
            refusal(&shared, &err, via)
        }
    }
}

/// A refusal of the refresh route. A cookie whose token can never work again (ended,
/// expired, reused, forged) is also cleared, so the browser stops sending it; a 503 or a
/// CSRF refusal leaves it alone. The standard form gets a token endpoint's error.
pub(crate) fn refusal<S, U>(shared: &Shared<S, U>, err: &AuthError, via: Via) -> Response<Bytes> {
    if via == Via::Form {
        return crate::error::token_endpoint(err);
    }
    let mut response = shared.renderer.render(err);
    if let (Via::Cookie, Some(cookie), AuthError::InvalidToken(_)) = (via, &shared.cookie, err) {
        response.headers_mut().append(SET_COOKIE, cookie.clear());
    }
    response
}

/// The request's DPoP proof, checked before its session was known (`Ok(None)`: none sent).
pub(crate) type ProofCheck = Result<Option<Proof>, AuthError>;

async fn refresh<S: SessionBackend, U: Users>(
    shared: &Shared<S, U>,
    claims: RefreshClaims,
    via: Via,
    proof: ProofCheck,
) -> Result<Refreshed, AuthError> {
    let policy = &shared.policy;
    let entry = shared
        .store
        .load(&claims.sid)
        .await
        .map_err(|err| match &*err {
            LoadError::NotFound => SESSION_ENDED,
            LoadError::Backend => crate::error::refusals::BACKEND_UNAVAILABLE,
        })?;
    let session = &entry.session;
    if session.user_id != claims.sub {
        return Err(SESSION_ENDED);
    }
    if policy.rotation.is_none() && session.generation != claims.generation {
        return Err(TOKEN_REPLACED);
    }
    let now = unix_now();
    if session.expires_at <= now {
        return Err(SESSION_EXPIRED);
    }
    if let Some(idle) = policy.idle_timeout
        && now.saturating_sub(entry.last_used()) > idle.as_secs()
    {
        shared.store.end(&session.id).await;
        return Err(SESSION_IDLE);
    }

    let user = shared.user_claims(&session.user_id).await?;
    let user = match user {
        Some(user) if user.is_active() => user,
        _ => {
            shared.store.end(&session.id).await;
            return Err(USER_INACTIVE);
        }
    };

    // A bound session refreshes only with a proof by its key, checked and recorded before
    // anything changes: a thief's attempt leaves the session to its owner.
    let bound = session.meta.dpop_jkt.as_deref();
    bound_session_proof(shared, bound, proof).await?;

    let next_generation = match policy.rotation {
        Some(grace) => {
            Some(rotation::settle(&shared.store, session, claims.generation, grace, now).await?)
        }
        None => None,
    };

    // An access token never outlives its session.
    let ttl = policy
        .access_ttl
        .min(Duration::from_secs(session.expires_at - now));
    let access_token = shared
        .codec
        .mint_access(&session.user_id, &session.id, &user, now, ttl, bound)
        .map_err(signing_failed)?;
    let refresh_token = match next_generation {
        Some(generation) => Some(
            shared
                .codec
                .mint_refresh(
                    &session.user_id,
                    &session.id,
                    generation,
                    now,
                    session.expires_at,
                )
                .map_err(signing_failed)?,
        ),
        None => None,
    };

    // By cookie, the new refresh token goes into the cookie, never the body.
    let cookie = match (via, &shared.cookie, &refresh_token) {
        (Via::Cookie, Some(cookie), Some(token)) => Some(
            cookie
                .set(token, session.expires_at - now)
                .ok_or(crate::error::refusals::SERVER_FAULT)?,
        ),
        _ => None,
    };
    let refresh_token = refresh_token.filter(|_| cookie.is_none());

    shared.store.touch(&entry, now, policy.touch_debounce).await;
    Ok(Refreshed {
        access_token,
        refresh_token,
        cookie,
        expires_in: ttl.as_secs(),
        token_type: if bound.is_some() {
            TokenType::Dpop
        } else {
            TokenType::Bearer
        },
    })
}

/// RFC 9449 §5 for the refresh route: a session bound to a key needs a proof by that key
/// (recorded once, on every instance); with DPoP required, an unbound one is refused.
async fn bound_session_proof<S: SessionBackend, U: Users>(
    shared: &Shared<S, U>,
    bound: Option<&str>,
    proof: ProofCheck,
) -> Result<(), AuthError> {
    let Some(jkt) = bound else {
        return match &shared.dpop {
            Some(dpop) if dpop.required => Err(DPOP_REQUIRED),
            _ => Ok(()),
        };
    };
    let (Some(_), Some(proof)) = (&shared.dpop, proof?) else {
        return Err(PROOF_MISSING);
    };
    if proof.dpop_jkt != jkt {
        return Err(PROOF_OTHER_KEY);
    }
    shared.record_proof(&proof).await
}

/// A refresh that could not sign: the client gets the fixed 503 of a server fault, the
/// operator the signer's error (a broken key, never the client's doing, so never a flood of
/// client-made warnings).
fn signing_failed(err: MintError) -> AuthError {
    crate::telemetry::warn_event!("refresh failed: {}", crate::error::Chain(&err));
    crate::error::refusals::SERVER_FAULT
}

struct Refreshed {
    access_token: String,
    /// Only with rotation, by Bearer.
    refresh_token: Option<String>,
    /// Only with rotation, by cookie: the `Set-Cookie` value of the new refresh token.
    cookie: Option<HeaderValue>,
    expires_in: u64,
    /// `DPoP` for a session bound to a key.
    token_type: TokenType,
}

impl Refreshed {
    /// The token response (RFC 6749 §5.1), written by hand: a JWS is base64url and dots, so
    /// nothing in it needs JSON escaping.
    fn into_response(self) -> Response<Bytes> {
        let rotated = match &self.refresh_token {
            Some(token) => format!(r#","refresh_token":"{token}""#),
            None => String::new(),
        };
        let body = format!(
            r#"{{"access_token":"{}"{rotated},"token_type":"{}","expires_in":{}}}"#,
            self.access_token, self.token_type, self.expires_in
        );
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // RFC 6749 §5.1: token responses must not be cached.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(cookie) = self.cookie {
            headers.insert(SET_COOKIE, cookie);
        }
        response
    }
}
