//! [`PostgresBackend`]: the sessions, the compare-and-swap and the DPoP proof records in
//! Postgres, over a pool whose dead connections are replaced on the first failed call.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tower_jwt_sessions_core::{
    BackendError, ReplayBackend, RevocationSink, RotatingBackend, Session, SessionBackend,
};

use crate::{PostgresBackendBuilder, feed, schema, session, signed, unix_now};

/// A [`SessionBackend`] (and [`RotatingBackend`]) in Postgres. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresBackend {
    pool: Pool,
    /// The feed opens a connection of its own with it.
    pub(crate) url: Arc<str>,
    pub(crate) sql: Arc<schema::Statements>,
    retention: Duration,
    /// When this instance last deleted expired proof records (Unix seconds): a resource
    /// server with only `record_once` runs no feed task to clean them.
    proofs_purged: Arc<std::sync::atomic::AtomicU64>,
}

impl PostgresBackend {
    /// Connects with every default and applies the migrations; a bad URL or an unreachable
    /// database is an error here, not at the first request.
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        PostgresBackend::builder(url).connect().await
    }

    /// Starts a configuration with every value from [`defaults`](crate::defaults): schema
    /// `public`, tables `tjs_*`, 16 connections, 2-second timeouts, log retention 1 hour.
    pub fn builder(url: impl Into<String>) -> PostgresBackendBuilder {
        PostgresBackendBuilder::new(url.into())
    }

    /// The backend over a pool whose database has the migrations applied.
    pub(crate) fn new(
        pool: Pool,
        url: String,
        sql: schema::Statements,
        retention: Duration,
    ) -> Self {
        PostgresBackend {
            pool,
            url: url.into(),
            sql: Arc::new(sql),
            retention,
            proofs_purged: Arc::default(),
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

impl fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: never printed.
        f.debug_struct("PostgresBackend")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
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
            runtime.spawn(feed::follow(self.clone(), Arc::downgrade(&sink)));
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
