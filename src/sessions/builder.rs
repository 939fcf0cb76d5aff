//! Building [`Sessions`]: every knob, its default, and the checks that refuse a bad setup.
//!
//! Options that can be off take an `Option` (`None`: off); switches take a `bool`; rotation
//! is turned on by calling its method.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use tower_jwt_sessions_core::{ReplayBackend, RotatingBackend, SessionBackend, Users};

use super::Sessions;
use crate::access::{Policy, Shared};
use crate::capability::{Record, Rotate};
use crate::cookie::{CookieTransport, RefreshCookie};
use crate::error::{ConfigError, ErrorRenderer};
use crate::keys::{Jwks, Keys};
use crate::routes::{self, PublicRoute, Routes};
use crate::store::{Store, StoreConfig};
use crate::token::{TokenCache, TokenCodec};
use crate::user_cache::UserCache;

/// Builds [`Sessions`]; start with [`Sessions::builder`], which takes the required parts.
///
/// Every setting, its default and its meaning; they come in any order. Options that can be
/// off take an `Option` (`None`: off); every mistake is a [`ConfigError`](crate::ConfigError)
/// from `build()`, except a capability the backend lacks, which does not compile.
///
/// | builder method | default | meaning |
/// |---|---|---|
/// | [`Keys::hs256`] / [`Keys::hmac`](crate::Keys::hmac) / `rsa_pem` / `ec_pem` / `ed_pem` / `from_private_pem`, then `.verifying(retired)` | — | the signing key and the retired keys still accepted, each pinned to its algorithm and found by `kid`; secrets under 32 bytes and mismatched key pairs are refused |
/// | [`Sessions::builder(keys, backend, users)`](Sessions::builder) | required | the keys, the session backend and the user directory; a [`MemoryBackend`](crate::MemoryBackend) is both, given twice |
/// | `.access_ttl(d)` | [`defaults::ACCESS_TTL`](crate::defaults::ACCESS_TTL) (15 min) | access-token lifetime (never past the session's end) |
/// | `.refresh_ttl(d)` | [`defaults::REFRESH_TTL`](crate::defaults::REFRESH_TTL) (3 days) | refresh-token and session lifetime; must be >= `access_ttl` |
/// | `.idle_timeout(Some(d))` | off | end sessions unused for this long |
/// | `.leeway(d)` | [`defaults::LEEWAY`](crate::defaults::LEEWAY) (5 s) | clock skew allowed on `exp` and `nbf`, at most [`limits::MAX_LEEWAY`](crate::limits::MAX_LEEWAY) |
/// | `.issuer(s)` / `.audience(s)` | none | written into every token and required on every token |
/// | `.refresh_path(p)` | [`defaults::REFRESH_PATH`](crate::defaults::REFRESH_PATH) | matched with and without the trailing slash |
/// | `.public_path(p)` / `.public_route(m, p)` / `.public_prefix(p)` | none | requests that need no token |
/// | `.optional(true)` | off | no token: passes without claims; a bad token is still 401 |
/// | `.cache_capacity(n)` / `.cache_ttl(d)` | [`defaults::CACHE_CAPACITY`](crate::defaults::CACHE_CAPACITY) / [`defaults::CACHE_TTL`](crate::defaults::CACHE_TTL) | session cache; the TTL bounds how late a revocation made *outside* this process is seen |
/// | `.token_cache_bytes(Some(n))` | [`defaults::TOKEN_CACHE_BYTES`](crate::defaults::TOKEN_CACHE_BYTES) | verified-token cache budget; `None` turns it off |
/// | `.backend_timeout(Some(d))` / `.max_backend_calls(n)` | [`defaults::BACKEND_TIMEOUT`](crate::defaults::BACKEND_TIMEOUT) / [`defaults::MAX_BACKEND_CALLS`](crate::defaults::MAX_BACKEND_CALLS) | each backend call's timeout, and the calls in flight before refusing with 503 |
/// | `.touch_debounce(d)` | [`defaults::TOUCH_DEBOUNCE`](crate::defaults::TOUCH_DEBOUNCE) | at most one `last_accessed` write per session per window |
/// | `.max_sessions_per_user(Some(n))` | off | past `n` live sessions, the oldest end at login (`Some(1)`: one session per user) |
/// | `.revocation_budget(n)` | [`defaults::REVOCATION_BUDGET`](crate::defaults::REVOCATION_BUDGET) | revocations remembered at once; past it, sessions are checked in the backend (never forgotten) |
/// | `.jwks_path(Some(p))` / `.jwks_max_age(d)` | off / [`defaults::JWKS_MAX_AGE`](crate::defaults::JWKS_MAX_AGE) | publish the public keys (RFC 7517) for services that verify our tokens; refused with an HMAC secret |
/// | `.user_claims_ttl(Some(d))` | [`defaults::USER_CLAIMS_TTL`](crate::defaults::USER_CLAIMS_TTL) | one read of a user's claims serves every refresh of that user within it; `None` reads at every refresh |
/// | `.rotate_refresh_tokens(grace)` | off | every refresh also answers a new `refresh_token`; a retired one used again ends the session, except within `grace` (a second tab); for a [`RotatingBackend`](crate::RotatingBackend) |
/// | `.error_renderer(ErrorRenderer::default().with_realm(r))` | RFC 6750 JSON, no realm | how refusals look, and the realm of their challenges |
/// | `.refresh_cookie(RefreshCookie::new().allowed_origin(o))` | off (Bearer only) | the refresh token also in an `HttpOnly; Secure; SameSite=Strict` cookie, for browser apps, with a CSRF check; see the [`cookie`](crate::cookie) module |
/// | `.client_id(id)` | off | access tokens also carry `client_id` and a fresh `jti`, so that with `.issuer` and `.audience` they are complete RFC 9068 tokens |
/// | `.dpop(Dpop::allowed())` / `.dpop(Dpop::required())` | off | sessions bound to a client's key (RFC 9449), for a [`ReplayBackend`](crate::ReplayBackend); see the [`dpop`](crate::dpop) module |
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_sessions::{Keys, MemoryBackend, MachinableClaims, Sessions};
///
/// // In memory: sessions and users in one value, given as both.
/// let memory = MemoryBackend::<MachinableClaims>::new();
/// let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
/// let sessions = Sessions::builder(keys, memory.clone(), memory)
///     .access_ttl(Duration::from_secs(300))
///     .idle_timeout(Some(Duration::from_secs(24 * 3600)))
///     .public_path("/health")
///     .public_route(http::Method::POST, "/sessions/")
///     .build()?;
/// # Ok::<(), tower_jwt_sessions::ConfigError>(())
/// ```
///
/// A capability is offered where the backend's type has it: rotation for a
/// [`RotatingBackend`](crate::RotatingBackend), DPoP for a
/// [`ReplayBackend`](crate::ReplayBackend). Asked of a backend without it, the builder does not
/// compile, and the compiler says what is missing (here: "`Rows` cannot rotate refresh
/// tokens").
///
/// ```compile_fail,E0277
/// # use std::time::Duration;
/// # use tower_jwt_sessions::{BackendError, Keys, MemoryBackend, MachinableClaims, Session, SessionBackend, Sessions};
/// /// Session rows that cannot rotate: no compare-and-swap.
/// struct Rows;
/// impl SessionBackend for Rows {
///     // ...
/// #   async fn create(&self, _: Session) -> Result<(), BackendError> { Ok(()) }
/// #   async fn load(&self, _: &str) -> Result<Option<Session>, BackendError> { Ok(None) }
/// #   async fn revoke(&self, _: &str) -> Result<bool, BackendError> { Ok(false) }
/// #   async fn list(&self, _: &str, _: usize) -> Result<Vec<Session>, BackendError> { Ok(vec![]) }
/// #   async fn touch(&self, _: &str, _: u64) -> Result<(), BackendError> { Ok(()) }
/// }
/// let users = MemoryBackend::<MachinableClaims>::new();
/// let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
/// let sessions = Sessions::builder(keys, Rows, users)
///     .rotate_refresh_tokens(Duration::from_secs(10))
///     .build()?;
/// # Ok::<(), tower_jwt_sessions::ConfigError>(())
/// ```
#[must_use]
pub struct SessionsBuilder<S, U = S> {
    backend: Arc<S>,
    users: U,
    /// The backend's compare-and-swap, set by `rotate_refresh_tokens`.
    rotate: Option<Arc<dyn Rotate>>,
    /// The backend's one-time records, set by `dpop`.
    record: Option<Arc<dyn Record>>,
    settings: Settings,
}

