//! Minting and verifying the two kinds of token.
//!
//! Access and refresh tokens share the keys but are mutually exclusive (RFC 8725 §3.12):
//! each has its own `typ` header (`at+jwt` per RFC 9068, `refresh+jwt` for ours) and its own
//! `token_use` claim, and both are checked on every verification.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde::de::DeserializeOwned;

use crate::clock::unix_now;
use crate::error::AuthError;
use crate::error::refusals::{
    ACCESS_AS_REFRESH, CLAIMS_MALFORMED, DATE_OUT_OF_RANGE, EXPIRED, ISSUED_IN_FUTURE,
    MISSING_CLAIM, NO_ACCEPTED_TYP, NOT_YET_VALID, OTHER_AUDIENCE, OTHER_ISSUER, REFRESH_AS_ACCESS,
};
use crate::keys::Keys;

mod admission;
mod cache;
mod claims;
mod jws;
mod one_pass;
mod payload;
pub(crate) mod thread_cache;
mod wire;

pub(crate) use cache::TokenCache;
pub use claims::Claims;
pub(crate) use claims::SessionHash;
#[cfg(feature = "jwks")]
pub(crate) use claims::Verified;
#[cfg(feature = "jwks")]
pub(crate) use jws::is_json_object;
#[cfg(feature = "jwks")]
pub(crate) use wire::Confirmation;
pub(crate) use wire::{AccessClaims, Audience, RefreshClaims, TokenUse};

use jws::KnownHeaders;
use payload::PayloadBuf;
#[cfg(feature = "jwks")]
use wire::IssuerOnly;
#[cfg(feature = "jwks")]
use wire::Profiled;
use wire::{ACCESS_TYP, AccessOut, ConfirmationOut, REFRESH_TYP, Registered};

/// Tokens longer than this are refused before any decoding, whatever carries them. Our own
/// tokens are well under 2 KiB; the limit keeps a hostile 64 KiB header from costing base64
/// and JSON work.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The last second of year 9999 (RFC 3339's horizon). A token date past it is refused, so
/// that no time arithmetic on a token value can overflow (`exp = 2^63` once panicked).
pub(crate) const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// Signing failed: only possible with a broken key, so a server fault, never the client's.
/// Holds why, for the operator.
#[derive(Debug)]
pub(crate) struct MintError(pub(crate) Box<dyn std::error::Error + Send + Sync>);

impl MintError {
    fn no_signing_key() -> Self {
        MintError("the key set has no signing key".into())
    }
}

impl std::fmt::Display for MintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("signing the token failed")
    }
}

impl std::error::Error for MintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Which tokens a codec accepts as access tokens.
#[cfg(feature = "jwks")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    /// This crate's own: `sid` and `token_use` in every token, `iss` and `aud` when configured.
    Sessions,
    /// RFC 9068's, from any issuer: `iss` and `aud` always checked.
    Rfc9068 {
        /// Also `typ` `JWT` (or none), and no `jti` or `client_id` required.
        allow_jwt_typ: bool,
    },
}

pub(crate) struct TokenCodec {
    #[cfg(feature = "jwks")]
    profile: Profile,
    /// Written into access tokens with a fresh `jti`, when set (RFC 9068's two claims).
    client_id: Option<String>,
    keys: Keys,
    known: KnownHeaders,
    leeway: u64,
    access_header: Header,
    refresh_header: Header,
    issuer: Option<String>,
    audience: Option<String>,
}

