//! The handle the app keeps: create, list and revoke sessions, and get the layer.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response};
use serde::Serialize;

use tower_jwt_sessions_core::{
    BackendError, Session, SessionBackend, SessionMeta, UserClaims, Users,
};

use crate::access::Shared;
use crate::clock::unix_now;
use crate::cookie::CookieTransport;
use crate::dpop::{DpopBinding, TokenType};
use crate::error::AuthError;
use crate::keys::Keys;
use crate::service::SessionLayer;
use crate::token::Claims;

mod builder;

pub use builder::SessionsBuilder;

/// JWT sessions for one app: the session API for login handlers, and the [`layer`](Self::layer)
/// that guards routes and answers the refresh route.
///
/// Cloning is cheap and shares everything: keep one in your app state.
///
/// ```
/// use tower_jwt_sessions::{Keys, MachinableClaims, MachinableUser, MemoryBackend, SessionMeta, Sessions};
///
/// # tokio_test();
/// # fn tokio_test() { tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let memory = MemoryBackend::new();
/// let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
/// let sessions = Sessions::builder(keys, memory.clone(), memory).build()?;
/// let claims = MachinableClaims::new("pet-demo", MachinableUser {
///     id: "u1".into(), name: "testUser".into(), active: true,
///     read: true, write: true, kind: "project".into(),
/// });
/// sessions.users().set_user("u1", claims.clone());
///
/// // In the login handler, once the password checked out:
/// let issued = sessions.create("u1", &claims, SessionMeta::default()).await?;
/// assert_eq!(sessions.list("u1").await?.len(), 1);
///
/// // The access token verifies; after revocation the refresh token no longer works.
/// assert_eq!(sessions.verify_access(&issued.access_token).await?.subject(), "u1");
/// assert!(sessions.revoke(&issued.session_id).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap() }
/// ```
pub struct Sessions<S, U = S> {
    shared: Arc<Shared<S, U>>,
}

impl<S, U> Sessions<S, U> {
    pub(crate) fn from_shared(shared: Arc<Shared<S, U>>) -> Self {
        Sessions { shared }
    }

    /// The layer that guards routes and answers the refresh route.
    pub fn layer(&self) -> SessionLayer<S, U> {
        SessionLayer::from_shared(Arc::clone(&self.shared))
    }

    /// The user directory.
    pub fn users(&self) -> &U {
        &self.shared.users
    }

    /// Whether this instance hears every revocation: `true` for a backend only this process
    /// uses, and for a shared backend while its revocation feed is connected and replayed.
    /// While `false`, the layer trusts nothing it cached about sessions and reads the backend
    /// (503 if that fails too): slower, never stale. For a readiness probe.
    pub fn revocation_feed_up(&self) -> bool {
        self.shared.store.feed_up()
    }

    /// The `Set-Cookie` value that clears the refresh-token cookie, for the logout answer;
    /// `None` unless [`refresh_cookie`](crate::SessionsBuilder::refresh_cookie) is on.
    pub fn clear_refresh_cookie(&self) -> Option<HeaderValue> {
        self.shared.cookie.as_ref().map(CookieTransport::clear)
    }

    /// Renders a refusal the way the layer does (for example an
    /// [`AuthError::insufficient_scope`] from a handler).
    pub fn error_response(&self, err: &AuthError) -> Response<Bytes> {
        self.shared.renderer.render(err)
    }
}

impl<S: SessionBackend, U: Users> Sessions<S, U> {
    /// Starts a configuration with its required parts: the keys that sign and verify tokens,
    /// the `backend` where sessions live (a [`MemoryBackend`](crate::MemoryBackend), Redis,
    /// Postgres or your own), and the `users` directory the refresh route reads the users'
    /// current claims from (its [`Users::Claims`] is the claims type of every token). A
    /// `MemoryBackend` is a user directory as well: to keep one value as both, give it
    /// twice, `Sessions::builder(keys, memory.clone(), memory)`.
    ///
    /// Every other setting has a default (15-minute access tokens, 3-day sessions, refresh
    /// route `/sessions/refresh/`) and comes in any order; see [`SessionsBuilder`], then
    /// [`build`](SessionsBuilder::build) it.
    pub fn builder(keys: Keys, backend: S, users: U) -> SessionsBuilder<S, U> {
        SessionsBuilder::new(keys, backend, users)
    }

