//! The session row a backend keeps.

use serde::{Deserialize, Serialize};

/// One login of one user on one device. The row's existence is the revocation state:
/// revoking deletes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Chosen by the crate: a random 128-bit id, hex-encoded (32 digits), or
    /// `{prefix}.{32 hex digits}` when the backend names a
    /// [`session_id_prefix`](crate::SessionBackend::session_id_prefix).
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Absolute end of the session (its refresh token's `exp`), seconds since the Unix epoch.
    pub expires_at: u64,
    /// Last time the session was used to refresh, seconds since the Unix epoch.
    pub last_accessed: u64,
    /// Refresh-token generation. Refresh tokens carry it; rotation bumps it, so that an old
    /// token no longer matches.
    pub generation: u64,
    /// When the generation was last bumped, seconds since the Unix epoch (0: never).
    #[serde(default)]
    pub rotated_at: u64,
    /// Where the session came from, for the user's list of sessions.
    #[serde(flatten)]
    pub meta: SessionMeta,
}

/// What the login request said about the client, shown in the user's list of sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    /// The client's address, as the app sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The RFC 7638 thumbprint of the key the session is bound to (DPoP, RFC 9449): its
    /// access tokens carry it as `cnf.jkt`, and its refreshes need a proof by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}
