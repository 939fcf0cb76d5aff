//! [`VerifierBuilder`]: every setting of a [`Verifier`], checked at [`build`](VerifierBuilder::build).

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::introspection::{Announce, EvictionSink, Introspector};
use super::{Fetches, Issuer, ResourceMetadata, Shared, Source, Verifier, fetch};
use crate::capability::Record;
use crate::dpop::{Dpop, Replays};
use crate::error::{ConfigError, ErrorRenderer, without_userinfo};
use crate::routes::{self, PublicRoute, Routes};
use crate::token::TokenCache;

/// Configures a [`Verifier`]; start with [`Verifier::builder`].
#[must_use]
pub struct VerifierBuilder<C> {
    issuers: Vec<Issuer>,
    leeway: Duration,
    cooldown: Duration,
    timeout: Duration,
    public: Vec<PublicRoute>,
    optional: bool,
    token_cache_bytes: Option<u64>,
    renderer: ErrorRenderer,
    metadata: Option<ResourceMetadata>,
    dpop: Option<Dpop>,
    record: Option<Arc<dyn Record>>,
    eviction_feed: Option<(Arc<dyn Announce>, FeedWatch)>,
    _claims: PhantomData<fn() -> C>,
}

/// Subscribes a sink to a backend's revocation feed.
type FeedWatch = Box<dyn FnOnce(Arc<EvictionSink>) + Send>;

impl<C> Verifier<C> {
    /// Starts a configuration; give it one or more [`issuer`](VerifierBuilder::issuer)s.
    pub fn builder() -> VerifierBuilder<C> {
        VerifierBuilder {
            issuers: Vec::new(),
            leeway: crate::defaults::LEEWAY,
            cooldown: crate::defaults::REFETCH_COOLDOWN,
            timeout: crate::defaults::FETCH_TIMEOUT,
            public: Vec::new(),
            optional: false,
            token_cache_bytes: Some(crate::defaults::TOKEN_CACHE_BYTES),
            renderer: ErrorRenderer::default(),
            metadata: None,
            dpop: None,
            record: None,
            eviction_feed: None,
            _claims: PhantomData,
        }
    }
}

impl<C> VerifierBuilder<C> {
    /// An issuer whose tokens are accepted; call once per issuer.
    pub fn issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Clock-skew leeway for `exp` and `nbf`. Default 5 seconds, at most [`limits::MAX_LEEWAY`](crate::limits::MAX_LEEWAY).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Least time after a successful fetch before a token naming an unknown `kid` may start
    /// another, per issuer (a failed fetch is retried after a second whatever this is). Default [`defaults::REFETCH_COOLDOWN`](crate::defaults::REFETCH_COOLDOWN).
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Longest wait for one fetch of a document. Default [`defaults::FETCH_TIMEOUT`](crate::defaults::FETCH_TIMEOUT).
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

