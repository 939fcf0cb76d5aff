//! A Postgres session backend for [tower-jwt-sessions]: several instances share sessions, and a
//! revocation made on one stops that session's refresh *and* access tokens on every other.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_jwt_sessions_postgres::PostgresBackend;
//!
//! let store = PostgresBackend::connect("postgres://postgres@127.0.0.1:5432/test").await?;
//! // Sessions::builder(keys).backend(backend).users(my_users).build()?
//! # Ok(()) }
//! ```
//!
//! - **Driver**: tokio-postgres behind a deadpool-postgres pool with explicit wait, create
//!   and recycle timeouts (its defaults wait for ever), runtime SQL only: no compile-time
//!   macros, so no `DATABASE_URL` on every downstream build. sqlx would bring its macros, its
//!   own pool and a much larger build for the same five statements. A call whose pooled
//!   connection turns out dead (a failover, a restart, `pg_terminate_backend`) drops every
//!   idle connection and runs once more on a fresh one, as every call here is safe to repeat.
//!   Pooled connections are named `{schema}_{prefix}store` in `pg_stat_activity` unless the
//!   URL names them.
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
//!   every minute, and the log is trimmed to [`DEFAULT_RETENTION`].
//!
//! [tower-jwt-sessions]: https://docs.rs/tower-jwt-sessions
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{AsyncMessage, NoTls, Row};
use tower_jwt_sessions_core::{
    BackendError, ReplayBackend, RevocationSink, RotatingBackend, Session, SessionBackend,
    SessionMeta,
};

mod schema;

/// How long the revocation log keeps an entry: past every access token minted before it.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(60 * 60);
/// The longest a dead feed connection goes unnoticed: the ping interval plus its timeout.
pub const FEED_DEAD_AFTER: Duration = Duration::from_secs(3);
const PING_EVERY: Duration = Duration::from_secs(1);
const CLEAN_EVERY: Duration = Duration::from_secs(60);

/// A [`SessionBackend`] (and [`RotatingBackend`]) in Postgres. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresBackend {
    pool: Pool,
    url: Arc<str>,
    sql: Arc<schema::Statements>,
    retention: Duration,
    /// When this instance last deleted expired proof records (Unix seconds): a resource
    /// server with only `record_once` runs no feed task to clean them.
    proofs_purged: Arc<std::sync::atomic::AtomicU64>,
}

/// Configures a [`PostgresBackend`]; start with [`PostgresBackend::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct PostgresBackendBuilder {
    url: String,
    schema: String,
    table_prefix: String,
    retention: Duration,
    pool_size: usize,
    timeout: Duration,
}

impl PostgresBackend {
    /// Connects with every default and applies the migrations; a bad URL or an unreachable
    /// database is an error here, not at the first request.
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        PostgresBackend::builder(url).connect().await
    }

    /// Starts a configuration: schema `public`, tables `tjs_*`, 16 connections, 2-second
    /// timeouts, log retention [`DEFAULT_RETENTION`].
    pub fn builder(url: impl Into<String>) -> PostgresBackendBuilder {
        PostgresBackendBuilder {
            url: url.into(),
            schema: "public".to_owned(),
            table_prefix: "tjs_".to_owned(),
            retention: DEFAULT_RETENTION,
            pool_size: 16,
            timeout: Duration::from_secs(2),
        }
    }

    /// Deletes expired sessions in batches that skip rows other instances hold, and trims
    /// the revocation log; returns how many sessions went. The feed task calls it every
    /// minute; call it yourself if you run without the layer.
    pub async fn delete_expired(&self) -> Result<u64, BackendError> {
        let client = self.pool.get().await.map_err(BackendError::new)?;
        let mut deleted = 0;
        loop {
            let batch = client
                .execute(
                    &self.prepared(&client, &self.sql.delete_expired).await?,
                    &[&signed(unix_now())?],
                )
                .await
                .map_err(BackendError::new)?;
            deleted += batch;
            if batch < schema::CLEAN_BATCH {
                break;
            }
        }
        let oldest = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        client
            .execute(
                &self.prepared(&client, &self.sql.trim_log).await?,
                &[&oldest],
            )
            .await
            .map_err(BackendError::new)?;
        client
            .execute(
                &self
                    .prepared(&client, &self.sql.delete_expired_proofs)
                    .await?,
                &[&signed(unix_now())?],
            )
            .await
            .map_err(BackendError::new)?;
        Ok(deleted)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, BackendError> {
        self.pool.get().await.map_err(BackendError::new)
    }

    /// Runs one call on a pooled connection, and once more on a fresh one if the first was
    /// found dead: after a failover, a restart or `pg_terminate_backend`, an idle pooled
    /// connection passes the pool's check until its first query fails. Every call here is
    /// safe to repeat (the compare-and-swap answers "lost" the second time, which the layer
    /// settles by reading the backend).
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, BackendError>
    where
        F: Fn(deadpool_postgres::Client) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        match call(self.client().await?).await {
            Err(err) if connection_lost(&err) => {
                // The failed connection is back in the pool by now, and the other idle ones
                // most likely went with it (a failover drops them all): none is handed out
                // again.
                self.pool.retain(|_, _| false);
                call(self.client().await?).await.map_err(BackendError::new)
            }
            result => result.map_err(BackendError::new),
        }
    }

    /// The statement, prepared once per pooled connection: a query then costs one round
    /// trip instead of two (parse, then execute).
    async fn prepared(
        &self,
        client: &deadpool_postgres::Client,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, BackendError> {
        client.prepare_cached(sql).await.map_err(BackendError::new)
    }
}

