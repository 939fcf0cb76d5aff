//! The one door to session state: the store behind its guard, the session cache and the
//! sessions this process revoked. Refresh, rotation and the app's handle go through
//! [`Store`] and nothing else.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tower_jwt_sessions_core::{BackendError, RotatingStore, Session, SessionStore};

mod guard;
mod memory;
mod revoked;
mod session_cache;
mod timer;

pub(crate) use guard::Guard;
pub use memory::MemoryBackend;
pub(crate) use revoked::Verdict;
pub(crate) use session_cache::{CachedSession, LoadError};

use revoked::RevokedSet;
use session_cache::SessionCache;

/// The store's compare-and-swap, boxed: only stores that implement [`RotatingStore`] get
/// one, and only refreshes with rotation on pay for the box.
pub(crate) type RotateFn<S> =
    for<'a> fn(
        &'a S,
        &'a str,
        u64,
        u64,
        u64,
    ) -> Pin<Box<dyn Future<Output = Result<bool, BackendError>> + Send + 'a>>;

fn rotate_boxed<'a, S: RotatingStore>(
    store: &'a S,
    id: &'a str,
    from: u64,
    to: u64,
    at: u64,
) -> Pin<Box<dyn Future<Output = Result<bool, BackendError>> + Send + 'a>> {
    Box::pin(store.rotate(id, from, to, at))
}

/// The rotation of a [`RotatingStore`].
pub(crate) fn rotate_fn<S: RotatingStore>() -> RotateFn<S> {
    rotate_boxed::<S>
}

/// How the door is sized; computed by the builder.
pub(crate) struct StoreConfig {
    pub(crate) max_in_flight: usize,
    pub(crate) timeout: Option<Duration>,
    pub(crate) cache_capacity: u64,
    pub(crate) cache_ttl: Duration,
    /// How long a revocation must be remembered: past any cache entry a racing load could
    /// insert, and past every access token minted before it.
    pub(crate) remember_revocations: Duration,
    /// Most revocations remembered at once; past it, sessions are checked in the store.
    pub(crate) revocation_budget: usize,
}

pub(crate) struct Store<S> {
    rows: S,
    rotate: Option<RotateFn<S>>,
    guard: Guard,
    cache: SessionCache,
    revoked: RevokedSet,
    /// The time base of `unrecorded_at`.
    started: Instant,
    /// Nanoseconds after `started` of the latest revocation the revoked set had no room
    /// for (0: none): a cached row loaded before it may predate that revocation.
    unrecorded_at: AtomicU64,
}

impl<S> Store<S> {
    pub(crate) fn new(rows: S, rotate: Option<RotateFn<S>>, config: StoreConfig) -> Self {
        Store {
            rows,
            rotate,
            guard: Guard::new(config.max_in_flight, config.timeout),
            cache: SessionCache::new(config.cache_capacity, config.cache_ttl),
            revoked: RevokedSet::new(config.remember_revocations, config.revocation_budget),
            started: Instant::now(),
            unrecorded_at: AtomicU64::new(0),
        }
    }

    /// The app's store itself.
    pub(crate) fn rows(&self) -> &S {
        &self.rows
    }

    /// The guard, shared with the calls to the user directory.
    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Whether this process revoked the session lately: its access tokens are refused at
    /// once. `Unknown` when the revoked set ran out of room lately: ask [`Store::load`].
    pub(crate) fn check_revoked(&self, id: &str) -> Verdict {
        self.revoked.check(id)
    }

    /// Whether a row loaded at `loaded_at` may predate a revocation the set could not record.
    fn may_predate_unrecorded(&self, loaded_at: Instant) -> bool {
        let unrecorded = self.unrecorded_at.load(Ordering::Acquire);
        unrecorded != 0 && nanos_since(self.started, loaded_at) <= unrecorded
    }
}

fn nanos_since(start: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
}

impl<S: SessionStore> Store<S> {
    pub(crate) async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.guard.call("create", self.rows.create(session)).await
    }

    /// The session through the cache: one store load for any number of concurrent callers.
    pub(crate) async fn load(&self, id: &str) -> Result<Arc<CachedSession>, Arc<LoadError>> {
        for _ in 0..2 {
            let entry = self
                .cache
                .get_or_load(id, self.guard.call("load", self.rows.load(id)))
                .await?;
            // After the lookup, not before: this also catches an entry that a load begun
            // before the revocation inserted after it.
            match self.revoked.check(id) {
                Verdict::Live => return Ok(entry),
                Verdict::Revoked => {
                    self.cache.invalidate(id).await;
                    return Err(Arc::new(LoadError::NotFound));
                }
                // The set is incomplete: the row counts only if it was read after the last
                // revocation the set could not record; else read it again.
                Verdict::Unknown if !self.may_predate_unrecorded(entry.loaded_at) => {
                    return Ok(entry);
                }
                Verdict::Unknown => self.cache.invalidate(id).await,
            }
        }
        // Revocations keep outrunning the reads: refuse for now (503), never accept a row
        // that may have been revoked.
        Err(Arc::new(LoadError::Backend))
    }

    /// The session as the store has it now, past the cache; the cache is left as it is.
    pub(crate) async fn read(&self, id: &str) -> Result<Option<Session>, BackendError> {
        let session = self.guard.call("load", self.rows.load(id)).await?;
        Ok(session.filter(|_| self.revoked.check(id) != Verdict::Revoked))
    }

    /// Reads the store past the cache and drops the cached copy, which proved out of date.
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
            .call("list", self.rows.list(user_id, limit))
            .await
    }

    /// Records a use, at most once per `debounce` per session. Losing one `last_accessed`
    /// update is harmless; failing a good refresh is not, so a failure is only logged.
    pub(crate) async fn touch(&self, entry: &CachedSession, now: u64, debounce: Duration) {
        if entry.claim_touch(now, debounce) {
            let _ = self
                .guard
                .call("touch", self.rows.touch(&entry.session.id, now))
                .await;
        }
    }

    /// Revokes in the store first, then here, so that no reader can reload the row.
    pub(crate) async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        let existed = self.guard.call("revoke", self.rows.revoke(id)).await?;
        self.forget_revoked(id).await;
        Ok(existed)
    }

    /// Ends a session whose refresh is refused for good (idle, user gone, token reused). The
    /// refusal stands even if the store fails to delete the row: the same check refuses the
    /// next attempt too, and this process already forgets the session.
    pub(crate) async fn end(&self, id: &str) {
        let _ = self.guard.call("revoke", self.rows.revoke(id)).await;
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
        let Some(rotate) = self.rotate else {
            return Err(BackendError::new("this session store cannot rotate"));
        };
        let swapped = self
            .guard
            .call("rotate", rotate(&self.rows, id, from, to, at))
            .await?;
        if swapped {
            self.cache.invalidate(id).await;
        }
        Ok(swapped)
    }

    async fn forget_revoked(&self, id: &str) {
        if !self.revoked.insert(id) {
            let now = nanos_since(self.started, Instant::now()).max(1);
            self.unrecorded_at.fetch_max(now, Ordering::AcqRel);
        }
        self.cache.invalidate(id).await;
    }
}
