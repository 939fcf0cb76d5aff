//! Compact JWS (RFC 7515 §7.1): check its shape, split, read the protected header, check the
//! signature.
//!
//! We verify here rather than through `jsonwebtoken::decode` for two reasons: the header is
//! checked (algorithm, `typ`, `crit`) *before* any signature work, and the payload is handed
//! back as bytes, so that the claims are parsed once into their final types instead of once
//! for validation, once into the target type and once more through serde's `flatten` buffer.
//! The signature itself is checked by the prepared HMAC key for HS256/384/512
//! (`crate::keys::hmac`), by jsonwebtoken's crypto provider for the other algorithms.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::payload::PayloadBuf;
use super::wire::TokenUse;
use crate::error::AuthError;
use crate::error::refusals::{
    ALGORITHM_REFUSED, BAD_SIGNATURE, CRITICAL_HEADER, MALFORMED, NOT_JWS, UNKNOWN_KEY,
};
use crate::keys::{Key, Keys};

/// The protected header fields we act on. `kid` only selects among our own keys, by map
/// lookup; the others (`jku`, `x5u`, `jwk`, ...) are ignored: never fetched, never used.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    /// Present at all, even as `null`: RFC 7515 §4.1.11 leaves no harmless `crit`.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(value).map(|_| true)
}

/// RFC 7515 §5.2 and RFC 7519 §7.2: the header and the claims are JSON *objects*. serde's
/// derive would also read a struct from an array (`["HS256","at+jwt"]`); refuse that first.
pub(crate) fn is_json_object(json: &[u8]) -> bool {
    json.trim_ascii_start().first() == Some(&b'{')
}

/// Header segments up to this many characters are decoded on the stack.
const HEADER_B64_MAX: usize = 336;
/// Room for base64's decoding estimate of [`HEADER_B64_MAX`] characters.
const HEADER_BUF_LEN: usize = 256;

/// The bytes [`is_compact`] checks at a time.
const BLOCK: usize = 32;

/// Whether `token` is made of base64url bytes and exactly two dots: the shape of a compact
/// JWS. One pass over the whole token, 32 bytes at a time with no branch inside a block, so
/// that the compiler vectorises it even for baseline x86-64 (SSE2); the shorter last block
/// is padded with `A` and checked the same way, rather than byte by byte (`vector_base64` in
/// `benches/README.md`). An early exit inside a block, which LLVM derives from a plain `all`
/// or from a `fold` over `bool`s, keeps it scalar: one byte and four branches per step.
fn is_compact(token: &[u8]) -> bool {
    let mut blocks = token.chunks_exact(BLOCK);
    let mut dots = 0usize;
    for block in &mut blocks {
        let (bad, in_block) = scan(block);
        if bad != 0 {
            return false;
        }
        dots += usize::from(in_block);
    }
    let mut last = [b'A'; BLOCK];
    last[..blocks.remainder().len()].copy_from_slice(blocks.remainder());
    let (bad, in_block) = scan(&last);
    bad == 0 && dots + usize::from(in_block) == 2
}

/// Over one block: nonzero if a byte is neither base64url nor a dot, and the dots counted.
#[inline(always)]
fn scan(block: &[u8]) -> (u8, u8) {
    block.iter().fold((0u8, 0u8), |(bad, dots), &b| {
        let dot = u8::from(b == b'.');
        (bad | (not_base64url(b) ^ dot), dots + dot)
    })
}

/// 1 if `b` is outside the base64url alphabet, else 0: comparisons only, no branch.
#[inline(always)]
fn not_base64url(b: u8) -> u8 {
    let ok = u8::from(b.wrapping_sub(b'a') < 26)
        | u8::from(b.wrapping_sub(b'A') < 26)
        | u8::from(b.wrapping_sub(b'0') < 10)
        | u8::from(b == b'-')
        | u8::from(b == b'_');
    ok ^ 1
}

/// Whether `segment` is canonical unpadded base64url, by base64-simd's check (AVX2, SSSE3 or
/// NEON, chosen at run time): a faster proof of what [`is_compact`] asks of a segment, as
/// such a segment holds no dot and nothing outside the alphabet. `false` proves nothing (a
/// segment with stray low bits is base64url to [`is_compact`], and its decoder refuses it
/// later with the precise refusal): [`is_compact`] then decides, so that every token meets
/// the refusal it met before (`simd_check` in `benches/README.md`).
#[cfg(feature = "simd")]
fn canonical(segment: &str) -> bool {
    base64_simd::URL_SAFE_NO_PAD
        .check(segment.as_bytes())
        .is_ok()
}