/// Every knob but the backend, the users and their capabilities: what [`Settings::check`]
/// checks.
struct Settings {
    keys: Keys,
    access_ttl: Duration,
    refresh_ttl: Duration,
    idle_timeout: Option<Duration>,
    max_sessions_per_user: Option<usize>,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    client_id: Option<String>,
    refresh_path: String,
    jwks_path: Option<String>,
    jwks_max_age: Duration,
    public: Vec<PublicRoute>,
    optional: bool,
    cache_capacity: u64,
    cache_ttl: Duration,
    touch_debounce: Duration,
    user_claims_ttl: Option<Duration>,
    token_cache_bytes: Option<u64>,
    revocation_budget: usize,
    max_backend_calls: usize,
    backend_timeout: Option<Duration>,
    rotation: Option<Duration>,
    dpop: Option<crate::dpop::Dpop>,
    renderer: ErrorRenderer,
    cookie: Option<RefreshCookie>,
}

impl Settings {
    /// Every rule a configuration must keep, checked before anything is built; the first
    /// one broken is the error.
    fn check(&self) -> Result<(), ConfigError> {
        if self.access_ttl.is_zero() || self.refresh_ttl.is_zero() {
            return Err(ConfigError::ZeroLifetime);
        }
        if self.refresh_ttl > crate::limits::MAX_LIFETIME
            || self.access_ttl > crate::limits::MAX_LIFETIME
        {
            return Err(ConfigError::LifetimeTooLong {
                max: crate::limits::MAX_LIFETIME,
            });
        }
        self.check_seconds()?;
        if let Some(idle) = self.idle_timeout
            && idle < self.touch_debounce
        {
            // Uses are recorded once per debounce window: a shorter idle timeout would end
            // sessions that are in use.
            return Err(ConfigError::IdleShorterThanDebounce);
        }
        if self.access_ttl > self.refresh_ttl {
            return Err(ConfigError::AccessOutlivesRefresh);
        }
        if self.leeway > crate::limits::MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                max: crate::limits::MAX_LEEWAY,
            });
        }
        if self.cache_capacity == 0
            || self.token_cache_bytes == Some(0)
            || self.revocation_budget == 0
        {
            return Err(ConfigError::ZeroCacheCapacity);
        }
        if self.max_sessions_per_user == Some(0) {
            return Err(ConfigError::ZeroSessionsPerUser);
        }
        if self.max_backend_calls == 0 {
            return Err(ConfigError::ZeroBackendCalls);
        }
        if self.keys.signing().is_none() {
            return Err(ConfigError::NoSigningKey);
        }
        if self.jwks_path.is_some() {
            Jwks::check(&self.keys)?;
        }
        routes::check_paths(
            std::iter::once(self.refresh_path.as_str())
                .chain(self.jwks_path.as_deref())
                .chain(self.public.iter().map(PublicRoute::path)),
        )?;
        if let Some(cookie) = &self.cookie {
            cookie.check(routes::trim_slash(&self.refresh_path))?;
        }
        Ok(())
    }

    /// Settings compared with token dates count in whole seconds, as JWTs do; a fraction
    /// would be silently dropped (a 500 ms grace would be no grace), so it is refused.
    fn check_seconds(&self) -> Result<(), ConfigError> {
        let whole = [
            ("access_ttl", Some(self.access_ttl)),
            ("refresh_ttl", Some(self.refresh_ttl)),
            ("leeway", Some(self.leeway)),
            ("idle_timeout", self.idle_timeout),
            ("touch_debounce", Some(self.touch_debounce)),
            ("rotate_refresh_tokens", self.rotation),
        ];
        match whole
            .into_iter()
            .find(|(_, d)| d.is_some_and(|d| d.subsec_nanos() != 0))
        {
            Some((setting, _)) => Err(ConfigError::FractionalSeconds { setting }),
            None => self.dpop.as_ref().map_or(Ok(()), crate::dpop::Dpop::check),
        }
    }
}

