//! [`RedisClusterBackend`]: the sessions on a Redis Cluster, sharded by user.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use tower_jwt_sessions_core::{
    BackendError, ReplayBackend, RevocationSink, RotatingBackend, Session, SessionBackend,
};

use crate::log::Feed;
use crate::{DEFAULT_RETENTION, backend_error, oldest_kept, optional, parse, unix_now};

mod feed;
mod patient;
mod scripts;
mod shards;

pub use feed::POLL_EVERY;
use patient::Patient;
use shards::{Shard, Shards};

/// The shards of an app unless configured: tags on 16 evenly spaced slots, so that a
/// cluster of 2, 4, 8 or 16 primaries holds equal shares, and one of 3 holds 5, 6 and 5.
pub const DEFAULT_SHARDS: u16 = 16;

/// How often a write on a per-user index is tried again when another write changed the
/// index between its read and its script.
const INDEX_RACES: usize = 8;

/// A [`SessionBackend`] (and [`RotatingBackend`], [`ReplayBackend`]) on a Redis Cluster.
/// Cloning shares the connection.
///
/// Sessions are sharded by user: a user's sessions, their index and the revocation log of
/// their shard share one hash tag, and the tags sit on evenly spaced slots, so that users
/// spread over every primary. Each session id starts with its shard's tag. Every instance
/// follows every shard's log. Each write waits for a replica to hold it (when the primary
/// has one) before it is acknowledged, so that a failover loses no acknowledged write.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_jwt_sessions_redis::RedisClusterBackend;
///
/// // Any of the nodes will do as seeds; the client learns the rest, and follows failovers
/// // and moved slots (`MOVED`, `ASK`) by itself.
/// let backend = RedisClusterBackend::connect("redis://10.0.0.1:6379,redis://10.0.0.2:6379").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisClusterBackend {
    conn: ClusterConnection,
    shared: Arc<Shared>,
}

/// What clones share besides the connection.
struct Shared {
    client: ClusterClient,
    shards: Shards,
    retention: Duration,
    replica_wait: Duration,
    /// How long one command may take, retries included (see [`patient`]).
    response_timeout: Duration,
    scripts: Scripts,
}

struct Scripts {
    create: Script,
    revoke: Script,
    revoke_others: Script,
    touch: Script,
    rotate: Script,
}

/// Configures a [`RedisClusterBackend`]; start with [`RedisClusterBackend::builder`].
#[derive(Clone)]
#[must_use]
pub struct RedisClusterBackendBuilder {
    seeds: Vec<String>,
    prefix: String,
    shards: u16,
    retention: Duration,
    response_timeout: Duration,
    replica_wait: Duration,
}

impl fmt::Debug for RedisClusterBackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed URLs may carry a password: never printed.
        f.debug_struct("RedisClusterBackendBuilder")
            .field("seeds", &self.seeds.len())
            .field("prefix", &self.prefix)
            .field("shards", &self.shards)
            .field("retention", &self.retention)
            .field("response_timeout", &self.response_timeout)
            .field("replica_wait", &self.replica_wait)
            .finish()
    }
}

impl RedisClusterBackend {
    /// Connects with every default to the cluster that `seeds` (node URLs, separated by
    /// commas) belong to. One seed answering is enough; a bad URL, or no seed answering as a
    /// cluster node, is an error here, not at the first request.
    pub async fn connect(seeds: &str) -> Result<Self, BackendError> {
        RedisClusterBackend::builder(seeds.split(',').map(str::trim))
            .connect()
            .await
    }

