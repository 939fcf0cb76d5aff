//! Redis session backends for [tower-jwt-sessions]: several instances share sessions, and a
//! revocation made on one stops that session's refresh *and* access tokens on every other.
//! [`RedisBackend`] serves one Redis (with its replicas); [`RedisClusterBackend`] a Redis
//! Cluster, sessions sharded by user over every primary.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_jwt_sessions_redis::RedisBackend;
//!
//! let backend = RedisBackend::connect("redis://127.0.0.1:6379").await?;
//! // Sessions::builder(keys, backend, my_users).build()?
//! # Ok(()) }
//! ```
//!
//! - **Driver**: redis-rs 1.x with a `ConnectionManager`, which reconnects in the background.
//!   `fred`, the peer backend's choice, has had no release since early 2025.
//! - **Writes are Lua scripts** (create, revoke, revoke others, touch, the generation
//!   compare-and-swap): atomic on the server and safe on the shared multiplexed connection,
//!   where WATCH/MULTI is not (redis-rs #565).
//! - **Keys** live under a key prefix ([`RedisBackendBuilder::key_prefix`], default
//!   [`defaults::KEY_PREFIX`]), which is also their hash tag:
//!   `{prefix}:s:{id}`, a hash expiring with the session; `{prefix}:u:{user}`, the user's
//!   sessions scored by creation time (for `list`, "sign out everywhere" and the per-user
//!   limit); `{prefix}:revoked`, the revocation log; `{prefix}:log-since`, since when it is
//!   complete; `{prefix}:p:{id}`, a DPoP proof recorded once (`SET NX EX`).
//! - **Revocations reach every instance**: the revoke script appends to the log (a Redis
//!   Stream trimmed to [`defaults::RETENTION`], longer than any access token lives) in the same
//!   atomic step as the delete. Each instance follows the log with a blocking read on a
//!   connection of its own, replays it from where it stopped when it starts and whenever it
//!   reconnects, and reports its feed down while it cannot read (the layer then trusts no
//!   cached session state). The blocking read returns at least every second, so a silently
//!   dead connection is found within [`FEED_DEAD_AFTER`].
//! - **A log that lost entries is never trusted**: `{prefix}:log-since` holds the Unix second
//!   since which the log is known complete (0 from its first use). Each follower checks the
//!   log when it connects and after every blocking read: a deleted log (the marker is there,
//!   the stream is not), ids gone back, or entries added past its last id that it never got
//!   (trimmed or deleted before it read them) are recorded there as a loss now; entries
//!   removed by `XDEL` show in the stream's `max-deleted-entry-id`. The later of the two is
//!   reported to the layer ([`RevocationSink::log_complete_since`]), which checks each
//!   access token's session in the backend until that time is older than every access token
//!   still alive. The age trim changes nothing: it removes only entries older than
//!   [`defaults::RETENTION`], never the newest. Not seen: an operator's `XTRIM` of recent
//!   entries while no follower was running (the stream keeps no trace of what a trim
//!   removed), and a restore from a backup, which also brings back the revoked sessions.
//! - **Redis Cluster**: [`RedisBackend`] puts every key in one slot (the `{prefix}` hash tag),
//!   so it runs on a cluster node only as one shard. [`RedisClusterBackend`] is the backend
//!   for a cluster (ElastiCache, Memorystore, Valkey or your own), below.
//!
//! # On a Redis Cluster
//!
//! - **Seeds**: any of the nodes; one answering is enough, and redis-rs's cluster client
//!   learns the rest and follows failovers and moved slots (`MOVED`, `ASK`) by itself. A slot
//!   half migrated (`TRYAGAIN`) is waited out with pauses of 10 to 100 ms, within the
//!   backend's [`response_timeout`](RedisClusterBackendBuilder::response_timeout), so
//!   resharding under traffic costs no 503 and an outage is still a prompt one.
//! - **Sharded by user** (FNV-1a of the user id, modulo the shard count): a user's sessions,
//!   their index and their shard's revocation log share one hash tag, so every write is one
//!   script in one slot. The shards' tags sit on evenly spaced slots, so that users spread
//!   over every primary: the [`defaults::SHARDS`] (16) shards fall 5, 6 and 5 on three
//!   primaries, evenly on 2, 4, 8 or 16. Keep the shard count
//!   ([`RedisClusterBackendBuilder::shards`]) the same on every instance for as long as its
//!   sessions live.
//! - **Session ids name their shard** (`{shard}.{32 hex digits}`, through
//!   [`SessionBackend::session_id_prefix`]), so a load by id goes straight to its slot.
//! - **Revocations**: every instance polls every shard's log every [`POLL_EVERY`] (a
//!   blocking read would hold a node's multiplexed connection, and one read cannot span
//!   slots), and is fail-closed as on one node: a shard it cannot read puts its feed down
//!   until a whole sweep succeeds.
//! - **A write waits for a replica** to hold it (`WAIT 1`, when the primary has one, up to
//!   [`RedisClusterBackendBuilder::replica_wait`]), so a failover does not lose an
//!   acknowledged login, rotation or revocation.
//!
//! [tower-jwt-sessions]: https://docs.rs/tower-jwt-sessions
//! [`RevocationSink::log_complete_since`]: tower_jwt_sessions_core::RevocationSink::log_complete_since
//! [`SessionBackend::session_id_prefix`]: tower_jwt_sessions_core::SessionBackend::session_id_prefix
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]
// Library code answers every input without panicking; its unit tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::RedisError;
use tower_jwt_sessions_core::{BackendError, Session, SessionMeta};

mod cluster;
pub mod defaults;
mod log;
mod node;
mod scripts;

pub use cluster::{POLL_EVERY, RedisClusterBackend, RedisClusterBackendBuilder};
pub use node::{FEED_DEAD_AFTER, RedisBackend, RedisBackendBuilder};

/// The oldest log entry kept when appending now: a `MINID` stream id.
fn oldest_kept(retention: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let oldest = now.saturating_sub(retention).as_millis();
    format!("{oldest}-0")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn backend_error(err: RedisError) -> BackendError {
    BackendError::new(err)
}

fn corrupt(id: &str) -> BackendError {
    BackendError::new(format!("the stored session {id} is corrupt"))
}

/// `+value` when known, empty when not: a Lua argument cannot be nil.
fn optional(value: &Option<String>) -> String {
    value.as_ref().map_or_else(String::new, |v| format!("+{v}"))
}

fn parse(id: &str, mut row: HashMap<String, String>) -> Result<Option<Session>, BackendError> {
    if row.is_empty() {
        return Ok(None);
    }
    let number = |field: &str| -> Result<u64, BackendError> {
        row.get(field)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt(id))
    };
    let (created_at, expires_at, last_accessed, generation, rotated_at) = (
        number("created")?,
        number("expires")?,
        number("accessed")?,
        number("gen")?,
        number("rotated")?,
    );
    Ok(Some(Session {
        id: id.to_owned(),
        user_id: row.remove("user").ok_or_else(|| corrupt(id))?,
        created_at,
        expires_at,
        last_accessed,
        generation,
        rotated_at,
        meta: SessionMeta {
            ip: row.remove("ip"),
            user_agent: row.remove("ua"),
            dpop_jkt: row.remove("jkt"),
        },
    }))
}