impl TokenCodec {
    /// The key set tokens are verified with.
    #[cfg(feature = "jwks")]
    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(crate) fn new(
        keys: Keys,
        leeway: Duration,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Self {
        let (algorithm, kid) = keys.signing().map_or((keys.algorithm(), None), |(key, _)| {
            (key.algorithm, key.kid.clone())
        });
        let header = |typ: &str| {
            let mut header = Header::new(algorithm);
            header.typ = Some(typ.to_owned());
            header.kid = kid.clone();
            header
        };
        let access_header = header(ACCESS_TYP);
        let refresh_header = header(REFRESH_TYP);
        let mut known = KnownHeaders::default();
        for (header, kind) in [
            (&access_header, TokenUse::Access),
            (&refresh_header, TokenUse::Refresh),
        ] {
            // What jsonwebtoken's `encode` writes as the first segment.
            if let Ok(json) = serde_json::to_vec(header) {
                known.learn(URL_SAFE_NO_PAD.encode(json), kind, &keys);
            }
        }
        TokenCodec {
            #[cfg(feature = "jwks")]
            profile: Profile::Sessions,
            client_id: None,
            access_header,
            refresh_header,
            keys,
            known,
            leeway: leeway.as_secs(),
            issuer,
            audience,
        }
    }

    /// Mints access tokens with this `client_id` and a fresh `jti` each.
    pub(crate) fn with_client_id(mut self, client_id: Option<String>) -> Self {
        self.client_id = client_id;
        self
    }

    /// A verify-only codec for RFC 9068 access tokens of `issuer` meant for `audience`.
    #[cfg(feature = "jwks")]
    pub(crate) fn rfc9068(
        keys: Keys,
        leeway: Duration,
        issuer: String,
        audience: String,
        allow_jwt_typ: bool,
    ) -> Self {
        TokenCodec {
            profile: Profile::Rfc9068 { allow_jwt_typ },
            known: KnownHeaders::default(),
            ..TokenCodec::new(keys, leeway, Some(issuer), Some(audience))
        }
    }

    /// An access token of `custom`'s claims, with the scopes they grant as `scope`.
    pub(crate) fn mint_access<C: tower_jwt_sessions_core::UserClaims>(
        &self,
        sub: &str,
        sid: &str,
        custom: &C,
        now: u64,
        ttl: Duration,
        bound_to: Option<&str>,
    ) -> Result<String, MintError> {
        let jti = match &self.client_id {
            Some(_) => Some(new_jti()?),
            None => None,
        };
        let scope = custom.scope();
        let claims = AccessOut {
            sub,
            sid,
            jti: jti.as_deref(),
            client_id: self.client_id.as_deref(),
            cnf: bound_to.map(|jkt| ConfirmationOut { jkt }),
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
            token_use: TokenUse::Access,
            scope: scope.as_deref(),
            custom,
        };
        let (_, encoding) = self.keys.signing().ok_or_else(MintError::no_signing_key)?;
        jsonwebtoken::encode(&self.access_header, &claims, encoding)
            .map_err(|err| MintError(err.into()))
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
        let (_, encoding) = self.keys.signing().ok_or_else(MintError::no_signing_key)?;
        jsonwebtoken::encode(&self.refresh_header, &claims, encoding)
            .map_err(|err| MintError(err.into()))
    }

    pub(crate) fn verify_access<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<AccessClaims<C>, AuthError> {
        #[cfg(feature = "jwks")]
        if let Profile::Rfc9068 { allow_jwt_typ } = self.profile {
            return self.verify_profiled(token, allow_jwt_typ);
        }
        let mut buf = PayloadBuf::new();
        let payload = self.verified_payload(token, TokenUse::Access, &mut buf)?;
        if !jws::is_json_object(payload) {
            return Err(CLAIMS_MALFORMED);
        }
        let (registered, custom) = match one_pass::parse::<C>(payload) {
            Some((registered, custom)) => (self.check(registered, TokenUse::Access)?, custom),
            // Parsed twice, the registered claims first, for the precise refusal.
            None => {
                let registered = self.registered(payload, TokenUse::Access)?;
                // Fixed text: serde's error quotes claim values.
                let custom = serde_json::from_slice(payload).map_err(|_| CLAIMS_MALFORMED)?;
                (registered, custom)
            }
        };
        Ok(AccessClaims {
            sub: registered.sub,
            sid: Some(registered.sid),
            iat: registered.iat,
            exp: registered.exp,
            nbf: registered.nbf,
            iss: registered.iss,
            aud: registered.aud,
            token_use: Some(registered.token_use),
            cnf: registered.cnf,
            custom,
        })
    }

    /// An RFC 9068 access token of another issuer (§4): `typ` `at+jwt` (or, for an issuer
    /// configured so, `JWT` or none), the signature by one of the issuer's keys with an
    /// algorithm it allows, `iss` exactly the issuer, `aud` naming us, the dates, and the
    /// profile's required claims.
    #[cfg(feature = "jwks")]
    fn verify_profiled<C: DeserializeOwned>(
        &self,
        token: &str,
        allow_jwt_typ: bool,
    ) -> Result<AccessClaims<C>, AuthError> {
        let (jws, key) = jws::parse(token, &self.keys, &self.known)?;
        match jws.kind {
            Some(TokenUse::Access) => {}
            Some(TokenUse::Refresh) => return Err(REFRESH_AS_ACCESS),
            None if allow_jwt_typ && jws.plain => {}
            None => return Err(NO_ACCEPTED_TYP),
        }
        let mut buf = PayloadBuf::new();
        let payload = jws.verify(key, &mut buf)?;
        if !jws::is_json_object(payload) {
            return Err(CLAIMS_MALFORMED);
        }
        // Fixed text: serde's error quotes claim values.
        let claims: Profiled = serde_json::from_slice(payload).map_err(|_| CLAIMS_MALFORMED)?;
        let (Some(sub), Some(exp), Some(iat)) = (claims.sub, claims.exp, claims.iat) else {
            return Err(MISSING_CLAIM);
        };
        // An issuer that still writes `JWT` predates the profile: it may lack these two.
        if !allow_jwt_typ && (claims.jti.is_none() || claims.client_id.is_none()) {
            return Err(MISSING_CLAIM);
        }
        self.check_dates(exp, iat, claims.nbf)?;
        self.check_audience(claims.iss.as_deref(), claims.aud.as_ref())?;
        let custom = serde_json::from_slice(payload).map_err(|_| CLAIMS_MALFORMED)?;
        Ok(AccessClaims {
            sub,
            sid: claims.sid,
            iat,
            exp,
            nbf: claims.nbf,
            iss: claims.iss,
            aud: claims.aud,
            token_use: None,
            cnf: claims.cnf,
            custom,
        })
    }

    pub(crate) fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, AuthError> {
        let mut buf = PayloadBuf::new();
        let payload = self.verified_payload(token, TokenUse::Refresh, &mut buf)?;
        let registered = self.registered(payload, TokenUse::Refresh)?;
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
    fn verified_payload<'b>(
        &self,
        token: &str,
        expected: TokenUse,
        buf: &'b mut PayloadBuf,
    ) -> Result<&'b [u8], AuthError> {
        let (jws, key) = jws::parse(token, &self.keys, &self.known)?;
        match jws.kind {
            Some(kind) if kind == expected => {}
            Some(TokenUse::Refresh) => return Err(REFRESH_AS_ACCESS),
            Some(TokenUse::Access) => return Err(ACCESS_AS_REFRESH),
            None => return Err(NO_ACCEPTED_TYP),
        }
        jws.verify(key, buf)
    }

