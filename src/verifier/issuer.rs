//! One issuer a verifier trusts: where its keys are, and what its tokens must say.

use std::fmt;

use jsonwebtoken::Algorithm;

use crate::error::{ConfigError, without_userinfo};

/// The asymmetric algorithms an RFC 9068 issuer's keys may use unless narrowed with
/// [`Issuer::algorithms`]. Never `none`, never an HMAC secret (a public document cannot hold
/// one safely).
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An issuer whose access tokens a [`Verifier`](super::Verifier) accepts: its identifier, where
/// its keys are published, and what its tokens must say.
///
/// - [`Issuer::new`]: any OAuth 2.0 authorization server or OpenID provider (Keycloak, Auth0,
///   Okta, Entra ID, node-oidc-provider, this crate's own layer with a
///   [`client_id`](crate::SessionsBuilder::client_id)): its tokens follow
///   RFC 9068 (`typ` `at+jwt`; `iss`, `exp`, `aud`, `sub`, `iat`, `jti`, `client_id`), and its
///   keys are found by discovery from its URL.
/// - [`Issuer::sessions`]: a [`Sessions`](crate::Sessions) layer's own tokens (with `sid` and
///   `token_use`), from its JWKS URL.
///
/// ```
/// use tower_jwt_sessions::Algorithm;
/// use tower_jwt_sessions::verifier::Issuer;
///
/// let keycloak = Issuer::new("https://sso.example/realms/pets")
///     .audience("https://api.example")
///     .algorithms([Algorithm::RS256])
///     .allow_jwt_typ(true);
/// ```
#[derive(Clone)]
#[must_use]
pub struct Issuer {
    pub(super) kind: Kind,
    pub(super) iss: Option<String>,
    pub(super) audience: Option<String>,
    pub(super) algorithms: Option<Vec<Algorithm>>,
    pub(super) allow_jwt_typ: bool,
    pub(super) introspection: Option<super::Introspection>,
}

#[derive(Clone)]
pub(super) enum Kind {
    /// RFC 9068 tokens of the issuer at `url`; keys by discovery unless a JWKS URL is given.
    Rfc9068 {
        url: String,
        jwks_url: Option<String>,
    },
    /// This crate's tokens, keys at this JWKS URL.
    Sessions { jwks_url: String },
}

impl Issuer {
    /// An issuer of RFC 9068 access tokens, identified by its issuer URL (exactly as its
    /// tokens' `iss` and its metadata's `issuer` write it). Its JWKS URL is found by RFC 8414
    /// discovery (`/.well-known/oauth-authorization-server`), else OpenID Connect discovery
    /// (`/.well-known/openid-configuration`); a document whose `issuer` differs from this one
    /// in any byte is not used (RFC 8414 §3.3). Needs an [`audience`](Self::audience).
    pub fn new(issuer_url: impl Into<String>) -> Self {
        let issuer = issuer_url.into();
        Issuer {
            kind: Kind::Rfc9068 {
                url: issuer.clone(),
                jwks_url: None,
            },
            iss: Some(issuer),
            audience: None,
            algorithms: None,
            allow_jwt_typ: false,
            introspection: None,
        }
    }

    /// A [`Sessions`](crate::Sessions) layer's own access tokens, verified with the keys of
    /// its JWKS document (its [`jwks_path`](crate::SessionsBuilder::jwks_path)), with the
    /// same checks as the layer itself. Give it the layer's
    /// [`iss`](Self::iss) and [`audience`](Self::audience) when the layer sets them.
    pub fn sessions(jwks_url: impl Into<String>) -> Self {
        Issuer {
            kind: Kind::Sessions {
                jwks_url: jwks_url.into(),
            },
            iss: None,
            audience: None,
            algorithms: None,
            allow_jwt_typ: false,
            introspection: None,
        }
    }

