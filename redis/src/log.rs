//! Following one revocation log (a Redis Stream and its completeness marker): where a
//! follower is, replaying what it missed, and checking that the log is still the one it
//! followed. Shared by the single-node feed (blocking reads) and the cluster's (one log per
//! shard, polled).

use std::sync::Weak;

use redis::aio::ConnectionLike;
use redis::streams::StreamRangeReply;
use redis::{RedisError, Script};
use tower_jwt_sessions_core::RevocationSink;

use crate::unix_now;

/// Where a follower is in the log: the last id it saw, and how many entries were ever added
/// to the log up to it (`None` until a check found the follower caught up).
pub(crate) struct Position {
    pub(crate) last: String,
    added: Option<i64>,
}

impl Position {
    pub(crate) fn start() -> Self {
        // "0-0" replays the whole log: every entry in it may still have live tokens.
        Position {
            last: "0-0".to_owned(),
            added: None,
        }
    }

    pub(crate) fn saw(&mut self, id: String) {
        self.last = id;
        if let Some(added) = &mut self.added {
            *added += 1;
        }
    }
}

/// The follower's keys and script.
pub(crate) struct Feed {
    pub(crate) log: String,
    pub(crate) marker: String,
    pub(crate) check: Script,
}

/// Delivers every entry after the follower's position, in pages, oldest first.
pub(crate) async fn replay(
    conn: &mut (impl ConnectionLike + Send),
    feed: &Feed,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), RedisError> {
    loop {
        let page: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&feed.log)
            .arg(format!("({}", position.last))
            .arg("+")
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        let Some(sink) = sink.upgrade() else {
            return Ok(());
        };
        let full = page.ids.len() == 1000;
        for entry in page.ids {
            if let Some(sid) = entry.get::<String>("sid") {
                sink.revoked(&sid);
            }
            position.saw(entry.id);
        }
        if !full {
            return Ok(());
        }
    }
}

/// Checks that the log is the one this follower followed (see [`scripts::check_log`]) and
/// reports since when it is complete: the latest of the marker and the newest entry removed
/// by `XDEL` (stream ids are milliseconds). True when the follower must replay from the
/// start: its position was moved there.
pub(crate) async fn check(
    conn: &mut (impl ConnectionLike + Send),
    feed: &Feed,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<bool, RedisError> {
    let added = position.added.map(|a| a.to_string()).unwrap_or_default();
    let (marker, deleted, generated, total, reset): (String, String, String, i64, i64) = feed
        .check
        .key(&feed.log)
        .key(&feed.marker)
        .arg(&position.last)
        .arg(added)
        .invoke_async(conn)
        .await?;
    let reset = reset == 1;
    if reset {
        *position = Position::start();
    }
    if generated == position.last {
        position.added = Some(total);
    }
    let deleted_ms = deleted
        .split_once('-')
        .and_then(|(ms, _)| ms.parse::<u64>().ok())
        .unwrap_or(0);
    // A marker that is no number (written by hand) counts as a loss now.
    let since = marker
        .parse::<u64>()
        .unwrap_or_else(|_| unix_now())
        .max(deleted_ms.div_ceil(1000));
    if let Some(sink) = sink.upgrade() {
        sink.log_complete_since(since);
    }
    Ok(reset)
}