    /// Serves this resource's RFC 9728 metadata (its `authorization_servers` are the issuers
    /// whose `iss` is an `http(s)` URL), and names its URL in every 401 challenge
    /// (`resource_metadata="..."`).
    pub fn resource_metadata(mut self, metadata: ResourceMetadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sender-constrained tokens (RFC 9449): tokens bound to a key (`cnf.jkt`) are accepted
    /// only with `Authorization: DPoP` and a proof by that key; [`Dpop::required`] refuses
    /// Bearer altogether. Proof `jti`s are remembered in this process. Off by default: a
    /// bound token is then refused, since no proof could be checked.
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// Records DPoP proofs in `backend` (Redis, Postgres, ...) instead of this process, so
    /// that a proof is accepted once across every instance of the resource server; a record
    /// that fails is a 503, never a pass.
    pub fn dpop_replay(mut self, backend: impl crate::ReplayBackend) -> Self {
        self.record = Some(Arc::new(backend));
        self
    }

    /// Carries [`Verifier::evict_everywhere`] to every instance through `backend`'s
    /// revocation feed (Redis, Postgres, ...: the backend every instance shares), so that an
    /// introspected token the app learns is revoked stops on every instance at once. While
    /// the feed is down, cached introspection answers are not served (the issuer is asked).
    /// The backend's feed is subscribed once, here: give each verifier a backend of its own.
    pub fn eviction_feed<B: tower_jwt_sessions_core::SessionBackend>(mut self, backend: B) -> Self {
        let backend = Arc::new(backend);
        let watcher = Arc::clone(&backend);
        self.eviction_feed = Some((
            backend,
            Box::new(move |sink: Arc<EvictionSink>| watcher.watch_revocations(sink)),
        ));
        self
    }

    /// Checks the configuration and starts fetching every issuer's keys in the background;
    /// needs a Tokio runtime. An unreachable issuer is not an error here: requests with its
    /// tokens get 503 until its keys arrive.
    pub fn build(self) -> Result<Verifier<C>, ConfigError> {
        if self.leeway > crate::limits::MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                max: crate::limits::MAX_LEEWAY,
            });
        }
        if let Some(dpop) = &self.dpop {
            dpop.check()?;
        }
        if self.token_cache_bytes == Some(0) {
            return Err(ConfigError::ZeroCacheCapacity);
        }
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        let mut opaque = None;
        for (i, issuer) in self.issuers.iter().enumerate() {
            issuer.check()?;
            if issuer.introspection.is_some() {
                if opaque.is_some() {
                    return Err(ConfigError::SeveralIntrospectingIssuers(without_userinfo(
                        issuer.iss.as_deref().unwrap_or_default(),
                    )));
                }
                opaque = Some(i);
            }
            // With several, a token's issuer is found by its `iss`: each needs its own.
            if self.issuers.len() > 1 {
                let iss = issuer.iss.as_deref();
                let taken = self.issuers[..i].iter().any(|o| o.iss.as_deref() == iss);
                if iss.is_none() || taken {
                    return Err(ConfigError::AmbiguousIssuer(
                        iss.unwrap_or_default().to_owned(),
                    ));
                }
            }
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
        let metadata = match &self.metadata {
            Some(metadata) => Some(metadata.served(&self.issuers, self.dpop.as_ref())?),
            None => None,
        };
        let (metadata, renderer) = match metadata {
            Some((served, url)) => (Some(served), self.renderer.with_resource_metadata(url)),
            None => (None, self.renderer),
        };
        let renderer = match &self.dpop {
            Some(dpop) => renderer.with_dpop(dpop.required, dpop.algs()),
            None => renderer,
        };
        routes::check_paths(self.public.iter().map(PublicRoute::path))?;
        let sources = self
            .issuers
            .into_iter()
            .map(|issuer| Source {
                introspector: issuer.introspection.clone().map(|introspection| {
                    Introspector::new(
                        introspection,
                        issuer.iss.as_deref().unwrap_or_default(),
                        issuer.audience.clone(),
                        self.token_cache_bytes,
                    )
                }),
                jwks_url: RwLock::new(issuer.given_jwks_url().map(str::to_owned)),
                issuer,
                codec: RwLock::new(None),
                fetches: Mutex::new(Fetches::default()),
                ended: tokio::sync::watch::Sender::new(0),
            })
            .collect::<Vec<_>>();
        // Kept by the verifier: backends hold only a weak reference to their sink.
        let sink = self
            .eviction_feed
            .as_ref()
            .map(|_| Arc::new(EvictionSink::default()));
        let shared = Arc::new(Shared {
            sources,
            client,
            leeway: self.leeway,
            cooldown: self.cooldown,
            runtime: runtime.clone(),
            token_cache: self.token_cache_bytes.map(TokenCache::new),
            routes: Routes::public_only(self.public),
            renderer,
            optional: self.optional,
            metadata,
            replays: self
                .dpop
                .as_ref()
                .filter(|_| self.record.is_none())
                .map(|_| Replays::new()),
            record: self.record,
            dpop: self.dpop,
            opaque,
            announce: self
                .eviction_feed
                .as_ref()
                .map(|(announce, _)| Arc::clone(announce)),
            _eviction_sink: sink.clone(),
        });
        if let (Some(sink), Some((_, watch))) = (sink, self.eviction_feed) {
            let _ = sink.shared.set(Arc::downgrade(&shared));
            watch(sink);
        }
        for index in 0..shared.sources.len() {
            runtime.spawn(fetch::keep_fresh(Arc::downgrade(&shared), index));
        }
        Ok(Verifier {
            shared,
            _claims: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::Verifier;

    #[tokio::test]
    async fn bad_urls_keep_why_and_never_the_url() {
        use std::error::Error;
        let build = |issuer: Issuer| {
            Verifier::<serde_json::Value>::builder()
                .issuer(issuer)
                .build()
                .err()
                .unwrap()
        };
        let err = build(Issuer::sessions("https://user:pw@:0/jwks"));
        assert!(matches!(err, ConfigError::BadJwksUrl { .. }), "{err:?}");
        let why = err.source().expect("the parser's error").to_string();
        assert!(
            !why.contains("pw") && !format!("{err:?}").contains("pw"),
            "{why}"
        );
        let err = build(Issuer::sessions("ftp://issuer.example/jwks"));
        assert_eq!(err, ConfigError::BadJwksUrl { source: None });
        let err = build(Issuer::new("https://idp.example?x=1").audience("a"));
        assert!(matches!(err, ConfigError::BadIssuerUrl(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_dpop_proof_lifetime_is_whole_seconds_and_positive() {
        let build = |lifetime: std::time::Duration| {
            Verifier::<serde_json::Value>::builder()
                .issuer(Issuer::new("https://a.example").audience("api"))
                .dpop(Dpop::allowed().proof_lifetime(lifetime))
                .build()
                .err()
        };
        assert_eq!(
            build(std::time::Duration::from_millis(1500)),
            Some(ConfigError::FractionalSeconds {
                setting: "Dpop::proof_lifetime"
            })
        );
        assert_eq!(
            build(std::time::Duration::ZERO),
            Some(ConfigError::ZeroLifetime)
        );
        assert_eq!(build(std::time::Duration::from_secs(30)), None);
    }

    #[tokio::test]
    async fn issuers_must_be_told_apart_and_have_an_audience() {
        let err = |builder: VerifierBuilder<serde_json::Value>| builder.build().err();
        assert_eq!(err(Verifier::builder()), Some(ConfigError::NoIssuer));
        assert_eq!(
            err(Verifier::builder().issuer(Issuer::new("https://a.example"))),
            Some(ConfigError::NoAudience("https://a.example".into()))
        );
        assert_eq!(
            err(Verifier::builder()
                .issuer(Issuer::new("https://a.example").audience("api"))
                .issuer(Issuer::sessions("https://b.example/jwks"))),
            Some(ConfigError::AmbiguousIssuer(String::new()))
        );
        assert_eq!(
            err(Verifier::builder()
                .issuer(Issuer::new("https://a.example").audience("api"))
                .issuer(Issuer::new("https://a.example").audience("other"))),
            Some(ConfigError::AmbiguousIssuer("https://a.example".into()))
        );
        assert_eq!(
            err(Verifier::builder().issuer(
                Issuer::new("https://a.example")
                    .audience("api")
                    .iss("https://b.example")
            )),
            Some(ConfigError::IssuerIss("https://b.example".into()))
        );
        for algorithms in [vec![], vec![jsonwebtoken::Algorithm::HS256]] {
            assert_eq!(
                err(Verifier::builder().issuer(
                    Issuer::new("https://a.example")
                        .audience("api")
                        .algorithms(algorithms)
                )),
                Some(ConfigError::BadAlgorithms)
            );
        }
        // The message never shows a password the URL held.
        let bad = err(Verifier::builder()
            .issuer(Issuer::new("https://user:secret@a.example/?q").audience("api")))
        .unwrap();
        assert!(!bad.to_string().contains("secret"), "{bad}");
    }
}
