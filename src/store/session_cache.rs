//! The moka cache of session rows in front of the store.
//!
//! Concurrent loads of one session coalesce into one store call (`try_get_with`); failed
//! loads and unknown sessions are never cached; an entry expires with its session at the
//! latest.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use tower_jwt_sessions_core::{BackendError, Session};

use crate::clock::unix_now;

/// A session as cached, with the time of its last recorded use.
#[derive(Debug)]
pub(crate) struct CachedSession {
    pub(crate) session: Session,
    last_touch: AtomicU64,
}

impl CachedSession {
    fn new(session: Session) -> Self {
        CachedSession {
            last_touch: AtomicU64::new(session.last_accessed),
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
    /// The store failed (the guard logged why): a server fault.
    Backend,
}

struct SessionExpiry {
    ttl: Duration,
}

impl Expiry<String, Arc<CachedSession>> for SessionExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<CachedSession>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let left = value.session.expires_at.saturating_sub(unix_now());
        Some(self.ttl.min(Duration::from_secs(left)))
    }
}

pub(crate) struct SessionCache {
    sessions: Cache<String, Arc<CachedSession>>,
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
    /// callers); a missing or expired row is `NotFound` and is not cached.
    pub(crate) async fn get_or_load(
        &self,
        id: &str,
        load: impl Future<Output = Result<Option<Session>, BackendError>>,
    ) -> Result<Arc<CachedSession>, Arc<LoadError>> {
        self.sessions
            .try_get_with_by_ref(id, async {
                match load.await {
                    Ok(Some(session)) if session.expires_at > unix_now() => {
                        Ok(Arc::new(CachedSession::new(session)))
                    }
                    Ok(_) => Err(LoadError::NotFound),
                    Err(_) => Err(LoadError::Backend),
                }
            })
            .await
    }

    pub(crate) async fn invalidate(&self, id: &str) {
        self.sessions.invalidate(id).await;
    }
}
