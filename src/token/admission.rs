//! Admission to the verified-token cache: a token is cached on its second verification.
//!
//! Most tokens are presented many times, but some only once (a client that logs in for each
//! call, a load test). Caching a token never seen again costs more than verifying it did:
//! behind axum, a new token on every request cost the server about 3.3 us more with the cache
//! on than off (`benches/README.md`, "Behind axum"). So a first verification only marks the
//! token here, and a second one, finding the mark, admits it: TinyLFU's doorkeeper.
//!
//! A mark is the token's last eight bytes, which lie inside its signature, mixed with a
//! random key: only the signing key's holder chooses them, and only verified tokens are
//! marked. A table collision costs one more verification, never a wrong answer: an
//! overwritten mark is set again, and a false match caches a token that did verify.
//!
//! The table also spares the shared cache a lookup: a token without a mark was never cached
//! (a new or a forged one), so it is not looked for there (`doorkeeper_gate` in
//! `benches/README.md`). A cached token whose mark was overwritten is verified once more.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

pub(super) struct Doorkeeper {
    marks: Box<[AtomicU64]>,
    key: u64,
}

impl Doorkeeper {
    /// A table of `slots` marks (rounded up to a power of two), 8 bytes each.
    pub(super) fn new(slots: usize) -> Self {
        let slots = slots.max(1).next_power_of_two();
        Doorkeeper {
            marks: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            key: RandomState::new().hash_one(slots),
        }
    }

    /// Whether `token` was marked before; marks it either way.
    pub(super) fn admit(&self, token: &[u8]) -> bool {
        let (slot, mark) = self.mark(token);
        slot.swap(mark, Ordering::Relaxed) == mark
    }

    /// Whether `token` is marked, without marking it.
    pub(super) fn marked(&self, token: &[u8]) -> bool {
        let (slot, mark) = self.mark(token);
        slot.load(Ordering::Relaxed) == mark
    }

    /// The slot of `token` and its mark: its last eight bytes, keyed, times an odd constant
    /// (one-to-one but for the lowest bit, so that distinct tails keep distinct marks).
    fn mark(&self, token: &[u8]) -> (&AtomicU64, u64) {
        let mut tail = [0u8; 8];
        let start = token.len().saturating_sub(8);
        tail[..token.len() - start].copy_from_slice(&token[start..]);
        let mixed = (u64::from_le_bytes(tail) ^ self.key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The high bits, the best mixed, pick the slot; the mark is never 0, an empty slot.
        let slot = &self.marks[(mixed >> 32) as usize & (self.marks.len() - 1)];
        (slot, mixed | 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_on_the_second_sight() {
        let doorkeeper = Doorkeeper::new(1024);
        assert!(!doorkeeper.admit(b"h.p.signature-one"));
        assert!(!doorkeeper.admit(b"h.p.signature-two"));
        assert!(doorkeeper.admit(b"h.p.signature-one"));
        assert!(doorkeeper.admit(b"h.p.signature-one"));
        assert!(doorkeeper.admit(b"h.p.signature-two"));
        assert!(!doorkeeper.admit(b""));
        assert!(doorkeeper.admit(b""));
    }

    #[test]
    fn looking_does_not_mark() {
        let doorkeeper = Doorkeeper::new(1024);
        assert!(!doorkeeper.marked(b"h.p.signature-one"));
        assert!(!doorkeeper.marked(b"h.p.signature-one"));
        assert!(!doorkeeper.admit(b"h.p.signature-one"));
        assert!(doorkeeper.marked(b"h.p.signature-one"));
        assert!(!doorkeeper.marked(b"h.p.signature-two"));
        // Tokens that differ only before their last eight bytes share a mark.
        assert!(doorkeeper.marked(b"x.p.signature-one"));
    }

    #[test]
    fn a_full_table_only_forgets() {
        // One slot: each new token overwrites the last mark, and is admitted when seen twice
        // in a row.
        let doorkeeper = Doorkeeper::new(1);
        for i in 0..100u32 {
            let token = format!("h.p.signature-{i}");
            assert!(!doorkeeper.admit(token.as_bytes()));
            assert!(doorkeeper.admit(token.as_bytes()));
        }
        assert!(!doorkeeper.admit(b"h.p.signature-0"));
    }
}
