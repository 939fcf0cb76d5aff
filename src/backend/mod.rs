//! Where sessions live: the [`SessionBackend`] trait and the in-memory store.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::claims::SessionClaims;

mod guarded;
mod memory;
mod timer;

pub(crate) use guarded::Guarded;

pub use memory::MemoryBackend;

/// One login of one user on one device. The row's existence is the revocation state:
/// revoking deletes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Random 128-bit id, hex-encoded, chosen by the crate.
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Absolute end of the session (its refresh token's `exp`), seconds since the Unix epoch.
    pub expires_at: u64,
    /// Last time the session was used to refresh, seconds since the Unix epoch.
    pub last_accessed: u64,
    /// Refresh-token generation. Refresh tokens carry it; rotation bumps it, so that an old
    /// token no longer matches.
    pub generation: u64,
    /// When the generation was last bumped, seconds since the Unix epoch (0: never).
    #[serde(default)]
    pub rotated_at: u64,
    /// Where the session came from, for the user's list of sessions.
    #[serde(flatten)]
    pub meta: SessionMeta,
}

/// What the login request said about the client, shown in the user's list of sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    /// The client's address, as the app sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The store failed: unreachable, timed out, corrupt. Answered with 503, never 401.
///
/// "Not found" is not an error: [`SessionBackend::load`] answers `Ok(None)` for it.
#[derive(Debug)]
pub struct BackendError {
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl BackendError {
    /// Wraps the store's own error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        BackendError {
            source: source.into(),
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session backend failed: {}", self.source)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A session store: Postgres, Redis, or anything async.
///
/// Implement it with `async fn`s; the crate generates session ids, signs tokens and caches
/// loads, so a store only keeps rows. Every method separates "not there" (`Ok(None)`,
/// `Ok(false)`) from "the store failed" (`Err`): the first ends a session with a 401, the
/// second is a 503.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use tower_jwt_sessions::{BackendError, MachinableClaims, Session, SessionBackend};
///
/// #[derive(Default)]
/// struct MyStore {
///     sessions: Mutex<HashMap<String, Session>>,
///     users: Mutex<HashMap<String, MachinableClaims>>,
/// }
///
/// impl SessionBackend for MyStore {
///     type Claims = MachinableClaims;
///     async fn create(&self, session: Session) -> Result<(), BackendError> {
///         self.sessions.lock().unwrap().insert(session.id.clone(), session);
///         Ok(())
///     }
///     async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
///         Ok(self.sessions.lock().unwrap().get(id).cloned())
///     }
///     async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
///         Ok(self.sessions.lock().unwrap().remove(id).is_some())
///     }
///     async fn list(&self, user_id: &str) -> Result<Vec<Session>, BackendError> {
///         let sessions = self.sessions.lock().unwrap();
///         Ok(sessions.values().filter(|s| s.user_id == user_id).cloned().collect())
///     }
///     async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
///         if let Some(s) = self.sessions.lock().unwrap().get_mut(id) {
///             s.last_accessed = at;
///         }
///         Ok(())
///     }
///     async fn user_claims(&self, user_id: &str) -> Result<Option<MachinableClaims>, BackendError> {
///         Ok(self.users.lock().unwrap().get(user_id).cloned())
///     }
/// }
/// ```
pub trait SessionBackend: Send + Sync + 'static {
    /// The user's own claims, put into every access token.
    type Claims: SessionClaims;

    /// Stores a new session.
    fn create(&self, session: Session) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Loads one session; `Ok(None)` when it does not exist (never created, or revoked).
    fn load(&self, id: &str) -> impl Future<Output = Result<Option<Session>, BackendError>> + Send;

    /// Deletes one session; `Ok(false)` when there was none.
    fn revoke(&self, id: &str) -> impl Future<Output = Result<bool, BackendError>> + Send;

    /// All live sessions of one user.
    fn list(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<Session>, BackendError>> + Send;

    /// Records that the session was used at `at` (seconds since the Unix epoch). The crate
    /// debounces calls: a burst of refreshes costs one write.
    fn touch(&self, id: &str, at: u64) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The user's *current* claims, read at every refresh so that permission changes reach
    /// the next access token; `Ok(None)` when the user no longer exists.
    fn user_claims(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Self::Claims>, BackendError>> + Send;

    /// Whether [`rotate`](Self::rotate) is implemented. Refresh-token rotation
    /// ([`SessionsBuilder::rotate_refresh_tokens`](crate::SessionsBuilder::rotate_refresh_tokens))
    /// refuses to build without it.
    const SUPPORTS_ROTATION: bool = false;

    /// Atomically sets the session's generation from `from` to `to` and `rotated_at` to `at`;
    /// `Ok(false)` when the generation was not `from` (another refresh won the race) or the
    /// session is gone. Must be a compare-and-swap in the store (`UPDATE ... WHERE generation
    /// = $from`, a Redis transaction), since instances race for it.
    fn rotate(
        &self,
        id: &str,
        from: u64,
        to: u64,
        at: u64,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let _ = (id, from, to, at);
        async {
            Err(BackendError::new(
                "this session backend does not implement rotate",
            ))
        }
    }
}
