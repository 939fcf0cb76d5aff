//! RFC 9728 protected resource metadata: how a client learns which issuers this resource
//! trusts and which scopes it knows, from the resource alone.

use serde::Serialize;

use super::Issuer;
use crate::dpop::Dpop;
use crate::error::{ConfigError, without_userinfo};
use crate::well_known::WellKnown;

/// The RFC 9728 document a [`Verifier`](super::Verifier)'s layer serves at
/// `/.well-known/oauth-protected-resource` (after the resource's path, if it has one):
/// `resource`, `authorization_servers` (every issuer whose `iss` is a URL), `scopes_supported` and
/// `bearer_methods_supported` (`header`: the layer reads tokens nowhere else); with
/// [`VerifierBuilder::dpop`](super::VerifierBuilder::dpop), `dpop_signing_alg_values_supported`,
/// and `dpop_bound_access_tokens_required: true` when [`Dpop::required`]. The verify-only
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
    at_root: bool,
}

impl ResourceMetadata {
    /// The document of the resource identified by `resource` (an `https` URL without query
    /// or fragment; `http` for a loopback test), usually the audience its tokens name.
    pub fn new(resource: impl Into<String>) -> Self {
        ResourceMetadata {
            resource: resource.into(),
            scopes: Vec::new(),
            at_root: false,
        }
    }

    /// The scopes clients may ask for this resource.
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Serves the same document (the same `resource`) at the root location
    /// `/.well-known/oauth-protected-resource` as well as after the resource's path, for
    /// clients that look there (MCP clients of the 2025-06-18 revision do); challenges keep
    /// naming the path-inserted URL.
    pub fn also_at_root(mut self) -> Self {
        self.at_root = true;
        self
    }

    /// The document, rendered, and its URL (for the challenges' `resource_metadata`); with
    /// DPoP on, it names the proof algorithms, and whether only DPoP-bound tokens are
    /// accepted.
    pub(super) fn served(
        &self,
        issuers: &[Issuer],
        dpop: Option<&Dpop>,
    ) -> Result<(WellKnown, String), ConfigError> {
        let document = Document {
            resource: &self.resource,
            authorization_servers: issuers
                .iter()
                .filter_map(|i| i.iss.as_deref())
                .filter(|iss| crate::well_known::split_identifier(iss).is_some())
                .collect(),
            scopes_supported: &self.scopes,
            bearer_methods_supported: ["header"],
            dpop_signing_alg_values_supported: dpop.map(Dpop::alg_names).unwrap_or_default(),
            // Omitted means false (RFC 9728 §2).
            dpop_bound_access_tokens_required: dpop.is_some_and(|dpop| dpop.required),
        };
        let bad = || ConfigError::BadResourceUrl(without_userinfo(&self.resource));
        let mut served = WellKnown::new(&self.resource, "oauth-protected-resource", &document)
            .ok_or_else(bad)?;
        if self.at_root {
            served.also_at_root = Some("/.well-known/oauth-protected-resource".to_owned());
        }
        let (origin, _) = crate::well_known::split_identifier(&self.resource).ok_or_else(bad)?;
        let url = format!("{origin}{}", served.path);
        Ok((served, url))
    }
}

#[derive(Serialize)]
struct Document<'a> {
    resource: &'a str,
    authorization_servers: Vec<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    scopes_supported: &'a [String],
    bearer_methods_supported: [&'static str; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens_required: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(dpop: Option<&Dpop>) -> serde_json::Value {
        let served = ResourceMetadata::new("https://api.example")
            .served(&[Issuer::new("https://idp.example").audience("a")], dpop)
            .unwrap()
            .0;
        serde_json::from_slice(served.respond(&http::Method::GET).body()).unwrap()
    }

    #[test]
    fn dpop_is_named_in_the_document_only_when_on() {
        let plain = document(None);
        assert_eq!(
            plain["bearer_methods_supported"],
            serde_json::json!(["header"])
        );
        assert!(plain.get("dpop_signing_alg_values_supported").is_none());
        assert!(plain.get("dpop_bound_access_tokens_required").is_none());

        let allowed = document(Some(&Dpop::allowed()));
        assert_eq!(
            allowed["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "ES384", "Ed25519", "EdDSA", "RS256", "PS256"])
        );
        // Omitted means false (RFC 9728 §2): Bearer still works.
        assert!(allowed.get("dpop_bound_access_tokens_required").is_none());

        let required = document(Some(&Dpop::required()));
        assert_eq!(required["dpop_bound_access_tokens_required"], true);
        assert!(required["dpop_signing_alg_values_supported"].is_array());
    }
}
