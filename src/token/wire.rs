//! The token payloads as they are on the wire, side by side: what we mint, what we read.

use serde::{Deserialize, Serialize};

/// `typ` of access tokens (RFC 9068 §2.1).
pub(crate) const ACCESS_TYP: &str = "at+jwt";
/// `typ` of refresh tokens. No RFC names one; what matters is that it differs from `at+jwt`.
pub(crate) const REFRESH_TYP: &str = "refresh+jwt";

/// Which kind of token this is. Access and refresh tokens differ by `typ` header *and* by this
/// claim, so neither passes where the other is expected (RFC 8725 §3.11-3.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenUse {
    Access,
    Refresh,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

impl TokenUse {
    /// The kind a `token_use` claim names, exactly as serialized.
    pub(crate) fn from_claim(claim: &str) -> Option<TokenUse> {
        match claim {
            "access" => Some(TokenUse::Access),
            "refresh" => Some(TokenUse::Refresh),
            _ => None,
        }
    }

    /// The kind a `typ` header names, compared case-insensitively, with or without the
    /// `application/` prefix (RFC 7515 §4.1.9); `None` for any other `typ`.
    pub(crate) fn from_typ(typ: &str) -> Option<TokenUse> {
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
}

/// Shows no claim values: logs stay free of personal data.
impl<C> std::fmt::Debug for AccessClaims<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessClaims")
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

/// The payload of an access token as it is on the wire.
#[derive(Clone, Serialize)]
pub(crate) struct AccessClaims<C> {
    pub(crate) sub: String,
    /// Always there in this crate's tokens; an RFC 9068 token may carry one (OIDC's `sid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<String>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<Audience>,
    /// Always there in this crate's tokens; other issuers' tokens have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token_use: Option<TokenUse>,
    /// The key the token is bound to (RFC 9449 §6: `cnf.jkt`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<Confirmation>,
    #[serde(flatten)]
    pub(crate) custom: C,
}

/// What we write as `cnf`.
#[derive(Serialize)]
pub(crate) struct ConfirmationOut<'a> {
    pub(crate) jkt: &'a str,
}

/// `cnf` (RFC 7800) with the RFC 7638 thumbprint of the key a token is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Confirmation {
    pub(crate) jkt: String,
}

/// What we write into an access token: the registered claims and the user's own, borrowed.
#[derive(Serialize)]
pub(crate) struct AccessOut<'a, C> {
    pub(crate) sub: &'a str,
    pub(crate) sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) jti: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<ConfirmationOut<'a>>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<&'a str>,
    pub(crate) token_use: TokenUse,
    /// RFC 9068 §2.2.3: the scopes the user's claims grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<&'a str>,
    #[serde(flatten)]
    pub(crate) custom: &'a C,
}

/// The claims of a refresh token. Crate-private: only the refresh route reads them.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RefreshClaims {
    pub(crate) sub: String,
    pub(crate) sid: String,
    /// The session's token generation: a later rotation bumps it and old tokens stop working.
    #[serde(rename = "gen")]
    pub(crate) generation: u64,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<Audience>,
    pub(crate) token_use: TokenUse,
}

/// The registered claims of both kinds, parsed from the payload in one pass. Unknown fields
/// (the user's own) are skipped; a duplicated known field is an error.
#[derive(Deserialize)]
pub(crate) struct Registered {
    pub(crate) sub: String,
    pub(crate) sid: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(default)]
    pub(crate) nbf: Option<u64>,
    #[serde(default)]
    pub(crate) iss: Option<String>,
    #[serde(default)]
    pub(crate) aud: Option<Audience>,
    pub(crate) token_use: TokenUse,
    #[serde(default, rename = "gen")]
    pub(crate) generation: Option<u64>,
    #[serde(default)]
    pub(crate) cnf: Option<Confirmation>,
}

/// The registered claims of an RFC 9068 access token from any issuer (§2.2), each optional
/// here so that a missing one is refused by name rather than as malformed JSON.
#[cfg(feature = "jwks")]
#[derive(Deserialize)]
pub(crate) struct Profiled {
    #[serde(default)]
    pub(crate) iss: Option<String>,
    #[serde(default)]
    pub(crate) exp: Option<u64>,
    #[serde(default)]
    pub(crate) aud: Option<Audience>,
    #[serde(default)]
    pub(crate) sub: Option<String>,
    #[serde(default)]
    pub(crate) client_id: Option<String>,
    #[serde(default)]
    pub(crate) iat: Option<u64>,
    #[serde(default)]
    pub(crate) jti: Option<String>,
    #[serde(default)]
    pub(crate) nbf: Option<u64>,
    /// OpenID Connect's session id, which some issuers put in access tokens too.
    #[serde(default)]
    pub(crate) sid: Option<String>,
    #[serde(default)]
    pub(crate) cnf: Option<Confirmation>,
}

/// Just the issuer, read before any signature work to choose among several issuers.
#[cfg(feature = "jwks")]
#[derive(Deserialize)]
pub(crate) struct IssuerOnly<'a> {
    #[serde(default, borrow)]
    pub(crate) iss: Option<std::borrow::Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_matching() {
        assert_eq!(TokenUse::from_typ("at+jwt"), Some(TokenUse::Access));
        assert_eq!(
            TokenUse::from_typ("Application/AT+JWT"),
            Some(TokenUse::Access)
        );
        assert_eq!(TokenUse::from_typ("refresh+jwt"), Some(TokenUse::Refresh));
        assert_eq!(TokenUse::from_typ("JWT"), None);
        assert_eq!(TokenUse::from_typ(""), None);
    }

    #[test]
    fn token_use_claims_read_as_serde_reads_them() {
        for kind in [TokenUse::Access, TokenUse::Refresh] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(TokenUse::from_claim(json.trim_matches('"')), Some(kind));
        }
        assert_eq!(TokenUse::from_claim("Access"), None);
    }
}
