//! [`RedisBackend`]: the sessions on one Redis (a primary, with its replicas), every key in
//! one slot, the revocation log followed with blocking reads.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, Client, RedisError, Script};
use tower_jwt_sessions_core::{
    BackendError, ReplayBackend, RevocationSink, RotatingBackend, Session, SessionBackend,
};

use crate::log::{Feed, Position, check, replay};
use crate::{DEFAULT_RETENTION, backend_error, oldest_kept, optional, parse, scripts, unix_now};

/// How long one blocking read of the log waits before it returns empty.
const FEED_BLOCK: Duration = Duration::from_secs(1);
/// The longest a dead feed connection goes unnoticed: one blocking read plus its margin.
pub const FEED_DEAD_AFTER: Duration = Duration::from_secs(3);

/// A [`SessionBackend`] (and [`RotatingBackend`]) in Redis. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisBackend {
    conn: ConnectionManager,
    client: Client,
    prefix: Arc<str>,
    retention: Duration,
    scripts: Arc<Scripts>,
}

struct Scripts {
    create: Script,
    revoke: Script,
    revoke_others: Script,
    touch: Script,
    rotate: Script,
}

/// Configures a [`RedisBackend`]; start with [`RedisBackend::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisBackendBuilder {
    url: String,
    prefix: String,
    retention: Duration,
    response_timeout: Duration,
}

impl RedisBackend {
    /// Connects with every default; a bad URL or an unreachable server is an error here,
    /// not at the first request.
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        RedisBackend::builder(url).connect().await
    }

    /// Starts a configuration: key prefix `tjs`, log retention [`DEFAULT_RETENTION`].
    pub fn builder(url: impl Into<String>) -> RedisBackendBuilder {
        RedisBackendBuilder {
            url: url.into(),
            prefix: "tjs".to_owned(),
            retention: DEFAULT_RETENTION,
            response_timeout: Duration::from_secs(2),
        }
    }

    /// `{prefix}`: the hash tag every key starts with, so that all of them share one
    /// Redis Cluster slot and every script stays within it.
    fn tag(&self) -> String {
        format!("{{{}}}", self.prefix)
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}:s:{id}", self.tag())
    }

    fn proof_key(&self, id: &str) -> String {
        format!("{}:p:{id}", self.tag())
    }

    fn user_key(&self, user_id: &str) -> String {
        format!("{}:u:{user_id}", self.tag())
    }

    fn log_key(&self) -> String {
        format!("{}:revoked", self.tag())
    }

    /// Since when the log is known complete: see [`scripts::check_log`].
    fn marker_key(&self) -> String {
        format!("{}:log-since", self.tag())
    }

    /// Runs one command, and once more if the connection was found dead: a connection the
    /// server closed while idle (`timeout` in redis.conf) fails the first command sent on it,
    /// and the connection manager has reconnected by the second. Every command here is safe
    /// to repeat (the compare-and-swap answers "lost" the second time, which the layer
    /// settles by reading the backend).
    async fn run<T, F, Fut>(&self, command: F) -> Result<T, BackendError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        match command(self.conn.clone()).await {
            Err(err) if err.is_connection_dropped() || err.is_io_error() => {
                command(self.conn.clone()).await.map_err(backend_error)
            }
            result => result.map_err(backend_error),
        }
    }
}