impl PostgresBackendBuilder {
    /// The schema of the tables. Default `public`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The prefix of the table names. Default `tjs_`.
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// How long the revocation log keeps an entry; must exceed the access-token lifetime
    /// plus leeway. Default [`DEFAULT_RETENTION`].
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Most connections in the pool. Default 16.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Longest wait for a pooled connection, for a new one, and for recycling one. Default
    /// 2 seconds each.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects and applies the migrations.
    pub async fn connect(self) -> Result<PostgresBackend, BackendError> {
        let sql = schema::Statements::new(&self.schema, &self.table_prefix)?;
        let mut config: tokio_postgres::Config = self.url.parse().map_err(BackendError::new)?;
        if config.get_application_name().is_none() {
            // Named apart from the feed, so that an operator (or a test) can tell them apart
            // in `pg_stat_activity`.
            config.application_name(&sql.store_name);
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(BackendError::new)?;
        let mut client = pool.get().await.map_err(BackendError::new)?;
        schema::migrate(&mut client, &sql).await?;
        drop(client);
        Ok(PostgresBackend {
            pool,
            url: self.url.into(),
            sql: Arc::new(sql),
            retention: self.retention,
            proofs_purged: Arc::default(),
        })
    }
}

impl fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: never printed.
        f.debug_struct("PostgresBackend")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether the connection, not the statement, failed: closed, an I/O error, or the server
/// ending the session (a `FATAL` error such as `terminating connection due to administrator
/// command`).
fn connection_lost(err: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    err.is_closed()
        || err
            .source()
            .is_some_and(|source| source.is::<std::io::Error>())
        || err.as_db_error().is_some_and(|db| {
            matches!(
                db.parsed_severity(),
                Some(
                    tokio_postgres::error::Severity::Fatal | tokio_postgres::error::Severity::Panic
                )
            )
        })
}

/// Postgres has no unsigned integers: values past `i64::MAX` are refused, not wrapped.
/// (`TryFromIntError` says no more than these texts.)
fn signed(value: u64) -> Result<i64, BackendError> {
    i64::try_from(value).map_err(|_| BackendError::new("a value past i64::MAX cannot be stored"))
}

fn unsigned(value: i64) -> Result<u64, BackendError> {
    u64::try_from(value).map_err(|_| BackendError::new("a stored session holds a negative time"))
}

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

impl SessionBackend for PostgresBackend {
    async fn create(&self, s: Session) -> Result<(), BackendError> {
        let values = (
            signed(s.created_at)?,
            signed(s.expires_at)?,
            signed(s.last_accessed)?,
            signed(s.generation)?,
            signed(s.rotated_at)?,
        );
        let s = &s;
        self.run(|client| async move {
            let statement = client.prepare_cached(&self.sql.create).await?;
            client
                .execute(
                    &statement,
                    &[
                        &s.id,
                        &s.user_id,
                        &values.0,
                        &values.1,
                        &values.2,
                        &values.3,
                        &values.4,
                        &s.meta.ip,
                        &s.meta.user_agent,
                        &s.meta.dpop_jkt,
                    ],
                )
                .await
        })
        .await?;
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        let row = self
            .run(|client| async move {
                let statement = client.prepare_cached(&self.sql.load).await?;
                client.query_opt(&statement, &[&id]).await
            })
            .await?;
        row.as_ref().map(session).transpose()
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        let rows = self
            .run(|client| async move {
                let statement = client.prepare_cached(&self.sql.revoke).await?;
                client.query(&statement, &[&id]).await
            })
            .await?;
        Ok(!rows.is_empty())
    }

    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .run(|client| async move {
                let statement = client.prepare_cached(&self.sql.list).await?;
                client.query(&statement, &[&user_id, &limit]).await
            })
            .await?;
        rows.iter().map(session).collect()
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        let at = signed(at)?;
        self.run(|client| async move {
            let statement = client.prepare_cached(&self.sql.touch).await?;
            client.execute(&statement, &[&id, &at]).await
        })
        .await?;
        Ok(())
    }

