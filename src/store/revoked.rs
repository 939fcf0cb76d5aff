//! Sessions this process revoked lately, so that their access tokens stop at once.
//!
//! Every protected request asks it, so a lookup is one read lock and one hash (none while
//! the set is empty). A revocation is remembered for a fixed time (past every access token
//! minted before it), so entries expire in the order they came: a queue pops them, each once,
//! and nothing ever scans the set.
//!
//! Memory is bounded by a budget of entries. A revocation past the budget is never dropped:
//! the set says that it *may* be missing revocations until the last one it refused would
//! have expired, and until then an access token whose session is not in the set is checked
//! against the session itself (through the session cache and the store). Fail closed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// What the set knows of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Revoked here lately: refuse.
    Revoked,
    /// Not revoked here lately, and the set is complete: accept.
    Live,
    /// Not in the set, but the set refused revocations lately: ask the session itself.
    Unknown,
}

pub(crate) struct RevokedSet {
    state: RwLock<State>,
    remember: Duration,
    budget: usize,
}

struct State {
    until: HashMap<Arc<str>, Instant>,
    /// `(until, id)` in insertion order, which is expiry order: `remember` is fixed.
    queue: VecDeque<(Instant, Arc<str>)>,
    /// Until when the set may be missing a revocation it had no room for.
    incomplete_until: Option<Instant>,
}

impl RevokedSet {
    /// Remembers each revocation for `remember`, at most `budget` at once.
    pub(crate) fn new(remember: Duration, budget: usize) -> Self {
        RevokedSet {
            state: RwLock::new(State {
                until: HashMap::new(),
                queue: VecDeque::new(),
                incomplete_until: None,
            }),
            remember,
            budget: budget.max(1),
        }
    }

    pub(crate) fn check(&self, id: &str) -> Verdict {
        let state = self.read();
        // The common case: nothing revoked lately; no clock read, no hash.
        if state.until.is_empty() && state.incomplete_until.is_none() {
            return Verdict::Live;
        }
        let now = Instant::now();
        if state.until.get(id).is_some_and(|until| now < *until) {
            Verdict::Revoked
        } else if state.incomplete_until.is_some_and(|until| now < until) {
            Verdict::Unknown
        } else {
            Verdict::Live
        }
    }

    /// Records a revocation; `false` when the budget left no room (the set is then
    /// incomplete for `remember`, and says so).
    pub(crate) fn insert(&self, id: &str) -> bool {
        let now = Instant::now();
        // `remember` is bounded by the builder; a far-future instant still never panics.
        let until = now
            .checked_add(self.remember)
            .unwrap_or(now + Duration::from_secs(100 * 365 * 24 * 3600));
        let mut state = self.write();
        state.expire(now);
        if state.until.len() >= self.budget && !state.until.contains_key(id) {
            state.incomplete_until = Some(until);
            return false;
        }
        let id: Arc<str> = id.into();
        state.until.insert(Arc::clone(&id), until);
        state.queue.push_back((until, id));
        true
    }

    // A poisoned lock only means a panic elsewhere mid-insert; the map stays usable.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Forgets what expired: each entry is popped once, so this is O(1) amortized.
    fn expire(&mut self, now: Instant) {
        while let Some((until, _)) = self.queue.front() {
            if *until > now {
                break;
            }
            if let Some((until, id)) = self.queue.pop_front()
                && self.until.get(&id) == Some(&until)
            {
                // A later revocation of the same id moved its `until` on: keep that one.
                self.until.remove(&id);
            }
        }
        if self.incomplete_until.is_some_and(|until| until <= now) {
            self.incomplete_until = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_for_a_while() {
        let set = RevokedSet::new(Duration::from_millis(50), 10);
        assert_eq!(set.check("a"), Verdict::Live);
        assert!(set.insert("a"));
        assert_eq!(set.check("a"), Verdict::Revoked);
        assert_eq!(set.check("b"), Verdict::Live);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(set.check("a"), Verdict::Live);
        // The next insert pops what expired.
        assert!(set.insert("b"));
        assert_eq!(set.read().until.len(), 1);
        assert_eq!(set.read().queue.len(), 1);
    }

    #[test]
    fn past_the_budget_nothing_is_forgotten_and_the_rest_is_unknown() {
        let set = RevokedSet::new(Duration::from_millis(200), 2);
        assert!(set.insert("a"));
        assert!(set.insert("b"));
        assert!(!set.insert("c"));
        // Recorded ones stay revoked; the one without room, and every other id, must be
        // checked against the session itself until the refused one would have expired.
        assert_eq!(set.check("a"), Verdict::Revoked);
        assert_eq!(set.check("b"), Verdict::Revoked);
        assert_eq!(set.check("c"), Verdict::Unknown);
        assert_eq!(set.check("never-revoked"), Verdict::Unknown);
        assert_eq!(set.read().until.len(), 2);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(set.check("c"), Verdict::Live);
        assert!(set.insert("d"));
        assert!(set.read().incomplete_until.is_none());
    }

    #[test]
    fn a_second_revocation_of_one_id_keeps_the_later_expiry() {
        let set = RevokedSet::new(Duration::from_millis(100), 10);
        assert!(set.insert("a"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(set.insert("a"));
        std::thread::sleep(Duration::from_millis(60));
        // The first entry expired and was popped; the second still holds.
        assert!(set.insert("z"));
        assert_eq!(set.check("a"), Verdict::Revoked);
    }
}