    /// Starts a configuration from seed node URLs: key prefix `tjs`, [`DEFAULT_SHARDS`]
    /// shards, log retention [`DEFAULT_RETENTION`].
    pub fn builder<I>(seeds: I) -> RedisClusterBackendBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        RedisClusterBackendBuilder {
            seeds: seeds.into_iter().map(Into::into).collect(),
            prefix: "tjs".to_owned(),
            shards: DEFAULT_SHARDS,
            retention: DEFAULT_RETENTION,
            response_timeout: Duration::from_secs(2),
            replica_wait: Duration::from_millis(200),
        }
    }

    /// Waits until a replica of the slot's primary holds this connection's writes, when the
    /// primary reported one. The answer is not checked: a write a replica has not taken
    /// within the wait still stands on the primary, as without a replica at all.
    async fn replicated(&self, shard: &Shard, replicas: i64) -> Result<(), BackendError> {
        if replicas < 1 || self.shared.replica_wait.is_zero() {
            return Ok(());
        }
        let millis = u64::try_from(self.shared.replica_wait.as_millis()).unwrap_or(u64::MAX);
        let route = Route::new(shard.slot, SlotAddr::Master);
        // `WAIT` changes nothing: sent again whenever it failed.
        self.conn()
            .route_command(
                redis::cmd("WAIT").arg(1).arg(millis),
                &RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
            )
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    /// The shared connection, patient while the client reconnects or a slot migrates, for
    /// commands whose second run changes nothing and answers as the first.
    fn conn(&self) -> Patient {
        Patient::repeatable(self.conn.clone(), self.shared.response_timeout)
    }

    /// The shared connection, as patient, for a write whose second run would answer
    /// otherwise: sent again only after an error that says it did not run.
    fn conn_once(&self) -> Patient {
        Patient::once(self.conn.clone(), self.shared.response_timeout)
    }

    /// The session's user, read before a revocation names the user's index.
    async fn user_of(&self, key: &str) -> Result<Option<String>, BackendError> {
        redis::cmd("HGET")
            .arg(key)
            .arg("user")
            .query_async(&mut self.conn())
            .await
            .map_err(backend_error)
    }
}

impl RedisClusterBackendBuilder {
    /// The prefix of every key, outside the hash tag. Default `tjs`; give each app its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How many shards (1 to 1024) the app's sessions are split into. Every instance of an
    /// app must use the same count, for as long as its sessions live: a session id names its
    /// shard, and the feed follows the logs of this count's shards. More shards spread keys
    /// more evenly over many primaries; each costs every instance one poll per sweep.
    /// Default [`DEFAULT_SHARDS`].
    pub fn shards(mut self, shards: u16) -> Self {
        self.shards = shards;
        self
    }

    /// How long each shard's revocation log keeps an entry; must exceed the access-token
    /// lifetime plus leeway. Default [`DEFAULT_RETENTION`].
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How long one command may take, retries after `MOVED`, `ASK`, `TRYAGAIN` (a slot being
    /// migrated) or a lost node included: past it the command fails (a 503), even while the
    /// cluster is still moving slots or electing a primary. Default 2 seconds.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long a write waits for a replica of its primary to hold it (`WAIT 1`), when the
    /// primary has one. Zero acknowledges writes as soon as the primary has them: faster,
    /// but a failover right after may lose them. Default 200 ms.
    pub fn replica_wait(mut self, wait: Duration) -> Self {
        self.replica_wait = wait;
        self
    }

    /// Connects; a bad URL, a prefix with a brace, or no seed answering as a cluster node is
    /// an error.
    pub async fn connect(self) -> Result<RedisClusterBackend, BackendError> {
        if self.prefix.contains(['{', '}']) {
            return Err(BackendError::new(
                "the key prefix of a cluster backend must not contain { or }: the backend places the hash tags",
            ));
        }
        if !(1..=1024).contains(&self.shards) {
            return Err(BackendError::new("the shard count must be 1 to 1024"));
        }
        let seeds: Vec<&str> = self
            .seeds
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if seeds.is_empty() {
            return Err(BackendError::new("no seed node URL"));
        }
        let client = ClusterClient::builder(seeds)
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(self.response_timeout)
            .retries(6)
            // The pause before the client sends a command again after `TRYAGAIN` (a slot half
            // migrated), `CLUSTERDOWN` or while it has no connection to the node: 10 ms to
            // 10 x 2^retry ms, at most 100. redis-rs's default pause is 1.28 s at least: two
            // of them outlast the layer's backend timeout (2 s by default), for a slot whose
            // migration takes milliseconds.
            .min_retry_wait(10)
            .max_retry_wait(100)
            .retry_wait_formula(10, 2)
            .build()
            .map_err(backend_error)?;
        let conn = client.get_async_connection().await.map_err(backend_error)?;
        Ok(RedisClusterBackend {
            conn,
            shared: Arc::new(Shared {
                client,
                shards: Shards::new(&self.prefix, self.shards),
                retention: self.retention,
                replica_wait: self.replica_wait,
                response_timeout: self.response_timeout,
                scripts: Scripts {
                    create: scripts::create(),
                    revoke: scripts::revoke(),
                    revoke_others: scripts::revoke_others(),
                    touch: crate::scripts::touch(),
                    rotate: scripts::rotate(),
                },
            }),
        })
    }
}

impl fmt::Debug for RedisClusterBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed URLs may carry a password: never printed.
        f.debug_struct("RedisClusterBackend")
            .field("shards", &self.shared.shards.all().len())
            .field("retention", &self.shared.retention)
            .field("replica_wait", &self.shared.replica_wait)
            .finish_non_exhaustive()
    }
}

