//! Verify-only mode, an OAuth 2.0 resource server: no signing key, no session backend;
//! access tokens of one or more issuers verified against their published keys, into the same
//! [`Claims`] as the full layer (feature `jwks`).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_jwt_sessions::verifier::{Issuer, ResourceMetadata};
//! use tower_jwt_sessions::{StandardClaims, Verifier};
//!
//! let verifier = Verifier::<StandardClaims>::builder()
//!     // Any OAuth 2.0 / OpenID Connect issuer: RFC 9068 tokens, keys found by discovery.
//!     .issuer(Issuer::new("https://sso.example/realms/pets").audience("https://api.example"))
//!     // A Sessions layer's own tokens, from its JWKS document.
//!     .issuer(Issuer::sessions("https://auth.example/.well-known/jwks.json").iss("https://auth.example"))
//!     .resource_metadata(ResourceMetadata::new("https://api.example").scopes_supported(["read", "write"]))
//!     .public_path("/health")
//!     .build()?;
//! // Router::new().route("/me", get(me)).layer(verifier.layer())
//! # Ok(()) }
//! ```
//!
//! - **Several issuers**: a token's issuer is chosen by its `iss` before any signature work;
//!   an `iss` of no configured issuer is a 401 at once, without any fetch.
//! - **RFC 9068 tokens** ([`Issuer::new`]): `typ` `at+jwt`, `iss` exactly the issuer, `aud`
//!   naming this resource, `exp`, `iat`, `sub`, `jti` and `client_id`; an issuer that still
//!   writes `JWT` can be allowed ([`Issuer::allow_jwt_typ`]). Scopes (`scope` or `scp`) are
//!   read by [`StandardClaims`](crate::StandardClaims) and checked with
//!   [`Claims::require_scope`](crate::Claims::require_scope), the
//!   [`RequireScopeLayer`](crate::RequireScopeLayer), or axum's `Require<P>` with
//!   [`oauth_scope!`](crate::oauth_scope).
//! - **Discovery**: RFC 8414 metadata, else OpenID Connect's, gives the JWKS URL; a document
//!   naming another issuer is not used (the mix-up defence of RFC 8414 §3.3), and it is
//!   fetched under the same rules as the keys.
//! - **RFC 9728**: with [`resource_metadata`](VerifierBuilder::resource_metadata) the layer
//!   serves `/.well-known/oauth-protected-resource` and names it in its 401 challenges.
//!
//! - **Startup never fails on the issuer**: the first fetch runs in the background; until
//!   an issuer's keys arrive, requests with its tokens get 503 (with `Retry-After`), never
//!   401.
//! - **The last good set is kept** when a fetch fails. The set is fetched again every
//!   `max-age` of the document (between the cooldown and an hour).
//! - **Key rotation costs no refusal**: a token naming a `kid` the set lacks starts a
//!   refetch (one at a time per issuer, shared by every request that needs it) and waits
//!   for it, at most 2 seconds, so a key the issuer has just published passes on its first
//!   request. A refetch that succeeded holds back the next one for the cooldown (default
//!   30 s), so a flood of made-up `kid`s costs the issuer one request per cooldown, each
//!   such token a 401; a key published within the cooldown of a good fetch is therefore
//!   learned at the next fetch after it. A refetch that failed is tried again after a
//!   second, not after the cooldown, and meanwhile an unknown `kid` is a 503 with
//!   `Retry-After`: never a 401 for want of a fetch.
//! - **Only trustworthy keys**: `alg` must match `kty` and curve; `none`, symmetric keys,
//!   keys meant for encryption and `kid`s that two keys share are never taken from a
//!   document ([`Keys::from_jwks`](crate::Keys::from_jwks)).
//! - **Only the issuer's document**: a redirect is followed only within the origin of the
//!   URL asked, and a document is refused past 1 MiB as it streams in, `Content-Length` or
//!   not. A failed fetch is logged once (at `warn`) until one succeeds.
//! - **A removed key stops at once**: when a fetch drops a key of the set (the issuer's
//!   answer to a stolen key), every token verified so far is forgotten by the
//!   verified-token cache, so none signed by that key passes again.
//! - **Revocation**: JWTs are verified locally and live until `exp`, as with any JWT-only
//!   resource server. Introspected tokens ([`Introspection`], RFC 7662) stop within the
//!   cache's TTL of a revocation at the issuer, and at once on every instance when the app
//!   evicts them ([`Verifier::evict_everywhere`]). For instant revocation of this crate's
//!   own tokens, run the full layer on the same shared backend: its revocation feed reaches
//!   every instance.
//! - **Opaque tokens** are introspected at one issuer's endpoint: see [`Introspection`].
//! - The client is reqwest with rustls on aws-lc-rs, already the crypto backend here: no
//!   OpenSSL, and TLS to the issuer with the platform's roots.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::dpop::{Dpop, Replays};
use crate::error::refusals::{INTROSPECTION_UNAVAILABLE, KEYS_UNAVAILABLE, UNKNOWN_ISSUER};
use crate::error::{AuthError, ErrorRenderer};

