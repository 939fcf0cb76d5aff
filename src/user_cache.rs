//! The user directory as the refresh route reads it: through the backend's guard, and
//! coalesced per user for a short window, so that a burst of refreshes of one user (or one
//! client hammering the refresh route) costs one directory read.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tower_jwt_sessions_core::BackendError;

/// A user's claims as last read, `None` when the user was gone; type-erased so that the
/// cache needs no type parameter of the directory.
type Read = Arc<dyn Any + Send + Sync>;

pub(crate) struct UserCache {
    reads: Cache<String, Read>,
}

impl UserCache {
    /// Remembers each read for `ttl`, for at most `capacity` users.
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        UserCache {
            reads: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The claims `read` gives for `user_id`, shared by every caller within the window;
    /// a failed read is not remembered.
    pub(crate) async fn get_or_read<C: Clone + Send + Sync + 'static>(
        &self,
        user_id: &str,
        read: impl Future<Output = Result<Option<C>, BackendError>>,
    ) -> Result<Option<C>, Arc<BackendError>> {
        let claims = self
            .reads
            .try_get_with_by_ref(user_id, async {
                read.await.map(|claims| Arc::new(claims) as Read)
            })
            .await?;
        // One claim type per cache, so the downcast always succeeds; if it ever did not,
        // reading again would be the safe answer.
        Ok(claims
            .downcast_ref::<Option<C>>()
            .cloned()
            .unwrap_or_default())
    }
}