impl SessionBackend for RedisClusterBackend {
    fn session_id_prefix(&self, user_id: &str) -> Option<String> {
        Some(self.shared.shards.of_user(user_id).tag.clone())
    }

    async fn create(&self, session: Session) -> Result<(), BackendError> {
        let shard =
            self.shared.shards.of_session(&session.id).ok_or_else(|| {
                BackendError::new("the session id names no shard of this backend")
            })?;
        let (ip, agent, jkt) = (
            optional(&session.meta.ip),
            optional(&session.meta.user_agent),
            optional(&session.meta.dpop_jkt),
        );
        let replicas: i64 = self
            .shared
            .scripts
            .create
            .key(self.shared.shards.session_key(shard, &session.id))
            .key(self.shared.shards.user_key(shard, &session.user_id))
            .arg(&session.id)
            .arg(&session.user_id)
            .arg(session.created_at)
            .arg(session.expires_at)
            .arg(session.last_accessed)
            .arg(session.generation)
            .arg(session.rotated_at)
            .arg(&ip)
            .arg(&agent)
            .arg(&jkt)
            // Run twice, it writes the same hash and index entry: the id is new, nobody else
            // knows it yet.
            .invoke_async(&mut self.conn())
            .await
            .map_err(backend_error)?;
        self.replicated(shard, replicas).await
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        let Some(shard) = self.shared.shards.of_session(id) else {
            return Ok(None);
        };
        let row: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.shared.shards.session_key(shard, id))
            .query_async(&mut self.conn())
            .await
            .map_err(backend_error)?;
        parse(id, row)
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        let Some(shard) = self.shared.shards.of_session(id) else {
            return Ok(false);
        };
        let key = self.shared.shards.session_key(shard, id);
        let Some(user) = self.user_of(&key).await? else {
            return Ok(false);
        };
        let (revoked, replicas): (i64, i64) = self
            .shared
            .scripts
            .revoke
            .key(&key)
            .key(self.shared.shards.user_key(shard, &user))
            .key(self.shared.shards.log_key(shard))
            .key(self.shared.shards.marker_key(shard))
            .arg(id)
            .arg(&user)
            .arg(oldest_kept(self.shared.retention))
            // Run twice, it would answer "no such session" the second time.
            .invoke_async(&mut self.conn_once())
            .await
            .map_err(backend_error)?;
        self.replicated(shard, replicas).await?;
        Ok(revoked == 1)
    }

    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let shard = self.shared.shards.of_user(user_id);
        let last = isize::try_from(limit - 1).unwrap_or(isize::MAX);
        let ids: Vec<String> = redis::cmd("ZREVRANGE")
            .arg(self.shared.shards.user_key(shard, user_id))
            .arg(0)
            .arg(last)
            .query_async(&mut self.conn())
            .await
            .map_err(backend_error)?;
        // One read per session, each routed on its own: a slot being migrated may hold some
        // of them on either node.
        let mut sessions = Vec::with_capacity(ids.len());
        let mut expired = Vec::new();
        for id in &ids {
            let row: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(self.shared.shards.session_key(shard, id))
                .query_async(&mut self.conn())
                .await
                .map_err(backend_error)?;
            match parse(id, row)? {
                Some(session) => sessions.push(session),
                None => expired.push(id.as_str()),
            }
        }
        if !expired.is_empty() {
            // Rows that expired by their TTL leave their index entry behind; tidy it.
            redis::cmd("ZREM")
                .arg(self.shared.shards.user_key(shard, user_id))
                .arg(&expired)
                .query_async::<i64>(&mut self.conn())
                .await
                .map_err(backend_error)?;
        }
        Ok(sessions)
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        let Some(shard) = self.shared.shards.of_session(id) else {
            return Ok(());
        };
        let _: i64 = self
            .shared
            .scripts
            .touch
            .key(self.shared.shards.session_key(shard, id))
            .arg(at)
            .invoke_async(&mut self.conn())
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn revoke_all(&self, user_id: &str) -> Result<Vec<String>, BackendError> {
        self.revoke_others(user_id, "").await
    }

    /// One script over the user's index and every session it lists: the index is read
    /// first (a script must name its keys in advance), and the script starts over when the
    /// index changed in between.
    async fn revoke_others(&self, user_id: &str, keep: &str) -> Result<Vec<String>, BackendError> {
        let shard = self.shared.shards.of_user(user_id);
        let index = self.shared.shards.user_key(shard, user_id);
        for _ in 0..INDEX_RACES {
            let ids: Vec<String> = redis::cmd("ZRANGE")
                .arg(&index)
                .arg(0)
                .arg(-1)
                .query_async(&mut self.conn())
                .await
                .map_err(backend_error)?;
            let mut script = self.shared.scripts.revoke_others.key(&index);
            script
                .key(self.shared.shards.log_key(shard))
                .key(self.shared.shards.marker_key(shard))
                .arg(keep)
                .arg(oldest_kept(self.shared.retention));
            for id in &ids {
                script
                    .key(self.shared.shards.session_key(shard, id))
                    .arg(id);
            }
            // Run twice, it would answer that it ended nothing the second time.
            let (replicas, ended): (i64, Vec<String>) = script
                .invoke_async(&mut self.conn_once())
                .await
                .map_err(backend_error)?;
            if replicas >= 0 {
                self.replicated(shard, replicas).await?;
                return Ok(ended);
            }
        }
        Err(BackendError::new(
            "the user's sessions kept changing while they were being revoked",
        ))
    }

    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        // Down until every log has been replayed once.
        sink.feed_up(false);
        // Without a runtime there is no feed: the layer stays fail-closed.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let feeds = self
                .shared
                .shards
                .all()
                .iter()
                .map(|shard| Feed {
                    log: self.shared.shards.log_key(shard),
                    marker: self.shared.shards.marker_key(shard),
                    check: crate::scripts::check_log(),
                })
                .collect();
            runtime.spawn(feed::follow(
                self.shared.client.clone(),
                feeds,
                Arc::downgrade(&sink),
            ));
        }
    }
}

