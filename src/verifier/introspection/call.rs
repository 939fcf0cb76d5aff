//! One introspection call (RFC 7662 §2.1): the form, the client's authentication, and the
//! answer read with a bound. What the answer means is [`super::answer`]'s.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

use super::{ClientAuth, Introspection};
use crate::Keys;

/// An answer larger than this is the endpoint's fault: one token's claims are a few KiB.
const MAX_ANSWER: usize = 256 * 1024;
/// How long a client assertion (`private_key_jwt`) is valid.
const ASSERTION_LIFETIME: u64 = 60;

/// Why a call brought no answer: the endpoint's fault, a 503 for the request. Its text names
/// no URL and no token; the cause is its [`source`](std::error::Error::source).
#[derive(Debug)]
pub(crate) enum CallError {
    /// No endpoint: discovery failed or the metadata names none.
    NoEndpoint(Option<super::super::fetch::FetchError>),
    /// The request failed (connection, TLS, timeout).
    Request(reqwest::Error),
    /// The endpoint answered with this status (a 401 to our credentials included).
    Status(http::StatusCode),
    /// The answer is larger than [`MAX_ANSWER`].
    TooLarge,
    /// The answer is not a JSON object.
    NotJson,
    /// The client assertion could not be signed.
    Assertion(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::NoEndpoint(_) => f.write_str(
                "the issuer's metadata could not be read or names no introspection_endpoint",
            ),
            CallError::Request(_) => f.write_str("the introspection request failed"),
            CallError::Status(status) => {
                write!(f, "the introspection endpoint answered {status}")
            }
            CallError::TooLarge => write!(
                f,
                "the introspection answer is larger than {MAX_ANSWER} bytes"
            ),
            CallError::NotJson => f.write_str("the introspection answer is not a JSON object"),
            CallError::Assertion(_) => f.write_str("the client assertion could not be signed"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::NoEndpoint(Some(err)) => Some(err),
            CallError::Request(err) => Some(err),
            CallError::Assertion(err) => Some(err.as_ref()),
            _ => None,
        }
    }
}

/// Whether `keys` can sign client assertions: an asymmetric signing key.
pub(super) fn can_sign_assertions(keys: &Keys) -> bool {
    keys.signing().is_some_and(|(key, _)| {
        !matches!(
            key.algorithm,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        )
    })
}

/// Asks `endpoint` about `token` for `issuer`: the answer's bytes, a JSON object (checked
/// here only for its shape: the endpoint's fault if it is not one).
pub(super) async fn introspect(
    client: &reqwest::Client,
    config: &Introspection,
    issuer: &str,
    endpoint: &str,
    token: &str,
) -> Result<Vec<u8>, CallError> {
    let mut form = form_urlencoded(&[("token", token), ("token_type_hint", "access_token")]);
    let mut request = client
        .post(endpoint)
        .timeout(config.timeout)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    match &config.auth {
        ClientAuth::SecretBasic(secret) => {
            // RFC 6749 §2.3.1: each part form-encoded before base64.
            let mut pair = String::new();
            encode_into(&mut pair, &config.client_id);
            pair.push(':');
            encode_into(&mut pair, secret);
            request = request.header(AUTHORIZATION, format!("Basic {}", STANDARD.encode(pair)));
        }
        ClientAuth::PrivateKeyJwt(keys) => {
            let assertion = assertion(keys, &config.client_id, issuer)?;
            form.push('&');
            form.push_str(&form_urlencoded(&[
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ]));
        }
    }
    let request_failed = |err: reqwest::Error| CallError::Request(err.without_url());
    let mut response = request.body(form).send().await.map_err(request_failed)?;
    let status = response.status();
    if status != http::StatusCode::OK {
        return Err(CallError::Status(status));
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER as u64)
    {
        return Err(CallError::TooLarge);
    }
    // Capped as it arrives: without `Content-Length` (chunked), nothing else bounds it.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_failed)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(CallError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if !crate::token::is_json_object(&body) {
        return Err(CallError::NotJson);
    }
    Ok(body)
}

/// `application/x-www-form-urlencoded` pairs.
fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// The form encoding of one name or value: unreserved bytes as they are, space as `+`,
/// the rest percent-encoded.
fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push_str(&format!("{byte:02X}"));
            }
        }
    }
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

/// A client assertion (RFC 7523 §3): `iss` and `sub` the client, `aud` the issuer, a fresh
/// `jti`, valid for a minute.
fn assertion(keys: &Keys, client_id: &str, issuer: &str) -> Result<String, CallError> {
    let Some((key, encoding)) = keys.signing() else {
        return Err(CallError::Assertion("the key set cannot sign".into()));
    };
    let mut header = Header::new(key.algorithm);
    header.kid = key.kid.clone();
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|err| CallError::Assertion(Box::new(err)))?;
    let now = crate::clock::unix_now();
    let claims = Assertion {
        iss: client_id,
        sub: client_id,
        aud: issuer,
        jti: URL_SAFE_NO_PAD.encode(jti),
        iat: now,
        exp: now + ASSERTION_LIFETIME,
    };
    jsonwebtoken::encode(&header, &claims, encoding).map_err(|err| CallError::Assertion(err.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_encode_as_rfc_6749_asks() {
        assert_eq!(
            form_urlencoded(&[("token", "a b+c/=é"), ("x", "~")]),
            "token=a+b%2Bc%2F%3D%C3%A9&x=%7E"
        );
    }
}