    /// Parses the registered claims and [`check`s](Self::check) them.
    fn registered(&self, payload: &[u8], expected: TokenUse) -> Result<Registered, AuthError> {
        if !jws::is_json_object(payload) {
            return Err(CLAIMS_MALFORMED);
        }
        // Fixed text: serde's error quotes claim values.
        let claims: Registered = serde_json::from_slice(payload).map_err(|_| CLAIMS_MALFORMED)?;
        self.check(claims, expected)
    }

    /// Checks the registered claims (RFC 7519 §4.1) and `token_use`.
    fn check(&self, claims: Registered, expected: TokenUse) -> Result<Registered, AuthError> {
        if claims.token_use != expected {
            return Err(match claims.token_use {
                TokenUse::Refresh => REFRESH_AS_ACCESS,
                TokenUse::Access => ACCESS_AS_REFRESH,
            });
        }
        self.check_dates(claims.exp, claims.iat, claims.nbf)?;
        self.check_audience(claims.iss.as_deref(), claims.aud.as_ref())?;
        Ok(claims)
    }

    /// `exp`, `iat` and `nbf` against the clock, with the leeway; see [`check_dates`].
    fn check_dates(&self, exp: u64, iat: u64, nbf: Option<u64>) -> Result<(), AuthError> {
        check_dates(Some(exp), Some(iat), nbf, self.leeway, unix_now())
    }

    /// `iss` exactly the configured issuer, and `aud` naming the configured audience.
    fn check_audience(&self, iss: Option<&str>, aud: Option<&Audience>) -> Result<(), AuthError> {
        if let Some(expected) = &self.issuer {
            match iss {
                Some(iss) if iss == expected => {}
                Some(_) => return Err(OTHER_ISSUER),
                None => return Err(MISSING_CLAIM),
            }
        }
        match (&self.audience, aud) {
            (Some(_), None) => Err(MISSING_CLAIM),
            (Some(expected), Some(aud)) if !aud.contains(expected) => Err(OTHER_AUDIENCE),
            // RFC 7519 §4.1.3: a token naming audiences must name us; we are none.
            (None, Some(_)) => Err(OTHER_AUDIENCE),
            _ => Ok(()),
        }
    }
}

/// The dates of a token (or of an introspection answer, where each is optional) against
/// `now`, with the leeway: no date past year 9999, not expired, not issued in the future (RFC
/// 8725 §3.10 in spirit: a token from the future was not minted by a sane issuer), not before
/// its `nbf`.
pub(crate) fn check_dates(
    exp: Option<u64>,
    iat: Option<u64>,
    nbf: Option<u64>,
    leeway: u64,
    now: u64,
) -> Result<(), AuthError> {
    if [exp, iat, nbf]
        .into_iter()
        .flatten()
        .any(|date| date > MAX_NUMERIC_DATE)
    {
        return Err(DATE_OUT_OF_RANGE);
    }
    if exp.is_some_and(|exp| exp.saturating_add(leeway) < now) {
        return Err(EXPIRED);
    }
    if iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(ISSUED_IN_FUTURE);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(NOT_YET_VALID);
    }
    Ok(())
}

