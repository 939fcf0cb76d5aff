//! The one door to session state: the backend behind its guard, the session cache and the
//! sessions this process revoked. Refresh, rotation and the app's handle go through
//! [`Store`] and nothing else.

use std::sync::Arc;
use std::time::Duration;

use tower_jwt_sessions_core::{BackendError, RevocationSink, Session, SessionBackend};

mod feed;
mod guard;
mod memory;
mod revoked;
mod session_cache;

pub(crate) use guard::Guard;
pub use memory::MemoryBackend;
pub(crate) use revoked::Verdict;
pub(crate) use session_cache::{CachedSession, LoadError};

use crate::capability::{Record, Rotate};
use crate::token::SessionHash;
use feed::Revocations;
use session_cache::SessionCache;

/// How the door is sized; computed by the builder.
pub(crate) struct StoreConfig {
    pub(crate) max_in_flight: usize,
    pub(crate) timeout: Option<Duration>,
    pub(crate) cache_capacity: u64,
    pub(crate) cache_ttl: Duration,
    /// How long a revocation must be remembered: past any cache entry a racing load could
    /// insert, and past every access token minted before it.
    pub(crate) remember_revocations: Duration,
    /// Most revocations remembered at once; past it, sessions are checked in the backend.
    pub(crate) revocation_budget: usize,
}

pub(crate) struct Store<S> {
    rows: Arc<S>,
    /// The backend's compare-and-swap, when rotation is on.
    rotate: Option<Arc<dyn Rotate>>,
    /// The backend's one-time records, when DPoP is on.
    record: Option<Arc<dyn Record>>,
    guard: Guard,
    cache: SessionCache,
    revocations: Arc<Revocations>,
}

impl<S> Store<S> {
    pub(crate) fn new(
        rows: Arc<S>,
        rotate: Option<Arc<dyn Rotate>>,
        record: Option<Arc<dyn Record>>,
        config: StoreConfig,
    ) -> Self {
        Store {
            rows,
            rotate,
            record,
            guard: Guard::new(config.max_in_flight, config.timeout),
            cache: SessionCache::new(config.cache_capacity, config.cache_ttl),
            revocations: Arc::new(Revocations::new(
                config.remember_revocations,
                config.revocation_budget,
            )),
        }
    }

    /// The guard, shared with the calls to the user directory.
    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Whether this process revoked the session lately: its access tokens are refused at
    /// once. `Unknown` when the revoked set ran out of room lately: ask [`Store::load`].
    pub(crate) fn check_revoked(&self, id: &str, hash: SessionHash) -> Verdict {
        self.revocations.check(id, hash)
    }

    /// Whether the backend's revocation feed is up (always, for a backend without one).
    pub(crate) fn feed_up(&self) -> bool {
        !self.revocations.feed_down()
    }
}

impl<S: SessionBackend> Store<S> {
    /// Subscribes this process to the backend's revocation feed (a no-op for a backend only this
    /// process uses).
    pub(crate) fn watch_revocations(&self) {
        self.rows
            .watch_revocations(Arc::clone(&self.revocations) as Arc<dyn RevocationSink>);
    }

    /// Records a DPoP proof once, across every instance: `Ok(false)` for a replay. An
    /// error (or a door built without records) is never a first use.
    pub(crate) async fn record_proof(
        &self,
        id: &str,
        expires_at: u64,
    ) -> Result<bool, BackendError> {
        let Some(record) = &self.record else {
            return Err(BackendError::new("the backend keeps no DPoP proof records"));
        };
        self.guard
            .call("record proof", || record.record_once(id, expires_at))
            .await
    }

    /// The backend's prefix for a new session id of `user_id` (its shard), if any.
    pub(crate) fn session_id_prefix(&self, user_id: &str) -> Option<String> {
        self.rows.session_id_prefix(user_id)
    }

