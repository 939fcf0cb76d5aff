//! The moka cache in front of the session backend.
//!
//! Concurrent loads of one session coalesce into one backend call (`try_get_with`); failed
//! loads and unknown sessions are never cached; an entry expires with its session at the
//! latest; a revocation made through the crate removes the entry at once and leaves a marker
//! that also stops a load that was already in flight from resurrecting it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use crate::backend::{BackendError, Session, SessionBackend};
use crate::clock::unix_now;
use crate::config::MAX_LEEWAY;
use crate::revoked::RevokedSet;

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
    /// The backend failed: a server fault.
    Backend(BackendError),
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

#[derive(Clone)]
pub(crate) struct SessionCache {
    sessions: Cache<String, Arc<CachedSession>>,
    revoked: Arc<RevokedSet>,
}

impl SessionCache {
    /// `access_ttl` bounds how long a revocation must be remembered for access tokens.
    pub(crate) fn new(capacity: u64, ttl: Duration, access_ttl: Duration) -> Self {
        SessionCache {
            sessions: Cache::builder()
                .max_capacity(capacity)
                .expire_after(SessionExpiry { ttl })
                .build(),
            // Outlives any entry a racing load could insert after the revocation, and every
            // access token minted for the session before it.
            revoked: Arc::new(RevokedSet::new(
                (ttl * 2 + Duration::from_secs(60)).max(access_ttl + MAX_LEEWAY),
                usize::try_from(capacity).unwrap_or(usize::MAX),
            )),
        }
    }

    /// Whether this process revoked the session lately: its access tokens are refused at once.
    pub(crate) fn is_revoked(&self, id: &str) -> bool {
        self.revoked.contains(id)
    }

    pub(crate) async fn get_or_load<B: SessionBackend>(
        &self,
        id: &str,
        backend: &B,
    ) -> Result<Arc<CachedSession>, Arc<LoadError>> {
        let entry = self
            .sessions
            .try_get_with_by_ref(id, async {
                match backend.load(id).await {
                    Ok(Some(session)) if session.expires_at > unix_now() => {
                        Ok(Arc::new(CachedSession::new(session)))
                    }
                    Ok(_) => Err(LoadError::NotFound),
                    Err(err) => Err(LoadError::Backend(err)),
                }
            })
            .await?;
        // After the lookup, not before: this also catches an entry that a load begun before
        // the revocation inserted after it.
        if self.revoked.contains(id) {
            self.sessions.invalidate(id).await;
            return Err(Arc::new(LoadError::NotFound));
        }
        Ok(entry)
    }

    /// Drops a cached copy that is out of date (its generation moved on); the next lookup
    /// loads it again.
    pub(crate) async fn forget(&self, id: &str) {
        self.sessions.invalidate(id).await;
    }

    /// Forgets a session at once, and keeps forgetting it for a while.
    pub(crate) async fn invalidate(&self, id: &str) {
        self.revoked.insert(id);
        self.sessions.invalidate(id).await;
    }
}
