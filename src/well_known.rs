//! JSON documents a layer serves at a well-known path: an issuer's RFC 8414 metadata, a
//! resource's RFC 9728 metadata.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Response, StatusCode};
use serde::Serialize;

/// One document, rendered once.
pub(crate) struct WellKnown {
    /// The path it is served at.
    pub(crate) path: String,
    /// Its whole URL.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) url: String,
    body: Bytes,
}

impl WellKnown {
    /// The document `body` of the entity identified by `identifier` (an `http(s)` URL
    /// without query or fragment), at `/.well-known/<name>` inserted between its host and its
    /// path (RFC 8414 §3.1, RFC 9728 §3.1). `None` when `identifier` is no such URL.
    pub(crate) fn new(identifier: &str, name: &str, body: &impl Serialize) -> Option<WellKnown> {
        let (origin, path) = split_identifier(identifier)?;
        let path = format!("/.well-known/{name}{path}");
        Some(WellKnown {
            url: format!("{origin}{path}"),
            path,
            body: Bytes::from(serde_json::to_vec(body).ok()?),
        })
    }

    /// 200 with the document to `GET` and `HEAD`, 405 otherwise.
    pub(crate) fn respond(&self, method: &Method) -> Response<Bytes> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            let allow = HeaderValue::from_static("GET, HEAD");
            response.headers_mut().insert(ALLOW, allow);
            return response;
        }
        let body = if method == Method::GET {
            self.body.clone()
        } else {
            Bytes::new()
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        response
    }
}

/// The origin (`scheme://host[:port]`) and the path without a trailing slash of an `http(s)`
/// URL without query or fragment.
pub(crate) fn split_identifier(identifier: &str) -> Option<(String, String)> {
    let uri: http::Uri = identifier.parse().ok()?;
    let scheme = uri.scheme_str()?;
    if !matches!(scheme, "http" | "https") || uri.query().is_some() || identifier.contains('#') {
        return None;
    }
    let authority = uri.authority()?;
    let path = uri.path().trim_end_matches('/').to_owned();
    Some((format!("{scheme}://{authority}"), path))
}

/// The RFC 8414 metadata of a layer that signs tokens and publishes its keys: only what
/// exists (no authorization or token endpoint, so no response type).
#[derive(Serialize)]
pub(crate) struct AuthorizationServer<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) jwks_uri: String,
    pub(crate) response_types_supported: [&'static str; 0],
}

/// An issuer's metadata document beside its JWKS at `jwks_path`; `None` when the issuer is
/// not an `http(s)` URL.
pub(crate) fn authorization_server(issuer: &str, jwks_path: &str) -> Option<WellKnown> {
    let (origin, _) = split_identifier(issuer)?;
    let document = AuthorizationServer {
        issuer,
        jwks_uri: format!("{origin}{jwks_path}"),
        response_types_supported: [],
    };
    WellKnown::new(issuer, "oauth-authorization-server", &document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_segment_goes_between_host_and_path() {
        let served = authorization_server("https://auth.example/tenant/", "/keys").unwrap();
        assert_eq!(
            served.path,
            "/.well-known/oauth-authorization-server/tenant"
        );
        assert_eq!(
            served.url,
            "https://auth.example/.well-known/oauth-authorization-server/tenant"
        );
        let json: serde_json::Value = serde_json::from_slice(&served.body).unwrap();
        assert_eq!(json["issuer"], "https://auth.example/tenant/");
        assert_eq!(json["jwks_uri"], "https://auth.example/keys");
        assert!(authorization_server("pet-demo", "/keys").is_none());
        assert!(authorization_server("https://a.example/?x", "/keys").is_none());
        assert!(authorization_server("ftp://a.example", "/keys").is_none());
    }
}
