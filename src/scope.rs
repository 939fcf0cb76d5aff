//! Permissions a handler can require of the claims: 403 `insufficient_scope` when missing.

use crate::error::AuthError;
use crate::token::Claims;

/// A permission, named in the 403 answer, that some claims have and others lack.
///
/// ```
/// use tower_jwt_sessions::{MachinableClaims, Scope};
/// struct Admin;
/// impl Scope for Admin {
///     type Claims = MachinableClaims;
///     const NAME: &'static str = "admin";
///     fn allows(claims: &MachinableClaims) -> bool {
///         claims.user.write && claims.user.name == "root"
///     }
/// }
/// ```
pub trait Scope: Send + Sync + 'static {
    /// The claim type the permission is read from.
    type Claims: Send + Sync + 'static;
    /// The scope named in `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`.
    const NAME: &'static str;
    /// Whether these claims carry the permission.
    fn allows(claims: &Self::Claims) -> bool;
}

impl<C> Claims<C> {
    /// `Ok` when the claims carry the permission, else the 403 to answer with.
    ///
    /// ```
    /// # fn f(claims: tower_jwt_sessions::Claims<tower_jwt_sessions::MachinableClaims>) {
    /// use tower_jwt_sessions::scopes::Write;
    /// if let Err(refusal) = claims.require::<Write>() {
    ///     // answer `refusal` (403 insufficient_scope)
    /// }
    /// # }
    /// ```
    pub fn require<P: Scope<Claims = C>>(&self) -> Result<(), AuthError> {
        if P::allows(self) {
            Ok(())
        } else {
            Err(AuthError::insufficient_scope(P::NAME))
        }
    }
}
