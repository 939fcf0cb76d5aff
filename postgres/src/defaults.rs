//! Every default of [`PostgresBackendBuilder`](crate::PostgresBackendBuilder), in one place:
//! what a setting is when you do not set it.

use std::time::Duration;

/// Default schema of the tables.
pub const SCHEMA: &str = "public";

/// Default prefix of the table names (`tjs_sessions`, `tjs_revocations`, ...).
pub const TABLE_PREFIX: &str = "tjs_";

/// How long the revocation log keeps an entry by default: past every access token minted
/// before it.
pub const RETENTION: Duration = Duration::from_secs(60 * 60);

/// Default number of connections in the pool, at most.
pub const POOL_SIZE: usize = 16;

/// Default longest wait for a pooled connection, for a new one, and for recycling one.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
