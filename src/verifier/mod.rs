//! Verify-only mode, for resource servers: no signing key, no session backend; access tokens
//! verified against the issuer's JWKS document with the same checks and the same
//! [`Claims`] as the full layer (feature `jwks`).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_jwt_sessions::{MachinableClaims, Verifier};
//!
//! let verifier = Verifier::<MachinableClaims>::builder("https://issuer.example/.well-known/jwks.json")
//!     .public_path("/health")
//!     .build()?;
//! // Router::new().route("/me", get(me)).layer(verifier.layer())
//! # Ok(()) }
//! ```
//!
//! - **Startup never fails on the issuer**: the first fetch runs in the background; until
//!   keys arrive, requests with a token get 503 (with `Retry-After`), never 401.
//! - **The last good set is kept** when a fetch fails. The set is fetched again every
//!   `max-age` of the document (between the cooldown and an hour), and at once when a token
//!   names a `kid` the set lacks, at most once per cooldown (default 30 s) and one fetch at a
//!   time, so a flood of made-up `kid`s costs the issuer one request per cooldown.
//! - **Only trustworthy keys**: `alg` must match `kty` and curve; `none`, symmetric keys,
//!   keys meant for encryption and `kid`s that two keys share are never taken from a
//!   document ([`Keys::from_jwks`](crate::Keys::from_jwks)).
//! - **Only the issuer's document**: a redirect is followed only within the origin of the
//!   JWKS URL, and a document is refused past 1 MiB as it streams in, `Content-Length` or
//!   not. A failed fetch is logged once (at `warn`) until one succeeds.
//! - **A removed key stops at once**: when a fetch drops a key of the set (the issuer's
//!   answer to a stolen key), every token verified so far is forgotten by the
//!   verified-token cache, so none signed by that key passes again.
//! - **Revocation**: tokens are verified locally and live until `exp`, as with any
//!   JWT-only resource server. For instant revocation, run the full layer on the same shared
//!   store instead: its revocation feed reaches every instance.
//! - The client is reqwest with rustls on aws-lc-rs, already the crypto backend here: no
//!   OpenSSL, and TLS to the issuer with the platform's roots.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::error::refusals::UNKNOWN_KEY;
use crate::error::{AuthError, ConfigError, ErrorRenderer};

use crate::routes::{PublicRoute, Routes};
use crate::token::{Claims, TokenCache, TokenCodec};

mod fetch;
mod service;

pub use service::{VerifierLayer, VerifierService};

/// Verifies access tokens of another service's issuer; see the [module docs](self).
pub struct Verifier<C> {
    shared: Arc<Shared>,
    _claims: PhantomData<fn() -> C>,
}

pub(crate) struct Shared {
    url: String,
    client: reqwest::Client,
    /// The codec of the last good key set; `None` until the first fetch succeeds.
    codec: RwLock<Option<Arc<TokenCodec>>>,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    cooldown: Duration,
    last_fetch: Mutex<Option<Instant>>,
    in_flight: AtomicBool,
    /// The last fetch failed (logged once, until a fetch succeeds).
    failing: AtomicBool,
    runtime: tokio::runtime::Handle,
    pub(crate) token_cache: Option<TokenCache>,
    pub(crate) routes: Routes,
    pub(crate) renderer: ErrorRenderer,
    pub(crate) optional: bool,
}

/// Configures a [`Verifier`]; start with [`Verifier::builder`].
#[must_use]
pub struct VerifierBuilder<C> {
    url: String,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    cooldown: Duration,
    timeout: Duration,
    public: Vec<PublicRoute>,
    optional: bool,
    token_cache_bytes: Option<u64>,
    renderer: ErrorRenderer,
    _claims: PhantomData<fn() -> C>,
}

impl<C> Verifier<C> {
    /// Starts a configuration for the issuer whose JWKS document is at `jwks_url`.
    pub fn builder(jwks_url: impl Into<String>) -> VerifierBuilder<C> {
        VerifierBuilder {
            url: jwks_url.into(),
            leeway: crate::defaults::LEEWAY,
            issuer: None,
            audience: None,
            cooldown: crate::defaults::REFETCH_COOLDOWN,
            timeout: Duration::from_secs(5),
            public: Vec::new(),
            optional: false,
            token_cache_bytes: Some(crate::defaults::TOKEN_CACHE_BYTES),
            renderer: ErrorRenderer::default(),
            _claims: PhantomData,
        }
    }

