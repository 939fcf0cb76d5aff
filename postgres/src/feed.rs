//! The revocation feed: each instance `LISTEN`s on a connection of its own, replays the
//! revocation table from the last id it saw, checks every second that the table is still the
//! one it followed, and reports its feed down while it cannot.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio_postgres::{AsyncMessage, NoTls};
use tower_jwt_sessions_core::{BackendError, RevocationSink};

use crate::{PostgresBackend, schema};

/// The longest a dead feed connection goes unnoticed: the ping interval plus its timeout.
pub const FEED_DEAD_AFTER: Duration = Duration::from_secs(3);
const PING_EVERY: Duration = Duration::from_secs(1);
const CLEAN_EVERY: Duration = Duration::from_secs(60);

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
pub(crate) async fn follow(backend: PostgresBackend, sink: Weak<dyn RevocationSink>) {
    // 0 replays the whole log on start: every entry in it may still have live tokens.
    let mut position = Position::default();
    loop {
        if sink.upgrade().is_none() {
            return;
        }
        let _ = follow_once(&backend, &mut position, &sink).await;
        match sink.upgrade() {
            Some(sink) => sink.feed_up(false),
            None => return,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn follow_once(
    backend: &PostgresBackend,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), BackendError> {
    let mut config: tokio_postgres::Config = backend.url.parse().map_err(BackendError::new)?;
    config
        .connect_timeout(Duration::from_secs(1))
        .application_name(&backend.sql.feed_name);
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
            .batch_execute(&backend.sql.listen)
            .await
            .map_err(BackendError::new)?;
        catch_up(&client, backend, position, sink).await?;
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
                        catch_up(&client, backend, position, &Arc::downgrade(&sink)).await?;
                    }
                }
                // The ping is the log check: a reset no listener was told of (a restore) is
                // found within a second, and a silently dead connection within
                // FEED_DEAD_AFTER.
                _ = ping.tick() => {
                    tokio::time::timeout(
                        FEED_DEAD_AFTER - PING_EVERY,
                        catch_up(&client, backend, position, sink),
                    )
                    .await
                    // `Elapsed` says only that the time ran out, as the text does.
                    .map_err(|_| BackendError::new("the feed connection stopped answering"))??;
                    if sink.upgrade().is_none() {
                        return Ok(());
                    }
                }
                _ = clean.tick() => {
                    let _ = backend.delete_expired().await;
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
    backend: &PostgresBackend,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), BackendError> {
    let state = client
        .query_one(&backend.sql.log_state, &[&position.last])
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
                .query_one(&backend.sql.record_loss, &[])
                .await
                .map_err(BackendError::new)?
                .get(0)
        }
    };
    replay(client, backend, position, sink).await?;
    if let Some(sink) = sink.upgrade() {
        sink.log_complete_since(u64::try_from(since).unwrap_or(0));
    }
    Ok(())
}

/// Delivers every log entry after the listener's position, oldest first.
async fn replay(
    client: &tokio_postgres::Client,
    backend: &PostgresBackend,
    position: &mut Position,
    sink: &Weak<dyn RevocationSink>,
) -> Result<(), BackendError> {
    let rows = client
        .query(&backend.sql.replay, &[&position.last])
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