/// Without base64-simd, [`is_compact`] alone decides.
#[cfg(not(feature = "simd"))]
fn canonical(_: &str) -> bool {
    false
}

/// A compact JWS whose header was read; the signature is not checked yet.
pub(crate) struct Jws<'t> {
    message: &'t str,
    payload: &'t str,
    signature: &'t str,
    /// Which of our token kinds the `typ` header names, if any.
    pub(crate) kind: Option<TokenUse>,
    /// `typ` is `JWT` or absent: a token that does not say what it is.
    #[cfg(feature = "jwks")]
    pub(crate) plain: bool,
}

/// The header segments we mint, as base64url: a token whose header segment is one of them,
/// byte for byte, skips decoding and parsing its header, whose result is known. Each was
/// checked through [`parse`] when the codec was built. Gain: 1.14 x on an HS256 verification,
/// 1.25 x on a bad signature (`known_headers` in `benches/README.md`).
#[derive(Default)]
pub(crate) struct KnownHeaders {
    headers: Vec<(String, TokenUse)>,
}

impl KnownHeaders {
    /// Keeps `header` (the base64url of a header we mint) if [`parse`] reads it as `kind` and
    /// picks the set's signing key for it.
    pub(crate) fn learn(&mut self, header: String, kind: TokenUse, keys: &Keys) {
        let probe = format!("{header}.e30.c2ln");
        let signing = keys.signing().map(|(key, _)| key);
        if let Ok((jws, key)) = parse(&probe, keys, &KnownHeaders::default())
            && jws.kind == Some(kind)
            && signing.is_some_and(|signing| std::ptr::eq(signing, key))
        {
            self.headers.push((header, kind));
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.headers.len()
    }

    fn kind_of(&self, header: &str) -> Option<TokenUse> {
        self.headers
            .iter()
            .find(|(known, _)| known == header)
            .map(|(_, kind)| *kind)
    }
}

/// Splits a token into its three segments, reads its header and picks our key for it.
/// Refuses anything that is not exactly three non-empty unpadded base64url segments (this
/// also stops `a.b.c.d...`, CVE-2025-30204), a `kid` no key of ours has, an algorithm other
/// than that key's, and any `crit` header.
pub(crate) fn parse<'t, 'k>(
    token: &'t str,
    keys: &'k Keys,
    known: &KnownHeaders,
) -> Result<(Jws<'t>, &'k Key), AuthError> {
    let (message, signature) = token.rsplit_once('.').ok_or(NOT_JWS)?;
    let (header, payload) = message.split_once('.').ok_or(NOT_JWS)?;
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(NOT_JWS);
    }
    // base64-simd's check proves the shape of a token as minted; `is_compact` decides the rest.
    let proven = canonical(header) && canonical(payload) && canonical(signature);
    if !(proven || is_compact(token.as_bytes())) {
        return Err(NOT_JWS);
    }
    if let Some(kind) = known.kind_of(header)
        && let Some((key, _)) = keys.signing()
    {
        let jws = Jws {
            message,
            payload,
            signature,
            kind: Some(kind),
            #[cfg(feature = "jwks")]
            plain: false,
        };
        return Ok((jws, key));
    }
    // Our headers are under 100 bytes: decoded on the stack, no allocation before the
    // signature is known good. A longer one (a long `kid`) takes the heap. Every refusal
    // here is the client's doing: fixed text, never the parser's, which could echo the token.
    let mut stack = [0u8; HEADER_BUF_LEN];
    let heap;
    let header = if header.len() <= HEADER_B64_MAX {
        let len = URL_SAFE_NO_PAD
            .decode_slice(header, &mut stack)
            .map_err(|_| MALFORMED)?;
        &stack[..len]
    } else {
        heap = URL_SAFE_NO_PAD.decode(header).map_err(|_| MALFORMED)?;
        &heap[..]
    };
    if !is_json_object(header) {
        return Err(MALFORMED);
    }
    let header: JoseHeader<'_> = serde_json::from_slice(header).map_err(|_| MALFORMED)?;
    let key = keys.for_token(header.kid.as_deref()).ok_or(UNKNOWN_KEY)?;
    // Exact, case-sensitive JWA names (RFC 7518 §3.1, and RFC 9864's `Ed25519`): `none`,
    // `hs256` and unknown names are refused like any other algorithm; each key has one.
    if crate::keys::algorithm_named(&header.alg) != Some(key.algorithm) {
        return Err(ALGORITHM_REFUSED);
    }
    if header.crit {
        // RFC 7515 §4.1.11: we understand no extension, so any `crit` is fatal.
        return Err(CRITICAL_HEADER);
    }
    let jws = Jws {
        message,
        payload,
        signature,
        kind: header.typ.as_deref().and_then(TokenUse::from_typ),
        #[cfg(feature = "jwks")]
        plain: header.typ.as_deref().is_none_or(|typ| {
            typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt")
        }),
    };
    Ok((jws, key))
}