impl<S, U> SessionsBuilder<S, U> {
    pub(crate) fn new(keys: Keys, backend: S, users: U) -> Self {
        SessionsBuilder {
            backend: Arc::new(backend),
            users,
            rotate: None,
            record: None,
            settings: Settings {
                keys,
                access_ttl: crate::defaults::ACCESS_TTL,
                refresh_ttl: crate::defaults::REFRESH_TTL,
                idle_timeout: None,
                max_sessions_per_user: None,
                leeway: crate::defaults::LEEWAY,
                issuer: None,
                audience: None,
                client_id: None,
                refresh_path: crate::defaults::REFRESH_PATH.to_owned(),
                jwks_path: None,
                jwks_max_age: crate::defaults::JWKS_MAX_AGE,
                public: Vec::new(),
                optional: false,
                cache_capacity: crate::defaults::CACHE_CAPACITY,
                cache_ttl: crate::defaults::CACHE_TTL,
                touch_debounce: crate::defaults::TOUCH_DEBOUNCE,
                user_claims_ttl: Some(crate::defaults::USER_CLAIMS_TTL),
                token_cache_bytes: Some(crate::defaults::TOKEN_CACHE_BYTES),
                revocation_budget: crate::defaults::REVOCATION_BUDGET,
                max_backend_calls: crate::defaults::MAX_BACKEND_CALLS,
                backend_timeout: Some(crate::defaults::BACKEND_TIMEOUT),
                rotation: None,
                dpop: None,
                renderer: ErrorRenderer::default(),
                cookie: None,
            },
        }
    }

