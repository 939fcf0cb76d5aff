//! RFC 9728 protected resource metadata: how a client learns which issuers this resource
//! trusts and which scopes it knows, from the resource alone.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Response, StatusCode};
use serde::Serialize;

use super::Issuer;
use crate::error::ConfigError;

/// The RFC 9728 document a [`Verifier`](super::Verifier)'s layer serves at
/// `/.well-known/oauth-protected-resource` (after the resource's path, if it has one):
/// `resource`, `authorization_servers` (every issuer with an `iss`), `scopes_supported` and
/// `bearer_methods_supported` (`header`: the layer reads tokens nowhere else). The verify-only
/// layer has no keys of its own, so no `jwks_uri`.
///
/// ```
/// use tower_jwt_sessions::verifier::ResourceMetadata;
/// let metadata = ResourceMetadata::new("https://api.example").scopes_supported(["read", "write"]);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ResourceMetadata {
    resource: String,
    scopes: Vec<String>,
}

impl ResourceMetadata {
    /// The document of the resource identified by `resource` (an `https` URL without query
    /// or fragment; `http` for a loopback test), usually the audience its tokens name.
    pub fn new(resource: impl Into<String>) -> Self {
        ResourceMetadata {
            resource: resource.into(),
            scopes: Vec::new(),
        }
    }

    /// The scopes clients may ask for this resource.
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The path and URL it is served at, and its body.
    pub(super) fn served(&self, issuers: &[Issuer]) -> Result<Served, ConfigError> {
        let url = reqwest::Url::parse(&self.resource)
            .ok()
            .filter(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.query().is_none()
                    && url.fragment().is_none()
            })
            .ok_or_else(|| ConfigError::BadIssuerUrl(self.resource.clone()))?;
        // RFC 9728 §3.1: the well-known segment goes between the host and the path.
        let path = format!(
            "/.well-known/oauth-protected-resource{}",
            url.path().trim_end_matches('/')
        );
        let document = Document {
            resource: &self.resource,
            authorization_servers: issuers.iter().filter_map(|i| i.iss.as_deref()).collect(),
            scopes_supported: &self.scopes,
            bearer_methods_supported: ["header"],
        };
        let body = serde_json::to_vec(&document)
            .map(Bytes::from)
            .unwrap_or_default();
        Ok(Served {
            url: format!("{}{path}", url.origin().ascii_serialization()),
            path,
            body,
        })
    }
}

#[derive(Serialize)]
struct Document<'a> {
    resource: &'a str,
    authorization_servers: Vec<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    scopes_supported: &'a [String],
    bearer_methods_supported: [&'static str; 1],
}

/// The document as the layer serves it.
pub(crate) struct Served {
    pub(crate) path: String,
    pub(crate) url: String,
    body: Bytes,
}

impl Served {
    /// The answer to a request for the document: 200 to `GET` and `HEAD`, 405 otherwise.
    pub(crate) fn answer(&self, method: &Method) -> Response<Bytes> {
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
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
        response
    }
}
