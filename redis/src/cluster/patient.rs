//! The cluster connection, a little more patient, within the backend's response timeout.
//!
//! redis-rs's cluster client follows `MOVED` and `ASK` itself, and waits out `TRYAGAIN` and
//! `CLUSTERDOWN` with a few short pauses, but its retries are few and all spent at once
//! while it reconnects from the seeds (after every node closed its idle connections, or a
//! node went away), or while a slot's migration outlasts them: a slot being migrated answers
//! `TRYAGAIN` to a script whose keys are split between the two nodes, or that creates a key,
//! until its last key has moved. A command that fails so is sent again after a short pause
//! (10 ms, doubling up to 100 ms), until it succeeds or the response timeout is spent: the
//! whole command, retries included, never takes longer, so a real outage is still a prompt
//! error.
//!
//! What is sent again depends on whether the command may have run:
//! - an error that says it did not (a refusal by the server before running it: `TRYAGAIN`,
//!   `MOVED`, `ASK`, `CLUSTERDOWN`, `MASTERDOWN`, `LOADING`, `READONLY`; no connection to
//!   send it on; a connection refused): any command, since nothing happened;
//! - a connection lost with the command sent: it may have run, so only a command made with
//!   [`Patient::repeatable`], one whose second run changes nothing and answers as the first
//!   (a read, writing a new session, `touch`, `WAIT`). A compare-and-swap, `SET NX` or a
//!   revocation would answer "lost", "used" or "not found" the second time: their failure
//!   stands (a 503) rather than a wrong answer;
//! - a timeout: never, the time is spent.
//!
//! (redis-rs itself sends a command again on a new connection when the old one dropped
//! before the answer; that is beyond this wrapper.)

use std::future::Future;
use std::io;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::RoutingInfo;
use redis::{Cmd, ErrorKind, RedisError, RedisFuture, ServerErrorKind, Value};
use tokio::time::Instant;

/// The first pause before a command is sent again; each next one doubles, up to [`PAUSE_MAX`].
const PAUSE: Duration = Duration::from_millis(10);
const PAUSE_MAX: Duration = Duration::from_millis(100);

/// A [`ClusterConnection`] whose commands wait out a reconnection or a slot's migration,
/// within a deadline.
pub(crate) struct Patient {
    conn: ClusterConnection,
    /// How long one command may take, retries included.
    deadline: Duration,
    /// Whether a command that may have run may be sent again.
    repeatable: bool,
}

impl Patient {
    /// For commands whose second run changes nothing and answers as the first.
    pub(crate) fn repeatable(conn: ClusterConnection, deadline: Duration) -> Patient {
        Patient {
            conn,
            deadline,
            repeatable: true,
        }
    }

    /// For commands sent again only when an error says they did not run.
    pub(crate) fn once(conn: ClusterConnection, deadline: Duration) -> Patient {
        Patient {
            conn,
            deadline,
            repeatable: false,
        }
    }

    /// [`ClusterConnection::route_command`], as patient.
    pub(crate) async fn route_command(
        &self,
        cmd: &Cmd,
        routing: &RoutingInfo,
    ) -> Result<Value, RedisError> {
        patiently(self.deadline, self.repeatable, || {
            let mut conn = self.conn.clone();
            let (cmd, routing) = (cmd.clone(), routing.clone());
            async move { conn.route_command(cmd, routing).await }
        })
        .await
    }
}

/// The command did not run: the server refused it first, or it was never sent.
fn not_run(err: &RedisError) -> bool {
    match err.kind() {
        // A slot half migrated (`TRYAGAIN`), moved (`MOVED`, `ASK`: redis-rs's redirections
        // spent), a cluster without a quorum or a primary (`CLUSTERDOWN`, `MASTERDOWN`), a
        // node loading its data (`LOADING`) or one that is a replica now (`READONLY`): each
        // is the server's answer instead of running the command.
        ErrorKind::Server(
            ServerErrorKind::TryAgain
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::ReadOnly,
        ) => true,
        // No connection to the node (the client reconnects): nothing was sent.
        ErrorKind::ClusterConnectionNotFound => true,
        // Nothing was sent on a connection never made.
        _ => err.is_connection_refusal(),
    }
}

/// The connection was lost, perhaps after the command was sent: it may have run.
fn lost(err: &RedisError) -> bool {
    err.is_io_error() && !err.is_timeout()
}

/// The error a command gets when the deadline passes while it runs.
fn timed_out() -> RedisError {
    RedisError::from(io::Error::new(
        io::ErrorKind::TimedOut,
        "the cluster did not answer within the response timeout, retries included",
    ))
}

/// Runs `attempt`, and again after a pause while it fails as [`not_run`] (or, when
/// `repeatable`, [`lost`]) says, for as long as `deadline` allows.
async fn patiently<T, F, Fut>(
    deadline: Duration,
    repeatable: bool,
    mut attempt: F,
) -> Result<T, RedisError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RedisError>>,
{
    let started = Instant::now();
    let mut pause = PAUSE;
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        let result = tokio::time::timeout(left, attempt())
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        match result {
            Err(err)
                if (not_run(&err) || (repeatable && lost(&err)))
                    && started.elapsed() + pause < deadline =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PAUSE_MAX);
            }
            result => return result,
        }
    }
}

