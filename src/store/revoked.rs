//! Sessions this process revoked lately, so that their access tokens stop at once.
//!
//! Every protected request asks it, so a lookup takes no lock and writes nothing: a counting
//! filter over the revoked ids answers "surely not revoked" from two counters it only reads;
//! the map behind its read lock is asked only on a "maybe" (an id it holds, or a collision:
//! about 3 % of ids with the set at its budget, none while it is empty). Threads on many
//! cores then share only cache lines nobody writes (1.25 x on one thread's cache hit:
//! `revoked_filter` in `benches/README.md`). A revocation is remembered for a fixed
//! time (past every access token minted before it), so entries expire in the order they
//! came: a queue pops them, each once, and nothing ever scans the set.
//!
//! Memory is bounded by a budget of entries. A revocation past the budget is never dropped:
//! the set says that it *may* be missing revocations until the last one it refused would
//! have expired, and until then an access token whose session is not in the set is checked
//! against the session itself (through the session cache and the backend). Fail closed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::token::SessionHash;

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
    /// Every id of `state.until` is counted here; written only under the write lock.
    filter: Filter,
    /// Whether `state.incomplete_until` may be set; written only under the write lock.
    incomplete: AtomicBool,
    remember: Duration,
    budget: usize,
}

/// A counting Bloom filter: two counters per id, found by its [`SessionHash`] (keyed, and
/// computed once per verified token, not per request).
struct Filter {
    counters: Box<[AtomicU8]>,
    mask: u64,
}

impl Filter {
    /// About 8 counters per id of the budget (1 MiB for the default budget), so that a full
    /// set sends about 3 % of other ids to the map.
    fn new(budget: usize) -> Self {
        let len = budget
            .saturating_mul(8)
            .clamp(1 << 10, 1 << 22)
            .next_power_of_two();
        Filter {
            counters: (0..len).map(|_| AtomicU8::new(0)).collect(),
            mask: len as u64 - 1,
        }
    }

    fn positions(&self, SessionHash(hash): SessionHash) -> [usize; 2] {
        // `mask` < 2^22: both positions fit in `usize`.
        [
            (hash & self.mask) as usize,
            ((hash >> 32) & self.mask) as usize,
        ]
    }

    fn may_contain(&self, hash: SessionHash) -> bool {
        self.positions(hash).iter().all(|&i| {
            self.counters
                .get(i)
                .is_some_and(|c| c.load(Ordering::Acquire) > 0)
        })
    }

    /// Under the write lock. A counter that reached 255 stays there: a permanent "maybe",
    /// never a missed revocation.
    fn add(&self, id: &str) {
        for i in self.positions(SessionHash::of(id)) {
            if let Some(counter) = self.counters.get(i) {
                let v = counter.load(Ordering::Relaxed);
                if v < u8::MAX {
                    counter.store(v + 1, Ordering::Release);
                }
            }
        }
    }

    /// Under the write lock.
    fn remove(&self, id: &str) {
        for i in self.positions(SessionHash::of(id)) {
            if let Some(counter) = self.counters.get(i) {
                let v = counter.load(Ordering::Relaxed);
                if v > 0 && v < u8::MAX {
                    counter.store(v - 1, Ordering::Release);
                }
            }
        }
    }
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
            filter: Filter::new(budget.max(1)),
            incomplete: AtomicBool::new(false),
            remember,
            budget: budget.max(1),
        }
    }

    /// What the set knows of session `id`, whose hash is `hash`.
    pub(crate) fn check(&self, id: &str, hash: SessionHash) -> Verdict {
        // The common case, lock-free: surely not revoked here, and the set is complete.
        if !self.incomplete.load(Ordering::Acquire) && !self.filter.may_contain(hash) {
            return Verdict::Live;
        }
        let state = self.read();
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
        state.expire(now, &self.filter);
        if state.until.len() >= self.budget && !state.until.contains_key(id) {
            state.incomplete_until = Some(until);
            self.incomplete.store(true, Ordering::Release);
            return false;
        }
        if state.incomplete_until.is_none() {
            self.incomplete.store(false, Ordering::Release);
        }
        let id: Arc<str> = id.into();
        if state.until.insert(Arc::clone(&id), until).is_none() {
            self.filter.add(&id);
        }
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
    fn expire(&mut self, now: Instant, filter: &Filter) {
        while let Some((until, _)) = self.queue.front() {
            if *until > now {
                break;
            }
            if let Some((until, id)) = self.queue.pop_front()
                && self.until.get(&id) == Some(&until)
            {
                // A later revocation of the same id moved its `until` on: keep that one.
                self.until.remove(&id);
                filter.remove(&id);
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
        assert_eq!(set.check("a", SessionHash::of("a")), Verdict::Live);
        assert!(set.insert("a"));
        assert_eq!(set.check("a", SessionHash::of("a")), Verdict::Revoked);
        assert_eq!(set.check("b", SessionHash::of("b")), Verdict::Live);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(set.check("a", SessionHash::of("a")), Verdict::Live);
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
        assert_eq!(set.check("a", SessionHash::of("a")), Verdict::Revoked);
        assert_eq!(set.check("b", SessionHash::of("b")), Verdict::Revoked);
        assert_eq!(set.check("c", SessionHash::of("c")), Verdict::Unknown);
        assert_eq!(
            set.check("never-revoked", SessionHash::of("never-revoked")),
            Verdict::Unknown
        );
        assert_eq!(set.read().until.len(), 2);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(set.check("c", SessionHash::of("c")), Verdict::Live);
        assert!(set.insert("d"));
        assert!(set.read().incomplete_until.is_none());
    }

    #[test]
    fn the_filter_forgets_what_expired_and_never_misses() {
        let set = RevokedSet::new(Duration::from_millis(50), 1000);
        let ids: Vec<String> = (0..500).map(|i| format!("session-{i}")).collect();
        for id in &ids {
            assert!(set.insert(id));
        }
        assert!(
            ids.iter()
                .all(|id| set.check(id, SessionHash::of(id)) == Verdict::Revoked)
        );
        std::thread::sleep(Duration::from_millis(80));
        assert!(set.insert("last"));
        // Every counter but those of "last" is back to zero.
        let set_counters = set
            .filter
            .counters
            .iter()
            .filter(|c| c.load(Ordering::Relaxed) > 0)
            .count();
        assert!(set_counters <= 2, "{set_counters}");
        assert!(
            ids.iter()
                .all(|id| set.check(id, SessionHash::of(id)) == Verdict::Live)
        );
        assert!(!set.filter.may_contain(SessionHash::of("session-1")));
        assert_eq!(set.check("last", SessionHash::of("last")), Verdict::Revoked);
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
        assert_eq!(set.check("a", SessionHash::of("a")), Verdict::Revoked);
    }
}