    /// The layer that verifies access tokens on every protected request.
    pub fn layer(&self) -> VerifierLayer<C> {
        VerifierLayer::new(Arc::clone(&self.shared))
    }

    /// Whether keys have arrived: `false` until the first fetch succeeds (requests with a
    /// token then get 503). For a readiness probe.
    pub fn has_keys(&self) -> bool {
        self.shared
            .codec
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Verifier<C> {
    /// Verifies an access token as the layer does.
    pub fn verify(&self, token: &str) -> Result<Claims<C>, AuthError> {
        self.shared.verify(token)
    }
}

impl<C> Clone for Verifier<C> {
    fn clone(&self) -> Self {
        Verifier {
            shared: Arc::clone(&self.shared),
            _claims: PhantomData,
        }
    }
}

impl<C> fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("jwks_url", &self.shared.url)
            .field("has_keys", &self.has_keys())
            .finish_non_exhaustive()
    }
}

impl<C> VerifierBuilder<C> {
    /// Clock-skew leeway for `exp` and `nbf`. Default 5 seconds, at most [`limits::MAX_LEEWAY`](crate::limits::MAX_LEEWAY).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires this `iss` on every token.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires this `aud` on every token.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Least time between two fetches made for unknown `kid`s (and between retries while no
    /// key has arrived). Default [`defaults::REFETCH_COOLDOWN`](crate::defaults::REFETCH_COOLDOWN).
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Longest wait for one fetch of the document. Default 5 seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A path that needs no token, for any method.
    pub fn public_path(mut self, path: impl Into<String>) -> Self {
        self.public.push(PublicRoute::exact(None, path.into()));
        self
    }

    /// Every path under a prefix needs no token (whole segments).
    pub fn public_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.public.push(PublicRoute::prefix(prefix.into()));
        self
    }

    /// Optional mode: a request without credentials passes without claims.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// Memory budget of the verified-token cache; `None` turns it off. Default 32 MiB.
    pub fn token_cache_bytes(mut self, bytes: Option<u64>) -> Self {
        self.token_cache_bytes = bytes;
        self
    }

    /// How refusals look, and the realm of their challenges:
    /// `.error_renderer(ErrorRenderer::default().with_realm("pets"))`, as for
    /// [`SessionsBuilder::error_renderer`](crate::SessionsBuilder::error_renderer). Default
    /// [`ErrorRenderer::default`]: RFC 6750 JSON, no realm.
    pub fn error_renderer(mut self, renderer: ErrorRenderer) -> Self {
        self.renderer = renderer;
        self
    }

    /// Checks the configuration and starts fetching the keys in the background; needs a
    /// Tokio runtime. An unreachable issuer is not an error here: requests get 503 until
    /// its keys arrive.
    pub fn build(self) -> Result<Verifier<C>, ConfigError> {
        if self.leeway > crate::limits::MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                max: crate::limits::MAX_LEEWAY,
            });
        }
        if self.token_cache_bytes == Some(0) {
            return Err(ConfigError::ZeroCacheCapacity);
        }
        // Tokio's error says only that there is no runtime, which the variant says.
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .redirect(fetch::same_origin_redirects())
            .build()
            .map_err(|err| ConfigError::HttpClient {
                source: Arc::new(err.without_url()),
            })?;
        // A parse error names what is wrong (no host, a bad port), never the URL itself.
        let url = reqwest::Url::parse(&self.url).map_err(|err| ConfigError::BadJwksUrl {
            source: Some(Arc::new(err)),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::BadJwksUrl { source: None });
        }
        let shared = Arc::new(Shared {
            url: self.url,
            client,
            codec: RwLock::new(None),
            leeway: self.leeway,
            issuer: self.issuer,
            audience: self.audience,
            cooldown: self.cooldown,
            last_fetch: Mutex::new(None),
            in_flight: AtomicBool::new(false),
            failing: AtomicBool::new(false),
            runtime: runtime.clone(),
            token_cache: self.token_cache_bytes.map(TokenCache::new),
            routes: Routes::public_only(self.public)?,
            renderer: self.renderer,
            optional: self.optional,
        });
        runtime.spawn(fetch::keep_fresh(Arc::downgrade(&shared)));
        Ok(Verifier {
            shared,
            _claims: PhantomData,
        })
    }
}

