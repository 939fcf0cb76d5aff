//! Where a token's payload is decoded from base64url: a buffer on the verifying call's stack.
//!
//! With the `simd` feature (on by default), base64-simd decodes it (AVX2 or SSSE3, NEON on
//! aarch64, chosen at run time) straight into that buffer: no allocation for a payload up to
//! 1 KiB (1.10 x on a new HS256 token: `simd_payload` in `benches/README.md`). Both decoders
//! refuse the same inputs, padding and stray low bits included (a unit test compares them).
//! Without the feature, or for a longer payload, the base64 crate decodes into the heap.

#[cfg(feature = "simd")]
use std::mem::MaybeUninit;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Payloads up to this many bytes are decoded on the stack: an access token from an issuer
/// with many claims is rarely longer.
#[cfg(feature = "simd")]
const STACK_LEN: usize = 1024;

/// Room for one decoded payload; lives on the stack of the call that verifies a token.
pub(crate) struct PayloadBuf {
    // Uninitialised: the decoder writes what it returns, and nothing else is read.
    #[cfg(feature = "simd")]
    stack: [MaybeUninit<u8>; STACK_LEN],
    heap: Vec<u8>,
}

impl PayloadBuf {
    pub(crate) fn new() -> Self {
        PayloadBuf {
            #[cfg(feature = "simd")]
            stack: [MaybeUninit::uninit(); STACK_LEN],
            heap: Vec::new(),
        }
    }

    /// The bytes of `b64` (unpadded base64url), or `None` if it is not exactly that.
    pub(crate) fn decode(&mut self, b64: &str) -> Option<&[u8]> {
        #[cfg(feature = "simd")]
        {
            let simd = base64_simd::URL_SAFE_NO_PAD;
            if simd.decoded_length(b64.as_bytes()).ok()? <= STACK_LEN {
                let out = base64_simd::Out::from_uninit_slice(&mut self.stack);
                return simd.decode(b64.as_bytes(), out).ok().map(|bytes| &*bytes);
            }
        }
        self.heap = URL_SAFE_NO_PAD.decode(b64).ok()?;
        Some(&self.heap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stack decoder and the base64 crate accept and refuse the same strings and give
    /// the same bytes: every length up to past the stack's room, with each kind of fault
    /// (a character outside the alphabet, padding, stray low bits in the last character).
    #[test]
    fn agrees_with_the_base64_crate() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for len in 0..1500usize {
            for fault in [
                None,
                Some(b'='),
                Some(b'+'),
                Some(b'.'),
                Some(b' '),
                Some(b'/'),
            ] {
                let mut text: Vec<u8> =
                    (0..len).map(|_| alphabet[(next() % 64) as usize]).collect();
                if let (Some(fault), Some(at)) = (fault, (next() as usize).checked_rem(len)) {
                    text[at] = fault;
                }
                let Ok(text) = String::from_utf8(text) else {
                    continue;
                };
                let expected = URL_SAFE_NO_PAD.decode(&text).ok();
                let mut buf = PayloadBuf::new();
                assert_eq!(buf.decode(&text), expected.as_deref(), "{len}: {text}");
                accepted += usize::from(expected.is_some());
            }
        }
        // Both kinds were met: random text of a length that leaves one character over never
        // decodes, and one that leaves two or three decodes only when its stray low bits are
        // zero, so about a third of the clean cases decode.
        assert!(accepted > 300, "{accepted}");
    }
}
