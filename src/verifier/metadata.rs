//! RFC 9728 protected resource metadata: how a client learns which issuers this resource
//! trusts and which scopes it knows, from the resource alone.

use serde::Serialize;

use super::Issuer;
use crate::error::{ConfigError, without_userinfo};
use crate::well_known::WellKnown;

/// The RFC 9728 document a [`Verifier`](super::Verifier)'s layer serves at
/// `/.well-known/oauth-protected-resource` (after the resource's path, if it has one):
/// `resource`, `authorization_servers` (every issuer whose `iss` is a URL), `scopes_supported` and
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

    /// The document, rendered.
    pub(super) fn served(&self, issuers: &[Issuer]) -> Result<WellKnown, ConfigError> {
        let document = Document {
            resource: &self.resource,
            authorization_servers: issuers
                .iter()
                .filter_map(|i| i.iss.as_deref())
                .filter(|iss| crate::well_known::split_identifier(iss).is_some())
                .collect(),
            scopes_supported: &self.scopes,
            bearer_methods_supported: ["header"],
        };
        WellKnown::new(&self.resource, "oauth-protected-resource", &document)
            .ok_or_else(|| ConfigError::BadResourceUrl(without_userinfo(&self.resource)))
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