    /// The DPoP proof of a login request (RFC 9449 §5), checked (`htm` and `htu` of this
    /// request, no `ath`) and recorded once on every instance: the key it proves, to bind
    /// the new session to. Unbound when the request has no `DPoP` header or DPoP is off;
    /// with [`Dpop::required`](crate::Dpop::required) a proof is needed. A refusal renders
    /// with [`error_response`](Self::error_response).
    ///
    /// ```ignore
    /// let binding = sessions.login_proof(&method, &uri, &headers).await?;
    /// let issued = sessions.create(&user_id, &claims, binding.bind(SessionMeta::default())).await?;
    /// // issued.token_type == TokenType::Dpop when the login came with a proof
    /// ```
    pub async fn login_proof(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<DpopBinding, AuthError> {
        let Some(dpop) = &self.shared.dpop else {
            return Ok(DpopBinding::default());
        };
        if !headers.contains_key("dpop") {
            return if dpop.required {
                Err(crate::error::refusals::LOGIN_PROOF_REQUIRED)
            } else {
                Ok(DpopBinding::default())
            };
        }
        let proof = crate::dpop::check(dpop, headers, method, uri, None, unix_now())?;
        self.shared.record_proof(&proof).await?;
        Ok(DpopBinding::to_key(proof.dpop_jkt))
    }

    /// Starts a session for a user whose credentials the app has checked, and mints its
    /// first pair of tokens.
    pub async fn create(
        &self,
        user_id: &str,
        claims: &U::Claims,
        meta: SessionMeta,
    ) -> Result<IssuedTokens, SessionError> {
        if !claims.is_active() {
            return Err(SessionError::UserInactive);
        }
        let shared = &self.shared;
        let now = unix_now();
        let session = Session {
            id: new_session_id(shared.store.session_id_prefix(user_id))?,
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(shared.policy.refresh_ttl.as_secs()),
            last_accessed: now,
            generation: 0,
            rotated_at: 0,
            meta: bounded(meta),
        };
        let jkt = session.meta.dpop_jkt.as_deref();
        let access_token = shared
            .codec
            .mint_access(
                user_id,
                &session.id,
                claims,
                now,
                shared.policy.access_ttl,
                jkt,
            )
            .map_err(|err| SessionError::Signing(err.0))?;
        let token_type = if jkt.is_some() {
            TokenType::Dpop
        } else {
            TokenType::Bearer
        };
        let refresh_token = shared
            .codec
            .mint_refresh(
                user_id,
                &session.id,
                session.generation,
                now,
                session.expires_at,
            )
            .map_err(|err| SessionError::Signing(err.0))?;
        let session_id = session.id.clone();
        shared
            .store
            .create(session)
            .await
            .map_err(SessionError::Backend)?;
        if let Some(max) = shared.policy.max_sessions_per_user {
            self.end_oldest(user_id, max).await?;
        }
        let refresh_cookie = shared
            .cookie
            .as_ref()
            .and_then(|cookie| cookie.set(&refresh_token, shared.policy.refresh_ttl.as_secs()));
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            session_id,
            expires_in: shared.policy.access_ttl.as_secs(),
            token_type,
            refresh_cookie,
        })
    }

    /// Ends a session at once: its refresh token is refused from now on, in this process
    /// immediately. `Ok(false)` when there was no such session.
    pub async fn revoke(&self, session_id: &str) -> Result<bool, SessionError> {
        if !could_be_ours(session_id) {
            return Ok(false);
        }
        self.shared
            .store
            .revoke(session_id)
            .await
            .map_err(SessionError::Backend)
    }

    /// Ends every session of a user, on every instance ("sign out everywhere", after a
    /// password change or a deactivation); returns how many ended.
    pub async fn revoke_all(&self, user_id: &str) -> Result<usize, SessionError> {
        self.shared
            .store
            .revoke_all(user_id, None)
            .await
            .map_err(SessionError::Backend)
    }

    /// Ends every session of a user but `keep` (the caller's own: "sign out other
    /// devices"); returns how many ended.
    pub async fn revoke_others(&self, user_id: &str, keep: &str) -> Result<usize, SessionError> {
        // An id that cannot be a session keeps nothing; the backend never sees it.
        let keep = if could_be_ours(keep) { keep } else { "" };
        self.shared
            .store
            .revoke_all(user_id, Some(keep))
            .await
            .map_err(SessionError::Backend)
    }

    /// Past the per-user limit, the oldest sessions end (the newest `max` stay).
    async fn end_oldest(&self, user_id: &str, max: usize) -> Result<(), SessionError> {
        let sessions = self
            .shared
            .store
            .list(
                user_id,
                max.saturating_add(crate::limits::MAX_LISTED_SESSIONS),
            )
            .await
            .map_err(SessionError::Backend)?;
        for session in sessions.iter().skip(max) {
            self.revoke(&session.id).await?;
        }
        Ok(())
    }

    /// Ends a session only if it belongs to `user_id`; `Ok(false)` for an unknown session or
    /// another user's, so that a caller cannot probe which ids exist.
    pub async fn revoke_for_user(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<bool, SessionError> {
        if !could_be_ours(session_id) {
            return Ok(false);
        }
        let session = self
            .shared
            .store
            .read(session_id)
            .await
            .map_err(SessionError::Backend)?;
        match session {
            Some(session) if session.user_id == user_id => self.revoke(session_id).await,
            _ => Ok(false),
        }
    }

    /// The live sessions of one user, newest first, at most [`limits::MAX_LISTED_SESSIONS`](crate::limits::MAX_LISTED_SESSIONS).
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>, SessionError> {
        let now = unix_now();
        let mut sessions = self
            .shared
            .store
            .list(user_id, crate::limits::MAX_LISTED_SESSIONS)
            .await
            .map_err(SessionError::Backend)?;
        sessions.retain(|s| s.expires_at > now);
        Ok(sessions)
    }

    /// Verifies an access token exactly as the layer does for a Bearer token (through the
    /// verified-token cache when it is on, and the session itself when the revoked set is over
    /// its budget), for transports the layer does not cover. A token bound to a key (DPoP)
    /// is refused here: no proof comes with it.
    pub async fn verify_access(&self, token: &str) -> Result<Claims<U::Claims>, AuthError> {
        let claims = self.shared.verify_access_fully(token).await?;
        if claims.dpop_jkt().is_some() {
            return Err(crate::error::refusals::BOUND_AS_BEARER);
        }
        Ok(claims)
    }
}

