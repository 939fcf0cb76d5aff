//! Building [`Sessions`]: every knob, its default, and the checks that refuse a bad setup.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::backend::{Guarded, MemoryBackend, SessionBackend};
use crate::cache::SessionCache;
use crate::error::ErrorRenderer;
use crate::keys::Keys;
use crate::routes::{PublicRoute, Routes};
use crate::sessions::{Sessions, Shared};
use crate::token::TokenCodec;
use crate::token_cache::TokenCache;

/// Default access-token lifetime: 15 minutes, as Machinable.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Default refresh-token (and session) lifetime: 3 days, as Machinable.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(3 * 24 * 60 * 60);
/// Default clock-skew leeway on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
/// The largest leeway accepted: more would keep expired tokens alive for long.
pub const MAX_LEEWAY: Duration = Duration::from_secs(5 * 60);
/// Default memory budget of the verified-token cache: 32 MiB.
pub const DEFAULT_TOKEN_CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Default limit of session-backend calls in flight.
pub const DEFAULT_MAX_BACKEND_CALLS: usize = 512;
/// Default timeout of one session-backend call.
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(2);
/// Default refresh route.
pub const DEFAULT_REFRESH_PATH: &str = "/sessions/refresh/";

/// A configuration that cannot work, refused by [`SessionsBuilder::build`] or a [`Keys`]
/// constructor instead of failing on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The key could not be parsed.
    BadKey,
    /// The private and public keys do not belong together.
    KeyMismatch,
    /// The access-token lifetime is longer than the refresh-token lifetime.
    AccessOutlivesRefresh,
    /// A lifetime of zero.
    ZeroLifetime,
    /// A leeway over [`MAX_LEEWAY`].
    LeewayTooLarge,
    /// A route path that does not start with `/`.
    BadPath,
    /// A cache capacity of zero.
    ZeroCacheCapacity,
    /// A limit of zero backend calls in flight.
    ZeroBackendCalls,
    /// Rotation was asked of a backend without [`SessionBackend::rotate`].
    RotationUnsupported,
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
            ConfigError::BadKey => f.write_str("the key could not be parsed"),
            ConfigError::KeyMismatch => f.write_str("the private and public keys do not match"),
            ConfigError::AccessOutlivesRefresh => {
                f.write_str("the access-token lifetime must not exceed the refresh-token lifetime")
            }
            ConfigError::ZeroLifetime => f.write_str("token lifetimes must be positive"),
            ConfigError::LeewayTooLarge => write!(
                f,
                "the leeway must be at most {} seconds",
                MAX_LEEWAY.as_secs()
            ),
            ConfigError::BadPath => f.write_str("route paths must start with '/'"),
            ConfigError::ZeroCacheCapacity => {
                f.write_str("the session cache capacity must be positive")
            }
            ConfigError::ZeroBackendCalls => {
                f.write_str("at least one session backend call must be allowed in flight")
            }
            ConfigError::RotationUnsupported => {
                f.write_str("refresh-token rotation needs a session backend that implements rotate")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Builds [`Sessions`]; start with [`Sessions::builder`].
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_sessions::{Keys, MemoryBackend, MachinableClaims, Sessions};
///
/// let sessions = Sessions::builder(Keys::hs256(b"a secret of at least thirty-two bytes!")?)
///     .backend(MemoryBackend::<MachinableClaims>::new())
///     .access_ttl(Duration::from_secs(300))
///     .public_path("/health")
///     .public_route(http::Method::POST, "/sessions/")
///     .build()?;
/// # Ok::<(), tower_jwt_sessions::ConfigError>(())
/// ```
#[must_use]
pub struct SessionsBuilder<B = MemoryBackend> {
    keys: Keys,
    backend: B,
    access_ttl: Duration,
    refresh_ttl: Duration,
    idle_timeout: Option<Duration>,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    refresh_path: String,
    public: Vec<PublicRoute>,
    optional: bool,
    cache_capacity: u64,
    cache_ttl: Duration,
    touch_debounce: Duration,
    token_cache_bytes: u64,
    max_backend_calls: usize,
    backend_timeout: Option<Duration>,
    rotation: Option<Duration>,
    realm: Option<String>,
    renderer: Option<ErrorRenderer>,
}

impl SessionsBuilder<MemoryBackend> {
    pub(crate) fn new(keys: Keys) -> Self {
        SessionsBuilder {
            keys,
            backend: MemoryBackend::new(),
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            idle_timeout: None,
            leeway: DEFAULT_LEEWAY,
            issuer: None,
            audience: None,
            refresh_path: DEFAULT_REFRESH_PATH.to_owned(),
            public: Vec::new(),
            optional: false,
            cache_capacity: 100_000,
            cache_ttl: Duration::from_secs(30),
            touch_debounce: Duration::from_secs(60),
            token_cache_bytes: DEFAULT_TOKEN_CACHE_BYTES,
            max_backend_calls: DEFAULT_MAX_BACKEND_CALLS,
            backend_timeout: Some(DEFAULT_BACKEND_TIMEOUT),
            rotation: None,
            realm: None,
            renderer: None,
        }
    }
}

impl<B> SessionsBuilder<B> {
    /// The session store. Defaults to an empty [`MemoryBackend`] of [`MachinableClaims`](crate::MachinableClaims).
    pub fn backend<B2>(self, backend: B2) -> SessionsBuilder<B2> {
        SessionsBuilder {
            keys: self.keys,
            backend,
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            idle_timeout: self.idle_timeout,
            leeway: self.leeway,
            issuer: self.issuer,
            audience: self.audience,
            refresh_path: self.refresh_path,
            public: self.public,
            optional: self.optional,
            cache_capacity: self.cache_capacity,
            cache_ttl: self.cache_ttl,
            touch_debounce: self.touch_debounce,
            token_cache_bytes: self.token_cache_bytes,
            max_backend_calls: self.max_backend_calls,
            backend_timeout: self.backend_timeout,
            rotation: self.rotation,
            realm: self.realm,
            renderer: self.renderer,
        }
    }

    /// Access-token lifetime. Default 15 minutes.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh-token lifetime, which is also the absolute lifetime of a session. Default 3 days.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Ends a session that has not refreshed for this long (RFC 9700 §4.14.2). Off by default;
    /// measured with the resolution of [`touch_debounce`](Self::touch_debounce).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Clock-skew leeway for `exp` and `nbf`. Default 5 seconds, at most 5 minutes.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Writes `iss` into every token and requires it on every token.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Writes `aud` into every token and requires it on every token.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The refresh route. Default `/sessions/refresh/`; matched with and without the trailing
    /// slash.
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// A path that needs no token, for any method (`/health`). Matched with and without a
    /// trailing slash. Requests to it pass through untouched.
    pub fn public_path(mut self, path: impl Into<String>) -> Self {
        self.public.push(PublicRoute::exact(None, path.into()));
        self
    }

    /// A path that needs no token for one method (`POST /sessions/` for the login).
    pub fn public_route(mut self, method: Method, path: impl Into<String>) -> Self {
        self.public
            .push(PublicRoute::exact(Some(method), path.into()));
        self
    }

    /// Every path under a prefix needs no token (`/static/`).
    pub fn public_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.public.push(PublicRoute::prefix(prefix.into()));
        self
    }

    /// Optional mode: a request without credentials passes through without claims, while a
    /// bad token is still refused with 401. Off by default.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// Most sessions kept in the cache. Default 100 000.
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Longest time a loaded session is trusted without asking the backend again; bounds how
    /// late a revocation made outside this process is seen. Default 30 seconds.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Least time between two `touch` writes of one session. Default 60 seconds.
    pub fn touch_debounce(mut self, debounce: Duration) -> Self {
        self.touch_debounce = debounce;
        self
    }

    /// Memory budget, in bytes, of the verified-token cache; `0` turns it off. Default 32 MiB
    /// (about 25 000 tokens of 420 bytes, measured at about 1.3 KiB each all-in).
    ///
    /// A token seen before is then accepted without a second signature check, until its own
    /// `exp` and never longer. Keyed by the whole token: no other token can hit its entry.
    pub fn token_cache_bytes(mut self, bytes: u64) -> Self {
        self.token_cache_bytes = bytes;
        self
    }

    /// Most session-backend calls in flight at once; one more is refused at once with 503
    /// (`Retry-After`) instead of waiting. Concurrent loads of one session count once (they
    /// coalesce). Default 512.
    pub fn max_backend_calls(mut self, max: usize) -> Self {
        self.max_backend_calls = max;
        self
    }

    /// Longest wait for one session-backend call; past it the request gets 503 (`Retry-After`)
    /// and nothing is cached. Default 2 seconds; `None` waits for ever. Works under any
    /// executor (a small timer thread wakes the waiting task).
    pub fn backend_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.backend_timeout = timeout;
        self
    }

    /// Refresh-token rotation (RFC 9700 §4.14.2): every refresh also answers a new
    /// `refresh_token` and retires the one used. Presenting a retired token later is taken as
    /// theft and ends the whole session, except within `grace` of its retirement, when a second
    /// tab refreshing at the same moment gets the current tokens instead. Off by default;
    /// needs a backend with [`SessionBackend::rotate`].
    pub fn rotate_refresh_tokens(mut self, grace: Duration) -> Self {
        self.rotation = Some(grace);
        self
    }

    /// The realm named in every `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Replaces the rendering of refusals (the realm is then yours to add).
    pub fn error_renderer(mut self, renderer: ErrorRenderer) -> Self {
        self.renderer = Some(renderer);
        self
    }

    /// Checks the configuration and builds the shared handle.
    pub fn build(self) -> Result<Sessions<B>, ConfigError>
    where
        B: SessionBackend,
    {
        if self.access_ttl.is_zero() || self.refresh_ttl.is_zero() {
            return Err(ConfigError::ZeroLifetime);
        }
        if self.access_ttl > self.refresh_ttl {
            return Err(ConfigError::AccessOutlivesRefresh);
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge);
        }
        if self.cache_capacity == 0 {
            return Err(ConfigError::ZeroCacheCapacity);
        }
        if self.max_backend_calls == 0 {
            return Err(ConfigError::ZeroBackendCalls);
        }
        if self.rotation.is_some() && !B::SUPPORTS_ROTATION {
            return Err(ConfigError::RotationUnsupported);
        }
        let routes = Routes::new(&self.refresh_path, self.public)?;
        let renderer = self
            .renderer
            .unwrap_or_else(|| ErrorRenderer::default_with_realm(self.realm));
        let shared = Shared {
            codec: TokenCodec::new(self.keys, self.leeway, self.issuer, self.audience),
            cache: SessionCache::new(self.cache_capacity, self.cache_ttl, self.access_ttl),
            backend: Guarded::new(self.backend, self.max_backend_calls, self.backend_timeout),
            routes,
            renderer,
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            idle_timeout: self.idle_timeout,
            touch_debounce: self.touch_debounce,
            optional: self.optional,
            rotation: self.rotation,
            token_cache: (self.token_cache_bytes > 0)
                .then(|| TokenCache::new(self.token_cache_bytes)),
        };
        Ok(Sessions::from_shared(Arc::new(shared)))
    }
}