impl ConnectionLike for Patient {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let conn = &self.conn;
        Box::pin(patiently(self.deadline, self.repeatable, move || {
            let mut conn = conn.clone();
            async move { conn.req_packed_command(cmd).await }
        }))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let conn = &self.conn;
        Box::pin(patiently(self.deadline, self.repeatable, move || {
            let mut conn = conn.clone();
            async move { conn.req_packed_commands(pipeline, offset, count).await }
        }))
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(kind: ServerErrorKind) -> RedisError {
        RedisError::from((ErrorKind::Server(kind), "from the server"))
    }

    fn io(kind: io::ErrorKind) -> RedisError {
        RedisError::from(io::Error::new(kind, "on the wire"))
    }

    #[test]
    fn only_what_did_not_run_is_sent_again_unless_repeatable() {
        for kind in [
            ServerErrorKind::TryAgain,
            ServerErrorKind::Moved,
            ServerErrorKind::Ask,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::MasterDown,
            ServerErrorKind::BusyLoading,
            ServerErrorKind::ReadOnly,
        ] {
            assert!(not_run(&server(kind)), "{kind:?}");
        }
        assert!(not_run(&RedisError::from((
            ErrorKind::ClusterConnectionNotFound,
            "reconnecting"
        ))));
        assert!(not_run(&io(io::ErrorKind::ConnectionRefused)));
        // The script's own error, and a lost answer, are not "did not run".
        for err in [
            server(ServerErrorKind::ResponseError),
            server(ServerErrorKind::NoScript),
            io(io::ErrorKind::ConnectionReset),
            io(io::ErrorKind::UnexpectedEof),
            io(io::ErrorKind::TimedOut),
        ] {
            assert!(!not_run(&err), "{err}");
        }
        assert!(lost(&io(io::ErrorKind::ConnectionReset)));
        assert!(lost(&io(io::ErrorKind::UnexpectedEof)));
        // A timeout has spent the time: never sent again.
        assert!(!lost(&io(io::ErrorKind::TimedOut)));
        assert!(!lost(&timed_out()));
        assert!(!lost(&server(ServerErrorKind::ResponseError)));
    }

    /// An attempt that fails with `errors` in turn, then answers 1; how many times it ran.
    async fn run(
        deadline: Duration,
        repeatable: bool,
        errors: Vec<RedisError>,
    ) -> (Result<i64, RedisError>, usize) {
        let errors = std::sync::Mutex::new(errors.into_iter());
        let tries = std::sync::atomic::AtomicUsize::new(0);
        let result = patiently(deadline, repeatable, || {
            tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let next = errors.lock().unwrap().next();
            async move { next.map_or(Ok(1), Err) }
        })
        .await;
        (result, tries.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_half_migrated_is_waited_out_within_the_deadline() {
        let two_seconds = Duration::from_secs(2);
        // TRYAGAIN ten times (10 + 20 + 40 + 80 + 100 x 6 ms of pauses), then the answer.
        let started = tokio::time::Instant::now();
        let tryagain = (0..10).map(|_| server(ServerErrorKind::TryAgain)).collect();
        let (result, tries) = run(two_seconds, false, tryagain).await;
        assert_eq!((result.unwrap(), tries), (1, 11));
        assert_eq!(started.elapsed(), Duration::from_millis(750));
        // A migration that outlasts the deadline: its error, within the deadline.
        let started = tokio::time::Instant::now();
        let forever = (0..1000)
            .map(|_| server(ServerErrorKind::TryAgain))
            .collect();
        let (result, _) = run(two_seconds, true, forever).await;
        assert_eq!(
            result.unwrap_err().kind(),
            ErrorKind::Server(ServerErrorKind::TryAgain)
        );
        assert!(started.elapsed() < two_seconds, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_sent_again_only_when_repeatable() {
        let second = Duration::from_secs(1);
        let (result, tries) = run(second, true, vec![io(io::ErrorKind::ConnectionReset)]).await;
        assert_eq!((result.unwrap(), tries), (1, 2));
        let (result, tries) = run(second, false, vec![io(io::ErrorKind::ConnectionReset)]).await;
        assert!(result.unwrap_err().is_io_error());
        assert_eq!(tries, 1);
        // Nor a timeout, nor the script's own error, even when repeatable.
        for err in [
            io(io::ErrorKind::TimedOut),
            server(ServerErrorKind::ResponseError),
        ] {
            let (result, tries) = run(second, true, vec![err]).await;
            assert!(result.is_err());
            assert_eq!(tries, 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_that_hangs_ends_at_the_deadline() {
        let started = tokio::time::Instant::now();
        let result: Result<(), RedisError> =
            patiently(Duration::from_millis(300), true, std::future::pending).await;
        assert!(result.unwrap_err().is_timeout());
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }
}
