//! One issuer's introspection at run time: the answers cached, the calls under way (one per
//! token), and the endpoint found by discovery.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::answer::{self, Rules};
use super::cache::{Answer, AnswerCache, Key};
use super::call::{self, CallError};
use super::{Introspection, NEGATIVE_TTL};
use crate::error::AuthError;
use crate::error::refusals::{INTROSPECTION_UNAVAILABLE, TOKEN_TOO_LONG};
use crate::token::{Claims, MAX_TOKEN_LEN, Verified, thread_cache};
use crate::verifier::{Checked, Shared, Wait, lock};

/// What a call ended with, for every request that waited for it.
type Outcome = Option<Result<Answer, AuthError>>;

pub(crate) struct Introspector {
    pub(crate) config: Introspection,
    /// The issuer's identifier: part of every cache key, and what a present `iss` must be.
    issuer: Arc<str>,
    audience: Option<String>,
    /// The endpoint given, or found by discovery (then kept: answers cached under it stay
    /// servable while the issuer is down).
    endpoint: RwLock<Option<Arc<str>>>,
    /// `None` with a TTL of 0.
    cache: Option<AnswerCache>,
    /// The call under way for each token digest: later requests with it wait for that one.
    flights: Mutex<HashMap<[u8; 32], watch::Receiver<Outcome>>>,
    /// Whether the last call failed: a failure is logged once, until a call succeeds.
    failing: AtomicBool,
    /// Counts evictions: a call under way while one happens does not cache its answer,
    /// which may predate the revocation.
    evictions: AtomicU64,
    /// Whether evictions reach this instance: with an eviction feed, cached answers are
    /// served only while it is up (fail closed).
    pub(crate) feed_up: AtomicBool,
    /// The id of this issuer's active answers in each thread's own cache, under a keyed
    /// fingerprint of the token (a new id forgets every thread's copies at once).
    front: AtomicU64,
    fingerprint: RandomState,
}

/// A request waiting for the call that answers for its token.
pub(crate) struct Pending {
    answered: watch::Receiver<Outcome>,
}

impl Introspector {
    pub(crate) fn new(
        config: Introspection,
        issuer: &str,
        audience: Option<String>,
        cache_bytes: Option<u64>,
    ) -> Self {
        let cache = cache_bytes
            .filter(|_| !config.ttl.is_zero())
            .map(AnswerCache::new);
        Introspector {
            endpoint: RwLock::new(config.endpoint.as_deref().map(Arc::from)),
            config,
            issuer: Arc::from(issuer),
            audience,
            cache,
            flights: Mutex::new(HashMap::new()),
            failing: AtomicBool::new(false),
            evictions: AtomicU64::new(0),
            feed_up: AtomicBool::new(true),
            front: AtomicU64::new(thread_cache::next_cache_id()),
            fingerprint: RandomState::new(),
        }
    }

