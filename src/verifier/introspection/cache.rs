//! Introspection answers, kept for a bounded time.
//!
//! Keyed by (issuer, introspection URL, SHA-256 of the token): never the token itself, so
//! neither a memory dump nor a timing of the map tells a token, and an answer of one issuer
//! or endpoint never answers for another (the mistake of CVE-2026-33496, whose key left the
//! URL out). Each entry lives until its own deadline: a positive answer at most the TTL and
//! never past the token's `exp`, a negative one at most [`NEGATIVE_TTL`](super::NEGATIVE_TTL).
//! Bounded by an estimate of the bytes each entry holds.

use std::hash::{Hash, Hasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use crate::error::AuthError;

pub(crate) use crate::token::thread_cache::Erased;

/// What the issuer said about a token: active with these claims, or a refusal (inactive,
/// expired, another audience...).
#[derive(Clone)]
pub(crate) enum Answer {
    Active(Erased),
    Refused(AuthError),
}

#[derive(Clone, PartialEq, Eq)]
pub(super) struct Key {
    pub(super) issuer: Arc<str>,
    pub(super) url: Arc<str>,
    pub(super) digest: [u8; 32],
}

/// Only the digest is hashed (with a keyed hasher): it already depends on every byte of the
/// token, and the issuer and URL are the same for nearly every entry. Equality compares all
/// three.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.digest[..8]);
    }
}

#[derive(Clone)]
struct Entry {
    answer: Answer,
    until: Instant,
    /// `until` in seconds since the Unix epoch, rounded down, for the threads' own caches.
    until_unix: u64,
    weight: u32,
}

struct UntilDeadline;

impl Expiry<Key, Entry> for UntilDeadline {
    fn expire_after_create(&self, _: &Key, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.until.saturating_duration_since(now))
    }
}

pub(super) struct AnswerCache {
    cache: Cache<Key, Entry, RandomState>,
}

impl AnswerCache {
    pub(super) fn new(max_bytes: u64) -> Self {
        AnswerCache {
            cache: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_: &Key, entry: &Entry| entry.weight)
                .expire_after(UntilDeadline)
                .build_with_hasher(RandomState::new()),
        }
    }

    /// The answer for `key`, if one is live (checked against the clock here too: moka's
    /// own may lag), and until when, in seconds since the Unix epoch.
    pub(super) fn get(&self, key: &Key) -> Option<(Answer, u64)> {
        let entry = self.cache.get(key)?;
        (entry.until > Instant::now()).then_some((entry.answer, entry.until_unix))
    }

    /// Keeps `answer` for `lives` from `from`; `size` is the answer's length in bytes, for
    /// the budget.
    pub(super) fn insert(
        &self,
        key: Key,
        answer: Answer,
        from: Instant,
        lives: Duration,
        size: usize,
    ) {
        let until = from + lives;
        let now = Instant::now();
        if until <= now {
            return;
        }
        let until_unix =
            crate::clock::unix_now().saturating_add(until.duration_since(now).as_secs());
        // The answer's bytes decoded (about twice their size), the key, moka's bookkeeping.
        let weight = u32::try_from(size.saturating_mul(2).saturating_add(200)).unwrap_or(u32::MAX);
        self.cache.insert(
            key,
            Entry {
                answer,
                until,
                until_unix,
                weight,
            },
        );
    }

    pub(super) fn evict(&self, key: &Key) {
        self.cache.invalidate(key);
    }

    pub(super) fn clear(&self) {
        self.cache.invalidate_all();
    }

    #[cfg(test)]
    fn weighted_size(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn key(url: &str, byte: u8) -> Key {
        Key {
            issuer: "https://as.example".into(),
            url: url.into(),
            digest: [byte; 32],
        }
    }

    #[test]
    fn an_answer_serves_only_its_issuer_url_and_digest_until_its_deadline() {
        let cache = AnswerCache::new(1 << 20);
        let refused = || Answer::Refused(AuthError::MissingCredentials);
        cache.insert(
            key("https://as.example/i", 1),
            refused(),
            Instant::now(),
            MINUTE,
            10,
        );
        assert!(cache.get(&key("https://as.example/i", 1)).is_some());
        assert!(cache.get(&key("https://as.example/other", 1)).is_none());
        assert!(cache.get(&key("https://as.example/i", 2)).is_none());
        let mut other_issuer = key("https://as.example/i", 1);
        other_issuer.issuer = "https://other.example".into();
        assert!(cache.get(&other_issuer).is_none());
        cache.evict(&key("https://as.example/i", 1));
        assert!(cache.get(&key("https://as.example/i", 1)).is_none());
        // Past its deadline, never served.
        let short = Duration::from_millis(50);
        cache.insert(key("u", 3), refused(), Instant::now(), short, 10);
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.get(&key("u", 3)).is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let cache = AnswerCache::new(10_000);
        for i in 0..=255u8 {
            let refused = Answer::Refused(AuthError::MissingCredentials);
            cache.insert(key("u", i), refused, Instant::now(), MINUTE, 500);
        }
        assert!(cache.weighted_size() <= 10_000);
    }
}
