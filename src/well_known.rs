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
    /// Served at `/.well-known/<name>` too, for clients that look there first.
    #[cfg(feature = "jwks")]
    pub(crate) also_at_root: Option<String>,
    body: Bytes,
}

impl WellKnown {
    /// The document `body` of the entity identified by `identifier` (an `http(s)` URL
    /// without query or fragment), at `/.well-known/<name>` inserted between its host and its
    /// path (RFC 8414 §3.1, RFC 9728 §3.1). `None` when `identifier` is no such URL.
    pub(crate) fn new(identifier: &str, name: &str, body: &impl Serialize) -> Option<WellKnown> {
        let (_, path) = split_identifier(identifier)?;
        let path = format!("/.well-known/{name}{path}");
        Some(WellKnown {
            path,
            #[cfg(feature = "jwks")]
            also_at_root: None,
            body: Bytes::from(serde_json::to_vec(body).ok()?),
        })
    }

    /// Whether a request for `path` is one for this document.
    #[cfg(feature = "jwks")]
    pub(crate) fn serves(&self, path: &str) -> bool {
        path == self.path || self.also_at_root.as_deref() == Some(path)
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
/// exists. Its token endpoint is the refresh route, which takes the refresh grant alone from
/// public clients (no client authentication, RFC 6749 §2.1); there is no authorization
/// endpoint, so no response type.
#[derive(Serialize)]
pub(crate) struct AuthorizationServer<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) jwks_uri: String,
    pub(crate) token_endpoint: String,
    pub(crate) grant_types_supported: [&'static str; 1],
    pub(crate) token_endpoint_auth_methods_supported: [&'static str; 1],
    pub(crate) response_types_supported: [&'static str; 0],
    /// RFC 9449 §5.1: the proof algorithms accepted, when DPoP is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dpop_signing_alg_values_supported: Option<Vec<&'static str>>,
}

/// An issuer's metadata document beside its JWKS at `jwks_path`, naming the refresh route at
/// `refresh_path` as its token endpoint (both on the issuer's origin) and the DPoP proof
/// algorithms `dpop_algs` when DPoP is on; `None` when the issuer is not an `http(s)` URL.
pub(crate) fn authorization_server(
    issuer: &str,
    jwks_path: &str,
    refresh_path: &str,
    dpop_algs: Option<Vec<&'static str>>,
) -> Option<WellKnown> {
    let (origin, _) = split_identifier(issuer)?;
    let document = AuthorizationServer {
        issuer,
        jwks_uri: format!("{origin}{jwks_path}"),
        token_endpoint: format!("{origin}{refresh_path}"),
        grant_types_supported: ["refresh_token"],
        token_endpoint_auth_methods_supported: ["none"],
        response_types_supported: [],
        dpop_signing_alg_values_supported: dpop_algs,
    };
    WellKnown::new(issuer, "oauth-authorization-server", &document)
}

/// `scheme://host[:port]` of an `http(s)` URL, lowercase, without a default port or
/// user info; `None` for anything else, and for a path unless `path_allowed`.
pub(crate) fn origin_of(url: &str, path_allowed: bool) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') && !path_allowed {
        return None;
    }
    if !path_allowed && uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_segment_goes_between_host_and_path() {
        let served =
            authorization_server("https://auth.example/tenant/", "/keys", "/refresh/", None)
                .unwrap();
        assert_eq!(
            served.path,
            "/.well-known/oauth-authorization-server/tenant"
        );
        let json: serde_json::Value = serde_json::from_slice(&served.body).unwrap();
        assert_eq!(json["issuer"], "https://auth.example/tenant/");
        assert_eq!(json["jwks_uri"], "https://auth.example/keys");
        assert_eq!(json["token_endpoint"], "https://auth.example/refresh/");
        assert_eq!(
            json["grant_types_supported"],
            serde_json::json!(["refresh_token"])
        );
        assert_eq!(
            json["token_endpoint_auth_methods_supported"],
            serde_json::json!(["none"])
        );
        assert!(json.get("dpop_signing_alg_values_supported").is_none());
        let dpop =
            authorization_server("https://a.example", "/k", "/r", Some(vec!["ES256"])).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&dpop.body).unwrap();
        assert_eq!(
            json["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256"])
        );
        for bad in ["pet-demo", "https://a.example/?x", "ftp://a.example"] {
            assert!(
                authorization_server(bad, "/keys", "/r", None).is_none(),
                "{bad}"
            );
        }
    }
}
