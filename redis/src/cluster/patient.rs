//! The cluster connection, a little more patient. When every node closed its idle connections
//! (`timeout` in redis.conf) or a node just went away, redis-rs's cluster client answers
//! "no connection" at once while it reconnects from the seeds, or sends the command to any
//! node it still has and gets `MOVED`, its own retries spent before the reconnection is
//! done. A command that finds the client so is tried again after a short pause, three times
//! at most. A cluster error (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`) means the command did
//! not run; after a lost connection it may have, and every command of the backend is safe to
//! repeat (the compare-and-swap answers "lost" the second time, which the layer settles by
//! reading the backend).

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

impl Patient {
    /// [`ClusterConnection::route_command`], as patient.
    pub(crate) async fn route_command(
        &mut self,
        cmd: &Cmd,
        routing: &RoutingInfo,
    ) -> Result<Value, RedisError> {
        let mut tries = 0;
        loop {
            match self.0.route_command(cmd.clone(), routing.clone()).await {
                Err(err) if tries < AGAIN && reconnecting(&err) => {
                    tries += 1;
                    tokio::time::sleep(PAUSE).await;
                }
                result => return result,
            }
        }
    }
}

impl ConnectionLike for Patient {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut tries = 0;
            loop {
                match self.0.req_packed_command(cmd).await {
                    Err(err) if tries < AGAIN && reconnecting(&err) => {
                        tries += 1;
                        tokio::time::sleep(PAUSE).await;
                    }
                    result => return result,
                }
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut tries = 0;
            loop {
                match self.0.req_packed_commands(pipeline, offset, count).await {
                    Err(err) if tries < AGAIN && reconnecting(&err) => {
                        tries += 1;
                        tokio::time::sleep(PAUSE).await;
                    }
                    result => return result,
                }
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
