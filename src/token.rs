//! Minting and verifying the two kinds of token.
//!
//! Access and refresh tokens share the keys but are mutually exclusive (RFC 8725 §3.12):
//! each has its own `typ` header (`at+jwt` per RFC 9068, `refresh+jwt` for ours) and its own
//! `token_use` claim, and both are checked on every verification.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::claims::{AccessClaims, Audience, Claims, RefreshClaims, TokenUse};
use crate::error::AuthError;
use crate::keys::Keys;

/// `typ` of access tokens (RFC 9068 §2.1).
pub(crate) const ACCESS_TYP: &str = "at+jwt";
/// `typ` of refresh tokens. No RFC names one; what matters is that it differs from `at+jwt`.
pub(crate) const REFRESH_TYP: &str = "refresh+jwt";

/// Signing failed: only possible with a broken key, so a server fault, never the client's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MintError;

pub(crate) struct TokenCodec {
    keys: Keys,
    validation: Validation,
    access_header: Header,
    refresh_header: Header,
    issuer: Option<String>,
    audience: Option<String>,
}

#[derive(Serialize)]
struct AccessOut<'a, C> {
    sub: &'a str,
    sid: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    token_use: TokenUse,
    #[serde(flatten)]
    custom: &'a C,
}

impl TokenCodec {
    pub(crate) fn new(
        keys: Keys,
        leeway: Duration,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Self {
        let mut validation = Validation::new(keys.algorithm);
        validation.leeway = leeway.as_secs();
        validation.validate_exp = true;
        // jsonwebtoken leaves nbf unchecked by default; RFC 7519 §4.1.5 says honour it.
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(iss) = &issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        if let Some(aud) = &audience {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);

        let header = |typ: &str| {
            let mut header = Header::new(keys.algorithm);
            header.typ = Some(typ.to_owned());
            header.kid = keys.kid.clone();
            header
        };
        TokenCodec {
            access_header: header(ACCESS_TYP),
            refresh_header: header(REFRESH_TYP),
            keys,
            validation,
            issuer,
            audience,
        }
    }

    pub(crate) fn mint_access<C: Serialize>(
        &self,
        sub: &str,
        sid: &str,
        custom: &C,
        now: u64,
        ttl: Duration,
    ) -> Result<String, MintError> {
        let claims = AccessOut {
            sub,
            sid,
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
            token_use: TokenUse::Access,
            custom,
        };
        jsonwebtoken::encode(&self.access_header, &claims, &self.keys.encoding)
            .map_err(|_| MintError)
    }

    pub(crate) fn mint_refresh(
        &self,
        sub: &str,
        sid: &str,
        generation: u64,
        now: u64,
        expires_at: u64,
    ) -> Result<String, MintError> {
        let claims = RefreshClaims {
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            generation,
            iat: now,
            exp: expires_at,
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audience::One),
            token_use: TokenUse::Refresh,
        };
        jsonwebtoken::encode(&self.refresh_header, &claims, &self.keys.encoding)
            .map_err(|_| MintError)
    }

    pub(crate) fn verify_access<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, AuthError> {
        let claims: AccessClaims<C> = self.verify(token, TokenUse::Access)?;
        if claims.token_use != TokenUse::Access {
            return Err(WRONG_KIND_REFRESH);
        }
        Ok(Claims::new(claims))
    }

    pub(crate) fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, AuthError> {
        let claims: RefreshClaims = self.verify(token, TokenUse::Refresh)?;
        if claims.token_use != TokenUse::Refresh {
            return Err(WRONG_KIND_ACCESS);
        }
        Ok(claims)
    }

    fn verify<T: DeserializeOwned>(&self, token: &str, expected: TokenUse) -> Result<T, AuthError> {
        if !is_compact_jws(token) {
            return Err(AuthError::InvalidToken("the token is not a compact JWS"));
        }
        match jsonwebtoken::decode::<T>(token, &self.keys.decoding, &self.validation) {
            Ok(data) => {
                if data.header.crit.is_some() {
                    // RFC 7515 §4.1.11: we understand no extension, so any `crit` is fatal.
                    return Err(AuthError::InvalidToken(
                        "the token has critical header parameters",
                    ));
                }
                match kind_of(data.header.typ.as_deref()) {
                    Some(kind) if kind == expected => Ok(data.claims),
                    Some(TokenUse::Refresh) => Err(WRONG_KIND_REFRESH),
                    Some(TokenUse::Access) => Err(WRONG_KIND_ACCESS),
                    None => Err(AuthError::InvalidToken("the token has no accepted typ")),
                }
            }
            Err(err) => Err(self.describe(err.kind(), token, expected)),
        }
    }

    fn describe(&self, kind: &ErrorKind, token: &str, expected: TokenUse) -> AuthError {
        let description = match kind {
            ErrorKind::ExpiredSignature => "the token has expired",
            ErrorKind::ImmatureSignature => "the token is not valid yet",
            ErrorKind::InvalidSignature => "the token signature is invalid",
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm => "the token algorithm is not accepted",
            ErrorKind::InvalidIssuer => "the token was issued by another issuer",
            ErrorKind::InvalidAudience => "the token is meant for another audience",
            ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
            ErrorKind::Json(_) => {
                // The signature was good but the claims did not fit: most often a token of the
                // other kind. Only this error path pays for the second header parse.
                match jsonwebtoken::decode_header(token)
                    .ok()
                    .and_then(|h| kind_of(h.typ.as_deref()))
                {
                    Some(TokenUse::Refresh) if expected == TokenUse::Access => {
                        return WRONG_KIND_REFRESH;
                    }
                    Some(TokenUse::Access) if expected == TokenUse::Refresh => {
                        return WRONG_KIND_ACCESS;
                    }
                    _ => "the token claims are malformed",
                }
            }
            _ => "the token is malformed",
        };
        AuthError::InvalidToken(description)
    }
}