use crate::routes::Routes;
use crate::token::{Claims, TokenCache, TokenCodec, peek_issuer};

use key_set::{Fetches, Refetch, lacks_key};

mod builder;
mod fetch;
mod introspection;
mod issuer;
mod key_set;
mod metadata;
mod service;

pub use builder::VerifierBuilder;
pub use introspection::Introspection;
pub use issuer::Issuer;
pub use metadata::ResourceMetadata;
pub use service::{VerifierLayer, VerifierService};

/// Verifies access tokens of other services' issuers; see the [module docs](self).
pub struct Verifier<C> {
    shared: Arc<Shared>,
    _claims: PhantomData<fn() -> C>,
}

pub(crate) struct Shared {
    sources: Vec<Source>,
    client: reqwest::Client,
    leeway: Duration,
    cooldown: Duration,
    runtime: tokio::runtime::Handle,
    pub(crate) token_cache: Option<TokenCache>,
    pub(crate) routes: Routes,
    pub(crate) renderer: ErrorRenderer,
    pub(crate) optional: bool,
    /// The RFC 9728 document this layer serves, if configured.
    pub(crate) metadata: Option<crate::well_known::WellKnown>,
    /// DPoP, if on, and the proofs seen lately (each `jti` accepted once, in this process),
    /// or the backend that records them for every instance.
    pub(crate) dpop: Option<Dpop>,
    pub(crate) replays: Option<Replays>,
    record: Option<Arc<dyn crate::capability::Record>>,
    /// The issuer that introspects tokens that are not JWSs, if one does.
    opaque: Option<usize>,
    /// The backend whose revocation feed carries evictions to every instance, if any.
    announce: Option<Arc<dyn introspection::Announce>>,
    /// Where that feed delivers (the backend holds it weakly).
    _eviction_sink: Option<Arc<introspection::EvictionSink>>,
}

/// One issuer's keys, fetched and kept fresh.
struct Source {
    issuer: Issuer,
    /// The JWKS URL given, or found by discovery (then forgotten when a fetch fails, so that
    /// the next one discovers again).
    jwks_url: RwLock<Option<String>>,
    /// The codec of the last good key set; `None` until the first fetch succeeds.
    codec: RwLock<Option<Arc<TokenCodec>>>,
    /// Whether a fetch runs, and how the last one ended: decides whether a token naming an
    /// unknown `kid` may start one, and what it is answered meanwhile.
    fetches: Mutex<Fetches>,
    /// Counts the fetches that ended, so that requests can wait for the one under way.
    ended: tokio::sync::watch::Sender<u64>,
    /// Introspection (RFC 7662), if this issuer's tokens are introspected.
    introspector: Option<introspection::Introspector>,
}

impl<C> Verifier<C> {
    /// The layer that verifies access tokens on every protected request.
    pub fn layer(&self) -> VerifierLayer<C> {
        VerifierLayer::new(Arc::clone(&self.shared))
    }