impl RedisBackendBuilder {
    /// The prefix of every key. Default `tjs`; give each app its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long the revocation log keeps an entry; must exceed the access-token lifetime
    /// plus leeway, or an instance starting later could miss a revocation whose access
    /// tokens still live. Default [`DEFAULT_RETENTION`].
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How long one command may take before it fails (the layer's own timeout answers 503
    /// first when it is shorter). Default 2 seconds.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Connects; a bad URL or an unreachable server is an error.
    pub async fn connect(self) -> Result<RedisBackend, BackendError> {
        let client = Client::open(self.url.as_str()).map_err(backend_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(backend_error)?;
        Ok(RedisBackend {
            conn,
            client,
            prefix: self.prefix.into(),
            retention: self.retention,
            scripts: Arc::new(Scripts {
                create: scripts::create(),
                revoke: scripts::revoke(),
                revoke_others: scripts::revoke_others(),
                touch: scripts::touch(),
                rotate: scripts::rotate(),
            }),
        })
    }
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: never printed.
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl SessionBackend for RedisBackend {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        let (session_key, user_key) = (
            self.session_key(&session.id),
            self.user_key(&session.user_id),
        );
        let (ip, agent, jkt) = (
            optional(&session.meta.ip),
            optional(&session.meta.user_agent),
            optional(&session.meta.dpop_jkt),
        );
        self.run(|mut conn| {
            let mut script = self.scripts.create.key(&session_key);
            script
                .key(&user_key)
                .arg(&session.id)
                .arg(&session.user_id)
                .arg(session.created_at)
                .arg(session.expires_at)
                .arg(session.last_accessed)
                .arg(session.generation)
                .arg(session.rotated_at)
                .arg(&ip)
                .arg(&agent)
                .arg(&jkt);
            async move { script.invoke_async::<i64>(&mut conn).await }
        })
        .await?;
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        let key = self.session_key(id);
        let row: HashMap<String, String> = self
            .run(|mut conn| {
                let command = redis::cmd("HGETALL").arg(&key).clone();
                async move { command.query_async(&mut conn).await }
            })
            .await?;
        parse(id, row)
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        let (key, log, marker) = (self.session_key(id), self.log_key(), self.marker_key());
        let revoked: i64 = self
            .run(|mut conn| {
                let mut script = self.scripts.revoke.key(&key);
                script
                    .key(&log)
                    .key(&marker)
                    .arg(id)
                    .arg(self.tag())
                    .arg(oldest_kept(self.retention));
                async move { script.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(revoked == 1)
    }

    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let last = isize::try_from(limit - 1).unwrap_or(isize::MAX);
        let user_key = self.user_key(user_id);
        let ids: Vec<String> = self
            .run(|mut conn| {
                let command = redis::cmd("ZREVRANGE")
                    .arg(&user_key)
                    .arg(0)
                    .arg(last)
                    .clone();
                async move { command.query_async(&mut conn).await }
            })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HGETALL").arg(self.session_key(id));
        }
        let rows: Vec<HashMap<String, String>> = self
            .run(|mut conn| {
                let pipe = pipe.clone();
                async move { pipe.query_async(&mut conn).await }
            })
            .await?;
        let mut sessions = Vec::with_capacity(ids.len());
        let mut expired = Vec::new();
        for (id, row) in ids.iter().zip(rows) {
            match parse(id, row)? {
                Some(session) => sessions.push(session),
                None => expired.push(id.as_str()),
            }
        }
        if !expired.is_empty() {
            // Rows that expired by their TTL leave their index entry behind; tidy it.
            self.run(|mut conn| {
                let command = redis::cmd("ZREM").arg(&user_key).arg(&expired).clone();
                async move { command.query_async::<i64>(&mut conn).await }
            })
            .await?;
        }
        Ok(sessions)
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        let key = self.session_key(id);
        self.run(|mut conn| {
            let mut script = self.scripts.touch.key(&key);
            script.arg(at);
            async move { script.invoke_async::<i64>(&mut conn).await }
        })
        .await?;
        Ok(())
    }

    async fn revoke_all(&self, user_id: &str) -> Result<Vec<String>, BackendError> {
        self.revoke_others(user_id, "").await
    }

    async fn revoke_others(&self, user_id: &str, keep: &str) -> Result<Vec<String>, BackendError> {
        let (key, log, marker) = (self.user_key(user_id), self.log_key(), self.marker_key());
        self.run(|mut conn| {
            let mut script = self.scripts.revoke_others.key(&key);
            script
                .key(&log)
                .key(&marker)
                .arg(keep)
                .arg(self.tag())
                .arg(oldest_kept(self.retention));
            async move { script.invoke_async(&mut conn).await }
        })
        .await
    }

    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        // Down until the log has been replayed once.
        sink.feed_up(false);
        // Without a runtime there is no feed: the layer stays in its fail-closed mode and
        // reads every session from the backend.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let feed = Feed {
                log: self.log_key(),
                marker: self.marker_key(),
                check: scripts::check_log(),
            };
            let name = format!("{}-feed", self.prefix);
            runtime.spawn(follow(
                self.client.clone(),
                feed,
                name,
                Arc::downgrade(&sink),
            ));
        }
    }
}