impl RotatingBackend for RedisClusterBackend {
    async fn rotate(&self, id: &str, from: u64, to: u64, at: u64) -> Result<bool, BackendError> {
        let Some(shard) = self.shared.shards.of_session(id) else {
            return Ok(false);
        };
        let (swapped, replicas): (i64, i64) = self
            .shared
            .scripts
            .rotate
            .key(self.shared.shards.session_key(shard, id))
            .arg(from)
            .arg(to)
            .arg(at)
            // A compare-and-swap: run twice, it would answer "lost" the second time.
            .invoke_async(&mut self.conn_once())
            .await
            .map_err(backend_error)?;
        self.replicated(shard, replicas).await?;
        Ok(swapped == 1)
    }
}

impl ReplayBackend for RedisClusterBackend {
    /// `SET {prefix}:p:{id} 1 NX EX seconds`, the proof id its own hash tag: records spread
    /// over every slot. Not waited on: a failover that loses a record lets that one proof be
    /// replayed within its short lifetime, a risk not worth a replication round trip on
    /// every request.
    async fn record_once(&self, id: &str, expires_at: u64) -> Result<bool, BackendError> {
        let seconds = expires_at.saturating_sub(unix_now()).max(1);
        let set: Option<String> = redis::cmd("SET")
            .arg(self.shared.shards.proof_key(id))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(seconds)
            // Run twice, it would answer "used" the second time.
            .query_async(&mut self.conn_once())
            .await
            .map_err(backend_error)?;
        Ok(set.is_some())
    }
}
