//! HMAC verification with the key schedule done once, when the key is built.
//!
//! jsonwebtoken's `crypto::verify` prepares the HMAC key (two hash blocks of key schedule, and
//! a boxed verifier) on every call. Here the backend's own keyed state is prepared once and
//! copied per token (1.26 x on an HS256 verification, 1.37 x on a bad signature: `prepared_hmac`
//! in `benches/README.md`). The primitives are the backend's, audited, never written here: aws-lc-rs
//! (`hmac::Key`, whose `verify` compares in constant time), or RustCrypto's `hmac` + `sha2`
//! (`verify_slice`, constant time) when only `rust-crypto` is on. With both backends on,
//! aws-lc-rs verifies HMAC here whatever provider the app installed in jsonwebtoken.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;

/// Room for base64's decoding estimate of an HS512 tag: 86 characters -> up to 66 bytes.
const DECODE_BUF_LEN: usize = 72;

/// One HMAC key, ready to verify.
#[derive(Clone)]
pub(crate) struct PreparedHmac {
    tag_len: usize,
    state: State,
}

#[derive(Clone)]
enum State {
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(aws_lc_rs::hmac::Key),
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    Sha256(::hmac::Hmac<sha2::Sha256>),
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    Sha384(::hmac::Hmac<sha2::Sha384>),
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    Sha512(::hmac::Hmac<sha2::Sha512>),
}

impl PreparedHmac {
    /// `None` for an algorithm that is not HMAC.
    pub(crate) fn new(algorithm: Algorithm, secret: &[u8]) -> Option<Self> {
        #[cfg(feature = "aws-lc-rs")]
        {
            use aws_lc_rs::hmac;
            let (alg, tag_len) = match algorithm {
                Algorithm::HS256 => (hmac::HMAC_SHA256, 32),
                Algorithm::HS384 => (hmac::HMAC_SHA384, 48),
                Algorithm::HS512 => (hmac::HMAC_SHA512, 64),
                _ => return None,
            };
            Some(PreparedHmac {
                tag_len,
                state: State::AwsLc(hmac::Key::new(alg, secret)),
            })
        }
        #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
        {
            use ::hmac::Mac;
            // Any key length is valid for HMAC: `new_from_slice` never fails for it.
            let state = match algorithm {
                Algorithm::HS256 => State::Sha256(Mac::new_from_slice(secret).ok()?),
                Algorithm::HS384 => State::Sha384(Mac::new_from_slice(secret).ok()?),
                Algorithm::HS512 => State::Sha512(Mac::new_from_slice(secret).ok()?),
                _ => return None,
            };
            let tag_len = match algorithm {
                Algorithm::HS256 => 32,
                Algorithm::HS384 => 48,
                _ => 64,
            };
            Some(PreparedHmac { tag_len, state })
        }
    }

    /// Whether `signature` (base64url, unpadded) is the tag of `message`. No allocation: the
    /// tag is decoded on the stack, and a tag of the wrong length is refused before hashing.
    pub(crate) fn verify(&self, message: &[u8], signature: &str) -> bool {
        // An unpadded base64 of `n` bytes has exactly ceil(4n/3) characters.
        if signature.len() != (self.tag_len * 4).div_ceil(3) {
            return false;
        }
        let mut buf = [0u8; DECODE_BUF_LEN];
        let tag = match URL_SAFE_NO_PAD.decode_slice(signature, &mut buf) {
            Ok(len) if len == self.tag_len => &buf[..len],
            _ => return false,
        };
        match &self.state {
            #[cfg(feature = "aws-lc-rs")]
            State::AwsLc(key) => aws_lc_rs::hmac::verify(key, message, tag).is_ok(),
            #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
            State::Sha256(mac) => verify_with(mac.clone(), message, tag),
            #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
            State::Sha384(mac) => verify_with(mac.clone(), message, tag),
            #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
            State::Sha512(mac) => verify_with(mac.clone(), message, tag),
        }
    }
}

#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
fn verify_with<M: ::hmac::Mac>(mut mac: M, message: &[u8], tag: &[u8]) -> bool {
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    #[test]
    fn agrees_with_jsonwebtoken_and_refuses_the_rest() {
        let secret = [7u8; 40];
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            crate::keys::provider::ensure_provider();
            let token = jsonwebtoken::encode(
                &Header::new(algorithm),
                &serde_json::json!({"a": 1}),
                &EncodingKey::from_secret(&secret),
            )
            .unwrap();
            let (message, signature) = token.rsplit_once('.').unwrap();
            let prepared = PreparedHmac::new(algorithm, &secret).unwrap();
            assert!(prepared.verify(message.as_bytes(), signature));
            // Another message, another key, a cut or extended tag, a bad character.
            assert!(!prepared.verify(b"x.y", signature));
            let other = PreparedHmac::new(algorithm, &[8u8; 40]).unwrap();
            assert!(!other.verify(message.as_bytes(), signature));
            assert!(!prepared.verify(message.as_bytes(), &signature[1..]));
            assert!(!prepared.verify(message.as_bytes(), &format!("{signature}A")));
            let mut bad = signature.to_owned();
            bad.replace_range(0..1, "+");
            assert!(!prepared.verify(message.as_bytes(), &bad));
            assert!(!prepared.verify(message.as_bytes(), ""));
        }
        assert!(PreparedHmac::new(Algorithm::RS256, &secret).is_none());
    }
}
