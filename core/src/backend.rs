//! Where sessions live: [`SessionBackend`], and rotation as the optional [`RotatingBackend`].

use std::future::Future;
use std::sync::Arc;

use crate::{BackendError, Session};

/// Keeps session rows: Postgres, Redis, or anything async.
///
/// Implement it with `async fn`s. The crate generates session ids, signs tokens, caches
/// loads and debounces `touch`, so a backend only keeps rows; it knows nothing of users or
/// their permissions (that is [`Users`](crate::Users)). Every method separates "not there"
/// (`Ok(None)`, `Ok(false)`) from "the backend failed" (`Err`): the first ends a session with a
/// 401, the second is a 503.
///
/// A backend may keep a row past its `expires_at` or drop it then: the crate checks the expiry
/// itself. [`suite::check_backend`](crate::suite::check_backend) (feature `test-suite`) checks
/// the whole contract in one line.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use tower_jwt_sessions_core::{BackendError, Session, SessionBackend};
///
/// #[derive(Default)]
/// struct MyBackend(Mutex<HashMap<String, Session>>);
///
/// impl SessionBackend for MyBackend {
///     async fn create(&self, session: Session) -> Result<(), BackendError> {
///         self.0.lock().unwrap().insert(session.id.clone(), session);
///         Ok(())
///     }
///     async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
///         Ok(self.0.lock().unwrap().get(id).cloned())
///     }
///     async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
///         Ok(self.0.lock().unwrap().remove(id).is_some())
///     }
///     async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
///         let rows = self.0.lock().unwrap();
///         let mut mine: Vec<Session> =
///             rows.values().filter(|s| s.user_id == user_id).cloned().collect();
///         mine.sort_by_key(|s| std::cmp::Reverse(s.created_at));
///         mine.truncate(limit);
///         Ok(mine)
///     }
///     async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
///         if let Some(s) = self.0.lock().unwrap().get_mut(id) {
///             s.last_accessed = s.last_accessed.max(at);
///         }
///         Ok(())
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let backend = MyBackend::default();
/// assert_eq!(backend.load("nope").await.unwrap(), None);
/// assert!(!backend.revoke("nope").await.unwrap());
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session backend",
    note = "`Sessions::builder(keys, backend, users)` takes a `MemoryBackend`, `RedisBackend`, `PostgresBackend` or your own"
)]
pub trait SessionBackend: Send + Sync + 'static {
    /// Stores a new session.
    fn create(&self, session: Session) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Loads one session; `Ok(None)` when it does not exist (never created, or revoked).
    fn load(&self, id: &str) -> impl Future<Output = Result<Option<Session>, BackendError>> + Send;

    /// Deletes one session; `Ok(false)` when there was none.
    fn revoke(&self, id: &str) -> impl Future<Output = Result<bool, BackendError>> + Send;

    /// The sessions of one user, newest (`created_at`) first, at most `limit` of them, so
    /// that a user with many sessions never makes a huge answer. Expired rows may be
    /// included; the crate filters them.
    fn list(
        &self,
        user_id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Session>, BackendError>> + Send;

    /// Records that the session was used at `at` (seconds since the Unix epoch); a missing
    /// session is not an error. `last_accessed` never moves back. The crate debounces calls:
    /// a burst of refreshes costs one write.
    fn touch(&self, id: &str, at: u64) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Ends every session of one user ("sign out everywhere"); returns the ids ended. The
    /// default lists and revokes one by one; a backend with a per-user index does it in one
    /// operation (and one broadcast).
    fn revoke_all(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        self.revoke_others(user_id, "")
    }

    /// Ends every session of one user but `keep` ("sign out other devices"); returns the ids
    /// ended. The default lists and revokes one by one.
    fn revoke_others(
        &self,
        user_id: &str,
        keep: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        async move {
            let mut ended = Vec::new();
            for session in self.list(user_id, usize::MAX).await? {
                if session.id != keep && self.revoke(&session.id).await? {
                    ended.push(session.id);
                }
            }
            Ok(ended)
        }
    }

    /// What the crate puts in front of the random part of a new session's id, as
    /// `{prefix}.{random}`, for a session of `user_id`: 1 to 32 of `A-Z a-z 0-9 _ -`. The
    /// default, `None`, keeps ids plain (32 hex digits). A sharded backend names the user's
    /// shard here, so that [`load`](Self::load) finds the shard from the id alone.
    fn session_id_prefix(&self, user_id: &str) -> Option<String> {
        let _ = user_id;
        None
    }

    /// Starts delivering to `sink` every revocation made through this backend by any
    /// process, so that each instance stops a revoked session's tokens at once. Called once,
    /// when the layer is built. The default delivers nothing: right for a backend only one
    /// process uses, such as an in-memory one.
    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        let _ = sink;
    }
}