    /// Access-token lifetime. Default 15 minutes.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.settings.access_ttl = ttl;
        self
    }

    /// Refresh-token lifetime, which is also the absolute lifetime of a session. Default 3 days.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.settings.refresh_ttl = ttl;
        self
    }

    /// Ends a session that has not refreshed for this long (RFC 9700 §4.14.2); `None` (the
    /// default) never does. Measured with the resolution of
    /// [`touch_debounce`](Self::touch_debounce).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// Most live sessions one user may hold; at a login past it, the oldest end (their
    /// refresh and access tokens stop). `Some(1)` is "one session per user". `None` (the
    /// default) sets no limit.
    pub fn max_sessions_per_user(mut self, max: Option<usize>) -> Self {
        self.settings.max_sessions_per_user = max;
        self
    }

    /// Clock-skew leeway for `exp` and `nbf`. Default 5 seconds, at most [`limits::MAX_LEEWAY`](crate::limits::MAX_LEEWAY).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.settings.leeway = leeway;
        self
    }

    /// Writes `iss` into every token and requires it on every token.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuer = Some(issuer.into());
        self
    }

    /// Writes `aud` into every token and requires it on every token.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.settings.audience = Some(audience.into());
        self
    }

    /// Writes `client_id` and a unique `jti` into every access token, the two claims RFC 9068
    /// requires beyond ours: with an [`issuer`](Self::issuer) URL and an
    /// [`audience`](Self::audience) too, access tokens are complete RFC 9068 tokens, which any
    /// resource server accepts. (With an issuer URL and a [`jwks_path`](Self::jwks_path), the
    /// layer serves its RFC 8414 metadata, with or without this, so that a resource server is
    /// configured from the issuer URL alone; without this, such a server refuses the tokens
    /// for lacking these two claims.) Off by default.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.settings.client_id = Some(client_id.into());
        self
    }

    /// The refresh route. Default `/sessions/refresh/`; matched with and without the trailing
    /// slash.
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.settings.refresh_path = path.into();
        self
    }

    /// Serves the public keys as a JWKS document (RFC 7517) on this path, for services that
    /// only verify our tokens; `None` (the default) serves none. Usually
    /// `Some(defaults::JWKS_PATH)`. Refused at `build()` when the set holds an HMAC secret.
    pub fn jwks_path(mut self, path: Option<impl Into<String>>) -> Self {
        self.settings.jwks_path = path.map(Into::into);
        self
    }

    /// `Cache-Control: public, max-age` of the JWKS document. Default 5 minutes. Keep a
    /// retired key in the set at least this long after the new one signs.
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.settings.jwks_max_age = max_age;
        self
    }

    /// A path that needs no token, for any method (`/health`). Matched with and without a
    /// trailing slash. Requests to it pass through untouched.
    pub fn public_path(mut self, path: impl Into<String>) -> Self {
        self.settings
            .public
            .push(PublicRoute::exact(None, path.into()));
        self
    }

    /// A path that needs no token for one method (`POST /sessions/` for the login).
    pub fn public_route(mut self, method: Method, path: impl Into<String>) -> Self {
        self.settings
            .public
            .push(PublicRoute::exact(Some(method), path.into()));
        self
    }

    /// Every path under a prefix needs no token: `/static` (or `/static/`) covers `/static`
    /// and `/static/app.js`, never `/staticfoo`.
    pub fn public_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings
            .public
            .push(PublicRoute::prefix(prefix.into()));
        self
    }

    /// Optional mode: a request without credentials passes through without claims, while a
    /// bad token is still refused with 401. Off by default.
    pub fn optional(mut self, optional: bool) -> Self {
        self.settings.optional = optional;
        self
    }

    /// Most sessions kept in the cache. Default 100 000.
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.settings.cache_capacity = capacity;
        self
    }

    /// Longest time a loaded session is trusted without asking the backend again; bounds how
    /// late a revocation made outside this process is seen. Default 30 seconds.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.settings.cache_ttl = ttl;
        self
    }

    /// Least time between two `touch` writes of one session. Default 60 seconds.
    pub fn touch_debounce(mut self, debounce: Duration) -> Self {
        self.settings.touch_debounce = debounce;
        self
    }

    /// How long one read of a user's claims serves every refresh of that user; `None` reads
    /// the directory at every refresh. Default 1 second: a burst of refreshes (or one client
    /// hammering the refresh route) costs one read, and a permission change or deactivation
    /// reaches the next access token within this window.
    pub fn user_claims_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.settings.user_claims_ttl = ttl;
        self
    }

    /// Memory budget, in bytes, of the verified-token cache; `None` turns it off. Default
    /// 32 MiB (about 25 000 tokens of 420 bytes, measured at about 1.3 KiB each all-in).
    ///
    /// A token verified twice is then accepted without another signature check, until its
    /// own `exp` and never longer (one verified once is only remembered: most tokens are
    /// used many times, and caching one used once costs more than verifying it). Keyed by
    /// the whole token: no other token can hit its entry.
    pub fn token_cache_bytes(mut self, bytes: Option<u64>) -> Self {
        self.settings.token_cache_bytes = bytes;
        self
    }

    /// Most revocations this process remembers at once, so that the revoked sessions'
    /// access tokens stop at once (about 150 bytes each). Default 100 000. A revocation past
    /// the budget is never dropped: until it would have expired, an access token whose
    /// session is not among those remembered is checked against the session itself (the
    /// session cache, then the backend), which is slower but never lets a revoked token in.
    pub fn revocation_budget(mut self, budget: usize) -> Self {
        self.settings.revocation_budget = budget;
        self
    }

    /// Most backend calls in flight at once; one more is refused at once with 503
    /// (`Retry-After`) instead of waiting. Concurrent loads of one session count once (they
    /// coalesce). Default 512.
    pub fn max_backend_calls(mut self, max: usize) -> Self {
        self.settings.max_backend_calls = max;
        self
    }

    /// Longest wait for one backend call; past it the request gets 503 (`Retry-After`) and
    /// nothing is cached. Default 2 seconds; `None` waits for ever. Works under any executor
    /// (a small timer thread wakes the waiting task).
    pub fn backend_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.backend_timeout = timeout;
        self
    }

    /// How refusals look, and the realm of their challenges:
    /// `.error_renderer(ErrorRenderer::default().with_realm("pet-demo"))`. Default
    /// [`ErrorRenderer::default`]: RFC 6750 JSON, no realm.
    pub fn error_renderer(mut self, renderer: ErrorRenderer) -> Self {
        self.settings.renderer = renderer;
        self
    }

    /// Carries the refresh token in an `HttpOnly` cookie as well as the Bearer header, for
    /// browser apps (see [`RefreshCookie`] and the [`cookie`](crate::cookie) module). Off by
    /// default.
    pub fn refresh_cookie(mut self, cookie: RefreshCookie) -> Self {
        self.settings.cookie = Some(cookie);
        self
    }

    /// Refresh-token rotation (RFC 9700 §4.14.2): every refresh also answers a new
    /// `refresh_token` and retires the one used. Presenting a retired token later is taken as
    /// theft and ends the whole session, except within `grace` of its retirement, when a second
    /// tab refreshing at the same moment gets the current tokens instead. Off by default;
    /// offered for backends that implement [`RotatingBackend`] (the memory, Redis and Postgres
    /// ones do).
    pub fn rotate_refresh_tokens(mut self, grace: Duration) -> Self
    where
        S: RotatingBackend,
    {
        self.rotate = Some(Arc::clone(&self.backend) as Arc<dyn Rotate>);
        self.settings.rotation = Some(grace);
        self
    }

    /// Sender-constrained sessions (RFC 9449): a login with a proof
    /// ([`Sessions::login_proof`](crate::Sessions::login_proof)) binds the session to the
    /// proof's key; its access tokens carry `cnf.jkt` and are accepted only with
    /// `Authorization: DPoP` and a proof by that key, its refreshes only with such a proof
    /// too. Every proof is accepted once, on every instance: its `jti` is recorded in the
    /// backend (503 when that fails, never a pass). [`Dpop::required`](crate::Dpop::required)
    /// refuses Bearer. Off by default; offered for backends that implement
    /// [`ReplayBackend`] (the memory, Redis and Postgres ones do).
    pub fn dpop(mut self, dpop: crate::dpop::Dpop) -> Self
    where
        S: ReplayBackend,
    {
        self.record = Some(Arc::clone(&self.backend) as Arc<dyn Record>);
        self.settings.dpop = Some(dpop);
        self
    }
}

