//! The handle the app keeps: create, list and revoke sessions, and get the layer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use serde::Serialize;

use crate::backend::{BackendError, Guarded, MemoryBackend, Session, SessionBackend, SessionMeta};
use crate::cache::SessionCache;
use crate::claims::{Claims, SessionClaims};
use crate::clock::unix_now;
use crate::config::SessionsBuilder;
use crate::error::{AuthError, ErrorRenderer};
use crate::keys::Keys;
use crate::layer::SessionLayer;
use crate::routes::Routes;
use crate::token::TokenCodec;
use crate::token_cache::TokenCache;

/// Everything the layer and the handle share, behind one `Arc`.
pub(crate) struct Shared<B> {
    pub(crate) backend: Guarded<B>,
    pub(crate) codec: TokenCodec,
    pub(crate) cache: SessionCache,
    pub(crate) routes: Routes,
    pub(crate) renderer: ErrorRenderer,
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) touch_debounce: Duration,
    pub(crate) optional: bool,
    pub(crate) token_cache: Option<TokenCache>,
    /// Refresh-token rotation, with its grace window for a second tab; `None` when off.
    pub(crate) rotation: Option<Duration>,
}

impl<B: SessionBackend> Shared<B> {
    /// The access-token check of every protected request: the token cache first, then the
    /// full verification, whose success (only) is cached; either way, a session this process
    /// revoked stops its access tokens at once.
    pub(crate) fn verify_access(&self, token: &str) -> Result<Claims<B::Claims>, AuthError> {
        let claims: Claims<B::Claims> = match &self.token_cache {
            Some(cache) => match cache.get(token) {
                Some(claims) => claims,
                None => {
                    let claims: Claims<B::Claims> = self.codec.verify_access(token)?;
                    cache.insert(token, &claims);
                    claims
                }
            },
            None => self.codec.verify_access(token)?,
        };
        if self.cache.is_revoked(claims.session_id()) {
            return Err(AuthError::InvalidToken("the session has ended"));
        }
        Ok(claims)
    }

    /// Ends a session whose refresh is refused for good (idle, user gone, token reused). The
    /// refusal stands even if the store fails to delete the row: the same check refuses the
    /// next attempt too, and this process already forgets the session.
    pub(crate) async fn end_session(&self, session_id: &str) {
        if let Err(_err) = self.backend.revoke(session_id).await {
            crate::debug_event!("session backend failed on revoke: {}", _err);
        }
        self.cache.invalidate(session_id).await;
    }

    /// Revokes in the store first, then in the cache, so that no reader can reload the row.
    pub(crate) async fn revoke(&self, session_id: &str) -> Result<bool, BackendError> {
        let existed = self.backend.revoke(session_id).await?;
        self.cache.invalidate(session_id).await;
        Ok(existed)
    }
}

/// JWT sessions for one app: the session API for login handlers, and the [`layer`](Self::layer)
/// that guards routes and answers the refresh route.
///
/// Cloning is cheap and shares everything: keep one in your app state.
///
/// ```
/// use tower_jwt_sessions::{Keys, MachinableClaims, MachinableUser, SessionMeta, Sessions};
///
/// # tokio_test();
/// # fn tokio_test() { tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let sessions = Sessions::builder(Keys::hs256(b"a secret of at least thirty-two bytes!")?).build()?;
/// let claims = MachinableClaims::new("pet-demo", MachinableUser {
///     id: "u1".into(), name: "testUser".into(), active: true,
///     read: true, write: true, kind: "project".into(),
/// });
/// sessions.backend().set_user("u1", claims.clone());
///
/// // In the login handler, once the password checked out:
/// let issued = sessions.create("u1", &claims, SessionMeta::default()).await?;
/// assert_eq!(sessions.list("u1").await?.len(), 1);
///
/// // The access token verifies; after revocation the refresh token no longer works.
/// assert_eq!(sessions.verify_access(&issued.access_token)?.subject(), "u1");
/// assert!(sessions.revoke(&issued.session_id).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap() }
/// ```
pub struct Sessions<B = MemoryBackend> {
    shared: Arc<Shared<B>>,
}

impl Sessions<MemoryBackend> {
    /// Starts a configuration with these keys and every default: in-memory backend,
    /// 15-minute access tokens, 3-day sessions, refresh route `/sessions/refresh/`.
    pub fn builder(keys: Keys) -> SessionsBuilder<MemoryBackend> {
        SessionsBuilder::new(keys)
    }
}

impl<B> Sessions<B> {
    pub(crate) fn from_shared(shared: Arc<Shared<B>>) -> Self {
        Sessions { shared }
    }

    /// The layer that guards routes and answers the refresh route.
    pub fn layer(&self) -> SessionLayer<B> {
        SessionLayer::from_shared(Arc::clone(&self.shared))
    }

