//! A configuration that cannot work, refused before the first request.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A configuration that cannot work, refused by
/// [`SessionsBuilder::build`](crate::SessionsBuilder::build) or a [`Keys`](crate::Keys)
/// constructor instead of failing on a request.
///
/// A variant says which setting or key is wrong; where a parser or a dependency refused it,
/// its error is kept as the [`source`](Error::source). Two errors are equal when their
/// variant and named fields are: the source is not compared.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The HMAC secret is shorter than the hash output.
    SecretTooShort {
        /// Length given, in bytes.
        len: usize,
        /// Minimum length, in bytes.
        min: usize,
    },
    /// The algorithm does not belong to the constructor's key family (HS256 with a PEM key).
    WrongKeyFamily,
    /// A key could not be read or used.
    #[non_exhaustive]
    BadKey {
        /// Which key: the constructor and its argument (`Keys::ec_pem(public_pem)`), or the
        /// document.
        key: &'static str,
        /// What it should have been (`not a PEM EC public key (SPKI)`).
        reason: &'static str,
        /// The parser's own error, also given by [`source`](Error::source).
        source: Option<Arc<dyn Error + Send + Sync>>,
    },
    /// The private and public keys do not belong together.
    KeyMismatch,
    /// The access-token lifetime is longer than the refresh-token lifetime.
    AccessOutlivesRefresh,
    /// A lifetime of zero.
    ZeroLifetime,
    /// A lifetime over the longest one accepted.
    LifetimeTooLong {
        /// The longest lifetime accepted ([`limits::MAX_LIFETIME`](crate::limits::MAX_LIFETIME)).
        max: Duration,
    },
    /// A setting compared with token dates, which count in whole seconds, has a fraction of
    /// a second.
    FractionalSeconds {
        /// The builder method of the setting.
        setting: &'static str,
    },
    /// An idle timeout shorter than the touch debounce, which would end sessions in use.
    IdleShorterThanDebounce,
    /// A leeway over the largest one accepted.
    LeewayTooLarge {
        /// The largest leeway accepted ([`limits::MAX_LEEWAY`](crate::limits::MAX_LEEWAY)).
        max: Duration,
    },
    /// A route or cookie path that does not start with `/`, or holds `;` or whitespace.
    BadPath(String),
    /// A cache capacity or memory budget of zero (turn a cache off with `None` instead).
    ZeroCacheCapacity,
    /// A limit of zero backend calls in flight.
    ZeroBackendCalls,
    /// A limit of zero sessions per user: nobody could log in.
    ZeroSessionsPerUser,
    /// A key set of more than one key holds a key without a `kid`.
    MissingKid,
    /// Two keys of a set share a `kid`.
    DuplicateKid(String),
    /// The set has no key that signs (only public keys).
    NoSigningKey,
    /// A JWKS document was asked of a set holding an HMAC secret, which must never be
    /// published.
    SymmetricKeyInJwks,
    /// A verify-only layer was built outside a Tokio runtime, which its key fetches need.
    NoRuntime,
    /// The JWKS URL is not an `http` or `https` URL.
    #[non_exhaustive]
    BadJwksUrl {
        /// Why the URL did not parse, also given by [`source`](Error::source); `None` when it
        /// parsed with another scheme. Its text never holds the URL, which may carry
        /// credentials.
        source: Option<Arc<dyn Error + Send + Sync>>,
    },
    /// The introspection endpoint is not an `http` or `https` URL.
    #[non_exhaustive]
    BadIntrospectionUrl {
        /// Why the URL did not parse, also given by [`source`](Error::source); `None` when it
        /// parsed with another scheme. Its text never holds the URL.
        source: Option<Arc<dyn Error + Send + Sync>>,
    },
    /// An issuer without an issuer URL to discover from
    /// ([`Issuer::sessions`](crate::verifier::Issuer::sessions)) introspects without an
    /// [`endpoint`](crate::verifier::Introspection::endpoint).
    NoIntrospectionEndpoint,
    /// Two issuers of one verifier introspect: opaque tokens carry no `iss`, so only one
    /// can be asked about them. Names the second.
    SeveralIntrospectingIssuers(String),
    /// An issuer URL is not an `http` or `https` URL without query or fragment (shown
    /// without any user name or password it held).
    BadIssuerUrl(String),
    /// A resource identifier for RFC 9728 metadata is not an `http` or `https` URL without
    /// query or fragment (shown without any user name or password it held).
    BadResourceUrl(String),
    /// An [`Issuer::new`](crate::verifier::Issuer::new) was given another `iss`: it is
    /// identified by its URL, which its tokens and its metadata must name;
    /// [`Issuer::iss`](crate::verifier::Issuer::iss) is for `Issuer::sessions`.
    IssuerIss(String),
    /// An issuer's algorithms are empty, or include one that is not asymmetric (an HMAC
    /// secret cannot be published in a key set).
    BadAlgorithms,
    /// A verifier was given no issuer.
    NoIssuer,
    /// An RFC 9068 issuer was given no audience: a resource server must check that tokens
    /// are meant for it (RFC 9068 §4), so it must know its own identifier.
    NoAudience(String),
    /// Two issuers of one verifier have the same `iss`, or one of several has none (an
    /// [`Issuer::sessions`](crate::verifier::Issuer::sessions) without `iss`): the issuer of a
    /// token is chosen by its `iss`.
    AmbiguousIssuer(String),
    /// The HTTP client for the JWKS fetches could not be built (its TLS setup failed).
    #[non_exhaustive]
    HttpClient {
        /// reqwest's error, also given by [`source`](Error::source).
        source: Arc<dyn Error + Send + Sync>,
    },
    /// The refresh cookie's name is not an RFC 6265 token, or has the `__Host-` prefix
    /// without [`RefreshCookie::site_wide`](crate::RefreshCookie::site_wide).
    BadCookieName(String),
    /// The refresh cookie has no defence against cross-site request forgery: allow an
    /// origin or name a CSRF header.
    NoCsrfDefence,
    /// An allowed origin is not `http(s)://host[:port]`.
    BadOrigin(String),
    /// The CSRF header is one a browser sends by itself (`content-type`, `cookie`, `sec-*`,
    /// ...), which proves nothing: name a custom one such as `x-requested-with`.
    BadCsrfHeader(String),
    /// An MCP layer's base scope is empty or holds a space: it must be one scope.
    BadScope(String),
    /// An MCP layer's body limit of zero bytes: no request could be read.
    ZeroBodyLimit,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::SecretTooShort { len, min } => {
                write!(
                    f,
                    "the HMAC secret is {len} bytes; at least {min} are required"
                )
            }
            ConfigError::WrongKeyFamily => {
                f.write_str("the algorithm does not match the kind of key given")
            }
            ConfigError::BadKey { key, reason, .. } => write!(f, "bad key, {key}: {reason}"),
            ConfigError::KeyMismatch => f.write_str("the private and public keys do not match"),
            ConfigError::AccessOutlivesRefresh => {
                f.write_str("the access-token lifetime must not exceed the refresh-token lifetime")
            }
            ConfigError::ZeroLifetime => f.write_str("token lifetimes must be positive"),
            ConfigError::LifetimeTooLong { max } => write!(
                f,
                "token lifetimes must be at most {} days",
                max.as_secs() / 86_400
            ),
            ConfigError::FractionalSeconds { setting } => write!(
                f,
                "{setting} counts in whole seconds, as token dates do; give it without a fraction"
            ),
            ConfigError::IdleShorterThanDebounce => f.write_str(
                "the idle timeout must be at least the touch debounce, or sessions in use would end",
            ),
            ConfigError::LeewayTooLarge { max } => {
                write!(f, "the leeway must be at most {} seconds", max.as_secs())
            }
            ConfigError::BadPath(path) => write!(
                f,
                "the path {path:?} must start with '/' and hold no ';' or whitespace"
            ),
            ConfigError::ZeroCacheCapacity => {
                f.write_str("cache sizes must be positive; turn a cache off with None")
            }
            ConfigError::ZeroBackendCalls => {
                f.write_str("at least one session backend call must be allowed in flight")
            }
            ConfigError::ZeroSessionsPerUser => {
                f.write_str("a limit of sessions per user must allow at least one")
            }
            ConfigError::MissingKid => {
                f.write_str("every key of a set of more than one needs a kid (with_kid)")
            }
            ConfigError::DuplicateKid(kid) => write!(f, "two keys share the kid {kid:?}"),
            ConfigError::NoSigningKey => {
                f.write_str("the key set has no private key to sign tokens with")
            }
            ConfigError::SymmetricKeyInJwks => f.write_str(
                "a JWKS document would publish an HMAC secret: serve one only with asymmetric keys",
            ),
            ConfigError::NoRuntime => {
                f.write_str("build the verifier inside a Tokio runtime: it fetches keys in the background")
            }
            ConfigError::BadJwksUrl { .. } => {
                f.write_str("the JWKS URL must be an http or https URL")
            }
            ConfigError::BadIntrospectionUrl { .. } => {
                f.write_str("the introspection endpoint must be an http or https URL")
            }
            ConfigError::NoIntrospectionEndpoint => f.write_str(
                "an issuer without an issuer URL introspects only at an endpoint given to it",
            ),
            ConfigError::SeveralIntrospectingIssuers(issuer) => write!(
                f,
                "the issuer {issuer:?} introspects, and so does another: opaque tokens carry no \
                 iss, so at most one issuer of a verifier introspects"
            ),
            ConfigError::BadIssuerUrl(url) => write!(
                f,
                "the issuer {url:?} is not an http or https URL without query or fragment"
            ),
            ConfigError::BadResourceUrl(url) => write!(
                f,
                "the resource {url:?} is not an http or https URL without query or fragment"
            ),
            ConfigError::IssuerIss(iss) => write!(
                f,
                "an Issuer::new is identified by its URL; iss {iss:?} is for Issuer::sessions"
            ),
            ConfigError::BadAlgorithms => f.write_str(
                "an issuer's algorithms must be asymmetric JWS algorithms, at least one",
            ),
            ConfigError::NoIssuer => f.write_str("the verifier needs at least one issuer"),
            ConfigError::NoAudience(issuer) => write!(
                f,
                "the issuer {issuer:?} needs an audience: this resource's identifier, which its tokens must name"
            ),
            ConfigError::AmbiguousIssuer(issuer) => write!(
                f,
                "with several issuers each needs its own iss; {issuer:?} is not one"
            ),
            ConfigError::HttpClient { .. } => {
                f.write_str("the HTTP client for the JWKS fetches could not be built")
            }
            ConfigError::BadCookieName(name) => write!(
                f,
                "the cookie name {name:?} must be a token, and a __Host- name needs a site-wide cookie"
            ),
            ConfigError::NoCsrfDefence => f.write_str(
                "a refresh cookie needs an allowed origin or a CSRF header against cross-site requests",
            ),
            ConfigError::BadCsrfHeader(header) => write!(
                f,
                "the CSRF header {header:?} is one browsers send by themselves: name a custom one"
            ),
            ConfigError::BadOrigin(origin) => write!(
                f,
                "the allowed origin {origin:?} is not of the form http(s)://host[:port]"
            ),
            ConfigError::BadScope(scope) => {
                write!(f, "the scope {scope:?} must be one scope: not empty, no space")
            }
            ConfigError::ZeroBodyLimit => f.write_str("the body limit must allow at least one byte"),
        }
    }
}

