//! Machinable's shapes: its access-token claims and its two permissions.
//!
//! The reference API's access token carries `{"projects": {<name>: true}, "user": {...}}`;
//! `read` allows `GET`, `write` allows `POST`/`PUT`/`DELETE`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tower_jwt_sessions_core::UserClaims;

/// The access-token claims of Machinable: `{projects: {<name>: true}, user: {...}}`.
///
/// ```
/// use tower_jwt_sessions::{MachinableClaims, MachinableUser};
/// let claims = MachinableClaims::new("pet-demo", MachinableUser {
///     id: "5c868d40a7748bb224833f4b".into(),
///     name: "testUser".into(),
///     active: true,
///     read: true,
///     write: true,
///     kind: "project".into(),
/// });
/// assert!(claims.can_read() && claims.can_write());
/// // Access tokens carry the permissions as OAuth scopes too.
/// use tower_jwt_sessions::UserClaims;
/// assert_eq!(claims.scope().as_deref(), Some("read write"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachinableClaims {
    /// The projects this user belongs to, each mapped to `true`.
    pub projects: BTreeMap<String, bool>,
    /// Who the user is and what they may do.
    pub user: MachinableUser,
}

/// The `user` object of [`MachinableClaims`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachinableUser {
    /// The user id.
    pub id: String,
    /// The user name.
    pub name: String,
    /// Whether the user may log in and refresh.
    pub active: bool,
    /// May read (`GET`).
    pub read: bool,
    /// May write (`POST`, `PUT`, `DELETE`).
    pub write: bool,
    /// The user type; Machinable uses `"project"`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl MachinableClaims {
    /// Claims for one project.
    pub fn new(project: impl Into<String>, user: MachinableUser) -> Self {
        MachinableClaims {
            projects: BTreeMap::from([(project.into(), true)]),
            user,
        }
    }

    /// The user is active and may read.
    pub fn can_read(&self) -> bool {
        self.user.active && self.user.read
    }

    /// The user is active and may write.
    pub fn can_write(&self) -> bool {
        self.user.active && self.user.write
    }

    /// The user belongs to `project`.
    pub fn in_project(&self, project: &str) -> bool {
        self.projects.get(project).copied().unwrap_or(false)
    }
}

impl UserClaims for MachinableClaims {
    fn is_active(&self) -> bool {
        self.user.active
    }

    /// The permissions as OAuth scopes named as [`scopes`] names them: `read`, `write`, or
    /// both, so that resource servers of any issuer's tokens accept ours.
    fn scope(&self) -> Option<String> {
        let granted: Vec<&str> = [
            (self.can_read(), <scopes::Read as crate::Scope>::NAME),
            (self.can_write(), <scopes::Write as crate::Scope>::NAME),
        ]
        .into_iter()
        .filter_map(|(granted, name)| granted.then_some(name))
        .collect();
        (!granted.is_empty()).then(|| granted.join(" "))
    }
}

/// Machinable's permissions: `read` allows `GET`, `write` allows `POST`/`PUT`/`DELETE`.
pub mod scopes {
    use super::MachinableClaims;
    use crate::scope::Scope;

    /// The user is active and may read.
    #[derive(Debug, Clone, Copy)]
    pub struct Read;

    /// The user is active and may write.
    #[derive(Debug, Clone, Copy)]
    pub struct Write;

    impl Scope for Read {
        type Claims = MachinableClaims;
        const NAME: &'static str = "read";
        fn allows(claims: &MachinableClaims) -> bool {
            claims.can_read()
        }
    }

    impl Scope for Write {
        type Claims = MachinableClaims;
        const NAME: &'static str = "write";
        fn allows(claims: &MachinableClaims) -> bool {
            claims.can_write()
        }
    }
}