impl<S, U> Clone for Sessions<S, U> {
    fn clone(&self) -> Self {
        Sessions {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, U> fmt::Debug for Sessions<S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("access_ttl", &self.shared.policy.access_ttl)
            .field("refresh_ttl", &self.shared.policy.refresh_ttl)
            .field("routes", &self.shared.routes)
            .finish_non_exhaustive()
    }
}

/// The tokens of a new session, shaped like Machinable's login answer.
///
/// With the [cookie transport](crate::cookie) on, send [`refresh_cookie`](Self::refresh_cookie)
/// as `Set-Cookie`; the serialized form then omits `refresh_token`, so that no script of the
/// page ever reads it. `Debug` redacts both tokens.
#[derive(Clone)]
#[non_exhaustive]
pub struct IssuedTokens {
    /// The first access token.
    pub access_token: String,
    /// The refresh token, to send to the refresh route.
    pub refresh_token: String,
    /// The session id, for listing and revoking.
    pub session_id: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// [`Bearer`](TokenType::Bearer), or [`Dpop`](TokenType::Dpop) when the session is bound
    /// to a key (RFC 9449 §5): its access tokens then work only with a proof by that key.
    pub token_type: TokenType,
    refresh_cookie: Option<HeaderValue>,
}

impl IssuedTokens {
    /// The ready `Set-Cookie` value carrying the refresh token (`HttpOnly; Secure;
    /// SameSite=Strict`, scoped to the refresh route, for the session's life); `None` unless
    /// [`refresh_cookie`](crate::SessionsBuilder::refresh_cookie) is on.
    pub fn refresh_cookie(&self) -> Option<&HeaderValue> {
        self.refresh_cookie.as_ref()
    }
}

impl Serialize for IssuedTokens {
    fn serialize<Z: serde::Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        use serde::ser::SerializeStruct;
        let in_body = self.refresh_cookie.is_none();
        let mut out = serializer.serialize_struct("IssuedTokens", 3 + usize::from(in_body))?;
        out.serialize_field("access_token", &self.access_token)?;
        if in_body {
            out.serialize_field("refresh_token", &self.refresh_token)?;
        } else {
            out.skip_field("refresh_token")?;
        }
        out.serialize_field("session_id", &self.session_id)?;
        out.serialize_field("expires_in", &self.expires_in)?;
        // Said only for a bound session: a Bearer one reads as it always did.
        if self.token_type == TokenType::Dpop {
            out.serialize_field("token_type", &self.token_type)?;
        } else {
            out.skip_field("token_type")?;
        }
        out.end()
    }
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("session_id", &self.session_id)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_cookie",
                &self.refresh_cookie.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why a session operation of the app failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The backend failed; answer 503.
    Backend(BackendError),
    /// The user's claims say they are inactive: no session for them.
    UserInactive,
    /// The keys could not sign: a server fault. Holds the signer's error.
    Signing(Box<dyn std::error::Error + Send + Sync>),
    /// The operating system gave no randomness for the session id: a server fault. Holds
    /// the operating system's error.
    Randomness(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Backend(err) => err.fmt(f),
            SessionError::UserInactive => f.write_str("the user is inactive"),
            SessionError::Signing(_) => f.write_str("signing the token failed"),
            SessionError::Randomness(_) => f.write_str("no randomness for the session id"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Backend(err) => Some(err),
            SessionError::Signing(err) | SessionError::Randomness(err) => Some(&**err),
            SessionError::UserInactive => None,
        }
    }
}

