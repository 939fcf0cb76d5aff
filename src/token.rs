//! Minting and verifying the two kinds of token.
//!
//! Access and refresh tokens share the keys but are mutually exclusive (RFC 8725 §3.12):
//! each has its own `typ` header (`at+jwt` per RFC 9068, `refresh+jwt` for ours) and its own
//! `token_use` claim, and both are checked on every verification.

use std::time::Duration;

use jsonwebtoken::Header;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::claims::{AccessClaims, Audience, Claims, RefreshClaims, TokenUse};
use crate::clock::unix_now;
use crate::error::AuthError;
use crate::jws;
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
    leeway: u64,
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
            leeway: leeway.as_secs(),
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
        let payload = self.verified_payload(token, TokenUse::Access)?;
        let registered = self.registered(&payload, TokenUse::Access)?;
        // The user's claims come from the same bytes: two plain parses are cheaper than
        // one through serde's `flatten` buffer.
        let custom: C = serde_json::from_slice(&payload).map_err(|_| CLAIMS_MALFORMED)?;
        Ok(Claims::new(AccessClaims {
            sub: registered.sub,
            sid: registered.sid,
            iat: registered.iat,
            exp: registered.exp,
            nbf: registered.nbf,
            iss: registered.iss,
            aud: registered.aud,
            token_use: registered.token_use,
            custom,
        }))
    }

    pub(crate) fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, AuthError> {
        let payload = self.verified_payload(token, TokenUse::Refresh)?;
        let registered = self.registered(&payload, TokenUse::Refresh)?;
        Ok(RefreshClaims {
            sub: registered.sub,
            sid: registered.sid,
            generation: registered.generation.ok_or(CLAIMS_MALFORMED)?,
            iat: registered.iat,
            exp: registered.exp,
            iss: registered.iss,
            aud: registered.aud,
            token_use: registered.token_use,
        })
    }

    /// Header checks, then the signature; returns the payload bytes.
    fn verified_payload(&self, token: &str, expected: TokenUse) -> Result<Vec<u8>, AuthError> {
        let jws = jws::parse(token, self.keys.algorithm)?;
        match jws.kind {
            Some(kind) if kind == expected => {}
            Some(TokenUse::Refresh) => return Err(WRONG_KIND_REFRESH),
            Some(TokenUse::Access) => return Err(WRONG_KIND_ACCESS),
            None => return Err(AuthError::InvalidToken("the token has no accepted typ")),
        }
        jws.verify(&self.keys.decoding, self.keys.algorithm)
    }

    /// Parses and checks the registered claims (RFC 7519 §4.1) and `token_use`.
    fn registered(&self, payload: &[u8], expected: TokenUse) -> Result<Registered, AuthError> {
        let claims: Registered = serde_json::from_slice(payload).map_err(|_| CLAIMS_MALFORMED)?;
        if claims.token_use != expected {
            return Err(match claims.token_use {
                TokenUse::Refresh => WRONG_KIND_REFRESH,
                TokenUse::Access => WRONG_KIND_ACCESS,
            });
        }
        let now = unix_now();
        if claims.exp.saturating_add(self.leeway) < now {
            return Err(AuthError::InvalidToken("the token has expired"));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(AuthError::InvalidToken("the token is not valid yet"));
        }
        if let Some(expected) = &self.issuer {
            match &claims.iss {
                Some(iss) if iss == expected => {}
                Some(_) => {
                    return Err(AuthError::InvalidToken(
                        "the token was issued by another issuer",
                    ));
                }
                None => return Err(AuthError::InvalidToken("the token lacks a required claim")),
            }
        }
        match (&self.audience, &claims.aud) {
            (_, None) if self.audience.is_some() => {
                return Err(AuthError::InvalidToken("the token lacks a required claim"));
            }
            (Some(expected), Some(aud)) if !aud.contains(expected) => {
                return Err(AuthError::InvalidToken(
                    "the token is meant for another audience",
                ));
            }
            // RFC 7519 §4.1.3: a token naming audiences must name us; we are none.
            (None, Some(_)) => {
                return Err(AuthError::InvalidToken(
                    "the token is meant for another audience",
                ));
            }
            _ => {}
        }
        Ok(claims)
    }
}

/// The registered claims of both kinds, parsed from the payload in one pass. Unknown fields
/// (the user's own) are skipped; a duplicated known field is an error.
#[derive(Deserialize)]
struct Registered {
    sub: String,
    sid: String,
    iat: u64,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    token_use: TokenUse,
    #[serde(default, rename = "gen")]
    generation: Option<u64>,
}

const CLAIMS_MALFORMED: AuthError = AuthError::InvalidToken("the token claims are malformed");
const WRONG_KIND_REFRESH: AuthError =
    AuthError::InvalidToken("a refresh token cannot be used as an access token");
const WRONG_KIND_ACCESS: AuthError =
    AuthError::InvalidToken("an access token cannot be used as a refresh token");

/// `typ` compared case-insensitively, with or without the `application/` prefix
/// (RFC 7515 §4.1.9).
pub(crate) fn kind_of(typ: Option<&str>) -> Option<TokenUse> {
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
