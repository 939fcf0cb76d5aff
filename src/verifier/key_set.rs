//! The issuer's key set as the requests see it: fetched by one fetch at a time per issuer,
//! shared by every request that needs it and by the periodic refresh, waited for by a token
//! whose `kid` the set lacks, and put in place of the last good set. The HTTP side of a fetch
//! is [`super::fetch`]'s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::{AwaitKeys, Shared, Source, fetch, lock, read};
use crate::error::AuthError;
use crate::error::refusals::{KEYS_UNAVAILABLE, UNKNOWN_KEY};
use crate::token::{Claims, TokenCodec};

/// The fetches of one issuer's keys: at most one at a time, shared by every request that
/// needs it and by the periodic refresh.
#[derive(Default)]
pub(super) struct Fetches {
    pub(super) running: bool,
    /// When the last fetch ended, and whether it brought keys.
    pub(super) last: Option<(Instant, bool)>,
}

/// What a token whose key the set lacks (or an issuer without keys yet) gets.
pub(super) enum Refetch {
    /// A fetch is under way: wait for it, then verify again.
    Wait(tokio::sync::watch::Receiver<u64>),
    /// A fetch succeeded within the cooldown: the set is what the issuer publishes.
    Fetched,
    /// The last fetch failed within [`fetch::RETRY_FAILED`]: the issuer cannot be read.
    Failing,
}

impl Shared {
    /// The verdict once the fetch a token waited for has ended (or the wait was too long):
    /// still no key for it is a 401 only if the issuer answered.
    pub(super) async fn after_fetch<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        mut wait: AwaitKeys,
    ) -> Result<Claims<C>, AuthError> {
        let waited = crate::timer::timeout(fetch::KEYS_WAIT, wait.ended.changed()).await;
        let fetched = waited.is_ok_and(|changed| changed.is_ok())
            && lock(&self.sources[wait.index].fetches)
                .last
                .is_some_and(|(_, fetched)| fetched);
        match self.verify_with_keys(wait.index, token) {
            Err(err) if lacks_key(&err) && !fetched => Err(KEYS_UNAVAILABLE),
            verdict => verdict,
        }
    }

    /// Joins the fetch of issuer `index`'s keys under way, or starts one, unless one
    /// succeeded within the cooldown (a flood of made-up `kid`s costs the issuer one request
    /// per cooldown) or failed within [`fetch::RETRY_FAILED`] (a failed fetch is tried again
    /// soon, not after the cooldown).
    pub(super) fn refetch(self: &Arc<Self>, index: usize) -> Refetch {
        let source = &self.sources[index];
        let mut fetches = lock(&source.fetches);
        // Subscribed under the lock, before this fetch can end: its end is not missed.
        let ended = source.ended.subscribe();
        if fetches.running {
            return Refetch::Wait(ended);
        }
        match fetches.last {
            Some((at, true)) if at.elapsed() < self.cooldown => return Refetch::Fetched,
            Some((at, false)) if at.elapsed() < fetch::RETRY_FAILED => return Refetch::Failing,
            _ => {}
        }
        fetches.running = true;
        drop(fetches);
        let shared = Arc::clone(self);
        self.runtime.spawn(async move { shared.fetch(index).await });
        Refetch::Wait(ended)
    }

    /// The periodic fetch: joins the one under way, or runs one. `Ok` with the document's
    /// `max-age` (none when it said none, or when the fetch was another's) if keys arrived.
    pub(super) async fn fetch_now(self: &Arc<Self>, index: usize) -> Result<Option<Duration>, ()> {
        let source = &self.sources[index];
        let joined = {
            let mut fetches = lock(&source.fetches);
            let joined = fetches.running.then(|| source.ended.subscribe());
            fetches.running = true;
            joined
        };
        let Some(mut ended) = joined else {
            return self.fetch(index).await;
        };
        let _ = ended.changed().await;
        let fetched = lock(&source.fetches).last.is_some_and(|(_, ok)| ok);
        if fetched { Ok(None) } else { Err(()) }
    }

    /// One fetch of issuer `index`'s keys (after discovering where they are, if need be),
    /// begun by whoever set `running`; the new set replaces the old only if it parses. Then
    /// wakes whoever waits for it. A fetch that fails is logged once, until one succeeds.
    async fn fetch(&self, index: usize) -> Result<Option<Duration>, ()> {
        let source = &self.sources[index];
        let outcome = match self.fetch_keys(source).await {
            Ok((keys, max_age)) => {
                self.install(source, keys);
                Ok(max_age)
            }
            Err(err) => {
                let was_failing = lock(&source.fetches).last.is_some_and(|(_, ok)| !ok);
                if !was_failing {
                    crate::telemetry::warn_event!(
                        "fetching an issuer's keys failed, keeping the last good key set: {}",
                        crate::error::Chain(&err)
                    );
                }
                Err(())
            }
        };
        {
            let mut fetches = lock(&source.fetches);
            fetches.running = false;
            fetches.last = Some((Instant::now(), outcome.is_ok()));
        }
        source.ended.send_modify(|ended| *ended += 1);
        outcome
    }

    /// The keys of issuer `source`'s document, and its `max-age`.
    async fn fetch_keys(
        &self,
        source: &Source,
    ) -> Result<(crate::keys::Keys, Option<Duration>), fetch::FetchError> {
        let url = match read(&source.jwks_url) {
            Some(url) => url,
            None => {
                let issuer = source.issuer.iss.as_deref().unwrap_or_default();
                let url = fetch::discover(&self.client, issuer).await?;
                *source.jwks_url.write().unwrap_or_else(|e| e.into_inner()) = Some(url.clone());
                url
            }
        };
        let fetched = fetch::jwks(&self.client, &url, source.issuer.allowed()).await;
        if fetched.is_err() && source.issuer.given_jwks_url().is_none() {
            // Perhaps the issuer moved its keys: discover again next time.
            *source.jwks_url.write().unwrap_or_else(|e| e.into_inner()) = None;
        }
        fetched
    }

    /// Puts a fetched key set in place of the last one.
    fn install(&self, source: &Source, keys: crate::keys::Keys) {
        let issuer = &source.issuer;
        let codec = Arc::new(if issuer.is_rfc9068() {
            TokenCodec::rfc9068(
                keys,
                self.leeway,
                issuer.iss.clone().unwrap_or_default(),
                issuer.audience.clone().unwrap_or_default(),
                issuer.allow_jwt_typ,
            )
        } else {
            TokenCodec::new(
                keys,
                self.leeway,
                issuer.iss.clone(),
                issuer.audience.clone(),
            )
        });
        let old = source
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
    }
}

/// A refusal for want of the token's key: the issuer's set lacks its `kid`, or there is no
/// set yet. A fetch may bring it.
pub(super) fn lacks_key(err: &AuthError) -> bool {
    *err == UNKNOWN_KEY || *err == KEYS_UNAVAILABLE
}
