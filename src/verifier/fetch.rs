//! Fetching the issuer's metadata and JWKS documents, and keeping the keys fresh.
//!
//! The document decides which tokens pass, so it is fetched defensively: redirects are
//! followed only within the issuer's own origin (one to elsewhere would let whoever answers
//! there choose the keys), the body is capped while it streams in (a missing
//! `Content-Length` must not let a document fill memory), and a failure keeps the last good
//! set.

use std::fmt;
use std::sync::Weak;
use std::time::Duration;

use http::header::CACHE_CONTROL;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use reqwest::redirect::{Attempt, Policy};
use serde::Deserialize;

use super::Shared;
use crate::error::ConfigError;
use crate::keys::Keys;

/// The longest a document is trusted without fetching it again, whatever its `max-age`.
const LONGEST_REFRESH: Duration = Duration::from_secs(60 * 60);
/// Documents larger than this are refused: a key set is a few KiB.
pub(super) const MAX_DOCUMENT: usize = 1024 * 1024;
/// Longest a request waits for a fetch that may bring its token's key; past it, 503.
pub(super) const KEYS_WAIT: Duration = Duration::from_secs(2);
/// Least time between a fetch that failed and the next one a token may start: an issuer
/// that comes back is read again within about a second, not after the cooldown.
pub(super) const RETRY_FAILED: Duration = Duration::from_secs(1);
/// Redirects followed within the issuer's origin, at most.
const MAX_REDIRECTS: usize = 5;

/// Why a fetch brought no keys. Its text names no URL (one may carry credentials); the cause
/// is its [`source`](std::error::Error::source), logged with it.
#[derive(Debug)]
pub(super) enum FetchError {
    /// The request failed (connection, TLS, timeout).
    Request(reqwest::Error),
    /// The answer was a redirect to another origin (or too many): not followed.
    Redirected,
    /// The answer was an error status.
    Status(http::StatusCode),
    /// The document is larger than [`MAX_DOCUMENT`].
    TooLarge,
    /// The document is not a JWK set.
    NotJwks(serde_json::Error),
    /// The document gives no key set that can be trusted.
    NoUsableKey(ConfigError),
    /// Neither metadata document (RFC 8414, OpenID Connect) could be read as one.
    NotMetadata(serde_json::Error),
    /// The metadata names another issuer (RFC 8414 §3.3: the document is not used).
    OtherIssuer,
    /// The metadata has no usable `jwks_uri` (or `introspection_endpoint`, as named).
    NoEndpoint(&'static str),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Request(_) => f.write_str("the request failed"),
            FetchError::Redirected => f.write_str(
                "the issuer redirected to another origin (or too often); only redirects \
                 within its own origin are followed",
            ),
            FetchError::Status(status) => write!(f, "the issuer answered {status}"),
            FetchError::TooLarge => write!(f, "the document is larger than {MAX_DOCUMENT} bytes"),
            FetchError::NotJwks(_) => f.write_str("the document is not a JWK set"),
            FetchError::NoUsableKey(_) => f.write_str("no key set of the document can be trusted"),
            FetchError::NotMetadata(_) => {
                f.write_str("the issuer's metadata document is not authorization server metadata")
            }
            FetchError::OtherIssuer => f.write_str(
                "the issuer's metadata names another issuer, so it is not used (RFC 8414 3.3)",
            ),
            FetchError::NoEndpoint(name) => write!(
                f,
                "the issuer's metadata has no {name} (an https one for an https issuer)"
            ),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Request(err) => Some(err),
            FetchError::NotJwks(err) => Some(err),
            FetchError::NoUsableKey(err) => Some(err),
            FetchError::NotMetadata(err) => Some(err),
            _ => None,
        }
    }
}

/// Follows a redirect only to the origin of the first request, and only a few times; any
/// other stops, and the redirect answer itself is then refused as an error status.
pub(super) fn same_origin_redirects() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// One fetch: the keys the document describes (of the `allowed` algorithms, when given),
/// and its `max-age`.
pub(super) async fn jwks(
    client: &reqwest::Client,
    url: &str,
    allowed: Option<&[Algorithm]>,
) -> Result<(Keys, Option<Duration>), FetchError> {
    let (body, max_age) = document(client, url).await?;
    let set = jwk_set(&body).map_err(FetchError::NotJwks)?;
    let keys = Keys::from_jwks_allowing(&set, allowed).map_err(FetchError::NoUsableKey)?;
    Ok((keys, max_age))
}

/// A JWK set, with RFC 9864's `alg` `Ed25519` read as the `EdDSA` it specifies (jsonwebtoken
/// knows only the older name, and would take the key's algorithm as unknown).
fn jwk_set(body: &[u8]) -> Result<JwkSet, serde_json::Error> {
    let mut set: serde_json::Value = serde_json::from_slice(body)?;
    if let Some(keys) = set.get_mut("keys").and_then(|keys| keys.as_array_mut()) {
        for key in keys {
            if let Some(alg) = key.get_mut("alg").filter(|alg| *alg == "Ed25519") {
                *alg = serde_json::Value::from("EdDSA");
            }
        }
    }
    serde_json::from_value(set)
}

/// The fields of authorization server metadata (RFC 8414 §2) a resource server needs.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

/// Which endpoint of the metadata a discovery is for.
#[derive(Clone, Copy)]
enum Endpoint {
    Jwks,
    Introspection,
}

/// The issuer's JWKS URL, from its RFC 8414 metadata, else its OpenID Connect discovery
/// document. Only a document that names `issuer` exactly is used; whatever keeps the first
/// from giving a JWKS URL (most issuers publish only one of the two, some answer a web page)
/// tries the second, and the first failure is the one reported.
pub(super) async fn discover(client: &reqwest::Client, issuer: &str) -> Result<String, FetchError> {
    discover_endpoint(client, issuer, Endpoint::Jwks).await
}

