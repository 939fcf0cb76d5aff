//! Sender-constrained access tokens (DPoP, RFC 9449): a token bound to a key (`cnf.jkt`) is
//! accepted only with a fresh proof, signed by that key, of the request it comes with.
//!
//! ```
//! use tower_jwt_sessions::Dpop;
//! // DPoP and Bearer clients both served; a bound token is never accepted as Bearer.
//! let allowed = Dpop::allowed();
//! // Bearer refused; proofs carry a nonce the server hands out (no store round trip).
//! let strict = Dpop::required().nonces(b"a secret every instance shares, 32 bytes+");
//! ```
//!
//! Each proof is checked as RFC 9449 §4.3 says: one `DPoP` header holding a JWS with `typ`
//! `dpop+jwt`, an asymmetric algorithm of the allow-list, a signature by the public `jwk` of
//! its header (which must hold no private key), `htm` the request's method, `htu` its URL
//! without query and fragment, `iat` within the proof lifetime, `ath` the hash of the access
//! token, the key's RFC 7638 thumbprint equal to the token's `cnf.jkt`, and the server's
//! `nonce` when nonces are on. A proof's `jti` is accepted once (§11.1).

use std::time::Duration;

use jsonwebtoken::Algorithm;

mod hash;
mod nonce;
mod proof;
mod replay;

#[cfg(feature = "jwks")]
pub(crate) use hash::sha256;
pub(crate) use nonce::Nonces;
pub(crate) use proof::{Proof, check};
pub(crate) use replay::replay_key;
#[cfg(feature = "jwks")]
pub(crate) use replay::{Recorded, Replays};

/// The kind of an access token, as OAuth names it (`token_type`, RFC 6749 §7.1) and as the
/// `Authorization` scheme it is sent with: what [`IssuedTokens::token_type`](crate::IssuedTokens::token_type)
/// and the refresh answer say, and how the layer read a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenType {
    /// RFC 6750: whoever holds the token may use it.
    Bearer,
    /// RFC 9449: the token is bound to a key, and each request comes with a proof by it.
    Dpop,
}

impl TokenType {
    /// `Bearer` or `DPoP`, as the wire writes them.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::Dpop => "DPoP",
        }
    }
}

impl std::fmt::Display for TokenType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TokenType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What a login's DPoP proof bound (RFC 9449 §5): the thumbprint of the key it proved, or
/// nothing when the login came without a proof. Made by
/// [`Sessions::login_proof`](crate::Sessions::login_proof) once the proof is checked and
/// recorded; [`bind`](Self::bind) puts it into the new session's meta, so that only a checked
/// key ever gets there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DpopBinding {
    dpop_jkt: Option<String>,
}

impl DpopBinding {
    pub(crate) fn to_key(dpop_jkt: String) -> Self {
        DpopBinding {
            dpop_jkt: Some(dpop_jkt),
        }
    }

    /// The RFC 7638 thumbprint of the proven key; `None` for an unbound login.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// `meta` for a session bound to this key ([`SessionMeta::dpop_jkt`](crate::SessionMeta::dpop_jkt)),
    /// or unbound as it was.
    pub fn bind(self, meta: crate::SessionMeta) -> crate::SessionMeta {
        crate::SessionMeta {
            dpop_jkt: self.dpop_jkt.or(meta.dpop_jkt),
            ..meta
        }
    }
}

/// How a layer treats DPoP (RFC 9449); give it to
/// [`SessionsBuilder::dpop`](crate::SessionsBuilder::dpop) or
/// [`VerifierBuilder::dpop`](crate::VerifierBuilder::dpop). See the [module docs](self) and
/// the [DPoP guide](crate::guide::dpop).
#[derive(Clone)]
#[must_use]
pub struct Dpop {
    pub(crate) required: bool,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) lifetime: Duration,
    pub(crate) nonces: Option<Nonces>,
    /// The origins clients reach this server at (`https://api.example`): `htu` must name one
    /// of them. Empty: the request's own scheme and `Host`.
    pub(crate) origins: Vec<String>,
}

