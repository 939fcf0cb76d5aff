//! The app's user directory: who a user is *now*, read at every refresh.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::BackendError;

/// The user's own claim type, carried in every access token beside the registered claims.
///
/// Implement it for your serde type; the default `is_active` keeps every user active. The
/// refresh route asks [`is_active`](UserClaims::is_active) of the user's *current* claims and
/// ends the session when it says no.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// #[derive(Clone, Serialize, Deserialize)]
/// struct MyClaims { role: String }
/// impl tower_jwt_sessions_core::UserClaims for MyClaims {}
/// ```
pub trait UserClaims: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Whether the user may still hold a session. Defaults to `true`.
    fn is_active(&self) -> bool {
        true
    }

    /// The OAuth scopes these claims grant, space-separated (`"read write"`): written as the
    /// access token's `scope` claim (RFC 9068 §2.2.3), which resource servers check. `None`,
    /// the default, writes none. Your type should not also serialize a `scope` field.
    fn scope(&self) -> Option<String> {
        None
    }
}

/// The app's user directory: the current claims of a user, read at every refresh so that
/// permission changes and deactivations reach the next access token.
///
/// Kept apart from [`SessionBackend`](crate::SessionBackend): a Redis or Postgres session backend
/// keeps sessions, the app knows its users.
///
/// ```
/// use std::collections::HashMap;
/// use serde::{Deserialize, Serialize};
/// use tower_jwt_sessions_core::{BackendError, UserClaims, Users};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Role { admin: bool, active: bool }
/// impl UserClaims for Role {
///     fn is_active(&self) -> bool { self.active }
/// }
///
/// struct Directory(HashMap<String, Role>);
///
/// impl Users for Directory {
///     type Claims = Role;
///     async fn claims(&self, user_id: &str) -> Result<Option<Role>, BackendError> {
///         Ok(self.0.get(user_id).cloned())
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let users = Directory(HashMap::from([("u1".into(), Role { admin: true, active: true })]));
/// assert!(users.claims("u1").await.unwrap().is_some());
/// assert!(users.claims("u2").await.unwrap().is_none());
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a user directory",
    note = "`Sessions::builder(keys, backend, users)` takes a `MemoryBackend` or your own"
)]
pub trait Users: Send + Sync + 'static {
    /// The claims put into every access token.
    type Claims: UserClaims;

    /// The user's *current* claims; `Ok(None)` when the user no longer exists, which ends the
    /// session at its next refresh. `Err` is a server fault (503).
    fn claims(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<Self::Claims>, BackendError>> + Send;
}