impl RotatingBackend for RedisBackend {
    async fn rotate(&self, id: &str, from: u64, to: u64, at: u64) -> Result<bool, BackendError> {
        let key = self.session_key(id);
        let swapped: i64 = self
            .run(|mut conn| {
                let mut script = self.scripts.rotate.key(&key);
                script.arg(from).arg(to).arg(at);
                async move { script.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(swapped == 1)
    }
}

impl ReplayBackend for RedisBackend {
    /// `SET {prefix}:p:{id} 1 NX EX seconds`: one atomic command, the expiry relative so
    /// that Redis's clock cannot shorten it. Repeated after a dropped connection it may
    /// answer "recorded" for a first use: a proof refused, never one accepted twice.
    async fn record_once(&self, id: &str, expires_at: u64) -> Result<bool, BackendError> {
        let key = self.proof_key(id);
        let seconds = expires_at.saturating_sub(unix_now()).max(1);
        let set: Option<String> = self
            .run(|mut conn| {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key).arg(1).arg("NX").arg("EX").arg(seconds);
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        Ok(set.is_some())
    }
}

/// Follows the revocation log for as long as the layer lives: replay, then blocking reads;
/// on any failure, feed down, a short pause, and again from the last entry seen.
async fn follow(client: Client, feed: Feed, name: String, sink: Weak<dyn RevocationSink>) {
    let mut position = Position::start();
    loop {
        let Some(alive) = sink.upgrade() else { return };
        drop(alive);
        let _ = follow_once(&client, &feed, &name, &mut position, &sink).await;
        match sink.upgrade() {
            Some(sink) => sink.feed_up(false),
            None => return,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One connection's worth of following; returns when it fails or the layer is gone.
async fn follow_once(
    client: &Client,
    feed: &Feed,
    name: &str,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(FEED_DEAD_AFTER));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    // Named, so that an operator (or a test) can find the feed in `CLIENT LIST`.
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async::<()>(&mut conn)
        .await?;
    // Replay what was missed, then check the log is still the one followed (else replay it
    // all), before saying the feed is up.
    replay(&mut conn, feed, position, sink).await?;
    if check(&mut conn, feed, position, sink).await? {
        replay(&mut conn, feed, position, sink).await?;
        check(&mut conn, feed, position, sink).await?;
    }
    match sink.upgrade() {
        Some(sink) => sink.feed_up(true),
        None => return Ok(()),
    }
    loop {
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1000)
            .arg("BLOCK")
            .arg(u64::try_from(FEED_BLOCK.as_millis()).unwrap_or(1000))
            .arg("STREAMS")
            .arg(&feed.log)
            .arg(position.last.as_str())
            .query_async(&mut conn)
            .await?;
        let Some(sink) = sink.upgrade() else {
            return Ok(());
        };
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                if let Some(sid) = entry.get::<String>("sid") {
                    sink.revoked(&sid);
                }
                position.saw(entry.id);
            }
        }
        // About every second (the read blocks at most that long). After a reset the next
        // read, from "0-0", delivers the whole log.
        check(&mut conn, feed, position, &Arc::downgrade(&sink)).await?;
    }
}