impl<B> fmt::Debug for SessionsBuilder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("keys", &self.keys)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("leeway", &self.leeway)
            .field("refresh_path", &self.refresh_path)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sessions;

    fn keys() -> Keys {
        Keys::hs256([1u8; 32]).unwrap()
    }

    #[test]
    fn refuses_bad_setups() {
        let err = |b: SessionsBuilder| b.build().err();
        assert_eq!(
            err(Sessions::builder(keys())
                .access_ttl(Duration::from_secs(10))
                .refresh_ttl(Duration::from_secs(5))),
            Some(ConfigError::AccessOutlivesRefresh)
        );
        assert_eq!(
            err(Sessions::builder(keys()).leeway(Duration::from_secs(301))),
            Some(ConfigError::LeewayTooLarge)
        );
        assert_eq!(
            err(Sessions::builder(keys()).access_ttl(Duration::ZERO)),
            Some(ConfigError::ZeroLifetime)
        );
        assert_eq!(
            err(Sessions::builder(keys()).refresh_path("refresh")),
            Some(ConfigError::BadPath)
        );
        assert_eq!(
            err(Sessions::builder(keys()).cache_capacity(0)),
            Some(ConfigError::ZeroCacheCapacity)
        );
        assert!(Sessions::builder(keys()).build().is_ok());
    }
}
