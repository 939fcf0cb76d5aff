//! Compact JWS (RFC 7515 §7.1): split, read the protected header, check the signature.
//!
//! We verify here rather than through `jsonwebtoken::decode` for two reasons: the header is
//! checked (algorithm, `typ`, `crit`) *before* any signature work, and the payload is handed
//! back as bytes, so that the claims are parsed once into their final types instead of once
//! for validation, once into the target type and once more through serde's `flatten` buffer.
//! The signature itself is checked by jsonwebtoken's crypto provider.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::wire::TokenUse;
use crate::error::AuthError;
use crate::error::refusals::{
    ALGORITHM_REFUSED, BAD_SIGNATURE, CRITICAL_HEADER, MALFORMED, NOT_JWS,
};

/// The protected header fields we act on. Unknown fields (`kid`, `jku`, `x5u`, ...) are
/// ignored: never fetched, never used to choose a key.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
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

/// A compact JWS whose header was read; the signature is not checked yet.
pub(crate) struct Jws<'t> {
    message: &'t str,
    payload: &'t str,
    signature: &'t str,
    /// Which of our token kinds the `typ` header names, if any.
    pub(crate) kind: Option<TokenUse>,
}

/// Splits a token into its three segments and reads its header. Refuses anything that is not
/// exactly three non-empty unpadded base64url segments (this also stops `a.b.c.d...`,
/// CVE-2025-30204), an algorithm other than `expected`, and any `crit` header.
pub(crate) fn parse(token: &str, expected: Algorithm) -> Result<Jws<'_>, AuthError> {
    let (message, signature) = token.rsplit_once('.').ok_or(NOT_JWS)?;
    let (header, payload) = message.split_once('.').ok_or(NOT_JWS)?;
    for part in [header, payload, signature] {
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(NOT_JWS);
        }
    }
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| MALFORMED)?;
    if !is_json_object(&header) {
        return Err(MALFORMED);
    }
    let header: JoseHeader<'_> = serde_json::from_slice(&header).map_err(|_| MALFORMED)?;
    // Exact, case-sensitive JWA names (RFC 7518 §3.1): `none`, `hs256` and unknown names
    // fail to parse and are refused like any other algorithm.
    if header.alg.parse::<Algorithm>().ok() != Some(expected) {
        return Err(ALGORITHM_REFUSED);
    }
    if header.crit {
        // RFC 7515 §4.1.11: we understand no extension, so any `crit` is fatal.
        return Err(CRITICAL_HEADER);
    }
    Ok(Jws {
        message,
        payload,
        signature,
        kind: header.typ.as_deref().and_then(TokenUse::from_typ),
    })
}

impl Jws<'_> {
    /// Checks the signature and returns the decoded payload bytes.
    pub(crate) fn verify(
        &self,
        key: &DecodingKey,
        algorithm: Algorithm,
    ) -> Result<Vec<u8>, AuthError> {
        let valid =
            jsonwebtoken::crypto::verify(self.signature, self.message.as_bytes(), key, algorithm)
                .unwrap_or(false);
        if !valid {
            return Err(BAD_SIGNATURE);
        }
        URL_SAFE_NO_PAD.decode(self.payload).map_err(|_| MALFORMED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    #[test]
    fn shape() {
        for bad in [
            "a.b", "a.b.c.d", "a..c", "..", "a.b=.c", "a.b.c=", "a.b+.c", "",
        ] {
            assert!(parse(bad, Algorithm::HS256).is_err(), "{bad}");
        }
        assert!(parse(&".".repeat(5000), Algorithm::HS256).is_err());
    }

    #[test]
    fn header_rules() {
        assert!(
            parse(
                &token(r#"{"alg":"HS256","typ":"at+jwt"}"#),
                Algorithm::HS256
            )
            .is_ok()
        );
        for alg in ["none", "None", "NONE", "hs256", "HS512", "RS256", ""] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#));
            assert_eq!(
                parse(&t, Algorithm::HS256).err(),
                Some(ALGORITHM_REFUSED),
                "{alg}"
            );
        }
        assert!(
            parse(
                &token(r#"{"alg":"HS256","crit":["exp"]}"#),
                Algorithm::HS256
            )
            .is_err()
        );
        assert!(parse(&token(r#"{"alg":"HS256","alg":"HS256"}"#), Algorithm::HS256).is_err());
        assert!(parse(&token(r#"{"typ":"at+jwt"}"#), Algorithm::HS256).is_err());
        assert!(parse(&token(r#"not json"#), Algorithm::HS256).is_err());
        // A JSON array is no JOSE header, and a `null` crit is still a crit.
        assert_eq!(
            parse(&token(r#"["HS256","at+jwt"]"#), Algorithm::HS256).err(),
            Some(MALFORMED)
        );
        assert_eq!(
            parse(&token(r#"{"alg":"HS256","crit":null}"#), Algorithm::HS256).err(),
            Some(CRITICAL_HEADER)
        );
        assert!(
            parse(
                &token(r#"{"alg":"HS256","kid":"../../etc/passwd' OR 1=1"}"#),
                Algorithm::HS256
            )
            .is_ok()
        );
        // Escaped strings in the header are read correctly, not refused.
        let escaped = token(r#"{"alg":"HS\u0032\u0035\u0036","typ":"at\u002bjwt"}"#);
        assert_eq!(
            parse(&escaped, Algorithm::HS256).unwrap().kind,
            Some(TokenUse::Access)
        );
    }
}
