//! Sessions this process revoked lately. Every protected request asks it, so it is a plain
//! map behind a read lock (one hash, and none while it is empty), not a cache with its own
//! bookkeeping.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

pub(crate) struct RevokedSet {
    until: RwLock<HashMap<Box<str>, Instant>>,
    remember: Duration,
    capacity: usize,
}

impl RevokedSet {
    /// Remembers each revocation for `remember`, at most `capacity` at once (the ones closest
    /// to being forgotten go first).
    pub(crate) fn new(remember: Duration, capacity: usize) -> Self {
        RevokedSet {
            until: RwLock::new(HashMap::new()),
            remember,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        let map = self.read();
        // An empty map is the common case; skip hashing the id at all.
        !map.is_empty() && map.get(id).is_some_and(|until| Instant::now() < *until)
    }

    pub(crate) fn insert(&self, id: &str) {
        let now = Instant::now();
        let mut map = self.write();
        if map.len() >= self.capacity {
            map.retain(|_, until| *until > now);
        }
        if map.len() >= self.capacity
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(id, _)| id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.into(), now + self.remember);
    }

    // A poisoned lock only means a panic elsewhere mid-insert; the map stays usable.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<Box<str>, Instant>> {
        self.until.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<Box<str>, Instant>> {
        self.until.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_for_a_while_within_capacity() {
        let set = RevokedSet::new(Duration::from_millis(50), 2);
        assert!(!set.contains("a"));
        set.insert("a");
        assert!(set.contains("a"));
        assert!(!set.contains("b"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!set.contains("a"));
        set.insert("b");
        set.insert("c");
        set.insert("d");
        assert_eq!(set.read().len(), 2);
        assert!(set.contains("d"));
    }
}
