//! Every default of [`RedisBackendBuilder`](crate::RedisBackendBuilder) and
//! [`RedisClusterBackendBuilder`](crate::RedisClusterBackendBuilder), in one place: what a
//! setting is when you do not set it.

use std::time::Duration;

/// Default prefix of every key (on a cluster, of every key outside its hash tag).
pub const KEY_PREFIX: &str = "tjs";

/// How long the revocation log keeps an entry by default: past every access token minted
/// before it (15 minutes plus leeway by default), with room to spare.
pub const RETENTION: Duration = Duration::from_secs(60 * 60);

/// Default longest time one command may take (on a cluster, retries included).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Default number of shards of an app on a cluster: tags on 16 evenly spaced slots, so that
/// a cluster of 2, 4, 8 or 16 primaries holds equal shares, and one of 3 holds 5, 6 and 5.
pub const SHARDS: u16 = 16;

/// Default longest wait of a cluster write for a replica of its primary to hold it.
pub const REPLICA_WAIT: Duration = Duration::from_millis(200);