impl ConfigError {
    /// A [`BadKey`](ConfigError::BadKey) for `map_err`, keeping the parser's error.
    pub(crate) fn bad_key<E: Error + Send + Sync + 'static>(
        key: &'static str,
        reason: &'static str,
    ) -> impl FnOnce(E) -> ConfigError {
        move |err| ConfigError::BadKey {
            key,
            reason,
            source: Some(Arc::new(err)),
        }
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ConfigError::BadKey {
                source: Some(source),
                ..
            }
            | ConfigError::BadJwksUrl {
                source: Some(source),
            }
            | ConfigError::BadIntrospectionUrl {
                source: Some(source),
            }
            | ConfigError::HttpClient { source } => Some(&**source),
            _ => None,
        }
    }
}

/// By variant and named fields; a source is an explanation, not part of what went wrong,
/// and `dyn Error` has no equality anyway.
impl PartialEq for ConfigError {
    fn eq(&self, other: &Self) -> bool {
        use ConfigError::*;
        match (self, other) {
            (SecretTooShort { len, min }, SecretTooShort { len: l, min: m }) => {
                len == l && min == m
            }
            (
                BadKey { key, reason, .. },
                BadKey {
                    key: k, reason: r, ..
                },
            ) => key == k && reason == r,
            (LifetimeTooLong { max }, LifetimeTooLong { max: m })
            | (LeewayTooLarge { max }, LeewayTooLarge { max: m }) => max == m,
            (FractionalSeconds { setting }, FractionalSeconds { setting: s }) => setting == s,
            (DuplicateKid(a), DuplicateKid(b))
            | (BadOrigin(a), BadOrigin(b))
            | (BadScope(a), BadScope(b))
            | (BadPath(a), BadPath(b))
            | (BadCookieName(a), BadCookieName(b))
            | (BadCsrfHeader(a), BadCsrfHeader(b))
            | (BadIssuerUrl(a), BadIssuerUrl(b))
            | (BadResourceUrl(a), BadResourceUrl(b))
            | (IssuerIss(a), IssuerIss(b))
            | (NoAudience(a), NoAudience(b))
            | (AmbiguousIssuer(a), AmbiguousIssuer(b))
            | (SeveralIntrospectingIssuers(a), SeveralIntrospectingIssuers(b)) => a == b,
            // Every variant with fields compared is matched above: the rest are equal when
            // they are the same variant (a new variant with fields needs its arm).
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for ConfigError {}