impl Shared {
    pub(crate) fn verify<C: DeserializeOwned + Send + Sync + 'static>(
        self: &Arc<Self>,
        token: &str,
    ) -> Result<Claims<C>, AuthError> {
        if let Some(claims) = self.token_cache.as_ref().and_then(|c| c.get(token)) {
            return Ok(claims);
        }
        // Before the keys: a result verified with keys replaced meanwhile is not cached.
        let generation = self.token_cache.as_ref().map(TokenCache::generation);
        let codec = self.codec.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(codec) = codec else {
            self.refetch_soon();
            return Err(AuthError::Unavailable);
        };
        match codec.verify_access::<C>(token) {
            Ok(claims) => {
                let claims = Claims::new(claims, &self.renderer);
                if let (Some(cache), Some(generation)) = (&self.token_cache, generation) {
                    cache.insert_shared(token, &claims, generation);
                }
                Ok(claims)
            }
            Err(err) => {
                if err == UNKNOWN_KEY {
                    // Perhaps the issuer rotated: look again, at most once per cooldown.
                    self.refetch_soon();
                }
                Err(err)
            }
        }
    }

    /// Starts a fetch unless one ran within the cooldown or one is running.
    fn refetch_soon(self: &Arc<Self>) {
        {
            let mut last = self.last_fetch.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < self.cooldown) {
                return;
            }
            if self.in_flight.swap(true, Ordering::AcqRel) {
                return;
            }
            *last = Some(Instant::now());
        }
        let shared = Arc::clone(self);
        self.runtime.spawn(async move {
            let _ = shared.fetch().await;
            shared.in_flight.store(false, Ordering::Release);
        });
    }

    /// One fetch; the new set replaces the old only if it parses. Returns the document's
    /// `max-age`, if it said one. A fetch that fails is logged once, until one succeeds.
    async fn fetch(&self) -> Result<Option<Duration>, ()> {
        let (keys, max_age) = match fetch::jwks(&self.client, &self.url).await {
            Ok(fetched) => {
                self.failing.store(false, Ordering::Relaxed);
                fetched
            }
            Err(err) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    crate::warn_event!(
                        "JWKS fetch failed, keeping the last good key set: {}",
                        crate::error::Chain(&err)
                    );
                }
                return Err(());
            }
        };
        let codec = Arc::new(TokenCodec::new(
            keys,
            self.leeway,
            self.issuer.clone(),
            self.audience.clone(),
        ));
        let old = self
            .codec
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .replace(Arc::clone(&codec));
        // A key left the set (the issuer's answer to a stolen key): whatever it verified
        // must not pass again from the cache. Keys only added keep the cache.
        if let (Some(old), Some(cache)) = (old, &self.token_cache)
            && !codec.keys().keeps_every_key_of(old.keys())
        {
            cache.forget_all();
        }
        Ok(max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_jwks_url_keeps_why_and_never_the_url() {
        use std::error::Error;
        let err = Verifier::<serde_json::Value>::builder("https://user:pw@:0/jwks")
            .build()
            .err()
            .unwrap();
        assert!(matches!(err, ConfigError::BadJwksUrl { .. }), "{err:?}");
        let why = err.source().expect("the parser's error").to_string();
        assert!(
            !why.contains("pw") && !format!("{err:?}").contains("pw"),
            "{why}"
        );
        let err = Verifier::<serde_json::Value>::builder("ftp://issuer.example/jwks")
            .build()
            .err()
            .unwrap();
        assert_eq!(err, ConfigError::BadJwksUrl { source: None });
    }
}