const WRONG_KIND_REFRESH: AuthError =
    AuthError::InvalidToken("a refresh token cannot be used as an access token");
const WRONG_KIND_ACCESS: AuthError =
    AuthError::InvalidToken("an access token cannot be used as a refresh token");

/// `typ` compared case-insensitively, with or without the `application/` prefix
/// (RFC 7515 §4.1.9).
fn kind_of(typ: Option<&str>) -> Option<TokenUse> {
    let typ = typ?;
    let typ = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    if typ.eq_ignore_ascii_case(ACCESS_TYP) {
        Some(TokenUse::Access)
    } else if typ.eq_ignore_ascii_case(REFRESH_TYP) {
        Some(TokenUse::Refresh)
    } else {
        None
    }
}

/// Exactly three non-empty base64url segments (RFC 7515 §7.1). Refusing anything else early
/// also keeps `a.b.c.d...` (CVE-2025-30204) from reaching the decoder.
fn is_compact_jws(token: &str) -> bool {
    let mut parts = 0;
    for part in token.split('.') {
        parts += 1;
        if parts > 3
            || part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    parts == 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::MachinableClaims;

    fn codec() -> TokenCodec {
        TokenCodec::new(
            Keys::hs256([42u8; 32]).unwrap(),
            Duration::from_secs(5),
            None,
            None,
        )
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({"projects": {"pet-demo": true}, "user": {"id": "u1", "name": "n",
            "active": true, "read": true, "write": false, "type": "project"}})
    }

    #[test]
    fn compact_jws_shape() {
        assert!(is_compact_jws("a.b.c"));
        assert!(!is_compact_jws("a.b"));
        assert!(!is_compact_jws("a.b.c.d"));
        assert!(!is_compact_jws("a..c"));
        assert!(!is_compact_jws(".."));
        assert!(!is_compact_jws("a.b=.c"));
        assert!(!is_compact_jws(&".".repeat(5000)));
    }

    #[test]
    fn typ_matching() {
        assert_eq!(kind_of(Some("at+jwt")), Some(TokenUse::Access));
        assert_eq!(kind_of(Some("Application/AT+JWT")), Some(TokenUse::Access));
        assert_eq!(kind_of(Some("refresh+jwt")), Some(TokenUse::Refresh));
        assert_eq!(kind_of(Some("JWT")), None);
        assert_eq!(kind_of(None), None);
    }

    #[test]
    fn access_round_trip() {
        let codec = codec();
        let token = codec
            .mint_access("u1", "s1", &claims(), now(), Duration::from_secs(60))
            .unwrap();
        let decoded: Claims<MachinableClaims> = codec.verify_access(&token).unwrap();
        assert_eq!(decoded.subject(), "u1");
        assert_eq!(decoded.session_id(), "s1");
        assert_eq!(decoded.user.id, "u1");
        assert!(!decoded.can_write());
    }

    #[test]
    fn kinds_are_mutually_exclusive() {
        let codec = codec();
        let access = codec
            .mint_access("u1", "s1", &claims(), now(), Duration::from_secs(60))
            .unwrap();
        let refresh = codec
            .mint_refresh("u1", "s1", 0, now(), now() + 60)
            .unwrap();
        assert_eq!(
            codec.verify_refresh(&access).unwrap_err(),
            WRONG_KIND_ACCESS
        );
        assert_eq!(
            codec
                .verify_access::<serde_json::Value>(&refresh)
                .unwrap_err(),
            WRONG_KIND_REFRESH
        );
        assert_eq!(
            codec
                .verify_access::<MachinableClaims>(&refresh)
                .unwrap_err(),
            WRONG_KIND_REFRESH
        );
        assert!(codec.verify_refresh(&refresh).is_ok());
    }

    #[test]
    fn expired_and_leeway() {
        let codec = codec();
        let t = now();
        // Expired 3 s ago: inside the 5 s leeway.
        let inside = codec.mint_refresh("u", "s", 0, t - 100, t - 3).unwrap();
        assert!(codec.verify_refresh(&inside).is_ok());
        let outside = codec.mint_refresh("u", "s", 0, t - 100, t - 30).unwrap();
        assert_eq!(
            codec.verify_refresh(&outside).unwrap_err(),
            AuthError::InvalidToken("the token has expired")
        );
    }

    #[test]
    fn issuer_and_audience_are_enforced_when_configured() {
        let keys = Keys::hs256([42u8; 32]).unwrap();
        let strict = TokenCodec::new(
            keys.clone(),
            Duration::from_secs(5),
            Some("https://issuer.example".into()),
            Some("pets".into()),
        );
        let other = TokenCodec::new(
            keys,
            Duration::from_secs(5),
            Some("https://other.example".into()),
            Some("pets".into()),
        );
        let token = other
            .mint_access("u", "s", &claims(), now(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            strict
                .verify_access::<serde_json::Value>(&token)
                .unwrap_err(),
            AuthError::InvalidToken("the token was issued by another issuer")
        );
        let plain = codec()
            .mint_access("u", "s", &claims(), now(), Duration::from_secs(60))
            .unwrap();
        assert!(strict.verify_access::<serde_json::Value>(&plain).is_err());
        let good = strict
            .mint_access("u", "s", &claims(), now(), Duration::from_secs(60))
            .unwrap();
        assert!(strict.verify_access::<serde_json::Value>(&good).is_ok());
    }
}
