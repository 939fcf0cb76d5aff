//! The session backend the example runs on, chosen at start by `SESSION_BACKEND`: `memory`
//! (the default), `redis` (`REDIS_URL`), `redis-cluster` (`REDIS_URL`: seed node URLs
//! separated by commas) or `postgres` (`DATABASE_URL`). The shared backends need the crate
//! features of their names (`redis` for both Redis ones):
//! `cargo run --example server --features redis,postgres`.

use std::sync::Arc;

use tower_jwt_sessions::{
    BackendError, MachinableClaims, MemoryBackend, ReplayBackend, RevocationSink, RotatingBackend,
    Session, SessionBackend,
};

/// One of the backends, so that the app has one type whatever the environment says.
#[derive(Clone, Debug)]
pub enum AnyBackend {
    /// Sessions in this process only.
    Memory(MemoryBackend<MachinableClaims>),
    /// Sessions in Redis, shared by every instance.
    #[cfg(feature = "redis")]
    Redis(tower_jwt_sessions::RedisBackend),
    /// Sessions on a Redis Cluster, sharded by user, shared by every instance.
    #[cfg(feature = "redis")]
    RedisCluster(tower_jwt_sessions::RedisClusterBackend),
    /// Sessions in Postgres, shared by every instance.
    #[cfg(feature = "postgres")]
    Postgres(tower_jwt_sessions::PostgresBackend),
}

impl AnyBackend {
    /// The backend `SESSION_BACKEND` names; a bad name, URL or an unreachable store is an
    /// error with a one-line reason.
    #[allow(dead_code)] // the binary's entry point; the tests build theirs directly
    pub async fn from_env() -> Result<AnyBackend, String> {
        AnyBackend::from_vars(|name| std::env::var(name).ok()).await
    }

    /// [`AnyBackend::from_env`] with the variables from `var`: the tests' way in.
    pub async fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<AnyBackend, String> {
        let backend = var("SESSION_BACKEND").unwrap_or_else(|| "memory".to_owned());
        match backend.as_str() {
            "memory" => Ok(AnyBackend::Memory(MemoryBackend::new())),
            #[cfg(feature = "redis")]
            "redis" => {
                let url = var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
                tower_jwt_sessions::RedisBackend::connect(&url)
                    .await
                    .map(AnyBackend::Redis)
                    .map_err(|err| format!("SESSION_BACKEND=redis: {err}"))
            }
            #[cfg(feature = "redis")]
            "redis-cluster" => {
                let seeds = var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:7000".to_owned());
                tower_jwt_sessions::RedisClusterBackend::connect(&seeds)
                    .await
                    .map(AnyBackend::RedisCluster)
                    .map_err(|err| format!("SESSION_BACKEND=redis-cluster: {err}"))
            }
            #[cfg(feature = "postgres")]
            "postgres" => {
                let url = var("DATABASE_URL")
                    .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
                tower_jwt_sessions::PostgresBackend::connect(&url)
                    .await
                    .map(AnyBackend::Postgres)
                    .map_err(|err| format!("SESSION_BACKEND=postgres: {err}"))
            }
            // Reached only for a backend whose feature is off.
            #[allow(unreachable_patterns)]
            "redis" | "redis-cluster" | "postgres" => Err(format!(
                "SESSION_BACKEND={backend} needs the feature {}: \
                 cargo run --example server --features {}",
                feature_of(&backend),
                feature_of(&backend)
            )),
            other => Err(format!(
                "SESSION_BACKEND={other} is not one of memory, redis, redis-cluster, postgres"
            )),
        }
    }
}

/// The crate feature a backend needs.
#[allow(dead_code)] // reached only when that feature is off
fn feature_of(backend: &str) -> &str {
    backend.strip_suffix("-cluster").unwrap_or(backend)
}

macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyBackend::Memory($store) => $call,
            #[cfg(feature = "redis")]
            AnyBackend::Redis($store) => $call,
            #[cfg(feature = "redis")]
            AnyBackend::RedisCluster($store) => $call,
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres($store) => $call,
        }
    };
}

impl SessionBackend for AnyBackend {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        each!(self, store => store.create(session).await)
    }
    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        each!(self, store => store.load(id).await)
    }
    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        each!(self, store => store.revoke(id).await)
    }
    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        each!(self, store => store.list(user_id, limit).await)
    }
    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        each!(self, store => store.touch(id, at).await)
    }
    async fn revoke_all(&self, user_id: &str) -> Result<Vec<String>, BackendError> {
        each!(self, store => store.revoke_all(user_id).await)
    }
    async fn revoke_others(&self, user_id: &str, keep: &str) -> Result<Vec<String>, BackendError> {
        each!(self, store => store.revoke_others(user_id, keep).await)
    }
    fn session_id_prefix(&self, user_id: &str) -> Option<String> {
        each!(self, store => store.session_id_prefix(user_id))
    }
    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        each!(self, store => store.watch_revocations(sink))
    }
}

impl RotatingBackend for AnyBackend {
    async fn rotate(&self, id: &str, from: u64, to: u64, at: u64) -> Result<bool, BackendError> {
        each!(self, store => store.rotate(id, from, to, at).await)
    }
}

impl ReplayBackend for AnyBackend {
    async fn record_once(&self, id: &str, expires_at: u64) -> Result<bool, BackendError> {
        each!(self, store => store.record_once(id, expires_at).await)
    }
}
