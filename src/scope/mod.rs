//! Permissions a handler can require of the claims: 403 `insufficient_scope` when missing;
//! OAuth 2.0 scopes as tokens carry them.

use crate::error::AuthError;
use crate::standard_claims::HasScopes;
use crate::token::Claims;

mod layer;

pub use layer::{RequireScope, RequireScopeLayer};

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

impl<C: HasScopes> Claims<C> {
    /// `Ok` when the token grants `scope`, else the 403 `insufficient_scope` naming it
    /// (RFC 6750 §3.1) to answer with.
    pub fn require_scope(&self, scope: &str) -> Result<(), AuthError> {
        if self.scopes().contains(scope) {
            Ok(())
        } else {
            Err(AuthError::insufficient_scope(scope.to_owned()))
        }
    }
}

/// Declares a [`Scope`] granted by an OAuth 2.0 scope string, for axum's
/// [`Require`](crate::axum::Require) guard: `oauth_scope!(pub Write = "write");` for
/// [`StandardClaims`](crate::StandardClaims), or `oauth_scope!(pub Write = "write" for MyClaims);`
/// for a type of your own that implements [`HasScopes`].
///
/// ```
/// tower_jwt_sessions::oauth_scope!(pub Write = "write");
/// # use tower_jwt_sessions::Scope;
/// assert_eq!(<Write as Scope>::NAME, "write");
/// ```
#[macro_export]
macro_rules! oauth_scope {
    ($(#[$meta:meta])* $vis:vis $name:ident = $scope:literal) => {
        $crate::oauth_scope!($(#[$meta])* $vis $name = $scope for $crate::StandardClaims);
    };
    ($(#[$meta:meta])* $vis:vis $name:ident = $scope:literal for $claims:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::Scope for $name {
            type Claims = $claims;
            const NAME: &'static str = $scope;
            fn allows(claims: &$claims) -> bool {
                $crate::HasScopes::scopes(claims).contains($scope)
            }
        }
    };
}
