//! [`PostgresBackendBuilder`]: the schema, table prefix, retention, pool size and timeout of
//! a [`PostgresBackend`], then the pool and the migrations.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tower_jwt_sessions_core::BackendError;

use crate::{PostgresBackend, defaults, schema};

/// Configures a [`PostgresBackend`]; start with [`PostgresBackend::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct PostgresBackendBuilder {
    url: String,
    schema: String,
    table_prefix: String,
    retention: Duration,
    pool_size: usize,
    response_timeout: Duration,
}

impl PostgresBackendBuilder {
    /// Every value from [`defaults`].
    pub(crate) fn new(url: String) -> Self {
        PostgresBackendBuilder {
            url,
            schema: defaults::SCHEMA.to_owned(),
            table_prefix: defaults::TABLE_PREFIX.to_owned(),
            retention: defaults::RETENTION,
            pool_size: defaults::POOL_SIZE,
            response_timeout: defaults::RESPONSE_TIMEOUT,
        }
    }

    /// The schema of the tables. Default [`defaults::SCHEMA`] (`public`).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The prefix of the table names. Default [`defaults::TABLE_PREFIX`] (`tjs_`).
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// How long the revocation log keeps an entry; must exceed the access-token lifetime
    /// plus leeway. Default [`defaults::RETENTION`] (1 hour).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Most connections in the pool. Default [`defaults::POOL_SIZE`] (16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Longest wait for a pooled connection, for a new one, and for recycling one. Default
    /// [`defaults::RESPONSE_TIMEOUT`] (2 seconds) each. A statement already sent is not cut
    /// short here: the layer's own timeout answers 503 first.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
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
            .wait_timeout(Some(self.response_timeout))
            .create_timeout(Some(self.response_timeout))
            .recycle_timeout(Some(self.response_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(BackendError::new)?;
        let mut client = pool.get().await.map_err(BackendError::new)?;
        schema::migrate(&mut client, &sql).await?;
        drop(client);
        Ok(PostgresBackend::new(pool, self.url, sql, self.retention))
    }
}