/// 128 random bits, base64url: a `jti` no other token shares.
fn new_jti() -> Result<String, MintError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| MintError(Box::new(err)))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(feature = "jwks")]
/// The `iss` of a token, read without checking anything, to choose among several issuers
/// before any signature work. `None` for anything that is not a JWS with a string `iss`.
pub(crate) fn peek_issuer(token: &str) -> Option<String> {
    let mut parts = token.splitn(3, '.');
    let (_, payload) = (parts.next()?, parts.next()?);
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: IssuerOnly<'_> = serde_json::from_slice(&json).ok()?;
    claims.iss.map(|iss| iss.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinable::MachinableClaims;

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

    fn claims() -> MachinableClaims {
        serde_json::from_value(serde_json::json!({"projects": {"pet-demo": true}, "user": {
            "id": "u1", "name": "n", "active": true, "read": true, "write": false,
            "type": "project"}}))
        .unwrap()
    }

    #[test]
    fn access_tokens_carry_the_scopes_the_users_claims_grant() {
        let token = codec()
            .mint_access("u1", "s1", &claims(), now(), Duration::from_secs(60), None)
            .unwrap();
        let payload = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        // Read, not write: as the claims say.
        assert_eq!(payload["scope"], "read");
        assert_eq!(payload["user"]["read"], true);
    }

    #[test]
    fn access_round_trip() {
        let codec = codec();
        let token = codec
            .mint_access("u1", "s1", &claims(), now(), Duration::from_secs(60), None)
            .unwrap();
        let decoded = Claims::<MachinableClaims>::new(
            codec.verify_access(&token).unwrap(),
            &crate::ErrorRenderer::default(),
        );
        assert_eq!(decoded.subject(), "u1");
        assert_eq!(decoded.session_id(), Some("s1"));
        assert_eq!(decoded.user.id, "u1");
        assert!(!decoded.can_write());
    }

    #[test]
    fn minted_headers_are_known_and_parse_the_same() {
        let codec = codec();
        assert_eq!(codec.known.len(), 2);
        let access = codec
            .mint_access("u1", "s1", &claims(), now(), Duration::from_secs(60), None)
            .unwrap();
        let refresh = codec
            .mint_refresh("u1", "s1", 0, now(), now() + 60)
            .unwrap();
        for (token, kind) in [(&access, TokenUse::Access), (&refresh, TokenUse::Refresh)] {
            let header = token.split('.').next().unwrap();
            let fast = jws::parse(token, &codec.keys, &codec.known).unwrap();
            let slow = jws::parse(token, &codec.keys, &KnownHeaders::default()).unwrap();
            assert_eq!(fast.0.kind, Some(kind), "{header}");
            assert_eq!(slow.0.kind, Some(kind));
            assert!(std::ptr::eq(fast.1, slow.1));
        }
        // A public-key set cannot sign: nothing is known, everything takes the full path.
        let verify_only = TokenCodec::new(
            Keys::ec_public_pem(
                jsonwebtoken::Algorithm::ES256,
                include_bytes!("../../tests/keys/ec_public.pem"),
            )
            .unwrap(),
            Duration::from_secs(5),
            None,
            None,
        );
        assert_eq!(verify_only.known.len(), 0);
    }

    #[test]
    fn kinds_are_mutually_exclusive() {
        let codec = codec();
        let access = codec
            .mint_access("u1", "s1", &claims(), now(), Duration::from_secs(60), None)
            .unwrap();
        let refresh = codec
            .mint_refresh("u1", "s1", 0, now(), now() + 60)
            .unwrap();
        assert_eq!(
            codec.verify_refresh(&access).unwrap_err(),
            ACCESS_AS_REFRESH
        );
        assert_eq!(
            codec
                .verify_access::<serde_json::Value>(&refresh)
                .unwrap_err(),
            REFRESH_AS_ACCESS
        );
        assert_eq!(
            codec
                .verify_access::<MachinableClaims>(&refresh)
                .unwrap_err(),
            REFRESH_AS_ACCESS
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
        assert_eq!(codec.verify_refresh(&outside).unwrap_err(), EXPIRED);
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
            .mint_access("u", "s", &claims(), now(), Duration::from_secs(60), None)
            .unwrap();
        assert_eq!(
            strict
                .verify_access::<serde_json::Value>(&token)
                .unwrap_err(),
            OTHER_ISSUER
        );
        let plain = codec()
            .mint_access("u", "s", &claims(), now(), Duration::from_secs(60), None)
            .unwrap();
        assert!(strict.verify_access::<serde_json::Value>(&plain).is_err());
        let good = strict
            .mint_access("u", "s", &claims(), now(), Duration::from_secs(60), None)
            .unwrap();
        assert!(strict.verify_access::<serde_json::Value>(&good).is_ok());
    }
}
