//! The verified-token cache: a token seen before is accepted without a second signature check.
//!
//! Keyed by the whole token string, so only the byte-identical token can hit its entry. An
//! entry lives until the token's own `exp` (no leeway) and never longer; entries are bounded
//! by an estimate of their memory. Only tokens that passed full verification are inserted.
//! A token is cached from its second verification on ([`super::admission`]), and each thread
//! keeps its most recent hits in front of the shared cache ([`super::thread_cache`]).
//!
//! When the keys change (a verify-only layer refetched its issuer's set and a key left it),
//! [`TokenCache::forget_all`] starts a new generation: every entry is tagged with the one it
//! was verified in, and only the current one is ever served, so a token of a removed key
//! cannot pass again from any cache.

use std::hash::{BuildHasher, DefaultHasher, Hasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use moka::sync::Cache;

use super::Claims;
use super::admission::Doorkeeper;
use super::claims::Verified;
use super::thread_cache::{self, Erased};
use crate::clock::unix_now;

/// Claims are stored type-erased so that the cache needs no type parameter of the backend;
/// the downcast on a hit is one type-id comparison.
#[derive(Clone)]
struct Entry {
    exp: u64,
    /// The generation the token was verified in.
    generation: u64,
    claims: Erased,
    /// Copies the claims for a thread's own cache, when their type can be cloned; else the
    /// threads share this `Arc`.
    fork: Option<fn(&Erased) -> Erased>,
}

fn fork<C: Clone + Send + Sync + 'static>(claims: &Erased) -> Erased {
    match claims.downcast_ref::<Verified<C>>() {
        Some(verified) => Arc::new(verified.clone()),
        None => Arc::clone(claims),
    }
}

struct UntilExp;

