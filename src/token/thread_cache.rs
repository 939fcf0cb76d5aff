//! A small cache per thread in front of the shared verified-token cache.
//!
//! moka's `get` is cheap but not private: it records each read in a channel shared by every
//! thread and bumps the entry's counters, so threads serving the same cache contend on
//! those cache lines. A hit here touches only this thread's memory: no lock, no atomic
//! another thread writes, and the claims `Arc` is the thread's own copy. So the cache-hit
//! path scales with cores instead of queueing on one line. Measured: a hit takes half the
//! time with it (`thread_cache` in `benches/README.md`).
//!
//! It holds only tokens that passed full verification (or that the shared cache holds,
//! which only has those), and the active introspection answers of a verifier under a keyed
//! 128-bit fingerprint of their token (never the token), each tagged with its cache's id, so
//! that two layers with different keys in one process never see each other's entries; a
//! hit compares the whole key and checks `exp`. Revocation is checked after every hit, as
//! with the shared cache.
//!
//! Bounded: [`SLOTS`] entries per thread (tokens and fingerprints share them),
//! direct-mapped by a hash of the key's last bytes (a signature or a keyed fingerprint,
//! unpredictable either way), and only keys up to [`MAX_LOCAL_TOKEN_LEN`] bytes: at most
//! about 128 x (2 KiB + the claims) per thread.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) type Erased = Arc<dyn Any + Send + Sync>;

/// Entries per thread.
pub(super) const SLOTS: usize = 128;
/// Longer tokens are served by the shared cache only.
pub(super) const MAX_LOCAL_TOKEN_LEN: usize = 2048;

struct Slot {
    cache: u64,
    exp: u64,
    key: Box<[u8]>,
    claims: Erased,
}

thread_local! {
    static LOCAL: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// A fresh id for each shared cache, never reused in the process.
pub(crate) fn next_cache_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The slot of a token: its last 8 bytes (inside the signature), mixed.
fn index(token: &[u8]) -> usize {
    let mut tail = [0u8; 8];
    let start = token.len().saturating_sub(8);
    tail[..token.len() - start].copy_from_slice(&token[start..]);
    let mixed = u64::from_le_bytes(tail).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The top bits are the best mixed.
    (mixed >> 57) as usize % SLOTS
}

/// The claims of `key` (a token, or an introspected token's fingerprint) if this thread
/// holds them for `cache` and they are live at the time `now` gives (read only on a match: a
/// miss costs no clock read).
pub(crate) fn get(cache: u64, key: &[u8], now: impl FnOnce() -> u64) -> Option<Erased> {
    LOCAL
        .try_with(|slots| {
            let slots = slots.try_borrow().ok()?;
            let slot = slots.get(index(key))?.as_ref()?;
            (slot.cache == cache && *slot.key == *key && slot.exp > now())
                .then(|| Arc::clone(&slot.claims))
        })
        .ok()
        .flatten()
}

/// Keeps `claims` for `key` in this thread until `exp`, replacing whatever had its slot.
pub(crate) fn put(cache: u64, key: &[u8], exp: u64, claims: Erased) {
    if key.len() > MAX_LOCAL_TOKEN_LEN {
        return;
    }
    let old = LOCAL
        .try_with(|slots| {
            let mut slots = slots.try_borrow_mut().ok()?;
            if slots.is_empty() {
                slots.resize_with(SLOTS, || None);
            }
            let slot = slots.get_mut(index(key))?;
            slot.replace(Slot {
                cache,
                exp,
                key: key.into(),
                claims,
            })
        })
        .ok()
        .flatten();
    // Dropped outside the borrow: a claim type's `Drop` may do anything.
    drop(old);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_same_cache_token_and_live_exp() {
        let claims: Erased = Arc::new(7u32);
        let (a, b) = (next_cache_id(), next_cache_id());
        put(a, b"h.p.signature-one", 100, Arc::clone(&claims));
        assert!(get(a, b"h.p.signature-one", || 99).is_some());
        assert!(get(a, b"h.p.signature-one", || 100).is_none());
        assert!(get(b, b"h.p.signature-one", || 99).is_none());
        assert!(get(a, b"x.p.signature-one", || 99).is_none());
        assert!(get(a, b"", || 99).is_none());
        // Another thread has its own slots.
        std::thread::spawn(move || assert!(get(a, b"h.p.signature-one", || 99).is_none()))
            .join()
            .unwrap();
        // Too long for this cache: not kept.
        let long = "t".repeat(MAX_LOCAL_TOKEN_LEN + 1);
        put(a, long.as_bytes(), 100, claims);
        assert!(get(a, long.as_bytes(), || 99).is_none());
    }

    #[test]
    fn slots_are_bounded_and_replaced() {
        let id = next_cache_id();
        for i in 0..10 * SLOTS {
            put(
                id,
                format!("token-{i:08}").as_bytes(),
                u64::MAX,
                Arc::new(i),
            );
        }
        let held = LOCAL.with(|slots| slots.borrow().iter().flatten().count());
        assert!(held <= SLOTS);
        let last = format!("token-{:08}", 10 * SLOTS - 1);
        assert!(get(id, last.as_bytes(), || 0).is_some());
    }
}