/// Where a backend's revocation feed delivers: the layer of one process.
///
/// A shared backend (Redis, Postgres) calls [`revoked`](Self::revoked) for every session
/// revoked by any instance, itself included, and [`feed_up`](Self::feed_up) when its
/// subscriber loses or regains the feed. While the feed is down the layer trusts nothing it
/// cached about sessions and asks the backend instead; the backend replays what it missed before
/// saying the feed is up again.
///
/// A replay only helps if the log still holds what was missed. A backend whose log can lose
/// entries (wiped, truncated, restored from a backup, its ids reset) says so with
/// [`log_complete_since`](Self::log_complete_since): until that time is older than every
/// access token still alive, the layer checks each access token's session in the backend,
/// as while the feed is down. Fail closed: an instance that cannot prove its view of
/// revocations complete never lets a token pass on that view alone.
pub trait RevocationSink: Send + Sync + 'static {
    /// A session was revoked somewhere: its refresh and access tokens stop here.
    fn revoked(&self, session_id: &str);

    /// The feed is down (`false`) or back, with everything missed replayed (`true`).
    fn feed_up(&self, up: bool);

    /// The log behind the feed holds every revocation made since `unix_secs` (seconds since
    /// the Unix epoch); older ones may be missing. `0`: complete since the log began. The
    /// time is that of the newest entry ever removed other than by the backend's age trim
    /// (which only removes entries older than every live access token), or of the moment a
    /// loss was found (the log deleted, its ids gone back). A backend reports it before each
    /// [`feed_up(true)`](Self::feed_up) and again whenever it learns of a loss; the layer
    /// keeps the latest time it was told. A backend that never calls it is taken as complete.
    fn log_complete_since(&self, unix_secs: u64);
}

/// A backend that can rotate refresh tokens: an atomic compare-and-swap of a session's
/// generation. Refresh-token rotation (`SessionsBuilder::rotate_refresh_tokens` in
/// tower-jwt-sessions) is only offered for backends that implement it.
///
/// [`suite::check_rotation`](crate::suite::check_rotation) checks it, racing swaps included.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot rotate refresh tokens",
    note = "`rotate_refresh_tokens` needs a backend that implements `RotatingBackend` (the memory, Redis and Postgres ones do): a compare-and-swap, so that instances racing for a refresh agree on one winner"
)]
pub trait RotatingBackend: SessionBackend {
    /// Atomically sets the session's generation from `from` to `to` and `rotated_at` to `at`;
    /// `Ok(false)` when the generation was not `from` (another refresh won the race) or the
    /// session is gone. Must be a compare-and-swap in the backend (`UPDATE ... WHERE generation
    /// = $from`, a Lua script in Redis), since instances race for it.
    fn rotate(
        &self,
        id: &str,
        from: u64,
        to: u64,
        at: u64,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;
}

/// One-time records with an expiry: what makes a DPoP proof (RFC 9449 §11.1) usable once
/// across every instance, since each records its `jti` here before accepting it.
///
/// [`suite::check_replay`](crate::suite::check_replay) checks it, racing records included.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot record DPoP proofs",
    note = "DPoP needs a backend that implements `ReplayBackend` (the memory, Redis and Postgres ones do), to refuse a proof used twice on any instance"
)]
pub trait ReplayBackend: Send + Sync + 'static {
    /// Records `id` until `expires_at` (Unix seconds) unless it is recorded already and not
    /// expired: `Ok(true)` the first time, `Ok(false)` after. One atomic operation in the
    /// backend (`SET NX`, `INSERT ... ON CONFLICT`), since instances race for it; an error
    /// is never taken as a first use.
    fn record_once(
        &self,
        id: &str,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;
}
