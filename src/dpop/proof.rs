//! One DPoP proof, checked as RFC 9449 §4.3 lists.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, Method, Uri};
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use serde::Deserialize;

use super::Dpop;
use super::hash::sha256;
use crate::error::AuthError;
use crate::error::refusals::{
    PROOF_ALGORITHM, PROOF_ATH, PROOF_COUNT, PROOF_CRIT, PROOF_HTM, PROOF_HTU, PROOF_IAT,
    PROOF_JTI, PROOF_KEY_MISFIT, PROOF_MALFORMED, PROOF_NO_IAT, PROOF_NO_JWK, PROOF_NOT_JWS,
    PROOF_NOT_PUBLIC_KEY, PROOF_PRIVATE_KEY, PROOF_SIGNATURE, PROOF_TYP,
};
use crate::token::MAX_TOKEN_LEN;

/// What a proof proved: the key (its thumbprint) and the proof's own identity.
#[derive(Debug)]
pub(crate) struct Proof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub(crate) dpop_jkt: String,
    /// The proof's `jti`.
    pub(crate) jti: String,
}

impl Proof {
    /// The key it is recorded under (see [`super::replay_key`]).
    pub(crate) fn replay_key(&self) -> String {
        super::replay_key(&self.dpop_jkt, &self.jti)
    }
}

#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: String,
    jwk: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<u64>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// The members a public JWK never has (RFC 7518 §6): a proof's key must not carry them.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Checks the `DPoP` proof of a request to `method` `uri` (the URL's scheme and authority
/// taken from the request, else from `Host`), made at `now`; `access_token` is the token it
/// comes with, whose hash the proof must carry as `ath` (none on a refresh or a login).
pub(crate) fn check(
    dpop: &Dpop,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    access_token: Option<&[u8]>,
    now: u64,
) -> Result<Proof, AuthError> {
    let checked = check_all(dpop, headers, method, uri, access_token, now);
    if let Err(err) = &checked {
        crate::telemetry::dpop_proof(Err(err));
    }
    checked
}

fn check_all(
    dpop: &Dpop,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    access_token: Option<&[u8]>,
    now: u64,
) -> Result<Proof, AuthError> {
    let mut values = headers.get_all("dpop").iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(PROOF_COUNT);
    };
    let proof = value
        .to_str()
        .ok()
        .filter(|p| p.len() <= MAX_TOKEN_LEN)
        .ok_or(PROOF_MALFORMED)?;
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PROOF_NOT_JWS);
    };
    let header: Header = decode_json(header_b64)?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(PROOF_TYP);
    }
    if header.crit.is_some() {
        return Err(PROOF_CRIT);
    }
    let algorithm = crate::keys::algorithm_named(&header.alg)
        .filter(|alg| dpop.algorithms.contains(alg))
        .ok_or(PROOF_ALGORITHM)?;
    let jwk = header.jwk.ok_or(PROOF_NO_JWK)?;
    if PRIVATE_MEMBERS
        .iter()
        .any(|member| jwk.contains_key(*member))
    {
        return Err(PROOF_PRIVATE_KEY);
    }
    let jwk: Jwk =
        serde_json::from_value(serde_json::Value::Object(jwk)).map_err(|_| PROOF_NOT_PUBLIC_KEY)?;
    if !crate::keys::jwk_fits(&jwk, algorithm) {
        return Err(PROOF_KEY_MISFIT);
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| PROOF_NOT_PUBLIC_KEY)?;
    crate::keys::ensure_provider();
    let message = &proof[..header_b64.len() + 1 + claims_b64.len()];
    let valid = jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, algorithm)
        .unwrap_or(false);
    if !valid {
        return Err(PROOF_SIGNATURE);
    }
    let claims: Claims = decode_json(claims_b64)?;
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or(PROOF_JTI)?;
    if claims.htm.as_deref() != Some(method.as_str()) {
        return Err(PROOF_HTM);
    }
    if !claims
        .htu
        .as_deref()
        .is_some_and(|htu| same_target(htu, uri, headers, &dpop.origins))
    {
        return Err(PROOF_HTU);
    }
    let iat = claims.iat.ok_or(PROOF_NO_IAT)?;
    if iat.abs_diff(now) > dpop.lifetime.as_secs() {
        return Err(PROOF_IAT);
    }
    if let Some(nonces) = &dpop.nonces
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, now))
    {
        return Err(AuthError::UseDpopNonce(nonces.current(now)));
    }
    if let Some(token) = access_token {
        let expected = URL_SAFE_NO_PAD.encode(sha256(&[token]));
        if claims.ath.as_deref() != Some(expected.as_str()) {
            return Err(PROOF_ATH);
        }
    }
    let dpop_jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| PROOF_NOT_PUBLIC_KEY)?;
    Ok(Proof { dpop_jkt, jti })
}

fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| PROOF_MALFORMED)?;
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(PROOF_MALFORMED);
    }
    serde_json::from_slice(&bytes).map_err(|_| PROOF_MALFORMED)
}

/// `htu` against the request: one of the configured origins and the request's path, or,
/// without them, the same scheme (when the request says one), authority and path; its query
/// and fragment are not compared (§4.3).
fn same_target(htu: &str, uri: &Uri, headers: &HeaderMap, origins: &[String]) -> bool {
    let Ok(htu) = htu.parse::<Uri>() else {
        return false;
    };
    let (Some(scheme), Some(authority)) = (htu.scheme_str(), htu.authority()) else {
        return false;
    };
    if !matches!(scheme, "http" | "https") {
        return false;
    }
    if !origins.is_empty() {
        let origin = format!("{scheme}://{}", authority.as_str().to_ascii_lowercase());
        return origins.contains(&origin) && htu.path() == uri.path();
    }
    if uri
        .scheme_str()
        .is_some_and(|s| !s.eq_ignore_ascii_case(scheme))
    {
        return false;
    }
    let host = uri.authority().map(|a| a.as_str()).or_else(|| {
        headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    host.is_some_and(|host| host.eq_ignore_ascii_case(authority.as_str()))
        && htu.path() == uri.path()
}
