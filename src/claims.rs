//! What a token says: the verified access-token claims handlers read, the user's own claim
//! type, and the ready-made Machinable shape.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::{AuthError, ErrorRenderer};
use serde::{Deserialize, Serialize};

/// The user's own claim type, carried in every access token beside the registered claims.
///
/// Implement it for your serde type; the default `is_active` keeps every user active. The
/// refresh route asks [`is_active`](SessionClaims::is_active) of the user's *current* claims
/// and ends the session when it says no.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// #[derive(Clone, Serialize, Deserialize)]
/// struct MyClaims { role: String }
/// impl tower_jwt_sessions::SessionClaims for MyClaims {}
/// ```
pub trait SessionClaims: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Whether the user may still hold a session. Defaults to `true`.
    fn is_active(&self) -> bool {
        true
    }
}

impl SessionClaims for serde_json::Value {}

/// Which kind of token this is. Access and refresh tokens differ by `typ` header *and* by this
/// claim, so neither passes where the other is expected (RFC 8725 §3.11-3.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenUse {
    Access,
    Refresh,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// The verified claims of an access token, inserted by the layer into the request extensions.
///
/// It dereferences to your own claim type `C`, so `claims.user.write` reads as written. The
/// registered claims have accessors. Cloning is one reference-count increment (extractors
/// clone). `Debug` shows no claim values: logs stay free of personal data.
///
/// ```
/// # use tower_jwt_sessions::{Claims, MachinableClaims};
/// fn handler(req: http::Request<()>) -> bool {
///     let claims = req.extensions().get::<Claims<MachinableClaims>>().unwrap();
///     claims.user.write
/// }
/// ```
pub struct Claims<C> {
    inner: Arc<AccessClaims<C>>,
    /// How refusals made from these claims (a missing scope) are rendered: the layer's own
    /// renderer, carried along so that extractors answer exactly as the layer does.
    renderer: Option<ErrorRenderer>,
}

/// The payload of an access token as it is on the wire.
#[derive(Serialize)]
pub(crate) struct AccessClaims<C> {
    pub(crate) sub: String,
    pub(crate) sid: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<Audience>,
    pub(crate) token_use: TokenUse,
    #[serde(flatten)]
    pub(crate) custom: C,
}

impl<C> Claims<C> {
    pub(crate) fn new(inner: AccessClaims<C>) -> Self {
        Claims::from_arc(Arc::new(inner))
    }

    pub(crate) fn from_arc(inner: Arc<AccessClaims<C>>) -> Self {
        Claims {
            inner,
            renderer: None,
        }
    }

    pub(crate) fn with_renderer(mut self, renderer: &ErrorRenderer) -> Self {
        self.renderer = Some(renderer.clone());
        self
    }

    /// Renders a refusal the way the layer that verified these claims does.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn render(&self, err: &AuthError) -> http::Response<bytes::Bytes> {
        match &self.renderer {
            Some(renderer) => renderer.render(err),
            None => err.to_response(None),
        }
    }

    pub(crate) fn as_arc(&self) -> &Arc<AccessClaims<C>> {
        &self.inner
    }

    /// The user id (`sub`).
    pub fn subject(&self) -> &str {
        &self.inner.sub
    }

    /// The session this token was minted for (`sid`).
    pub fn session_id(&self) -> &str {
        &self.inner.sid
    }

    /// When the token was issued, in seconds since the Unix epoch (`iat`).
    pub fn issued_at(&self) -> u64 {
        self.inner.iat
    }

    /// When the token expires, in seconds since the Unix epoch (`exp`).
    pub fn expires_at(&self) -> u64 {
        self.inner.exp
    }

    /// The issuer, when the token has one (`iss`).
    pub fn issuer(&self) -> Option<&str> {
        self.inner.iss.as_deref()
    }

    /// The user's own claims.
    pub fn custom(&self) -> &C {
        &self.inner.custom
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Claims {
            inner: Arc::clone(&self.inner),
            renderer: self.renderer.clone(),
        }
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.inner.custom
    }
}

/// Serializes as the token payload: registered claims and your own, side by side.
impl<C: Serialize> Serialize for Claims<C> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

impl<C> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("exp", &self.inner.exp)
            .finish_non_exhaustive()
    }
}

/// The claims of a refresh token. Crate-private: only the refresh route reads them.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RefreshClaims {
    pub(crate) sub: String,
    pub(crate) sid: String,
    /// The session's token generation: a later rotation bumps it and old tokens stop working.
    #[serde(rename = "gen")]
    pub(crate) generation: u64,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<Audience>,
    pub(crate) token_use: TokenUse,
}

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

impl SessionClaims for MachinableClaims {
    fn is_active(&self) -> bool {
        self.user.active
    }
}
