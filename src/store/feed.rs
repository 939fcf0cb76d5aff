//! What this process knows of revocations, and where a shared backend's feed delivers them:
//! the revoked set, the latest revocation it had no room for, and whether the feed can be
//! trusted.
//!
//! The feed is trusted when it is up *and* the backend's log is known complete since a time
//! older than every access token still alive (`since + remember <= now`, `remember` being
//! the access-token lifetime plus leeway, or more). Otherwise an access token whose session
//! is not in the set is checked against the session itself: fail closed. A log that lost
//! entries (wiped, truncated, its ids reset) thus costs backend reads for one access-token
//! lifetime, never a revoked token let in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tower_jwt_sessions_core::RevocationSink;

use super::revoked::{RevokedSet, Verdict};
use crate::clock::unix_now;
use crate::token::SessionHash;

/// `trusted_from` while the feed is down.
const DOWN: u64 = u64::MAX;

pub(crate) struct Revocations {
    set: RevokedSet,
    /// The time base of `unrecorded_at`.
    started: Instant,
    /// Nanoseconds after `started` of the latest revocation the set had no room for, or of
    /// the latest loss the backend reported (0: none): a cached row loaded before it may
    /// predate a revocation this process never saw.
    unrecorded_at: AtomicU64,
    /// Whether the backend's revocation feed is up (connected and replayed).
    up: AtomicBool,
    /// The latest [`RevocationSink::log_complete_since`] reported, in Unix seconds.
    since: AtomicU64,
    /// Whole seconds past every access token minted before a revocation.
    remember_secs: u64,
    /// The one word every access-token check reads: 0 when the feed is trusted, [`DOWN`]
    /// while it is down, else the Unix second from which it will be (only then is the clock
    /// read, and the first check past that second sets it back to 0).
    trusted_from: AtomicU64,
}

impl Revocations {
    pub(crate) fn new(remember: Duration, budget: usize) -> Self {
        Revocations {
            set: RevokedSet::new(remember, budget),
            started: Instant::now(),
            unrecorded_at: AtomicU64::new(0),
            up: AtomicBool::new(true),
            since: AtomicU64::new(0),
            remember_secs: remember
                .as_secs()
                .saturating_add(u64::from(remember.subsec_nanos() > 0)),
            trusted_from: AtomicU64::new(0),
        }
    }

    /// What is known of one session. While the feed cannot be trusted, only "revoked" is
    /// certain.
    pub(crate) fn check(&self, id: &str, hash: SessionHash) -> Verdict {
        match self.set.check(id, hash) {
            Verdict::Live if !self.trusted() => Verdict::Unknown,
            verdict => verdict,
        }
    }

    pub(crate) fn feed_down(&self) -> bool {
        !self.up.load(Ordering::Acquire)
    }

    /// Whether revocations made elsewhere all reach this process: the feed is up and its
    /// log covers every access token still alive.
    fn trusted(&self) -> bool {
        match self.trusted_from.load(Ordering::Acquire) {
            0 => true,
            DOWN => false,
            from if unix_now() < from => false,
            // A failed swap means the feed changed meanwhile: not trusted this once.
            from => self
                .trusted_from
                .compare_exchange(from, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok(),
        }
    }

    /// Recomputes `trusted_from` after the feed reported; called by the backend's feed task.
    fn update_trust(&self) {
        let from = if self.feed_down() {
            DOWN
        } else {
            match self
                .since
                .load(Ordering::Acquire)
                .saturating_add(self.remember_secs)
            {
                from if from <= unix_now() => 0,
                // Never `DOWN` by accident: that far ahead, it is never reached anyway.
                from => from.min(DOWN - 1),
            }
        };
        self.trusted_from.store(from, Ordering::Release);
    }

    /// Records a revocation made here or reported by the feed.
    pub(crate) fn record(&self, id: &str) {
        if !self.set.insert(id) {
            self.mark_unrecorded();
        }
    }

    fn mark_unrecorded(&self) {
        let now = nanos_since(self.started, Instant::now()).max(1);
        self.unrecorded_at.fetch_max(now, Ordering::AcqRel);
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
        self.up.store(up, Ordering::Release);
        self.update_trust();
    }

    fn log_complete_since(&self, unix_secs: u64) {
        let before = self.since.fetch_max(unix_secs, Ordering::AcqRel);
        if unix_secs > before && unix_secs.saturating_add(self.remember_secs) > unix_now() {
            // A loss this process just learned of: a row cached before now may have been
            // revoked by an entry it never saw; a row read from now on is current, and later
            // revocations arrive by the feed. (The age trim moves the time too, but never
            // this close to now.)
            self.mark_unrecorded();
        }
        self.update_trust();
    }
}

fn nanos_since(start: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocations() -> Revocations {
        Revocations::new(Duration::from_secs(960), 100)
    }

    #[test]
    fn a_backend_that_never_reports_a_loss_is_trusted_once_up() {
        let r = revocations();
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Live);
        r.feed_up(false);
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Unknown);
        r.feed_up(true);
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Live);
        // The age trim: entries older than every access token.
        r.log_complete_since(unix_now() - 3600);
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Live);
    }

    #[test]
    fn a_log_complete_only_lately_is_not_trusted_until_every_older_token_expired() {
        let r = revocations();
        r.feed_up(false);
        // A fresh instance over a log truncated a minute ago: a session revoked before the
        // truncation may still have live access tokens.
        r.log_complete_since(unix_now() - 60);
        r.feed_up(true);
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Unknown);
        r.revoked("s2");
        assert_eq!(r.check("s2", SessionHash::of("s2")), Verdict::Revoked);
        // The time only moves forward: an older report (a restored meta row) changes nothing.
        r.log_complete_since(0);
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Unknown);
    }

    #[test]
    fn trust_returns_once_the_window_has_passed() {
        let r = Revocations::new(Duration::from_secs(1), 100);
        r.log_complete_since(unix_now());
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Unknown);
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(r.check("s1", SessionHash::of("s1")), Verdict::Live);
        assert_eq!(
            r.trusted_from.load(Ordering::Acquire),
            0,
            "back on the fast path"
        );
    }

    #[test]
    fn rows_cached_before_a_loss_are_read_again_and_rows_read_after_it_are_not() {
        let r = revocations();
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        r.log_complete_since(unix_now());
        std::thread::sleep(Duration::from_millis(2));
        let after = Instant::now();
        assert!(r.may_predate_unrecorded(before));
        assert!(!r.may_predate_unrecorded(after));
        // Reported again every second: no new loss, nothing cached is read again.
        r.log_complete_since(r.since.load(Ordering::Acquire));
        assert!(!r.may_predate_unrecorded(after));
    }
}
