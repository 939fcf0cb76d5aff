//! Stateless server nonces (RFC 9449 §8): a hash of a secret every instance shares and the
//! current minute, so that a nonce needs no store and any instance accepts another's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::hash::sha256;

/// How long one nonce is handed out; the previous one is still accepted.
const STEP_SECS: u64 = 60;

#[derive(Clone)]
pub(crate) struct Nonces {
    secret: Vec<u8>,
}

impl Nonces {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Nonces {
            secret: secret.to_vec(),
        }
    }

    /// The nonce to hand out at `now` (Unix seconds).
    pub(crate) fn current(&self, now: u64) -> String {
        self.at(now / STEP_SECS)
    }

    /// Whether `nonce` is the current or the previous minute's.
    pub(crate) fn accepts(&self, nonce: &str, now: u64) -> bool {
        let step = now / STEP_SECS;
        [step, step.saturating_sub(1)]
            .iter()
            .any(|&step| constant_eq(self.at(step).as_bytes(), nonce.as_bytes()))
    }

    fn at(&self, step: u64) -> String {
        let digest = sha256(&[b"tjs-dpop-nonce", &self.secret, &step.to_be_bytes()]);
        URL_SAFE_NO_PAD.encode(&digest[..18])
    }
}

/// Compares without stopping at the first difference.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_lives_its_minute_and_the_next() {
        let nonces = Nonces::new(b"shared secret");
        let nonce = nonces.current(120);
        assert!(nonces.accepts(&nonce, 120));
        assert!(nonces.accepts(&nonce, 179 + 60));
        assert!(!nonces.accepts(&nonce, 240));
        assert!(!Nonces::new(b"another secret").accepts(&nonce, 120));
        assert!(!nonces.accepts("", 120));
    }
}
