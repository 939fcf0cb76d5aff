//! The JWKS document (RFC 7517) of the public keys, rendered once at build time and served
//! by the layer, so that other services verify our tokens without a copied secret.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use jsonwebtoken::jwk::JwkSet;

use super::Keys;
use crate::error::ConfigError;

pub(crate) struct Jwks {
    body: Bytes,
    etag: HeaderValue,
    cache_control: HeaderValue,
}

impl Jwks {
    /// Whether the set can be published: not when it holds an HMAC secret (publishing it
    /// would hand out the key itself).
    pub(crate) fn check(keys: &Keys) -> Result<(), ConfigError> {
        keys.jwks().map(drop)
    }

    /// The document of every key of a set that passed [`check`](Self::check), signing and
    /// retired.
    pub(crate) fn new(keys: &Keys, max_age: Duration) -> Self {
        // After `check`, every key has its public JWK.
        let set = JwkSet {
            keys: keys.jwks().unwrap_or_default(),
        };
        // Strings and numbers only: writing them as JSON cannot fail.
        let body = serde_json::to_vec(&set).unwrap_or_default();
        // Stable across processes and restarts with the same keys: a fixed-key hash.
        let mut hasher = std::hash::DefaultHasher::new();
        body.hash(&mut hasher);
        Jwks {
            body: Bytes::from(body),
            etag: header_value(format!("\"{:016x}\"", hasher.finish())),
            cache_control: header_value(format!("public, max-age={}", max_age.as_secs())),
        }
    }

    /// `GET` and `HEAD` get the document (or 304 for a matching `If-None-Match`); any other
    /// method 405 with `Allow`.
    pub(crate) fn respond(&self, method: &Method, headers: &HeaderMap) -> Response<Bytes> {
        let mut response = Response::new(Bytes::new());
        if method != Method::GET && method != Method::HEAD {
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let headers_out = response.headers_mut();
        headers_out.insert(ETAG, self.etag.clone());
        headers_out.insert(CACHE_CONTROL, self.cache_control.clone());
        headers_out.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/jwk-set+json"),
        );
        let fresh = headers.get_all(IF_NONE_MATCH).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|tag| tag.trim() == "*" || tag.trim() == self.etag)
            })
        });
        if fresh {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
        } else if method == Method::GET {
            *response.body_mut() = self.body.clone();
        }
        response
    }
}

/// Visible ASCII (hex digits, `public, max-age=`) is always a header value.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static(""))
}
