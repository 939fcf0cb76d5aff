//! Refresh-token rotation with reuse detection (RFC 9700 §4.14.2).
//!
//! Each session has a generation; its refresh token carries the generation it was minted
//! for. A refresh with the current generation swaps it for the next one in the backend
//! (compare-and-swap, so that instances racing for it agree on one winner) and hands out a
//! token of the new generation. The previous generation is accepted only within the grace
//! window after it was retired (two tabs refreshing at once), and then gets the current
//! generation without a further swap. Anything older is a stolen token replayed: the whole
//! session ends.

use std::time::Duration;

use tower_jwt_sessions_core::{Session, SessionBackend};

use crate::error::AuthError;
use crate::error::refusals::{SESSION_ENDED, TOKEN_REPLACED, TOKEN_REUSED};
use crate::store::Store;

/// Settles the generation for a refresh with a token of generation `presented`, given the
/// session as this instance last saw it (perhaps from its cache). Returns the generation of
/// the refresh token to hand out. Only a refusal may rest on the cached row alone
/// (generations only grow); a grace answer rests on a fresh read.
pub(super) async fn settle<S: SessionBackend>(
    store: &Store<S>,
    seen: &Session,
    presented: u64,
    grace: Duration,
    now: u64,
) -> Result<u64, AuthError> {
    let mut current = seen.clone();
    // Our view can be stale (another instance rotated, or we lost the swap): on a mismatch
    // read the backend itself, once.
    for fresh in [false, true] {
        if presented == current.generation {
            // A generation at the top of u64 cannot be bumped: refuse it as replaced.
            let next = presented.checked_add(1).ok_or(TOKEN_REPLACED)?;
            match store.rotate(&current.id, presented, next, now).await {
                Ok(true) => return Ok(next),
                Ok(false) => {}
                Err(_) => return Err(crate::error::refusals::BACKEND_UNAVAILABLE),
            }
        } else if presented.checked_add(1) == Some(current.generation)
            && now < current.rotated_at.saturating_add(grace.as_secs())
        {
            // The grace hands out the current generation: only the backend can say which that
            // is. A cached row may be a generation behind (another instance rotated since),
            // and then `presented` is a retired token replayed, not a second tab.
            if fresh {
                return Ok(current.generation);
            }
        } else if presented < current.generation {
            store.end(&current.id).await;
            return Err(TOKEN_REUSED);
        }
        if fresh {
            break;
        }
        current = match store.reload(&current.id).await {
            Ok(Some(session)) if session.user_id == seen.user_id => session,
            Ok(_) => return Err(SESSION_ENDED),
            Err(_) => return Err(crate::error::refusals::BACKEND_UNAVAILABLE),
        };
    }
    Err(TOKEN_REPLACED)
}