/// The issuer's introspection endpoint (RFC 8414 `introspection_endpoint`), found as its
/// JWKS URL is.
pub(super) async fn discover_introspection(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<String, FetchError> {
    discover_endpoint(client, issuer, Endpoint::Introspection).await
}

async fn discover_endpoint(
    client: &reqwest::Client,
    issuer: &str,
    endpoint: Endpoint,
) -> Result<String, FetchError> {
    let mut first = None;
    for url in metadata_urls(issuer) {
        match endpoint_at(client, &url, issuer, endpoint).await {
            Ok(uri) => return Ok(uri),
            Err(err) => {
                first.get_or_insert(err);
            }
        }
    }
    Err(first.unwrap_or(FetchError::NoEndpoint("jwks_uri")))
}

/// The endpoint the metadata document at `url` gives, if it names `issuer` exactly. An
/// `https` issuer's keys are fetched (and its tokens sent) over `https` only: its TLS would
/// protect nothing if they went in plain text.
async fn endpoint_at(
    client: &reqwest::Client,
    url: &str,
    issuer: &str,
    endpoint: Endpoint,
) -> Result<String, FetchError> {
    let (body, _) = document(client, url).await?;
    let metadata: Metadata = serde_json::from_slice(&body).map_err(FetchError::NotMetadata)?;
    if metadata.issuer != issuer {
        return Err(FetchError::OtherIssuer);
    }
    let secure = issuer.starts_with("https://");
    let (uri, name) = match endpoint {
        Endpoint::Jwks => (metadata.jwks_uri, "jwks_uri"),
        Endpoint::Introspection => (metadata.introspection_endpoint, "introspection_endpoint"),
    };
    match uri {
        Some(uri) if uri.starts_with("https://") || (!secure && uri.starts_with("http://")) => {
            Ok(uri)
        }
        _ => Err(FetchError::NoEndpoint(name)),
    }
}

/// RFC 8414 §3.1 inserts its well-known segment between the host and the issuer's path;
/// OpenID Connect Discovery §4 appends its own to the issuer.
fn metadata_urls(issuer: &str) -> Vec<String> {
    let mut urls = Vec::with_capacity(2);
    if let Ok(url) = reqwest::Url::parse(issuer) {
        let path = url.path().trim_end_matches('/');
        urls.push(format!(
            "{}/.well-known/oauth-authorization-server{path}",
            url.origin().ascii_serialization()
        ));
    }
    urls.push(format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ));
    urls
}

/// One GET of a JSON document, bounded and without leaving the origin: its body and its
/// `max-age`.
async fn document(
    client: &reqwest::Client,
    url: &str,
) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
    let request_failed = |err: reqwest::Error| FetchError::Request(err.without_url());
    let mut response = client.get(url).send().await.map_err(request_failed)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FetchError::Redirected);
    }
    if !status.is_success() {
        return Err(FetchError::Status(status));
    }
    let max_age = response
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|d| d.trim().strip_prefix("max-age="))
                .and_then(|secs| secs.parse().ok())
        })
        .map(Duration::from_secs);
    if response
        .content_length()
        .is_some_and(|len| len > MAX_DOCUMENT as u64)
    {
        return Err(FetchError::TooLarge);
    }
    // Capped as it arrives: without `Content-Length` (chunked), nothing else bounds it.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_failed)? {
        if body.len() + chunk.len() > MAX_DOCUMENT {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, max_age))
}

/// Fetches issuer `index`'s keys at once, then again every `max-age` (between the cooldown
/// and an hour); after a failure, again after [`RETRY_FAILED`], doubling up to the cooldown.
/// Ends with the verifier.
pub(super) async fn keep_fresh(shared: Weak<Shared>, index: usize) {
    let mut after_failure = RETRY_FAILED;
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let cooldown = strong.cooldown;
        let next = match strong.fetch_now(index).await {
            Ok(max_age) => {
                after_failure = RETRY_FAILED;
                max_age
                    .unwrap_or(Duration::from_secs(300))
                    .clamp(cooldown, LONGEST_REFRESH.max(cooldown))
            }
            Err(()) => {
                let next = after_failure;
                after_failure = (after_failure * 2).min(cooldown.max(RETRY_FAILED));
                next
            }
        };
        drop(strong);
        tokio::time::sleep(next).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{jwk_set, metadata_urls};

    #[test]
    fn an_ed25519_alg_is_read_as_eddsa_and_nothing_else_changes() {
        let set = jwk_set(
            br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"Ed25519","kid":"a"},
                         {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"ed25519","kid":"b"}]}"#,
        )
        .unwrap();
        use jsonwebtoken::jwk::KeyAlgorithm;
        assert_eq!(set.keys[0].common.key_algorithm, Some(KeyAlgorithm::EdDSA));
        assert_eq!(
            set.keys[1].common.key_algorithm,
            Some(KeyAlgorithm::UNKNOWN_ALGORITHM)
        );
        assert!(jwk_set(b"[]").is_err());
    }

    #[test]
    fn rfc8414_inserts_before_the_path_and_oidc_appends() {
        assert_eq!(
            metadata_urls("https://sso.example/realms/pets"),
            [
                "https://sso.example/.well-known/oauth-authorization-server/realms/pets",
                "https://sso.example/realms/pets/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://idp.example/"),
            [
                "https://idp.example/.well-known/oauth-authorization-server",
                "https://idp.example/.well-known/openid-configuration",
            ]
        );
    }
}
