//! Refresh-token rotation with reuse detection (RFC 9700 §4.14.2).
//!
//! Each session has a generation; its refresh token carries the generation it was minted
//! for. A refresh with the current generation swaps it for the next one in the store
//! (compare-and-swap, so that instances racing for it agree on one winner) and hands out a
//! token of the new generation. The previous generation is accepted only within the grace
//! window after it was retired (two tabs refreshing at once), and then gets the current
//! generation without a further swap. Anything older is a stolen token replayed: the whole
//! session ends.

use std::time::Duration;

use crate::backend::{Session, SessionBackend};
use crate::error::AuthError;
use crate::sessions::Shared;

const REUSED: AuthError =
    AuthError::InvalidToken("a retired refresh token was used again; the session has ended");
const REPLACED: AuthError = AuthError::InvalidToken("the refresh token has been replaced");

/// Settles the generation for a refresh with a token of generation `presented`, given the
/// session as this instance last saw it. Returns the generation of the refresh token to hand
/// out.
pub(crate) async fn settle<B: SessionBackend>(
    shared: &Shared<B>,
    seen: &Session,
    presented: u64,
    grace: Duration,
    now: u64,
) -> Result<u64, AuthError> {
    let mut current = seen.clone();
    // Our view can be stale (another instance rotated, or we lost the swap): on a mismatch
    // read the store itself, once.
    for fresh in [false, true] {
        if presented == current.generation {
            let next = presented + 1;
            match shared
                .backend
                .rotate(&current.id, presented, next, now)
                .await
            {
                Ok(true) => {
                    shared.cache.forget(&current.id).await;
                    return Ok(next);
                }
                Ok(false) => {}
                Err(_err) => {
                    crate::debug_event!("session backend failed on rotate: {}", _err);
                    return Err(AuthError::Unavailable);
                }
            }
        } else if presented + 1 == current.generation
            && now < current.rotated_at.saturating_add(grace.as_secs())
        {
            return Ok(current.generation);
        } else if presented < current.generation {
            shared.end_session(&current.id).await;
            return Err(REUSED);
        }
        if fresh {
            break;
        }
        shared.cache.forget(&current.id).await;
        current = match shared.backend.load(&current.id).await {
            Ok(Some(session)) if session.user_id == seen.user_id => session,
            Ok(_) => return Err(AuthError::InvalidToken("the session has ended")),
            Err(_err) => {
                crate::debug_event!("session backend failed on load: {}", _err);
                return Err(AuthError::Unavailable);
            }
        };
    }
    Err(REPLACED)
}
