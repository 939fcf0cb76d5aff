//! The cluster's revocation feed: every shard's log, polled in turn on a connection of the
//! feed's own. A blocking read would hold a node's multiplexed connection (and one read
//! cannot span slots), so each sweep replays every log from where it stopped and checks it
//! is still the one followed; the feed is up only after a whole sweep succeeded, and down
//! from the first failure (a dead node, a failover, a slot moving) until the next.

use std::sync::Weak;
use std::time::Duration;

use redis::RedisError;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use tower_jwt_sessions_core::RevocationSink;

use crate::log::{Feed, Position, check, replay};

/// How often every log is read: a revocation reaches every instance within this, plus one
/// sweep.
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// Follows every shard's log for as long as the layer lives.
pub(crate) async fn follow(
    client: ClusterClient,
    feeds: Vec<Feed>,
    sink: Weak<dyn RevocationSink>,
) {
    let mut positions: Vec<Position> = feeds.iter().map(|_| Position::start()).collect();
    let mut conn: Option<ClusterConnection> = None;
    let mut up = false;
    loop {
        let Some(alive) = sink.upgrade() else { return };
        drop(alive);
        let swept = match &mut conn {
            Some(conn) => sweep(conn, &feeds, &mut positions, &sink).await,
            None => match client.get_async_connection().await {
                Ok(connected) => {
                    let conn = conn.insert(connected);
                    sweep(conn, &feeds, &mut positions, &sink).await
                }
                Err(err) => Err(err),
            },
        };
        let Some(sink) = sink.upgrade() else { return };
        if swept.is_ok() != up {
            up = swept.is_ok();
            sink.feed_up(up);
        }
        drop(sink);
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Every log once: what was added since the last sweep, then the check (and, when the log was
/// replaced, the whole of it again).
async fn sweep(
    conn: &mut ClusterConnection,
    feeds: &[Feed],
    positions: &mut [Position],
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), RedisError> {
    for (feed, position) in feeds.iter().zip(positions.iter_mut()) {
        replay(conn, feed, position, sink).await?;
        if check(conn, feed, position, sink).await? {
            replay(conn, feed, position, sink).await?;
            check(conn, feed, position, sink).await?;
        }
    }
    Ok(())
}
