//! The refresh route: a refresh token in, a new access token out.
//!
//! verify the refresh token -> load its session through the cache -> check owner, generation,
//! expiry and idleness -> read the user's current claims -> mint an access token -> record the
//! use (debounced).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use http::{HeaderValue, Response, StatusCode};

use crate::backend::SessionBackend;
use crate::cache::LoadError;
use crate::claims::SessionClaims;
use crate::clock::unix_now;
use crate::error::AuthError;
use crate::rotation;
use crate::sessions::Shared;

const SESSION_ENDED: AuthError = AuthError::InvalidToken("the session has ended");

/// Answers one refresh request. Never fails: every refusal is a rendered response.
pub(crate) async fn respond<B: SessionBackend>(
    shared: Arc<Shared<B>>,
    token: Result<Option<String>, AuthError>,
) -> Response<Bytes> {
    match refresh(&shared, token).await {
        Ok(refreshed) => {
            // A JWS is base64url and dots: nothing in it needs JSON escaping.
            let rotated = match &refreshed.refresh_token {
                Some(token) => format!(r#","refresh_token":"{token}""#),
                None => String::new(),
            };
            let body = format!(
                r#"{{"access_token":"{}"{rotated},"token_type":"Bearer","expires_in":{}}}"#,
                refreshed.access_token, refreshed.expires_in
            );
            let mut response = Response::new(Bytes::from(body));
            *response.status_mut() = StatusCode::OK;
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            // RFC 6749 §5.1: token responses must not be cached.
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(err) => {
            crate::debug_event!("refresh refused: {}", err);
            shared.renderer.render(&err)
        }
    }
}

async fn refresh<B: SessionBackend>(
    shared: &Shared<B>,
    token: Result<Option<String>, AuthError>,
) -> Result<Refreshed, AuthError> {
    let token = token?.ok_or(AuthError::MissingCredentials)?;
    let claims = shared.codec.verify_refresh(&token)?;

    let entry = shared
        .cache
        .get_or_load(&claims.sid, &shared.backend)
        .await
        .map_err(|err| match &*err {
            LoadError::NotFound => SESSION_ENDED,
            LoadError::Backend(_err) => {
                crate::debug_event!("session backend failed on load: {}", _err);
                AuthError::Unavailable
            }
        })?;
    let session = &entry.session;
    if session.user_id != claims.sub {
        return Err(SESSION_ENDED);
    }
    if shared.rotation.is_none() && session.generation != claims.generation {
        return Err(AuthError::InvalidToken(
            "the refresh token has been replaced",
        ));
    }
    let now = unix_now();
    if session.expires_at <= now {
        return Err(AuthError::InvalidToken("the session has expired"));
    }
    if let Some(idle) = shared.idle_timeout
        && now.saturating_sub(entry.last_used()) > idle.as_secs()
    {
        shared.end_session(&session.id).await;
        return Err(AuthError::InvalidToken(
            "the session expired after inactivity",
        ));
    }

    let user = shared
        .backend
        .user_claims(&session.user_id)
        .await
        .map_err(|_err| {
            crate::debug_event!("session backend failed on user claims: {}", _err);
            AuthError::Unavailable
        })?;
    let user = match user {
        Some(user) if user.is_active() => user,
        _ => {
            shared.end_session(&session.id).await;
            return Err(AuthError::InvalidToken("the user is no longer active"));
        }
    };

    let next_generation = match shared.rotation {
        Some(grace) => {
            Some(rotation::settle(shared, session, claims.generation, grace, now).await?)
        }
        None => None,
    };

    // An access token never outlives its session.
    let ttl = shared
        .access_ttl
        .min(Duration::from_secs(session.expires_at - now));
    let access_token = shared
        .codec
        .mint_access(&session.user_id, &session.id, &user, now, ttl)
        .map_err(|_| AuthError::Unavailable)?;

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
                .map_err(|_| AuthError::Unavailable)?,
        ),
        None => None,
    };

    if entry.claim_touch(now, shared.touch_debounce) {
        // Losing one `last_accessed` update is harmless; failing a good refresh is not.
        if let Err(_err) = shared.backend.touch(&session.id, now).await {
            crate::debug_event!("session backend failed on touch: {}", _err);
        }
    }
    Ok(Refreshed {
        access_token,
        refresh_token,
        expires_in: ttl.as_secs(),
    })
}

struct Refreshed {
    access_token: String,
    /// Only with rotation.
    refresh_token: Option<String>,
    expires_in: u64,
}