impl Dpop {
    /// DPoP and Bearer clients both served: a token bound to a key needs its proof, an
    /// unbound one is a Bearer token as before.
    pub fn allowed() -> Self {
        Dpop {
            required: false,
            algorithms: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::RS256,
                Algorithm::PS256,
            ],
            lifetime: crate::defaults::DPOP_PROOF_LIFETIME,
            nonces: None,
            origins: Vec::new(),
        }
    }

    /// Only DPoP: Bearer credentials and unbound tokens are refused.
    pub fn required() -> Self {
        Dpop {
            required: true,
            ..Dpop::allowed()
        }
    }

    /// The algorithms a proof may be signed with (asymmetric ones only; others are ignored).
    /// Default ES256, ES384, EdDSA, RS256, PS256; named in challenges as `algs`, EdDSA under
    /// both its names (`Ed25519`, RFC 9864's, and `EdDSA`), each of which a proof may use.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms
            .into_iter()
            .filter(|alg| !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        self
    }

    /// How far a proof's `iat` may be from the server's clock, either way; its `jti` is
    /// remembered for twice that. Default [`defaults::DPOP_PROOF_LIFETIME`](crate::defaults::DPOP_PROOF_LIFETIME).
    /// Whole seconds, as `iat` counts, and at least one: the layer's `build` refuses a
    /// fraction ([`ConfigError::FractionalSeconds`](crate::ConfigError::FractionalSeconds))
    /// or zero ([`ConfigError::ZeroLifetime`](crate::ConfigError::ZeroLifetime)), as it does
    /// for its own settings.
    pub fn proof_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Refuses a proof lifetime that `iat`, counted in whole seconds, cannot honour.
    pub(crate) fn check(&self) -> Result<(), crate::ConfigError> {
        if self.lifetime.is_zero() {
            return Err(crate::ConfigError::ZeroLifetime);
        }
        if self.lifetime.subsec_nanos() != 0 {
            return Err(crate::ConfigError::FractionalSeconds {
                setting: "Dpop::proof_lifetime",
            });
        }
        Ok(())
    }

    /// The origins clients reach this server at (`https://api.example`, scheme and host,
    /// with the port unless it is the scheme's default): a proof's `htu` must name one of
    /// them and the request's path. Without them, `htu` is compared with the request's own
    /// authority (its `Host`), which a client chooses: behind a proxy, or where another
    /// service could be sent the same proof, set them.
    pub fn origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.origins = origins
            .into_iter()
            .map(|origin| origin.into().trim_end_matches('/').to_ascii_lowercase())
            .collect();
        self
    }

    /// Server nonces (§8): every proof must carry one, derived from `secret` and the minute
    /// (the current or the previous one is accepted), so that no instance keeps any state and
    /// every instance sharing the secret accepts the others'. A proof without a current one
    /// gets 401 `use_dpop_nonce` with a fresh `DPoP-Nonce` header.
    pub fn nonces(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.nonces = Some(Nonces::new(secret.as_ref()));
        self
    }

    /// Until when a proof checked at `now` must be remembered: it passes while its `iat` is
    /// within the lifetime of the clock, either way, so past the last second it could pass.
    pub(crate) fn remember_until(&self, now: u64) -> u64 {
        now.saturating_add(self.lifetime.as_secs().saturating_mul(2))
            .saturating_add(1)
    }

    /// `algs="..."` of the challenges: the names of the algorithms, space-separated.
    pub(crate) fn algs(&self) -> String {
        self.alg_names().join(" ")
    }

    /// The JWA names proofs may use, for challenges and metadata: EdDSA as both `Ed25519`
    /// (RFC 9864) and `EdDSA`.
    pub(crate) fn alg_names(&self) -> Vec<&'static str> {
        self.algorithms
            .iter()
            .flat_map(|alg| crate::keys::algorithm_names(*alg))
            .collect()
    }
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("required", &self.required)
            .field("algorithms", &self.algorithms)
            .field("lifetime", &self.lifetime)
            .field("nonces", &self.nonces.is_some())
            .field("origins", &self.origins)
            .finish()
    }
}

/// Whether a token may be used with the scheme it came with, and the proof to record when it
/// is a bound one (RFC 9449 §7.1): a bound token only with DPoP and a proof by its key, an
/// unbound one only as Bearer, and Bearer not at all when DPoP is required. Without DPoP
/// configured, bound tokens are refused (no proof could be checked) and the DPoP scheme is
/// never seen (it is read as no credentials).
pub(crate) fn bind(
    dpop: Option<&Dpop>,
    scheme: TokenType,
    token: &[u8],
    bound: Option<&str>,
    request: &http::Request<impl Sized>,
) -> Result<Option<Proof>, crate::error::AuthError> {
    use crate::error::refusals::{
        BOUND_AS_BEARER, DPOP_REQUIRED, PROOF_OTHER_KEY, UNBOUND_AS_DPOP,
    };
    match (dpop, scheme, bound) {
        (_, TokenType::Bearer, Some(_)) => Err(BOUND_AS_BEARER),
        (Some(dpop), TokenType::Bearer, None) if dpop.required => Err(DPOP_REQUIRED),
        (_, TokenType::Bearer, None) => Ok(None),
        (_, TokenType::Dpop, None) | (None, TokenType::Dpop, Some(_)) => Err(UNBOUND_AS_DPOP),
        (Some(dpop), TokenType::Dpop, Some(jkt)) => {
            let proof = check(
                dpop,
                request.headers(),
                request.method(),
                request.uri(),
                Some(token),
                crate::clock::unix_now(),
            )?;
            if proof.dpop_jkt != jkt {
                crate::telemetry::dpop_proof(Err(&PROOF_OTHER_KEY));
                return Err(PROOF_OTHER_KEY);
            }
            Ok(Some(proof))
        }
    }
}

/// The answer to a proof's record, counted: the first use passes, a replay is refused, and a
/// record that could not be made (`None`) is a 503, never a pass.
pub(crate) fn settle(first_use: Option<bool>) -> Result<(), crate::error::AuthError> {
    use crate::error::refusals::{BACKEND_UNAVAILABLE, PROOF_REPLAYED};
    let recorded = match first_use {
        Some(true) => Ok(()),
        Some(false) => Err(PROOF_REPLAYED),
        None => return Err(BACKEND_UNAVAILABLE),
    };
    crate::telemetry::dpop_proof(recorded.as_ref().map(|_| ()));
    recorded
}
