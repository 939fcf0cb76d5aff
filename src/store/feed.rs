//! What this process knows of revocations, and where a shared store's feed delivers them:
//! the revoked set, the latest revocation it had no room for, and whether the feed is up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tower_jwt_sessions_core::RevocationSink;

use super::revoked::{RevokedSet, Verdict};

pub(crate) struct Revocations {
    set: RevokedSet,
    /// The time base of `unrecorded_at`.
    started: Instant,
    /// Nanoseconds after `started` of the latest revocation the set had no room for (0:
    /// none): a cached row loaded before it may predate that revocation.
    unrecorded_at: AtomicU64,
    /// The store's revocation feed is down: revocations made elsewhere may be missing.
    feed_down: AtomicBool,
}

impl Revocations {
    pub(crate) fn new(remember: Duration, budget: usize) -> Self {
        Revocations {
            set: RevokedSet::new(remember, budget),
            started: Instant::now(),
            unrecorded_at: AtomicU64::new(0),
            feed_down: AtomicBool::new(false),
        }
    }

    /// What is known of one session. While the feed is down, only "revoked" is certain.
    pub(crate) fn check(&self, id: &str) -> Verdict {
        match self.set.check(id) {
            Verdict::Live if self.feed_down() => Verdict::Unknown,
            verdict => verdict,
        }
    }

    pub(crate) fn feed_down(&self) -> bool {
        self.feed_down.load(Ordering::Acquire)
    }

    /// Records a revocation made here or reported by the feed.
    pub(crate) fn record(&self, id: &str) {
        if !self.set.insert(id) {
            let now = nanos_since(self.started, Instant::now()).max(1);
            self.unrecorded_at.fetch_max(now, Ordering::AcqRel);
        }
    }

    /// Whether a row loaded at `loaded_at` may predate a revocation the set could not record.
    pub(crate) fn may_predate_unrecorded(&self, loaded_at: Instant) -> bool {
        let unrecorded = self.unrecorded_at.load(Ordering::Acquire);
        unrecorded != 0 && nanos_since(self.started, loaded_at) <= unrecorded
    }
}

impl RevocationSink for Revocations {
    fn revoked(&self, session_id: &str) {
        // The session cache needs no eviction here: every lookup asks this set after it.
        crate::telemetry::revocation(true);
        self.record(session_id);
    }

    fn feed_up(&self, up: bool) {
        crate::telemetry::feed_up(up);
        self.feed_down.store(!up, Ordering::Release);
    }
}

fn nanos_since(start: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
}