fn bounded(meta: SessionMeta) -> SessionMeta {
    fn cut(mut value: String) -> String {
        if value.len() > crate::limits::MAX_META_LEN {
            let mut end = crate::limits::MAX_META_LEN;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
        }
        // `truncate` keeps the allocation: without this, a 400 KiB `User-Agent` cut to 512
        // bytes would still hold 400 KiB for the session's whole life.
        value.shrink_to_fit();
        value
    }
    SessionMeta {
        ip: meta.ip.map(cut),
        user_agent: meta.user_agent.map(cut),
        dpop_jkt: meta.dpop_jkt.map(cut),
    }
}

/// Whether `id` has the shape of [`new_session_id`]'s ids. Anything else (a NUL, a path, a
/// megabyte) names no session: it is answered "not found" without a backend call, so that a
/// client cannot turn a backend's refusal of odd input into 503s and error logs.
fn could_be_ours(id: &str) -> bool {
    let (prefix, random) = match id.split_once('.') {
        Some((prefix, random)) => (Some(prefix), random),
        None => (None, id),
    };
    prefix.is_none_or(is_id_prefix)
        && random.len() == SESSION_ID_LEN
        && random
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A backend's [`SessionBackend::session_id_prefix`] as the contract states it.
fn is_id_prefix(prefix: &str) -> bool {
    (1..=32).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

const SESSION_ID_LEN: usize = 32;

/// 128 random bits, hex-encoded: unguessable, so one user cannot name another's session;
/// after the backend's prefix (a shard), when it gives one.
fn new_session_id(prefix: Option<String>) -> Result<String, SessionError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| SessionError::Randomness(Box::new(err)))?;
    let mut id = match prefix {
        Some(prefix) if is_id_prefix(&prefix) => prefix + ".",
        Some(_) => {
            return Err(SessionError::Backend(BackendError::new(
                "the backend's session id prefix is not 1 to 32 of A-Z a-z 0-9 _ -",
            )));
        }
        None => String::with_capacity(SESSION_ID_LEN),
    };
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
        let a = new_session_id(None).unwrap();
        let b = new_session_id(None).unwrap();
        assert_eq!(a.len(), 32);
        assert!(could_be_ours(&a));
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_backend_prefix_goes_in_front_and_must_be_plain() {
        let id = new_session_id(Some("s7-x".into())).unwrap();
        assert!(id.starts_with("s7-x."));
        assert_eq!(id.len(), 5 + 32);
        assert!(could_be_ours(&id));
        for bad in ["", "a.b", "a b", "{tag}", &"x".repeat(33)] {
            assert!(new_session_id(Some(bad.to_owned())).is_err(), "{bad:?}");
            assert!(
                !could_be_ours(&format!("{bad}.{}", "0".repeat(32))),
                "{bad:?}"
            );
        }
        assert!(!could_be_ours("s7.0123"));
    }

    #[test]
    fn meta_is_cut_at_a_char_boundary() {
        let long = "é".repeat(crate::limits::MAX_META_LEN);
        let meta = bounded(SessionMeta {
            ip: Some("203.0.113.7".into()),
            user_agent: Some(long),
            dpop_jkt: None,
        });
        assert_eq!(meta.ip.as_deref(), Some("203.0.113.7"));
        let agent = meta.user_agent.unwrap();
        assert!(
            agent.len() <= crate::limits::MAX_META_LEN
                && agent.len() >= crate::limits::MAX_META_LEN - 1
        );
        assert!(agent.chars().all(|c| c == 'é'));
    }

    #[test]
    fn issued_tokens_debug_is_redacted() {
        let issued = IssuedTokens {
            access_token: "eyJaccess".into(),
            refresh_token: "eyJrefresh".into(),
            session_id: "s".into(),
            expires_in: 1,
            token_type: TokenType::Bearer,
            refresh_cookie: Some(HeaderValue::from_static("refresh_token=eyJrefresh")),
        };
        let debug = format!("{issued:?}");
        assert!(!debug.contains("eyJ"));
        // In cookie mode the body leaves the refresh token out.
        let body = serde_json::to_value(&issued).unwrap();
        assert_eq!(body["access_token"], "eyJaccess");
        assert!(body.get("refresh_token").is_none());
    }
}
