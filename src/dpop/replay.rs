//! Proofs seen lately, so that each `jti` is accepted once (RFC 9449 §11.1), in this process.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::hash::sha256;

/// Proof identifiers remembered for the proof lifetime (both sides of the clock), for a
/// verify-only layer without a shared backend.
#[cfg(feature = "jwks")]
pub(crate) struct Replays {
    seen: moka::sync::Cache<String, ()>,
}

#[cfg(feature = "jwks")]
impl Replays {
    pub(crate) fn new(lifetime: std::time::Duration) -> Self {
        Replays {
            seen: moka::sync::Cache::builder()
                .max_capacity(1 << 20)
                .time_to_live(
                    lifetime
                        .saturating_mul(2)
                        .max(std::time::Duration::from_secs(1)),
                )
                .build(),
        }
    }

    /// Records the proof; `true` the first time it is seen.
    pub(crate) fn first_use(&self, key: &str) -> bool {
        self.seen.entry(key.to_owned()).or_insert(()).is_fresh()
    }
}

/// The key a proof is remembered under: its key's thumbprint and its `jti`, hashed together
/// so that no two proofs of different keys collide and the key has a fixed size.
pub(crate) fn replay_key(jkt: &str, jti: &str) -> String {
    let digest = sha256(&[b"tjs-dpop-jti", jkt.as_bytes(), b".", jti.as_bytes()]);
    URL_SAFE_NO_PAD.encode(digest)
}