impl<S: SessionBackend, U: Users> SessionsBuilder<S, U> {
    /// Checks the configuration and builds the shared handle.
    pub fn build(self) -> Result<Sessions<S, U>, ConfigError> {
        self.settings.check()?;
        Ok(self.assemble())
    }

    /// Puts the checked settings together; nothing here can fail.
    fn assemble(self) -> Sessions<S, U> {
        let settings = self.settings;
        let jwks = settings
            .jwks_path
            .as_ref()
            .map(|_| Jwks::new(&settings.keys, settings.jwks_max_age));
        // RFC 8414 metadata beside the keys, when the issuer is a URL.
        let issuer_metadata = match (&settings.jwks_path, &settings.issuer) {
            (Some(jwks_path), Some(issuer)) => crate::well_known::authorization_server(
                issuer,
                jwks_path,
                &settings.refresh_path,
                settings.dpop.as_ref().map(crate::dpop::Dpop::alg_names),
            ),
            _ => None,
        };
        let routes = Routes::new(
            &settings.refresh_path,
            settings.jwks_path.as_deref(),
            settings.public,
        )
        .with_metadata(issuer_metadata.as_ref().map(|m| m.path.as_str()));
        let cookie = settings
            .cookie
            .map(|cookie| CookieTransport::new(cookie, routes.refresh_path()));
        let renderer = match &settings.dpop {
            Some(dpop) => settings.renderer.with_dpop(dpop.required, dpop.algs()),
            None => settings.renderer,
        };
        let config = StoreConfig {
            max_in_flight: settings.max_backend_calls,
            timeout: settings.backend_timeout,
            cache_capacity: settings.cache_capacity,
            cache_ttl: settings.cache_ttl,
            // Past any entry a load racing the revocation could insert, and past every access
            // token minted before it (their `exp` plus the largest leeway).
            remember_revocations: settings
                .cache_ttl
                .saturating_mul(2)
                .saturating_add(Duration::from_secs(60))
                .max(
                    settings
                        .access_ttl
                        .saturating_add(crate::limits::MAX_LEEWAY),
                ),
            revocation_budget: settings.revocation_budget,
        };
        let store = Store::new(self.backend, self.rotate, self.record, config);
        store.watch_revocations();
        let shared = Shared {
            store,
            users: self.users,
            user_cache: settings
                .user_claims_ttl
                .filter(|ttl| !ttl.is_zero())
                .map(|ttl| UserCache::new(ttl, settings.cache_capacity)),
            codec: TokenCodec::new(
                settings.keys,
                settings.leeway,
                settings.issuer,
                settings.audience,
            )
            .with_client_id(settings.client_id),
            token_cache: settings.token_cache_bytes.map(TokenCache::new),
            routes,
            jwks,
            issuer_metadata,
            dpop: settings.dpop,
            renderer,
            policy: Policy {
                access_ttl: settings.access_ttl,
                refresh_ttl: settings.refresh_ttl,
                idle_timeout: settings.idle_timeout,
                max_sessions_per_user: settings.max_sessions_per_user,
                touch_debounce: settings.touch_debounce,
                optional: settings.optional,
                rotation: settings.rotation,
            },
            cookie,
        };
        Sessions::from_shared(Arc::new(shared))
    }
}

