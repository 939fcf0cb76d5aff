//! The cluster connection, a little more patient. When every node closed its idle connections
//! (`timeout` in redis.conf) or a node just went away, redis-rs's cluster client answers
//! "no connection" at once while it reconnects from the seeds, or sends the command to any
//! node it still has and gets `MOVED`, its own retries spent before the reconnection is
//! done. A command that finds the client so is tried again after a short pause, three times
//! at most. A cluster error (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`) means the command did
//! not run; after a lost connection it may have, and every command of the backend is safe to
//! repeat (the compare-and-swap answers "lost" the second time, which the layer settles by
//! reading the backend).

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::RoutingInfo;
use redis::{Cmd, ErrorKind, RedisError, RedisFuture, Value};

/// The pause before a command is tried again.
const PAUSE: Duration = Duration::from_millis(100);
/// How many times a command is tried again.
const AGAIN: usize = 3;

/// A [`ClusterConnection`] whose commands wait out a reconnection.
pub(crate) struct Patient(pub(crate) ClusterConnection);

fn reconnecting(err: &RedisError) -> bool {
    err.kind() == ErrorKind::ClusterConnectionNotFound
        || err.is_cluster_error()
        || err.is_connection_dropped()
        || err.is_io_error()
}

/// Runs `attempt`, and again after a pause while it fails as [`reconnecting`] says.
async fn patiently<T, F, Fut>(mut attempt: F) -> Result<T, RedisError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RedisError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(err) if tries < AGAIN && reconnecting(&err) => {
                tries += 1;
                tokio::time::sleep(PAUSE).await;
            }
            result => return result,
        }
    }
}

impl Patient {
    /// [`ClusterConnection::route_command`], as patient.
    pub(crate) async fn route_command(
        &self,
        cmd: &Cmd,
        routing: &RoutingInfo,
    ) -> Result<Value, RedisError> {
        patiently(|| {
            let mut conn = self.0.clone();
            let (cmd, routing) = (cmd.clone(), routing.clone());
            async move { conn.route_command(cmd, routing).await }
        })
        .await
    }
}

impl ConnectionLike for Patient {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(patiently(move || {
            let mut conn = self.0.clone();
            async move { conn.req_packed_command(cmd).await }
        }))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(patiently(move || {
            let mut conn = self.0.clone();
            async move { conn.req_packed_commands(pipeline, offset, count).await }
        }))
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