    pub(crate) async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.guard
            .call("create", || self.rows.create(session))
            .await
    }

    /// The session through the cache: one backend load for any number of concurrent callers.
    pub(crate) async fn load(&self, id: &str) -> Result<Arc<CachedSession>, Arc<LoadError>> {
        if self.revocations.feed_down() {
            // Revocations made elsewhere may be missing: nothing cached is trusted.
            self.cache.invalidate(id).await;
        }
        for _ in 0..2 {
            let entry = self
                .cache
                .get_or_load(id, self.guard.call("load", || self.rows.load(id)))
                .await?;
            // After the lookup, not before: this also catches an entry that a load begun
            // before the revocation inserted after it.
            match self.revocations.check(id, SessionHash::of(id)) {
                Verdict::Live => return Ok(entry),
                Verdict::Revoked => {
                    self.cache.invalidate(id).await;
                    return Err(Arc::new(LoadError::NotFound));
                }
                // The set is incomplete: the row counts only if it was read after the last
                // revocation the set could not record; else read it again.
                Verdict::Unknown if !self.revocations.may_predate_unrecorded(entry.loaded_at) => {
                    return Ok(entry);
                }
                Verdict::Unknown => self.cache.invalidate(id).await,
            }
        }
        // Revocations keep outrunning the reads: refuse for now (503), never accept a row
        // that may have been revoked.
        Err(Arc::new(LoadError::Backend))
    }

    /// The session as the backend has it now, past the cache; the cache is left as it is.
    pub(crate) async fn read(&self, id: &str) -> Result<Option<Session>, BackendError> {
        let session = self.guard.call("load", || self.rows.load(id)).await?;
        Ok(session.filter(|_| self.revocations.check(id, SessionHash::of(id)) != Verdict::Revoked))
    }

    /// Reads the backend past the cache and drops the cached copy, which proved out of date.
    pub(crate) async fn reload(&self, id: &str) -> Result<Option<Session>, BackendError> {
        self.cache.invalidate(id).await;
        self.read(id).await
    }

    pub(crate) async fn list(
        &self,
        user_id: &str,
        limit: usize,
    ) -> Result<Vec<Session>, BackendError> {
        self.guard
            .call("list", || self.rows.list(user_id, limit))
            .await
    }

    /// Records a use, at most once per `debounce` per session. Losing one `last_accessed`
    /// update is harmless; failing a good refresh is not, so a failure is only logged.
    pub(crate) async fn touch(&self, entry: &CachedSession, now: u64, debounce: Duration) {
        if entry.claim_touch(now, debounce) {
            let _ = self
                .guard
                .call("touch", || self.rows.touch(&entry.session.id, now))
                .await;
        }
    }

    /// Revokes in the backend first, then here, so that no reader can reload the row.
    pub(crate) async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        let existed = self.guard.call("revoke", || self.rows.revoke(id)).await?;
        self.forget_revoked(id).await;
        Ok(existed)
    }

    /// Ends a session whose refresh is refused for good (idle, user gone, token reused). The
    /// refusal stands even if the backend fails to delete the row: the same check refuses the
    /// next attempt too, and this process already forgets the session.
    pub(crate) async fn end(&self, id: &str) {
        let _ = self.guard.call("revoke", || self.rows.revoke(id)).await;
        self.forget_revoked(id).await;
    }

    /// The generation compare-and-swap; `Ok(false)` when another refresh won. The cached
    /// copy is dropped after a swap, so that the next refresh sees the new generation.
    pub(crate) async fn rotate(
        &self,
        id: &str,
        from: u64,
        to: u64,
        at: u64,
    ) -> Result<bool, BackendError> {
        let Some(rotate) = &self.rotate else {
            return Err(BackendError::new("the backend cannot rotate"));
        };
        let swapped = self
            .guard
            .call("rotate", || rotate.rotate(id, from, to, at))
            .await?;
        if swapped {
            self.cache.invalidate(id).await;
        }
        Ok(swapped)
    }

    /// Ends every session of a user, or all but `keep`; returns how many ended.
    pub(crate) async fn revoke_all(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<usize, BackendError> {
        let ended = match keep {
            Some(keep) => {
                self.guard
                    .call("revoke others", || self.rows.revoke_others(user_id, keep))
                    .await?
            }
            None => {
                self.guard
                    .call("revoke all", || self.rows.revoke_all(user_id))
                    .await?
            }
        };
        for id in &ended {
            self.forget_revoked(id).await;
        }
        Ok(ended.len())
    }

    async fn forget_revoked(&self, id: &str) {
        crate::telemetry::revocation(false);
        self.revocations.record(id);
        self.cache.invalidate(id).await;
    }
}