    /// The session store.
    pub fn backend(&self) -> &B {
        &self.shared.backend.inner
    }

    /// Renders a refusal the way the layer does (for example an
    /// [`AuthError::insufficient_scope`] from a handler).
    pub fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        self.shared.renderer.render(err)
    }
}

impl<B: SessionBackend> Sessions<B> {
    /// Starts a session for a user whose credentials the app has checked, and mints its
    /// first pair of tokens.
    pub async fn create(
        &self,
        user_id: &str,
        claims: &B::Claims,
        meta: SessionMeta,
    ) -> Result<IssuedTokens, SessionError> {
        if !claims.is_active() {
            return Err(SessionError::UserInactive);
        }
        let shared = &self.shared;
        let now = unix_now();
        let session = Session {
            id: new_session_id()?,
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(shared.refresh_ttl.as_secs()),
            last_accessed: now,
            generation: 0,
            rotated_at: 0,
            meta,
        };
        let access_token = shared
            .codec
            .mint_access(user_id, &session.id, claims, now, shared.access_ttl)
            .map_err(|_| SessionError::Signing)?;
        let refresh_token = shared
            .codec
            .mint_refresh(
                user_id,
                &session.id,
                session.generation,
                now,
                session.expires_at,
            )
            .map_err(|_| SessionError::Signing)?;
        let session_id = session.id.clone();
        shared
            .backend
            .create(session)
            .await
            .map_err(SessionError::Backend)?;
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            session_id,
            expires_in: shared.access_ttl.as_secs(),
        })
    }

    /// Ends a session at once: its refresh token is refused from now on, in this process
    /// immediately. `Ok(false)` when there was no such session.
    pub async fn revoke(&self, session_id: &str) -> Result<bool, SessionError> {
        self.shared
            .revoke(session_id)
            .await
            .map_err(SessionError::Backend)
    }

    /// Ends a session only if it belongs to `user_id`; `Ok(false)` for an unknown session or
    /// another user's, so that a caller cannot probe which ids exist.
    pub async fn revoke_for_user(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<bool, SessionError> {
        let session = self
            .shared
            .backend
            .load(session_id)
            .await
            .map_err(SessionError::Backend)?;
        match session {
            Some(session) if session.user_id == user_id => self.revoke(session_id).await,
            _ => Ok(false),
        }
    }

    /// The live sessions of one user.
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>, SessionError> {
        let now = unix_now();
        let mut sessions = self
            .shared
            .backend
            .list(user_id)
            .await
            .map_err(SessionError::Backend)?;
        sessions.retain(|s| s.expires_at > now);
        Ok(sessions)
    }

    /// Verifies an access token exactly as the layer does (through the verified-token cache
    /// when it is on), for transports the layer does not cover.
    pub fn verify_access(&self, token: &str) -> Result<Claims<B::Claims>, AuthError> {
        self.shared.verify_access(token)
    }
}

impl<B> Clone for Sessions<B> {
    fn clone(&self) -> Self {
        Sessions {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<B> fmt::Debug for Sessions<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("access_ttl", &self.shared.access_ttl)
            .field("refresh_ttl", &self.shared.refresh_ttl)
            .field("routes", &self.shared.routes)
            .finish_non_exhaustive()
    }
}

/// The tokens of a new session, shaped like Machinable's login answer.
///
/// `Debug` redacts both tokens.
#[derive(Clone, Serialize)]
pub struct IssuedTokens {
    /// The first access token.
    pub access_token: String,
    /// The refresh token, to send to the refresh route.
    pub refresh_token: String,
    /// The session id, for listing and revoking.
    pub session_id: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("session_id", &self.session_id)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why a session operation of the app failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed; answer 503.
    Backend(BackendError),
    /// The user's claims say they are inactive: no session for them.
    UserInactive,
    /// The keys could not sign: a server fault.
    Signing,
    /// The operating system gave no randomness for the session id: a server fault.
    Randomness,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Backend(err) => err.fmt(f),
            SessionError::UserInactive => f.write_str("the user is inactive"),
            SessionError::Signing => f.write_str("signing the token failed"),
            SessionError::Randomness => f.write_str("no randomness for the session id"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Backend(err) => Some(err),
            _ => None,
        }
    }
}

/// 128 random bits, hex-encoded: unguessable, so one user cannot name another's session.
fn new_session_id() -> Result<String, SessionError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| SessionError::Randomness)?;
    let mut id = String::with_capacity(32);
    for b in bytes {
        id.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        id.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_random_hex() {
        let a = new_session_id().unwrap();
        let b = new_session_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn issued_tokens_debug_is_redacted() {
        let issued = IssuedTokens {
            access_token: "eyJaccess".into(),
            refresh_token: "eyJrefresh".into(),
            session_id: "s".into(),
            expires_in: 1,
        };
        let debug = format!("{issued:?}");
        assert!(!debug.contains("eyJ"));
    }
}