impl Expiry<Box<str>, Entry> for UntilExp {
    fn expire_after_create(&self, _: &Box<str>, entry: &Entry, _: Instant) -> Option<Duration> {
        // Token dates are bounded when verified; checked anyway, never a panic.
        let exp = UNIX_EPOCH
            .checked_add(Duration::from_secs(entry.exp))
            .unwrap_or(UNIX_EPOCH);
        Some(
            exp.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }
}

/// Estimated bytes an entry holds: the key, the decoded claims and moka's bookkeeping.
/// `benches/cache.rs` measured 1341 bytes all-in for a 421-byte Machinable token.
fn weight(token: &str) -> u32 {
    u32::try_from(token.len().saturating_mul(3).saturating_add(100)).unwrap_or(u32::MAX)
}

/// Hashes only the last 32 bytes of a key (inside the signature, plus the `str` terminator),
/// with a keyed SipHash. Equality still compares whole tokens, so this only speeds up the
/// lookup: only verified tokens are ever stored, and their signature bytes are unpredictable
/// without the key, so no one can crowd a bucket on purpose.
#[derive(Clone, Default)]
struct TailHash(RandomState);

struct TailHasher(DefaultHasher);

impl BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(&bytes[bytes.len().saturating_sub(32)..]);
    }

    fn write_u8(&mut self, byte: u8) {
        self.0.write_u8(byte);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

#[allow(clippy::borrowed_box)] // moka hands the key over as `&K`.
fn weigh(token: &Box<str>, _: &Entry) -> u32 {
    weight(token)
}

pub(crate) struct TokenCache {
    /// The current generation: tags this cache's entries here and in the threads' own
    /// caches (a process-wide unique id, so that two caches never see each other's).
    generation: AtomicU64,
    cache: Cache<Box<str>, Entry, TailHash>,
    doorkeeper: Doorkeeper,
}

/// The generation of a [`TokenCache`] a verification began in; see [`TokenCache::generation`].
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

impl TokenCache {
    pub(crate) fn new(max_bytes: u64) -> Self {
        TokenCache {
            generation: AtomicU64::new(thread_cache::next_cache_id()),
            cache: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(weigh)
                .expire_after(UntilExp)
                .build_with_hasher(TailHash::default()),
            // About one mark per token the budget holds (8 bytes against 1.3 KiB).
            doorkeeper: Doorkeeper::new(usize::try_from(max_bytes / 1024).unwrap_or(1 << 20)),
        }
    }

    /// Read before the keys a verification uses: its result is cached only if no
    /// [`forget_all`](Self::forget_all) came in between.
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Forgets every token verified so far, in the shared and the threads' caches: call it
    /// after the keys it was verified with are replaced.
    #[cfg(feature = "jwks")]
    pub(crate) fn forget_all(&self) {
        self.generation
            .store(thread_cache::next_cache_id(), Ordering::Release);
        self.cache.invalidate_all();
    }

    /// The claims of `token` if it was verified before: [`get_local`](Self::get_local), then
    /// [`get_shared`](Self::get_shared).
    #[cfg(any(test, feature = "jwks"))]
    pub(crate) fn get<C: Send + Sync + 'static>(&self, token: &str) -> Option<Claims<C>> {
        self.get_local(token.as_bytes())
            .or_else(|| self.get_shared(token))
    }

    /// From this thread's own cache, by the token's bytes: no lock, no shared write.
    pub(crate) fn get_local<C: Send + Sync + 'static>(&self, token: &[u8]) -> Option<Claims<C>> {
        let generation = self.generation.load(Ordering::Acquire);
        let claims = thread_cache::get(generation, token, crate::clock::unix_now_or_later)?;
        claims.downcast::<Verified<C>>().ok().map(Claims::from_arc)
    }

    /// From the cache all threads share, which then keeps the claims in this thread's own.
    pub(crate) fn get_shared<C: Send + Sync + 'static>(&self, token: &str) -> Option<Claims<C>> {
        let generation = self.generation.load(Ordering::Acquire);
        // A miss (a new or forged token) costs only a lookup: `get` would also record the
        // read and read the clock.
        if !self.cache.contains_key(token) {
            return None;
        }
        let entry = self.cache.get(token)?;
        // moka's clock may lag a little; the token's own `exp` is the law.
        if entry.exp <= unix_now() || entry.generation != generation {
            return None;
        }
        let claims = match entry.fork {
            Some(fork) => fork(&entry.claims),
            None => entry.claims,
        };
        thread_cache::put(generation, token.as_bytes(), entry.exp, Arc::clone(&claims));
        claims.downcast::<Verified<C>>().ok().map(Claims::from_arc)
    }

    /// Caches claims whose type can be cloned, if `token` was verified before (see
    /// [`super::admission`]): each thread serving them gets its own copy. Keys that never
    /// change: the current generation.
    pub(crate) fn insert<C: Clone + Send + Sync + 'static>(&self, token: &str, claims: &Claims<C>) {
        self.insert_erased(token, claims, Some(fork::<C>), self.generation());
    }

    /// Caches claims whose type cannot be cloned (the threads share one `Arc`), verified
    /// with the keys of `verified_in`, as [`insert`](Self::insert) does: nothing is cached if
    /// the keys were replaced since.
    #[cfg(feature = "jwks")]
    pub(crate) fn insert_shared<C: Send + Sync + 'static>(
        &self,
        token: &str,
        claims: &Claims<C>,
        verified_in: Generation,
    ) {
        self.insert_erased(token, claims, None, verified_in);
    }

    fn insert_erased<C: Send + Sync + 'static>(
        &self,
        token: &str,
        claims: &Claims<C>,
        fork: Option<fn(&Erased) -> Erased>,
        Generation(generation): Generation,
    ) {
        let exp = claims.expires_at();
        // A stale generation may still slip in after the check, but tagged with it: `get`
        // never serves it.
        if exp <= unix_now()
            || generation != self.generation().0
            || !self.doorkeeper.admit(token.as_bytes())
        {
            return;
        }
        let erased: Erased = claims.as_arc().clone();
        thread_cache::put(generation, token.as_bytes(), exp, Arc::clone(&erased));
        self.cache.insert(
            token.into(),
            Entry {
                exp,
                generation,
                claims: erased,
                fork,
            },
        );
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{AccessClaims, TokenUse};

    fn claims(exp: u64) -> Claims<String> {
        Claims::new(
            AccessClaims {
                sub: "u".into(),
                sid: Some("s".into()),
                iat: unix_now(),
                exp,
                nbf: None,
                iss: None,
                aud: None,
                token_use: Some(TokenUse::Access),
                cnf: None,
                custom: "custom".to_owned(),
            },
            &crate::ErrorRenderer::default(),
        )
    }

    #[test]
    fn hits_only_the_identical_token() {
        let cache = TokenCache::new(1 << 20);
        cache.insert("a.b.c", &claims(unix_now() + 60));
        // Verified once: only marked.
        assert!(cache.get::<String>("a.b.c").is_none());
        cache.insert("a.b.c", &claims(unix_now() + 60));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get::<String>("a.b.c").unwrap().custom(), "custom");
        assert!(cache.get::<String>("a.b.d").is_none());
        assert!(cache.get::<String>("a.b.c ").is_none());
        // Another claim type never sees the entry.
        assert!(cache.get::<u32>("a.b.c").is_none());
    }

    #[test]
    fn never_outlives_exp() {
        let cache = TokenCache::new(1 << 20);
        cache.insert("expired", &claims(unix_now()));
        assert!(cache.get::<String>("expired").is_none());
        assert_eq!(cache.len(), 0);
        cache.insert("short", &claims(unix_now() + 1));
        cache.insert("short", &claims(unix_now() + 1));
        assert!(cache.get::<String>("short").is_some());
        std::thread::sleep(Duration::from_millis(2100));
        assert!(cache.get::<String>("short").is_none());
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn forgetting_all_reaches_every_cache_and_late_inserts() {
        let cache = TokenCache::new(1 << 20);
        let before = cache.generation();
        cache.insert("a.b.c", &claims(unix_now() + 60));
        cache.insert("a.b.c", &claims(unix_now() + 60));
        assert!(cache.get::<String>("a.b.c").is_some());
        cache.forget_all();
        // Neither this thread's cache nor the shared one serves it.
        assert!(cache.get::<String>("a.b.c").is_none());
        // A verification begun with the old keys finishes after the change: not cached.
        cache.insert_shared("d.e.f", &claims(unix_now() + 60), before);
        cache.insert_shared("d.e.f", &claims(unix_now() + 60), before);
        assert!(cache.get::<String>("d.e.f").is_none());
        cache.insert_shared("d.e.f", &claims(unix_now() + 60), cache.generation());
        cache.insert_shared("d.e.f", &claims(unix_now() + 60), cache.generation());
        assert!(cache.get::<String>("d.e.f").is_some());
    }

    #[test]
    fn memory_is_bounded() {
        let cache = TokenCache::new(10_000);
        let token = "x".repeat(500);
        for i in 0..100 {
            let token = format!("{token}{i}");
            cache.insert(&token, &claims(unix_now() + 60));
            cache.insert(&token, &claims(unix_now() + 60));
        }
        cache.cache.run_pending_tasks();
        assert!(cache.cache.weighted_size() <= 10_000);
        assert!((1..100).contains(&cache.len()));
    }
}
