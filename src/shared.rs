//! What the layer, the refresh route and the app's handle share, behind one `Arc`: the hot
//! path of every protected request lives here.

use std::time::Duration;

use tower_jwt_sessions_core::{BackendError, Users};

use crate::error::refusals::SESSION_ENDED;
use crate::error::{AuthError, ErrorRenderer};
use crate::routes::Routes;
use crate::store::Store;
use crate::token::{Claims, TokenCache, TokenCodec};

/// The lifetimes and switches the request paths read; set by the builder.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) touch_debounce: Duration,
    pub(crate) optional: bool,
    /// Refresh-token rotation, with its grace window for a second tab; `None` when off.
    pub(crate) rotation: Option<Duration>,
}

pub(crate) struct Shared<S, U> {
    pub(crate) store: Store<S>,
    pub(crate) users: U,
    pub(crate) codec: TokenCodec,
    pub(crate) token_cache: Option<TokenCache>,
    pub(crate) routes: Routes,
    pub(crate) renderer: ErrorRenderer,
    pub(crate) policy: Policy,
}

impl<S, U: Users> Shared<S, U> {
    /// The access-token check of every protected request: the token cache first, then the
    /// full verification, whose success (only) is cached; either way, a session this process
    /// revoked stops its access tokens at once.
    pub(crate) fn verify_access(&self, token: &str) -> Result<Claims<U::Claims>, AuthError> {
        let claims: Claims<U::Claims> = match &self.token_cache {
            Some(cache) => match cache.get(token) {
                Some(claims) => claims,
                None => {
                    let claims: Claims<U::Claims> = self.codec.verify_access(token)?;
                    cache.insert(token, &claims);
                    claims
                }
            },
            None => self.codec.verify_access(token)?,
        };
        if self.store.is_revoked(claims.session_id()) {
            return Err(SESSION_ENDED);
        }
        Ok(claims)
    }

    /// The user's current claims, through the same guard as every store call.
    pub(crate) async fn user_claims(
        &self,
        user_id: &str,
    ) -> Result<Option<U::Claims>, BackendError> {
        self.store
            .guard()
            .call("user claims", self.users.claims(user_id))
            .await
    }
}