impl<S, U> fmt::Debug for SessionsBuilder<S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.settings;
        f.debug_struct("SessionsBuilder")
            .field("keys", &settings.keys)
            .field("access_ttl", &settings.access_ttl)
            .field("refresh_ttl", &settings.refresh_ttl)
            .field("leeway", &settings.leeway)
            .field("refresh_path", &settings.refresh_path)
            .field("optional", &settings.optional)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of every setting stays whole: each builder method is in it.
    #[test]
    fn every_builder_method_is_in_the_table_of_settings() {
        let source = include_str!("builder.rs");
        let table: String = source
            .lines()
            .filter(|line| line.starts_with("/// | "))
            .collect();
        let methods = source
            .lines()
            .filter_map(|line| line.trim().strip_prefix("pub fn "))
            .filter_map(|rest| rest.split(['(', '<']).next());
        let mut seen = 0;
        for method in methods.filter(|m| *m != "build") {
            seen += 1;
            assert!(
                table.contains(&format!(".{method}(")),
                "SessionsBuilder::{method} is missing from the table of settings"
            );
        }
        assert!(seen > 20, "only {seen} builder methods found");
    }

    type Memory = crate::MemoryBackend<crate::MachinableClaims>;

    fn keys() -> Keys {
        Keys::hs256([1u8; 32]).unwrap()
    }

    fn builder() -> SessionsBuilder<Memory> {
        let memory = Memory::new();
        Sessions::builder(keys(), memory.clone(), memory)
    }

    #[test]
    fn refuses_bad_setups() {
        let err = |b: SessionsBuilder<Memory>| b.build().err();
        assert_eq!(
            err(builder()
                .access_ttl(Duration::from_secs(10))
                .refresh_ttl(Duration::from_secs(5))),
            Some(ConfigError::AccessOutlivesRefresh)
        );
        assert_eq!(
            err(builder().leeway(Duration::from_secs(301))),
            Some(ConfigError::LeewayTooLarge {
                max: crate::limits::MAX_LEEWAY
            })
        );
        assert_eq!(
            err(builder().access_ttl(Duration::ZERO)),
            Some(ConfigError::ZeroLifetime)
        );
        assert_eq!(
            err(builder().refresh_path("refresh")),
            Some(ConfigError::BadPath("refresh".into()))
        );
        assert_eq!(
            err(builder().cache_capacity(0)),
            Some(ConfigError::ZeroCacheCapacity)
        );
        assert_eq!(
            err(builder().token_cache_bytes(Some(0))),
            Some(ConfigError::ZeroCacheCapacity)
        );
        assert!(builder().build().is_ok());
        assert!(builder().token_cache_bytes(None).build().is_ok());
    }

    #[test]
    fn huge_and_fractional_durations_are_config_errors_not_panics() {
        // Each of these once panicked or was silently truncated.
        assert!(builder().cache_ttl(Duration::MAX).build().is_ok());
        assert_eq!(
            builder()
                .refresh_ttl(Duration::MAX)
                .access_ttl(Duration::MAX)
                .build()
                .err(),
            Some(ConfigError::LifetimeTooLong {
                max: crate::limits::MAX_LIFETIME
            })
        );
        assert_eq!(
            builder()
                .rotate_refresh_tokens(Duration::from_millis(500))
                .build()
                .err(),
            Some(ConfigError::FractionalSeconds {
                setting: "rotate_refresh_tokens"
            })
        );
        assert_eq!(
            builder().leeway(Duration::from_millis(1500)).build().err(),
            Some(ConfigError::FractionalSeconds { setting: "leeway" })
        );
        assert_eq!(
            builder()
                .idle_timeout(Some(Duration::from_secs(30)))
                .build()
                .err(),
            Some(ConfigError::IdleShorterThanDebounce)
        );
        assert!(
            builder()
                .idle_timeout(Some(Duration::from_secs(30)))
                .touch_debounce(Duration::from_secs(10))
                .build()
                .is_ok()
        );
    }
}