impl Jws<'_> {
    /// Checks the signature with the key [`parse`] picked (whose algorithm the header had to
    /// name) and returns the decoded payload bytes, in `buf`.
    pub(crate) fn verify<'b>(
        &self,
        key: &Key,
        buf: &'b mut PayloadBuf,
    ) -> Result<&'b [u8], AuthError> {
        let valid = match &key.hmac {
            Some(hmac) => hmac.verify(self.message.as_bytes(), self.signature),
            None => jsonwebtoken::crypto::verify(
                self.signature,
                self.message.as_bytes(),
                &key.decoding,
                key.algorithm,
            )
            .unwrap_or(false),
        };
        if !valid {
            return Err(BAD_SIGNATURE);
        }
        // Fixed text: the decoder's error could echo the client's bytes.
        buf.decode(self.payload).ok_or(MALFORMED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::hs256([9u8; 32]).unwrap()
    }

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    #[test]
    fn compact_shape() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert_eq!(is_compact(&[b'a', b'.', b, b'.', b'z']), expected, "{b}");
            // In the first block, a middle one, the last whole one, and the padded remainder.
            for at in [0, 31, 150, 191, 195] {
                let mut long = vec![b'A'; 200];
                long[40] = b'.';
                long[120] = b'.';
                long[at] = b;
                assert_eq!(is_compact(&long), expected, "{b} at {at}");
            }
        }
        // Exactly two dots, wherever they are.
        for dots in [&[][..], &[7], &[7, 90], &[7, 90, 196], &[0, 199], &[31, 32]] {
            let mut long = vec![b'A'; 200];
            for &at in dots {
                long[at] = b'.';
            }
            assert_eq!(is_compact(&long), dots.len() == 2, "{dots:?}");
        }
        // Every length up to three blocks, a whole number of blocks (no remainder) included:
        // two dots pass, a bad last byte does not.
        for len in 4..=96 {
            let mut token = vec![b'A'; len];
            token[1] = b'.';
            token[len - 2] = b'.';
            assert!(is_compact(&token), "{len}");
            token[len - 1] = b'=';
            assert!(!is_compact(&token), "{len}");
        }
        assert!(!is_compact(b""));
        assert!(is_compact(b".."));
    }

    /// The fast check only ever proves what `is_compact` would find, and it does prove it for
    /// the segments of a token as minted.
    #[test]
    fn a_canonical_segment_is_compact() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Every ASCII character (the alphabet's neighbours `@`, `[`, the backtick, `{`, `/`,
        // `:`, `+`, `=` and `.` among them) and a multibyte one, before and past the first 32
        // bytes.
        let faults: Vec<Option<String>> = std::iter::once(None)
            .chain((0..0x80u8).map(|b| Some(char::from(b).to_string())))
            .chain(std::iter::once(Some("\u{e9}".to_owned())))
            .collect();
        for len in 0..120usize {
            for fault in &faults {
                let mut segment: String = (0..len)
                    .map(|_| char::from(b"AZaz09-_QgwB"[(next() % 12) as usize]))
                    .collect();
                if let (Some(fault), Some(at)) = (fault, (next() as usize).checked_rem(len)) {
                    segment.replace_range(at..=at, fault);
                }
                let token = format!("{segment}.A.A");
                assert!(
                    !canonical(&segment) || is_compact(token.as_bytes()),
                    "{segment}"
                );
            }
        }
        let minted = token(r#"{"alg":"HS256","typ":"at+jwt"}"#);
        let segments: Vec<&str> = minted.split('.').collect();
        assert_eq!(
            segments.iter().all(|segment| canonical(segment)),
            cfg!(feature = "simd")
        );
    }

    #[test]
    fn long_headers_decode_on_the_heap() {
        let kid = "k".repeat(400);
        let t = token(&format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#));
        assert!(parse(&t, &keys(), &KnownHeaders::default()).is_ok());
        for len in [HEADER_B64_MAX - 2, HEADER_B64_MAX, HEADER_B64_MAX + 1] {
            let pad = "x".repeat(len);
            let header = format!(r#"{{"alg":"HS256","p":"{pad}"}}"#);
            let t = token(&header);
            assert!(
                parse(&t, &keys(), &KnownHeaders::default()).is_ok(),
                "{len}"
            );
        }
    }

    #[test]
    fn shape() {
        for bad in [
            "a.b",
            "a.b.c.d",
            "a..c",
            "..",
            "a.b=.c",
            "a.b.c=",
            "a.b+.c",
            "",
            "a.b\u{e9}.c",
        ] {
            assert_eq!(
                parse(bad, &keys(), &KnownHeaders::default()).err(),
                Some(NOT_JWS),
                "{bad}"
            );
        }
        assert_eq!(
            parse(&".".repeat(5000), &keys(), &KnownHeaders::default()).err(),
            Some(NOT_JWS)
        );
        // Stray low bits in the header: base64url to the shape check (which base64-simd's
        // check cannot prove), refused by the header's decoder, as before.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"} "#);
        let stray = format!("{}B.e30.c2ln", &header[..header.len() - 1]);
        assert!(header.ends_with('A') && !stray.contains(&header));
        assert_eq!(
            parse(&stray, &keys(), &KnownHeaders::default()).err(),
            Some(MALFORMED)
        );
    }

    #[test]
    fn header_rules() {
        assert!(
            parse(
                &token(r#"{"alg":"HS256","typ":"at+jwt"}"#),
                &keys(),
                &KnownHeaders::default()
            )
            .is_ok()
        );
        for alg in ["none", "None", "NONE", "hs256", "HS512", "RS256", ""] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#));
            assert_eq!(
                parse(&t, &keys(), &KnownHeaders::default()).err(),
                Some(ALGORITHM_REFUSED),
                "{alg}"
            );
        }
        assert!(
            parse(
                &token(r#"{"alg":"HS256","crit":["exp"]}"#),
                &keys(),
                &KnownHeaders::default()
            )
            .is_err()
        );
        assert!(
            parse(
                &token(r#"{"alg":"HS256","alg":"HS256"}"#),
                &keys(),
                &KnownHeaders::default()
            )
            .is_err()
        );
        assert!(
            parse(
                &token(r#"{"typ":"at+jwt"}"#),
                &keys(),
                &KnownHeaders::default()
            )
            .is_err()
        );
        assert!(parse(&token(r#"not json"#), &keys(), &KnownHeaders::default()).is_err());
        // A JSON array is no JOSE header, and a `null` crit is still a crit.
        assert_eq!(
            parse(
                &token(r#"["HS256","at+jwt"]"#),
                &keys(),
                &KnownHeaders::default()
            )
            .err(),
            Some(MALFORMED)
        );
        assert_eq!(
            parse(
                &token(r#"{"alg":"HS256","crit":null}"#),
                &keys(),
                &KnownHeaders::default()
            )
            .err(),
            Some(CRITICAL_HEADER)
        );
        assert!(
            parse(
                &token(r#"{"alg":"HS256","kid":"../../etc/passwd' OR 1=1"}"#),
                &keys(),
                &KnownHeaders::default()
            )
            .is_ok()
        );
        // Escaped strings in the header are read correctly, not refused.
        let escaped = token(r#"{"alg":"HS\u0032\u0035\u0036","typ":"at\u002bjwt"}"#);
        assert_eq!(
            parse(&escaped, &keys(), &KnownHeaders::default())
                .unwrap()
                .0
                .kind,
            Some(TokenUse::Access)
        );
    }
}