    async fn revoke_all(&self, user_id: &str) -> Result<Vec<String>, BackendError> {
        self.revoke_others(user_id, "").await
    }

    async fn revoke_others(&self, user_id: &str, keep: &str) -> Result<Vec<String>, BackendError> {
        let rows = self
            .run(|client| async move {
                let statement = client.prepare_cached(&self.sql.revoke_others).await?;
                client.query(&statement, &[&user_id, &keep]).await
            })
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        // Down until the log has been replayed once.
        sink.feed_up(false);
        // Without a runtime there is no feed: the layer stays in its fail-closed mode and
        // reads every session from the backend.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(follow(self.clone(), Arc::downgrade(&sink)));
        }
    }
}

impl RotatingBackend for PostgresBackend {
    async fn rotate(&self, id: &str, from: u64, to: u64, at: u64) -> Result<bool, BackendError> {
        let (from, to, at) = (signed(from)?, signed(to)?, signed(at)?);
        let swapped = self
            .run(|client| async move {
                let statement = client.prepare_cached(&self.sql.rotate).await?;
                client.execute(&statement, &[&id, &from, &to, &at]).await
            })
            .await?;
        Ok(swapped == 1)
    }
}

impl ReplayBackend for PostgresBackend {
    /// One `INSERT ... ON CONFLICT` that also takes over an expired record; once a minute
    /// an instance also deletes the expired ones. Repeated after a dropped connection it may
    /// answer "recorded" for a first use: a proof refused, never one accepted twice.
    async fn record_once(&self, id: &str, expires_at: u64) -> Result<bool, BackendError> {
        use std::sync::atomic::Ordering;
        let last = self.proofs_purged.load(Ordering::Relaxed);
        if unix_now().saturating_sub(last) >= 60
            && self
                .proofs_purged
                .compare_exchange(last, unix_now(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let now = signed(unix_now())?;
            // Best effort: the record below does not depend on it.
            let _ = self
                .run(|client| async move {
                    let statement = client
                        .prepare_cached(&self.sql.delete_expired_proofs)
                        .await?;
                    client.execute(&statement, &[&now]).await
                })
                .await;
        }
        let (expires_at, now) = (signed(expires_at)?, signed(unix_now())?);
        let recorded = self
            .run(|client| async move {
                let statement = client.prepare_cached(&self.sql.record_proof).await?;
                client.execute(&statement, &[&id, &expires_at, &now]).await
            })
            .await?;
        Ok(recorded == 1)
    }
}

/// Where a listener is in the log: the last id it saw, and the session logged there.
#[derive(Default)]
struct Position {
    last: i64,
    session: Option<String>,
}

impl Position {
    fn saw(&mut self, id: i64, session: &str) {
        if id > self.last {
            self.last = id;
            self.session = Some(session.to_owned());
        }
    }
}

/// Follows the revocation log for as long as the layer lives: listen, replay, deliver; on
/// any failure, feed down, a short pause, and again from the last id seen.
async fn follow(store: PostgresBackend, sink: Weak<dyn RevocationSink>) {
    // 0 replays the whole log on start: every entry in it may still have live tokens.
    let mut position = Position::default();
    loop {
        if sink.upgrade().is_none() {
            return;
        }
        let _ = follow_once(&store, &mut position, &sink).await;
        match sink.upgrade() {
            Some(sink) => sink.feed_up(false),
            None => return,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn follow_once(
    store: &PostgresBackend,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), BackendError> {
    let mut config: tokio_postgres::Config = store.url.parse().map_err(BackendError::new)?;
    config
        .connect_timeout(Duration::from_secs(1))
        .application_name(&store.sql.feed_name);
    let (client, mut connection) = config.connect(NoTls).await.map_err(BackendError::new)?;
    // The connection yields notifications only to whoever polls it: forward them.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if tx.send(note.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let result = async {
        // Subscribe first, then check and replay: nothing committed in between is missed.
        client
            .batch_execute(&store.sql.listen)
            .await
            .map_err(BackendError::new)?;
        catch_up(&client, store, position, sink).await?;
        match sink.upgrade() {
            Some(sink) => sink.feed_up(true),
            None => return Ok(()),
        }
        let mut ping = tokio::time::interval(PING_EVERY);
        let mut clean = tokio::time::interval(CLEAN_EVERY);
        loop {
            tokio::select! {
                note = rx.recv() => {
                    let Some(payload) = note else {
                        return Err(BackendError::new("the feed connection closed"));
                    };
                    let Some(sink) = sink.upgrade() else { return Ok(()) };
                    // `<log id>:<session id>`, or `reset`: the log was truncated.
                    if let Some((id, session)) = payload.split_once(':') {
                        sink.revoked(session);
                        if let Ok(id) = id.parse::<i64>() {
                            position.saw(id, session);
                        }
                    } else if payload == schema::RESET {
                        catch_up(&client, store, position, &Arc::downgrade(&sink)).await?;
                    }
                }
                // The ping is the log check: a reset no listener was told of (a restore) is
                // found within a second, and a silently dead connection within
                // FEED_DEAD_AFTER.
                _ = ping.tick() => {
                    tokio::time::timeout(
                        FEED_DEAD_AFTER - PING_EVERY,
                        catch_up(&client, store, position, sink),
                    )
                    .await
                    // `Elapsed` says only that the time ran out, as the text does.
                    .map_err(|_| BackendError::new("the feed connection stopped answering"))??;
                    if sink.upgrade().is_none() {
                        return Ok(());
                    }
                }
                _ = clean.tick() => {
                    let _ = store.delete_expired().await;
                }
            }
        }
    }
    .await;
    driver.abort();
    result
}

/// Checks that the log is still the one this listener followed, replays what it holds past
/// the listener's position (all of it after a reset), and reports since when it is
/// complete. Ids that went back (the sequence behind the last id seen, or another session
/// at that id) mean the log was reset, by a `TRUNCATE ... RESTART IDENTITY` whose
/// notification was missed or a restore from a backup: that loss is recorded in the log's
/// meta row, so that instances starting later know of it too.
async fn catch_up(
    client: &tokio_postgres::Client,
    store: &PostgresBackend,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), BackendError> {
    let state = client
        .query_one(&store.sql.log_state, &[&position.last])
        .await
        .map_err(BackendError::new)?;
    let (since, issued, at_last): (Option<i64>, Option<i64>, Option<String>) =
        (state.get(0), state.get(1), state.get(2));
    let reset = position.last > 0
        && (issued.is_some_and(|issued| issued < position.last)
            || at_last.is_some_and(|at_last| position.session.as_deref() != Some(&at_last)));
    let since = match since {
        Some(since) if !reset => since,
        // Reset, or the meta row deleted: lost now.
        _ => {
            if reset {
                *position = Position::default();
            }
            client
                .query_one(&store.sql.record_loss, &[])
                .await
                .map_err(BackendError::new)?
                .get(0)
        }
    };
    replay(client, store, position, sink).await?;
    if let Some(sink) = sink.upgrade() {
        sink.log_complete_since(u64::try_from(since).unwrap_or(0));
    }
    Ok(())
}

/// Delivers every log entry after the listener's position, oldest first.
async fn replay(
    client: &tokio_postgres::Client,
    store: &PostgresBackend,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), BackendError> {
    let rows = client
        .query(&store.sql.replay, &[&position.last])
        .await
        .map_err(BackendError::new)?;
    let Some(sink) = sink.upgrade() else {
        return Ok(());
    };
    for row in rows {
        let id: i64 = row.get(0);
        let session: String = row.get(1);
        sink.revoked(&session);
        position.saw(id, &session);
    }
    Ok(())
}