    /// A 128-bit keyed fingerprint of a token: SipHash-1-3 under a secret random key, read
    /// out twice (after the token, and after one more byte), in one pass over the token.
    /// Names an active answer in a thread's own cache without the token and without its
    /// SHA-256, which costs more than the rest of a hit; collisions cannot be aimed at
    /// without the key.
    fn fingerprint(&self, token: &str) -> [u8; 16] {
        let mut hasher = self.fingerprint.build_hasher();
        hasher.write(token.as_bytes());
        let first = hasher.finish();
        hasher.write_u8(0xff);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&first.to_le_bytes());
        out[8..].copy_from_slice(&hasher.finish().to_le_bytes());
        out
    }

    fn key(&self, digest: [u8; 32]) -> Option<Key> {
        let url = self
            .endpoint
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        Some(Key {
            issuer: Arc::clone(&self.issuer),
            url,
            digest,
        })
    }

    /// Whether cached answers may be served: there is a cache, and evictions reach it.
    fn serves(&self) -> bool {
        self.cache.is_some() && self.feed_up.load(Ordering::Acquire)
    }

    /// The active answer this thread keeps for a token's fingerprint.
    fn held<C: Send + Sync + 'static>(&self, fingerprint: &[u8; 16]) -> Option<Claims<C>> {
        let front = self.front.load(Ordering::Acquire);
        let claims = thread_cache::get(front, fingerprint, crate::clock::unix_now_or_later)?;
        claims.downcast::<Verified<C>>().ok().map(Claims::from_arc)
    }

    fn cached(&self, digest: [u8; 32], fingerprint: &[u8; 16]) -> Option<Answer> {
        // Read before the shared cache: an answer read there before an eviction is kept
        // under the id the eviction retires, where no thread looks again.
        let front = self.front.load(Ordering::Acquire);
        let (answer, until) = self.cache.as_ref()?.get(&self.key(digest)?)?;
        if let Answer::Active(claims) = &answer {
            thread_cache::put(front, fingerprint, until, Arc::clone(claims));
        }
        Some(answer)
    }

    /// Forgets the answer for a token digest, here and in every thread's own cache.
    pub(crate) fn evict(&self, digest: [u8; 32]) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        if let (Some(cache), Some(key)) = (&self.cache, self.key(digest)) {
            cache.evict(&key);
        }
        self.forget_fronts();
    }

    /// Forgets every answer (the eviction feed lost entries).
    pub(crate) fn clear(&self) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.cache {
            cache.clear();
        }
        self.forget_fronts();
    }

    /// Every thread's copies of this issuer's answers are forgotten (after the shared
    /// cache's: see [`cached`](Self::cached)); they refill from the shared cache.
    fn forget_fronts(&self) {
        self.front
            .store(thread_cache::next_cache_id(), Ordering::Release);
    }
}

/// The SHA-256 of a token: the cache's and the eviction feed's name for it.
pub(crate) fn digest(token: &str) -> [u8; 32] {
    crate::dpop::sha256(&[token.as_bytes()])
}

