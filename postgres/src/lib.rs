//! A Postgres session backend for [tower-jwt-sessions]: several instances share sessions, and a
//! revocation made on one stops that session's refresh *and* access tokens on every other.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_jwt_sessions_postgres::PostgresBackend;
//!
//! let backend = PostgresBackend::connect("postgres://postgres@127.0.0.1:5432/test").await?;
//! // Sessions::builder(keys, backend, my_users).build()?
//! # Ok(()) }
//! ```
//!
//! - **Driver**: tokio-postgres behind a deadpool-postgres pool with explicit wait, create
//!   and recycle timeouts ([`PostgresBackendBuilder::response_timeout`]; the pool's own
//!   defaults wait for ever), runtime SQL only: no compile-time macros, so no `DATABASE_URL`
//!   on every downstream build. sqlx would bring its macros, its own pool and a much larger
//!   build for the same five statements. A call whose pooled connection turns out dead (a
//!   failover, a restart, `pg_terminate_backend`) drops every idle connection and runs once
//!   more on a fresh one, as every call here is safe to repeat. Pooled connections are named
//!   `{schema}_{prefix}store` in `pg_stat_activity` unless the URL names them.
//! - **Migrations** are the crate's own, versioned, applied at [`PostgresBackend::connect`]
//!   under a Postgres advisory lock, so that instances starting together do not race, into a
//!   configurable schema and table prefix (`public`, `tjs_`).
//! - **Revocations reach every instance**: a revoke deletes the row, appends to the
//!   revocation log (a table with a serial id) and calls `pg_notify`, in one statement; the
//!   notification is delivered at commit. Each instance listens on a connection of its own,
//!   replays the log from the last id it saw after (re)subscribing, pings the connection every
//!   second so that a silently dead one is found within [`FEED_DEAD_AFTER`], and reports its
//!   feed down while it cannot listen (the layer then trusts no cached session state).
//! - **A log that lost entries is never trusted**: a one-row meta table says since when the
//!   log is complete. Triggers keep it: a `DELETE` moves it to the newest entry removed (the
//!   age trim's are older than every live access token, so they change nothing), a
//!   `TRUNCATE` to the moment it ran, and notifies every listener at once. Each listener
//!   also checks every second that the ids did not go back (the log's sequence behind the
//!   last id it saw, or another session at that id: a reset it was not told of), records
//!   such a loss in the meta table and replays the whole log. It reports the time to the
//!   layer ([`RevocationSink::log_complete_since`]), which checks each access token's session
//!   in the backend until that time is older than every access token still alive. A restore
//!   from a backup that no running instance witnessed also restores the revoked sessions'
//!   rows, and with them their tokens: nothing here can tell, so after a restore, revoke
//!   again what was revoked since the backup (or rotate the signing key).
//! - **Expired rows** are deleted in batches (`FOR UPDATE SKIP LOCKED`) by the same task,
//!   every minute, and the log is trimmed to [`defaults::RETENTION`].
//!
//! [tower-jwt-sessions]: https://docs.rs/tower-jwt-sessions
//! [`RevocationSink::log_complete_since`]: tower_jwt_sessions_core::RevocationSink::log_complete_since
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]
// Library code answers every input without panicking; its unit tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::Row;
use tower_jwt_sessions_core::{BackendError, Session, SessionMeta};

mod backend;
mod builder;
pub mod defaults;
mod feed;
mod schema;

pub use backend::PostgresBackend;
pub use builder::PostgresBackendBuilder;
pub use feed::FEED_DEAD_AFTER;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Postgres has no unsigned integers: values past `i64::MAX` are refused, not wrapped.
/// (`TryFromIntError` says no more than these texts.)
fn signed(value: u64) -> Result<i64, BackendError> {
    i64::try_from(value).map_err(|_| BackendError::new("a value past i64::MAX cannot be stored"))
}

fn unsigned(value: i64) -> Result<u64, BackendError> {
    u64::try_from(value).map_err(|_| BackendError::new("a stored session holds a negative time"))
}

/// A row of the sessions table, its columns in the order `schema` selects them.
fn session(row: &Row) -> Result<Session, BackendError> {
    Ok(Session {
        id: row.get(0),
        user_id: row.get(1),
        created_at: unsigned(row.get(2))?,
        expires_at: unsigned(row.get(3))?,
        last_accessed: unsigned(row.get(4))?,
        generation: unsigned(row.get(5))?,
        rotated_at: unsigned(row.get(6))?,
        meta: SessionMeta {
            ip: row.get(7),
            user_agent: row.get(8),
            dpop_jkt: row.get(9),
        },
    })
}