    /// Whether every issuer's keys have arrived: `false` until each one's first fetch
    /// succeeds (requests with its tokens get 503 meanwhile). For a readiness probe.
    pub fn has_keys(&self) -> bool {
        self.shared
            .sources
            .iter()
            .all(|source| read(&source.codec).is_some())
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Verifier<C> {
    /// Verifies an access token as the layer does for a Bearer token, without waiting: a
    /// token naming a key the set lacks starts the refetch the layer would wait for and is
    /// answered 503 (`Unavailable`, try again) until it ends. A token bound to a key (DPoP)
    /// is refused here: no proof comes with it.
    ///
    /// An introspected token not in the cache starts the call and is answered 503 too; once
    /// the call has ended, its cached answer is served (never, with a TTL of 0: the layer
    /// waits for the call, this does not).
    pub fn verify(&self, token: &str) -> Result<Claims<C>, AuthError> {
        let claims: Claims<C> = match self.shared.check(token) {
            Checked::Done(verdict) => verdict?,
            // The fetch that may bring the token's key has begun; this call does not wait.
            Checked::Wait(Wait::Keys(_)) => return Err(KEYS_UNAVAILABLE),
            Checked::Wait(Wait::Answer(_)) => return Err(INTROSPECTION_UNAVAILABLE),
        };
        if claims.dpop_jkt().is_some() {
            return Err(crate::error::refusals::BOUND_AS_BEARER);
        }
        Ok(claims)
    }
}

impl<C> Verifier<C> {
    /// Forgets this instance's cached introspection answer for `token` (for example after
    /// the app revoked it at the issuer on logout): its next request asks the issuer.
    pub fn evict(&self, token: &str) {
        let digest = introspection::digest(token);
        for source in &self.shared.sources {
            if let Some(introspector) = &source.introspector {
                introspector.evict(digest);
            }
        }
    }

    /// [`evict`](Self::evict)s `token` here, then on every instance through the
    /// [`eviction_feed`](VerifierBuilder::eviction_feed)'s backend, if there is one. An error
    /// of that backend is returned; this instance has forgotten the answer anyway.
    pub async fn evict_everywhere(
        &self,
        token: &str,
    ) -> Result<(), tower_jwt_sessions_core::BackendError> {
        self.evict(token);
        match &self.shared.announce {
            Some(backend) => backend.announce(&introspection::digest(token)).await,
            None => Ok(()),
        }
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
        let issuers: Vec<_> = self.shared.sources.iter().map(|s| &s.issuer).collect();
        f.debug_struct("Verifier")
            .field("issuers", &issuers)
            .field("has_keys", &self.has_keys())
            .finish_non_exhaustive()
    }
}

fn read<T: Clone>(lock: &RwLock<Option<T>>) -> Option<T> {
    lock.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A token checked without waiting: its verdict, or what to wait for first.
pub(crate) enum Checked<C> {
    Done(Result<Claims<C>, AuthError>),
    Wait(Wait),
}

/// What a token waits for before its verdict.
pub(crate) enum Wait {
    /// The fetch of its issuer's keys (a `kid` the set lacks, or no set yet).
    Keys(AwaitKeys),
    /// The introspection call that answers for it.
    Answer(introspection::Pending),
}

/// A fetch of issuer `index`'s keys that a token waits for.
pub(crate) struct AwaitKeys {
    index: usize,
    ended: tokio::sync::watch::Receiver<u64>,
}

impl Shared {
    /// Verifies a token without waiting: a token whose key is not (yet) in the set starts
    /// the fetch that may bring it and is handed back to wait for it.
    pub(crate) fn check<C: DeserializeOwned + Send + Sync + 'static>(
        self: &Arc<Self>,
        token: &str,
    ) -> Checked<C> {
        // A token without a `.` is opaque, never in the verified-token cache: no lookup there.
        // (A JWT's cache hit pays one search up to its first `.`.)
        if let Some(index) = self.opaque
            && !token.contains('.')
        {
            return self.introspect(index, token);
        }
        if let Some(claims) = self.token_cache.as_ref().and_then(|c| c.get(token)) {
            return Checked::Done(Ok(claims));
        }
        if let Some(index) = self.opaque
            && !looks_like_jws(token)
        {
            return self.introspect(index, token);
        }
        let index = match self.source_of(token) {
            Ok(index) => index,
            Err(err) => return Checked::Done(Err(err)),
        };
        if let Some(introspector) = &self.sources[index].introspector
            && introspector.config.always
        {
            return self.introspect(index, token);
        }
        match self.verify_with_keys(index, token) {
            Err(err) if lacks_key(&err) => {
                match self.refetch(index) {
                    Refetch::Wait(ended) => Checked::Wait(Wait::Keys(AwaitKeys { index, ended })),
                    // The set is the issuer's own, fetched lately: the `kid` is made up or stale.
                    // (A fetch may have ended since the first try: one more look.)
                    Refetch::Fetched => Checked::Done(self.verify_with_keys(index, token)),
                    Refetch::Failing => Checked::Done(Err(KEYS_UNAVAILABLE)),
                }
            }
            verdict => Checked::Done(verdict),
        }
    }

    /// The verdict once what a token waited for has ended.
    pub(crate) async fn after_wait<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        wait: Wait,
    ) -> Result<Claims<C>, AuthError> {
        match wait {
            Wait::Keys(wait) => self.after_fetch(token, wait).await,
            Wait::Answer(pending) => self.after_answer(pending).await,
        }
    }

    /// Verifies a token with the issuer's current key set, and caches what passes.
    fn verify_with_keys<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        index: usize,
        token: &str,
    ) -> Result<Claims<C>, AuthError> {
        // Before the keys: a result verified with keys replaced meanwhile is not cached.
        let generation = self.token_cache.as_ref().map(TokenCache::generation);
        let codec = read(&self.sources[index].codec).ok_or(KEYS_UNAVAILABLE)?;
        let claims = Claims::new(codec.verify_access::<C>(token)?, &self.renderer);
        if let (Some(cache), Some(generation)) = (&self.token_cache, generation) {
            cache.insert_shared(token, &claims, generation);
        }
        Ok(claims)
    }

