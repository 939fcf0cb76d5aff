//! The moka cache of session rows in front of the backend.
//!
//! Concurrent loads of one session coalesce into one backend call (`try_get_with`); failed
//! loads are never cached; an entry expires with its session at the latest. A session the
//! backend does not know is remembered as gone for a short while, so that a flood of unknown
//! or revoked ids does not reach the backend on every request. Only what refresh reads is
//! kept: the client-chosen `meta` is dropped, but for the key the session is bound to.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use tower_jwt_sessions_core::{BackendError, Session, SessionMeta};

use crate::clock::unix_now;

/// A session as cached, with the time of its last recorded use.
#[derive(Debug)]
pub(crate) struct CachedSession {
    pub(crate) session: Session,
    /// When the load that read this row began: a revocation after it may not be reflected.
    pub(crate) loaded_at: Instant,
    last_touch: AtomicU64,
}

impl CachedSession {
    fn new(mut session: Session, loaded_at: Instant) -> Self {
        // The key a session is bound to decides its refreshes: it stays.
        session.meta = SessionMeta {
            dpop_jkt: session.meta.dpop_jkt.take(),
            ..SessionMeta::default()
        };
        CachedSession {
            last_touch: AtomicU64::new(session.last_accessed),
            loaded_at,
            session,
        }
    }

    pub(crate) fn last_used(&self) -> u64 {
        self.last_touch.load(Ordering::Acquire)
    }

    /// Whether this caller should write `touch`: true for exactly one caller per debounce
    /// window, however many refresh at once.
    pub(crate) fn claim_touch(&self, now: u64, debounce: Duration) -> bool {
        let previous = self.last_touch.load(Ordering::Acquire);
        if now < previous.saturating_add(debounce.as_secs()) {
            return false;
        }
        self.last_touch
            .compare_exchange(previous, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Why no session came out of the cache.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// Unknown, revoked or expired: the client's session has ended.
    NotFound,
    /// The backend failed (the guard logged why): a server fault.
    Backend,
}

/// The longest time an unknown session is remembered as gone.
const GONE_TTL: Duration = Duration::from_secs(5);

/// What the cache holds for one id.
#[derive(Clone)]
enum Slot {
    Live(Arc<CachedSession>),
    /// The backend did not know it (or it had expired) when last asked.
    Gone,
}

struct SessionExpiry {
    ttl: Duration,
}

impl Expiry<String, Slot> for SessionExpiry {
    fn expire_after_create(&self, _key: &String, slot: &Slot, _: Instant) -> Option<Duration> {
        match slot {
            Slot::Live(entry) => {
                let left = entry.session.expires_at.saturating_sub(unix_now());
                Some(self.ttl.min(Duration::from_secs(left)))
            }
            Slot::Gone => Some(self.ttl.min(GONE_TTL)),
        }
    }
}

pub(crate) struct SessionCache {
    sessions: Cache<String, Slot>,
}

impl SessionCache {
    pub(crate) fn new(capacity: u64, ttl: Duration) -> Self {
        SessionCache {
            sessions: Cache::builder()
                .max_capacity(capacity)
                .expire_after(SessionExpiry { ttl })
                .build(),
        }
    }

    /// The cached row, or the row `load` reads (one `load` for any number of concurrent
    /// callers); a missing or expired row is `NotFound`, remembered briefly; a failed load
    /// is not cached.
    pub(crate) async fn get_or_load(
        &self,
        id: &str,
        load: impl Future<Output = Result<Option<Session>, BackendError>>,
    ) -> Result<Arc<CachedSession>, Arc<LoadError>> {
        let slot = self
            .sessions
            .try_get_with_by_ref(id, async {
                let started = Instant::now();
                match load.await {
                    Ok(Some(session)) if session.expires_at > unix_now() => {
                        Ok(Slot::Live(Arc::new(CachedSession::new(session, started))))
                    }
                    Ok(_) => Ok(Slot::Gone),
                    Err(_) => Err(LoadError::Backend),
                }
            })
            .await?;
        match slot {
            Slot::Live(entry) => Ok(entry),
            Slot::Gone => Err(Arc::new(LoadError::NotFound)),
        }
    }

    pub(crate) async fn invalidate(&self, id: &str) {
        self.sessions.invalidate(id).await;
    }
}
