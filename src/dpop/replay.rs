//! Proofs seen lately, so that each `jti` is accepted once (RFC 9449 §11.1), in this process.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::hash::sha256;

/// Proof identifiers remembered for the proof lifetime (both sides of the clock), for a
/// verify-only layer without a shared backend. Bounded: past [`MAX_REMEMBERED`] live
/// records, new proofs are refused (503) rather than let through unrecorded.
#[cfg(feature = "jwks")]
pub(crate) struct Replays {
    seen: std::sync::Mutex<Seen>,
}

#[cfg(feature = "jwks")]
#[derive(Default)]
struct Seen {
    ids: std::collections::HashSet<String>,
    /// `(expires_at, id)`: the expired ones come first.
    by_expiry: std::collections::BTreeSet<(u64, String)>,
}

/// Live proof records kept at most in one process: a client flooding proofs of its own key
/// gets 503s past it, and no captured proof ever passes twice.
#[cfg(feature = "jwks")]
const MAX_REMEMBERED: usize = 1 << 20;

/// What recording a proof found.
#[cfg(feature = "jwks")]
pub(crate) enum Recorded {
    First,
    Replayed,
    Full,
}

#[cfg(feature = "jwks")]
impl Replays {
    pub(crate) fn new() -> Self {
        Replays {
            seen: std::sync::Mutex::new(Seen::default()),
        }
    }

    /// Records the proof until `expires_at` (Unix seconds), at `now`.
    pub(crate) fn record(&self, key: &str, expires_at: u64, now: u64) -> Recorded {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((at, id)) = seen.by_expiry.first().cloned() {
            if at > now {
                break;
            }
            seen.by_expiry.remove(&(at, id.clone()));
            seen.ids.remove(&id);
        }
        if seen.ids.contains(key) {
            return Recorded::Replayed;
        }
        if seen.ids.len() >= MAX_REMEMBERED {
            return Recorded::Full;
        }
        seen.ids.insert(key.to_owned());
        seen.by_expiry.insert((expires_at, key.to_owned()));
        Recorded::First
    }
}

/// The key a proof is remembered under: its key's thumbprint and its `jti`, hashed together
/// so that no two proofs of different keys collide and the key has a fixed size.
pub(crate) fn replay_key(jkt: &str, jti: &str) -> String {
    let digest = sha256(&[b"tjs-dpop-jti", jkt.as_bytes(), b".", jti.as_bytes()]);
    URL_SAFE_NO_PAD.encode(digest)
}