    /// The DPoP rules for a verified token and its scheme; a proof is accepted once. With a
    /// shared backend, the proof to record there is handed back.
    pub(crate) fn bind<C, B>(
        &self,
        scheme: crate::dpop::TokenType,
        token: &str,
        claims: &Claims<C>,
        request: &http::Request<B>,
    ) -> Result<Option<crate::dpop::Proof>, AuthError> {
        let proof = crate::dpop::bind(
            self.dpop.as_ref(),
            scheme,
            token.as_bytes(),
            claims.dpop_jkt(),
            request,
        )?;
        let Some(proof) = proof else {
            return Ok(None);
        };
        let Some(replays) = &self.replays else {
            return Ok(Some(proof));
        };
        let Some(dpop) = &self.dpop else {
            return Ok(None);
        };
        let now = crate::clock::unix_now();
        let first_use = match replays.record(&proof.replay_key(), dpop.remember_until(now), now) {
            crate::dpop::Recorded::First => Some(true),
            crate::dpop::Recorded::Replayed => Some(false),
            crate::dpop::Recorded::Full => None,
        };
        crate::dpop::settle(first_use).map(|()| None)
    }

    /// Records a proof in the shared backend: a replay or a failure refuses the request.
    pub(crate) async fn record(&self, proof: &crate::dpop::Proof) -> Result<(), AuthError> {
        let (Some(record), Some(dpop)) = (&self.record, &self.dpop) else {
            return Ok(());
        };
        let until = dpop.remember_until(crate::clock::unix_now());
        let first_use = match record.record_once(&proof.replay_key(), until).await {
            Ok(first_use) => Some(first_use),
            Err(err) => {
                crate::telemetry::warn_event!(
                    "recording a DPoP proof failed: {}",
                    crate::error::Chain(&err)
                );
                None
            }
        };
        crate::dpop::settle(first_use)
    }

    /// Which issuer a token is checked against: the only one, or the one its `iss` names
    /// (read before any signature work; the codec checks it again after the signature).
    fn source_of(&self, token: &str) -> Result<usize, AuthError> {
        if self.sources.len() == 1 {
            return Ok(0);
        }
        let iss = peek_issuer(token).ok_or(UNKNOWN_ISSUER)?;
        self.sources
            .iter()
            .position(|source| source.issuer.iss.as_deref() == Some(iss.as_str()))
            .ok_or(UNKNOWN_ISSUER)
    }
}

/// Whether a token has the shape of a JWS: exactly three base64url segments. Anything else
/// (an opaque token, a five-segment JWE) is introspected when an issuer does.
fn looks_like_jws(token: &str) -> bool {
    three_segments(token)
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether a token has exactly two `.`.
fn three_segments(token: &str) -> bool {
    match (token.find('.'), token.rfind('.')) {
        (Some(first), Some(last)) if first < last => !token[first + 1..last].contains('.'),
        _ => false,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
