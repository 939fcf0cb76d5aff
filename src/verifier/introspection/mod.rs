//! Opaque access tokens, and any token when asked: the issuer says whether it is active
//! (RFC 7662 token introspection), and its answer is cached for a bounded time.
//!
//! The rules are the public [`Introspection`]'s docs.

use std::fmt;
use std::time::Duration;

use crate::Keys;

mod answer;
mod cache;
mod call;
mod feed;
mod introspector;

pub(crate) use feed::{Announce, EvictionSink};
pub(crate) use introspector::{Introspector, Pending, digest};

/// Longest a negative answer (inactive, expired, another audience) is cached.
pub(crate) const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// How a [`Verifier`](super::Verifier) introspects an issuer's tokens (RFC 7662): the client
/// credentials it authenticates with, the endpoint, which tokens, and how long answers are
/// kept. Given to [`Issuer::introspection`](super::Issuer::introspection).
///
/// - **Which tokens**: every token of the introspecting issuer that is not a JWS (not
///   exactly three base64url segments: a five-segment JWE-shaped token is introspected too),
///   or every token of that issuer with [`always`](Introspection::always). Opaque tokens
///   carry no `iss`, so at most one issuer of a verifier introspects.
/// - **The answer** (RFC 7662 §2.2): `active: true` gives the claims (`sub`, `scope`,
///   `client_id`, `exp`, `iat`, `nbf`, `aud`, `iss`, `cnf`, `acr`, `auth_time`, and the
///   app's own, deserialized into its claim type as from a JWT); anything else is a 401
///   `invalid_token`. A present `iss` must be the issuer, a present `aud` must name this
///   resource, `exp` and `nbf` are checked with the leeway, and `cnf.jkt` binds the token to
///   a DPoP key exactly as a JWT's does.
/// - **The issuer's faults are never a 401**: the endpoint down, a timeout, an error status
///   (a 401 to our client credentials included), an answer that is not a JSON object: 503
///   with `Retry-After`, logged once until a call succeeds, never cached. Answers already
///   cached are still served until their time is up.
/// - **The cache** is keyed by (issuer, introspection URL, SHA-256 of the token), never the
///   token itself. A positive answer is kept for at most the [`ttl`](Introspection::ttl)
///   (default 60 s) and never past the token's `exp`; a negative one for at most 5 s.
///   Concurrent first requests with one token make one call. Entries are weighed and
///   bounded by the verifier's [`token_cache_bytes`](super::VerifierBuilder::token_cache_bytes)
///   (`None` turns this cache off too).
/// - **What the TTL costs**: a token revoked at the issuer is still accepted here for up to
///   the TTL. A TTL of 0 asks the issuer on every request. An app that learns of a revocation
///   itself (its own logout) evicts the answer at once with
///   [`Verifier::evict_everywhere`](super::Verifier::evict_everywhere): on every instance
///   through a shared backend's revocation feed
///   ([`VerifierBuilder::eviction_feed`](super::VerifierBuilder::eviction_feed)), else here.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_sessions::verifier::{Introspection, Issuer};
///
/// let issuer = Issuer::new("https://sso.example")
///     .audience("https://api.example")
///     .introspection(
///         Introspection::client_secret_basic("api", "s3cret")
///             .ttl(Duration::from_secs(30)),
///     );
/// ```
///
/// `Debug` shows the client id and the settings, never the secret or the key.
#[derive(Clone)]
#[must_use]
pub struct Introspection {
    pub(crate) client_id: String,
    pub(crate) auth: ClientAuth,
    pub(crate) endpoint: Option<String>,
    pub(crate) always: bool,
    pub(crate) ttl: Duration,
    pub(crate) timeout: Duration,
}

/// How the client authenticates to the introspection endpoint.
#[derive(Clone)]
pub(crate) enum ClientAuth {
    /// RFC 6749 §2.3.1: HTTP Basic with the form-encoded id and secret.
    SecretBasic(String),
    /// RFC 7523 §2.2: a JWT signed by the client's private key.
    PrivateKeyJwt(Keys),
}

impl Introspection {
    /// Authenticates with `client_secret_basic` (RFC 6749 §2.3.1): HTTP Basic with the id
    /// and secret form-encoded before base64.
    pub fn client_secret_basic(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Introspection::with(client_id.into(), ClientAuth::SecretBasic(secret.into()))
    }

    /// Authenticates with `private_key_jwt` (RFC 7523): a short-lived JWT signed by the
    /// client's private key (an asymmetric [`Keys`], for example
    /// [`Keys::from_private_pem`]; its `kid` goes into the header), with `iss` and `sub` the
    /// client id and `aud` the issuer.
    pub fn private_key_jwt(client_id: impl Into<String>, key: Keys) -> Self {
        Introspection::with(client_id.into(), ClientAuth::PrivateKeyJwt(key))
    }

    fn with(client_id: String, auth: ClientAuth) -> Self {
        Introspection {
            client_id,
            auth,
            endpoint: None,
            always: false,
            ttl: crate::defaults::INTROSPECTION_TTL,
            timeout: crate::defaults::INTROSPECTION_TIMEOUT,
        }
    }

    /// The introspection endpoint. Default: the `introspection_endpoint` of the issuer's
    /// metadata (RFC 8414 discovery, as for its keys).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Introspects every token of this issuer, JWTs too, instead of verifying JWTs with the
    /// issuer's keys: a token revoked at the issuer then stops within the
    /// [`ttl`](Self::ttl). Only for issuers that introspect their JWTs (node-oidc-provider
    /// refuses to, with a 400, which is then a 503 here). Off by default.
    pub fn always(mut self, always: bool) -> Self {
        self.always = always;
        self
    }

    /// How long an active answer is trusted without asking again, at most (never past the
    /// token's `exp`): a token revoked at the issuer is accepted here for up to this long.
    /// `Duration::ZERO` turns caching off, negative answers included. Whole seconds.
    /// Default [`defaults::INTROSPECTION_TTL`](crate::defaults::INTROSPECTION_TTL).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Longest wait for one introspection call; past it the request gets 503. Default
    /// [`defaults::INTROSPECTION_TIMEOUT`](crate::defaults::INTROSPECTION_TIMEOUT).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn check(&self) -> Result<(), crate::ConfigError> {
        use crate::ConfigError;
        if self.ttl.subsec_nanos() != 0 {
            return Err(ConfigError::FractionalSeconds {
                setting: "Introspection::ttl",
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroLifetime);
        }
        if let ClientAuth::PrivateKeyJwt(keys) = &self.auth
            && !call::can_sign_assertions(keys)
        {
            return Err(ConfigError::WrongKeyFamily);
        }
        Ok(())
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match self.auth {
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
        };
        f.debug_struct("Introspection")
            .field("client_id", &self.client_id)
            .field("auth", &auth)
            .field("always", &self.always)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