    /// The `iss` every token of an [`Issuer::sessions`] must carry: the layer's
    /// [`issuer`](crate::SessionsBuilder::issuer), required when the verifier has several
    /// issuers. An [`Issuer::new`] is identified by its URL; another `iss` on it is refused
    /// at build.
    pub fn iss(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// The identifier of this resource, which every token's `aud` must name (RFC 9068 §4).
    /// Required for [`Issuer::new`].
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Skips discovery: the issuer's keys are at this URL.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        match &mut self.kind {
            Kind::Rfc9068 { jwks_url, .. } => *jwks_url = Some(url.into()),
            Kind::Sessions { jwks_url } => *jwks_url = url.into(),
        }
        self
    }

    /// The algorithms this issuer's tokens may be signed with; its keys of other algorithms
    /// are not used. Default: every asymmetric JWS algorithm (RS*, PS*, ES256, ES384,
    /// EdDSA); never `none` or HMAC.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Also accepts tokens whose `typ` is `JWT` or absent, and without `jti` or
    /// `client_id`, for issuers that predate RFC 9068 (Keycloak before 26, Entra ID v1
    /// tokens). Off by default. What it gives up: explicit typing (RFC 8725 §3.11). Any
    /// other JWT the issuer signs with the same keys, an ID token above all, then passes as
    /// an access token when its `aud` names this resource; keep this off unless the issuer
    /// cannot write `at+jwt`, and give this resource an audience no client shares.
    pub fn allow_jwt_typ(mut self, allow: bool) -> Self {
        self.allow_jwt_typ = allow;
        self
    }

    /// Introspects this issuer's opaque tokens (and, with
    /// [`Introspection::always`](super::Introspection::always), its JWTs) at its RFC 7662
    /// endpoint instead of verifying them with its keys. At most one issuer of a verifier
    /// introspects. See [`Introspection`](super::Introspection).
    pub fn introspection(mut self, introspection: super::Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// The algorithms keys are taken for: `None` takes each key's own `alg` (this crate's
    /// documents always carry one).
    pub(super) fn allowed(&self) -> Option<&[Algorithm]> {
        match (&self.kind, &self.algorithms) {
            (_, Some(algorithms)) => Some(algorithms),
            (Kind::Rfc9068 { .. }, None) => Some(&ASYMMETRIC),
            (Kind::Sessions { .. }, None) => None,
        }
    }

    /// Whether this is an RFC 9068 issuer, whose URL is an authorization server's.
    pub(super) fn is_rfc9068(&self) -> bool {
        matches!(self.kind, Kind::Rfc9068 { .. })
    }

    /// The JWKS URL given or, for an RFC 9068 issuer without one, `None` (discovery).
    pub(super) fn given_jwks_url(&self) -> Option<&str> {
        match &self.kind {
            Kind::Rfc9068 { jwks_url, .. } => jwks_url.as_deref(),
            Kind::Sessions { jwks_url } => Some(jwks_url),
        }
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if let Some(url) = self.given_jwks_url() {
            check_url(url).map_err(|source| ConfigError::BadJwksUrl { source })?;
        }
        if let Some(algorithms) = &self.algorithms
            && (algorithms.is_empty() || algorithms.iter().any(|a| !ASYMMETRIC.contains(a)))
        {
            return Err(ConfigError::BadAlgorithms);
        }
        if let Some(introspection) = &self.introspection {
            introspection.check()?;
            match &introspection.endpoint {
                Some(url) => {
                    check_url(url).map_err(|source| ConfigError::BadIntrospectionUrl { source })?;
                }
                // Only an issuer URL can be discovered.
                None if !self.is_rfc9068() => return Err(ConfigError::NoIntrospectionEndpoint),
                None => {}
            }
        }
        if let Kind::Rfc9068 { url: issuer, .. } = &self.kind {
            match self.iss.as_deref() {
                Some(iss) if iss == issuer => {}
                other => return Err(ConfigError::IssuerIss(other.unwrap_or_default().to_owned())),
            }
            if crate::well_known::split_identifier(issuer).is_none() {
                return Err(ConfigError::BadIssuerUrl(without_userinfo(issuer)));
            }
            if self.audience.is_none() {
                return Err(ConfigError::NoAudience(without_userinfo(issuer)));
            }
        }
        Ok(())
    }
}

/// An `http` or `https` URL; a parse error names what is wrong, never the URL itself (it
/// may carry credentials).
type UrlProblem = Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>;

fn check_url(url: &str) -> Result<(), UrlProblem> {
    let parsed = reqwest::Url::parse(url).map_err(|err| Some(std::sync::Arc::new(err) as _))?;
    if matches!(parsed.scheme(), "http" | "https") {
        Ok(())
    } else {
        Err(None)
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("iss", &self.iss)
            .field("audience", &self.audience)
            .field("rfc9068", &self.is_rfc9068())
            .field("allow_jwt_typ", &self.allow_jwt_typ)
            .field("introspection", &self.introspection)
            .finish_non_exhaustive()
    }
}
