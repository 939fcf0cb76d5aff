//! Admission to the verified-token cache: a token is cached on its second verification.
//!
//! Most tokens are presented many times, but some only once (a client that logs in for each
//! call, a load test). Caching a token never seen again costs more than verifying it did:
//! behind axum, a new token on every request cost the server about 3.3 us more with the cache
//! on than off (`benches/README.md`, "Behind axum"). So a first verification only marks the
//! token here, and a second one, finding the mark, admits it: TinyLFU's doorkeeper.
//!
//! A mark is a keyed hash of the token's last bytes, which lie inside its signature: only
//! the key's holder chooses them, and only verified tokens are marked. A table collision
//! costs one more verification, never a wrong answer: an overwritten mark is set again, and
//! a false match caches a token that did verify.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

/// The bytes a mark is computed from: the end of the signature.
const TAIL: usize = 32;

pub(super) struct Doorkeeper {
    marks: Box<[AtomicU64]>,
    hasher: RandomState,
}

impl Doorkeeper {
    /// A table of `slots` marks (rounded up to a power of two), 8 bytes each.
    pub(super) fn new(slots: usize) -> Self {
        let slots = slots.max(1).next_power_of_two();
        Doorkeeper {
            marks: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Whether `token` was marked before; marks it either way.
    pub(super) fn admit(&self, token: &[u8]) -> bool {
        let tail = &token[token.len().saturating_sub(TAIL)..];
        // Never 0, the empty slot's value.
        let mark = self.hasher.hash_one(tail) | 1;
        // The high bits pick the slot, so that the mark's own bits still tell tokens apart.
        let index = (mark >> 32) as usize & (self.marks.len() - 1);
        self.marks[index].swap(mark, Ordering::Relaxed) == mark
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