impl Shared {
    /// Answers for a token of issuer `index` from the cache, or joins (or starts) the call
    /// that will.
    pub(crate) fn introspect<C: DeserializeOwned + Send + Sync + 'static>(
        self: &Arc<Self>,
        index: usize,
        token: &str,
    ) -> Checked<C> {
        if token.len() > MAX_TOKEN_LEN {
            return Checked::Done(Err(TOKEN_TOO_LONG));
        }
        let Some(introspector) = &self.sources[index].introspector else {
            return Checked::Done(Err(INTROSPECTION_UNAVAILABLE));
        };
        let serves = introspector.serves();
        let fingerprint = introspector.fingerprint(token);
        if serves && let Some(claims) = introspector.held(&fingerprint) {
            crate::telemetry::introspection_cache(true);
            return Checked::Done(Ok(claims));
        }
        let digest = digest(token);
        if serves {
            let answer = introspector.cached(digest, &fingerprint);
            crate::telemetry::introspection_cache(answer.is_some());
            if let Some(answer) = answer {
                return Checked::Done(claims_of(answer));
            }
        }
        let mut flights = lock(&introspector.flights);
        if let Some(answered) = flights.get(&digest) {
            return Checked::Wait(Wait::Answer(Pending {
                answered: answered.clone(),
            }));
        }
        let (tell, answered) = watch::channel(None);
        flights.insert(digest, answered.clone());
        drop(flights);
        // A task of its own: a request that gives up waiting does not cancel the call
        // others wait for.
        let (shared, token) = (Arc::clone(self), token.to_owned());
        self.runtime.spawn(async move {
            let outcome = shared.call::<C>(index, &token, digest).await;
            let introspector = shared.sources[index].introspector.as_ref();
            if let Some(introspector) = introspector {
                lock(&introspector.flights).remove(&digest);
            }
            tell.send_replace(Some(outcome));
        });
        Checked::Wait(Wait::Answer(Pending { answered }))
    }

    /// The verdict once the call a request waited for has ended.
    pub(crate) async fn after_answer<C: Send + Sync + 'static>(
        &self,
        pending: Pending,
    ) -> Result<Claims<C>, AuthError> {
        let mut answered = pending.answered;
        let outcome = match answered.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            // The task ended without a word (its runtime shut down).
            Err(_) => None,
        };
        match outcome {
            Some(verdict) => verdict.and_then(claims_of),
            None => Err(INTROSPECTION_UNAVAILABLE),
        }
    }

    /// One call for a token, its answer read and cached (unless it is the endpoint's
    /// fault, which is never cached).
    async fn call<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        index: usize,
        token: &str,
        digest: [u8; 32],
    ) -> Result<Answer, AuthError> {
        let Some(introspector) = &self.sources[index].introspector else {
            return Err(INTROSPECTION_UNAVAILABLE);
        };
        let started = Instant::now();
        let evictions = introspector.evictions.load(Ordering::Acquire);
        let work = self.ask(introspector, token);
        #[cfg(feature = "tracing")]
        let work = tracing::Instrument::instrument(
            work,
            tracing::debug_span!("introspection", issuer = %introspector.issuer),
        );
        let (body, url) = match work.await {
            Ok(answer) => {
                introspector.failing.store(false, Ordering::Relaxed);
                answer
            }
            Err(err) => {
                crate::telemetry::introspection_call("failed", started.elapsed());
                if !introspector.failing.swap(true, Ordering::Relaxed) {
                    crate::telemetry::warn_event!(
                        "introspecting a token failed: {}",
                        crate::error::Chain(&err)
                    );
                }
                return Err(INTROSPECTION_UNAVAILABLE);
            }
        };
        let now = crate::clock::unix_now();
        let ttl = introspector.config.ttl.as_secs();
        let rules = Rules {
            issuer: Some(&introspector.issuer),
            audience: introspector.audience.as_deref(),
            leeway: self.leeway.as_secs(),
            now,
        };
        let verdict = answer::claims::<C>(&body, &rules, now.saturating_add(ttl));
        crate::telemetry::introspection_call(
            if verdict.is_ok() {
                "active"
            } else {
                "inactive"
            },
            started.elapsed(),
        );
        let (answer, lives) = match verdict {
            Ok((claims, exp)) => {
                let claims = Claims::new(claims, &self.renderer);
                let left = exp.map_or(ttl, |exp| exp.saturating_sub(now)).min(ttl);
                let erased: super::cache::Erased = claims.as_arc().clone();
                (Answer::Active(erased), Duration::from_secs(left))
            }
            Err(refusal) => (
                Answer::Refused(refusal),
                NEGATIVE_TTL.min(introspector.config.ttl),
            ),
        };
        if let Some(cache) = &introspector.cache
            && let Some(key) = introspector.key(digest)
            && key.url == url
            && introspector.evictions.load(Ordering::Acquire) == evictions
        {
            cache.insert(key.clone(), answer.clone(), started, lives, body.len());
            // An eviction between the check and the insert: undone.
            if introspector.evictions.load(Ordering::Acquire) != evictions {
                cache.evict(&key);
            }
        }
        Ok(answer)
    }

    /// The endpoint's answer about `token`, and the endpoint that gave it (found by
    /// discovery the first time, if not configured).
    async fn ask(
        &self,
        introspector: &Introspector,
        token: &str,
    ) -> Result<(Vec<u8>, Arc<str>), CallError> {
        let known = introspector
            .endpoint
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let url = match known {
            Some(url) => url,
            None => {
                let url: Arc<str> = crate::verifier::fetch::discover_introspection(
                    &self.client,
                    &introspector.issuer,
                )
                .await
                .map_err(|err| CallError::NoEndpoint(Some(err)))?
                .into();
                *introspector
                    .endpoint
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&url));
                url
            }
        };
        let body = call::introspect(
            &self.client,
            &introspector.config,
            &introspector.issuer,
            &url,
            token,
        )
        .await?;
        Ok((body, url))
    }
}

/// The claims (or refusal) an answer gives for a claim type.
fn claims_of<C: Send + Sync + 'static>(answer: Answer) -> Result<Claims<C>, AuthError> {
    match answer {
        Answer::Active(claims) => claims
            .downcast::<Verified<C>>()
            .map(Claims::from_arc)
            .map_err(|_| INTROSPECTION_UNAVAILABLE),
        Answer::Refused(refusal) => Err(refusal),
    }
}
