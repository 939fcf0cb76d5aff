//! What the layer, the refresh route and the app's handle share, behind one `Arc`: the hot
//! path of every protected request lives here.

use std::time::Duration;

use tower_jwt_sessions_core::{SessionBackend, Users};

use crate::cookie::CookieTransport;
use crate::error::refusals::{MISSING_CLAIM, SESSION_ENDED};
use crate::error::{AuthError, ErrorRenderer};
use crate::http::RawToken;
use crate::keys::Jwks;
use crate::routes::Routes;
use crate::store::{LoadError, Store, Verdict};
use crate::token::{Claims, TokenCache, TokenCodec};
use crate::user_cache::UserCache;
use crate::well_known::WellKnown;

/// The lifetimes and switches the request paths read; set by the builder.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_sessions_per_user: Option<usize>,
    pub(crate) touch_debounce: Duration,
    pub(crate) optional: bool,
    /// Refresh-token rotation, with its grace window for a second tab; `None` when off.
    pub(crate) rotation: Option<Duration>,
}

pub(crate) struct Shared<S, U> {
    pub(crate) store: Store<S>,
    pub(crate) users: U,
    /// Coalesces reads of one user's claims for a short window; `None`: read every time.
    pub(crate) user_cache: Option<UserCache>,
    pub(crate) codec: TokenCodec,
    pub(crate) token_cache: Option<TokenCache>,
    pub(crate) routes: Routes,
    /// The JWKS document, rendered at build time; `None` when not served.
    pub(crate) jwks: Option<Jwks>,
    /// The RFC 8414 metadata document, when served.
    pub(crate) issuer_metadata: Option<WellKnown>,
    /// DPoP (RFC 9449), when on.
    pub(crate) dpop: Option<crate::dpop::Dpop>,
    pub(crate) renderer: ErrorRenderer,
    pub(crate) policy: Policy,
    /// The refresh token's cookie transport; `None`: Bearer only.
    pub(crate) cookie: Option<CookieTransport>,
}

/// An access token that verified.
pub(crate) enum Access<C> {
    /// Its session is not among those this process revoked: let it in.
    Granted(Claims<C>),
    /// The revoked set ran out of room lately, so it cannot vouch for the session: check
    /// the session itself ([`Shared::check_session`]) before letting it in.
    CheckSession(Claims<C>),
}

impl<S, U: Users> Shared<S, U> {
    /// The access-token check of every protected request: the token cache first, then the
    /// full verification, whose success (only) is cached; either way, a session this process
    /// revoked stops its access tokens at once.
    pub(crate) fn verify_access(
        &self,
        token: RawToken<'_>,
    ) -> Result<Access<U::Claims>, AuthError> {
        let cache = self.token_cache.as_ref();
        let claims = match cache.and_then(|cache| cache.get_local(token.bytes())) {
            Some(claims) => {
                crate::telemetry::token_cache(true);
                claims
            }
            None => self.verify_text(token.as_str()?)?,
        };
        // Always there: this layer's codec accepts only its own tokens, which carry one.
        let Some((sid, hash)) = claims.session() else {
            return Err(MISSING_CLAIM);
        };
        match self.store.check_revoked(sid, hash) {
            Verdict::Live => Ok(Access::Granted(claims)),
            Verdict::Revoked => Err(SESSION_ENDED),
            Verdict::Unknown => Ok(Access::CheckSession(claims)),
        }
    }

    /// A token this thread's cache does not hold: the shared cache, else the full
    /// verification, whose success (only) is cached.
    fn verify_text(&self, token: &str) -> Result<Claims<U::Claims>, AuthError> {
        let Some(cache) = &self.token_cache else {
            return Ok(Claims::new(
                self.codec.verify_access(token)?,
                &self.renderer,
            ));
        };
        if let Some(claims) = cache.get_shared(token) {
            crate::telemetry::token_cache(true);
            return Ok(claims);
        }
        crate::telemetry::token_cache(false);
        let claims = Claims::new(self.codec.verify_access(token)?, &self.renderer);
        cache.insert(token, &claims);
        Ok(claims)
    }

    /// The user's current claims (as of the user-claims window), through the same guard as
    /// every backend call; a failed read is a server fault.
    pub(crate) async fn user_claims(&self, user_id: &str) -> Result<Option<U::Claims>, AuthError> {
        let read = self
            .store
            .guard()
            .call("user claims", || self.users.claims(user_id));
        // The guard has logged the backend's error; the client gets the fixed 503.
        match &self.user_cache {
            Some(cache) => cache.get_or_read(user_id, read).await.map_err(|_| ()),
            None => read.await.map_err(|_| ()),
        }
        .map_err(|()| crate::error::refusals::BACKEND_UNAVAILABLE)
    }
}

impl<S: SessionBackend, U: Users> Shared<S, U> {
    /// Records a DPoP proof in the backend, once across every instance: a replay is
    /// refused, a backend failure is a 503 (never a pass).
    pub(crate) async fn record_proof(&self, proof: &crate::dpop::Proof) -> Result<(), AuthError> {
        // A proof is only ever checked with DPoP on.
        let Some(dpop) = &self.dpop else {
            return Err(crate::error::refusals::BACKEND_UNAVAILABLE);
        };
        let until = dpop.remember_until(crate::clock::unix_now());
        // The guard has logged a backend error; the client gets the fixed 503.
        let first_use = self
            .store
            .record_proof(&proof.replay_key(), until)
            .await
            .ok();
        crate::dpop::settle(first_use)
    }

    /// Whether the access token's session still exists, asked of the session cache and the
    /// backend: the fallback while the revoked set cannot vouch for it.
    pub(crate) async fn check_session(&self, claims: &Claims<U::Claims>) -> Result<(), AuthError> {
        let sid = claims.session_id().ok_or(MISSING_CLAIM)?;
        match self.store.load(sid).await {
            Ok(entry) if entry.session.user_id == claims.subject() => Ok(()),
            Ok(_) => Err(SESSION_ENDED),
            Err(err) => match *err {
                LoadError::NotFound => Err(SESSION_ENDED),
                LoadError::Backend => Err(crate::error::refusals::BACKEND_UNAVAILABLE),
            },
        }
    }

    /// [`verify_access`](Self::verify_access) with its fallback awaited.
    pub(crate) async fn verify_access_fully(
        &self,
        token: &str,
    ) -> Result<Claims<U::Claims>, AuthError> {
        match self.verify_access(RawToken::from(token))? {
            Access::Granted(claims) => Ok(claims),
            Access::CheckSession(claims) => {
                self.check_session(&claims).await?;
                Ok(claims)
            }
        }
    }
}
