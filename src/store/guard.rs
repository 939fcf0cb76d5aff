//! Every call to the session backend or the user directory goes through here: at most
//! `max_in_flight` at once, each bounded by a timeout, each failure logged once. A stalled
//! backend then costs a quick 503 instead of a pile of waiting requests.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tower_jwt_sessions_core::BackendError;

use crate::timer;

pub(crate) struct Guard {
    in_flight: AtomicUsize,
    max_in_flight: usize,
    timeout: Option<Duration>,
}

/// Frees its slot when the call ends, however it ends (completion, error, drop).
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Guard {
    pub(crate) fn new(max_in_flight: usize, timeout: Option<Duration>) -> Self {
        Guard {
            in_flight: AtomicUsize::new(0),
            max_in_flight,
            timeout,
        }
    }

    /// Runs one call named `op` (for the log line) under the limit and the timeout. The
    /// call's future is made and boxed only when this runs: a backend's futures can be large
    /// (a pool checkout and a query), and inline they would swell every future that might
    /// call the backend, cache hits included.
    pub(crate) async fn call<T, F>(
        &self,
        op: &'static str,
        make: impl FnOnce() -> F,
    ) -> Result<T, BackendError>
    where
        F: Future<Output = Result<T, BackendError>>,
    {
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let call = self.bounded(Box::pin(make()));
        // A span per backend call, with its outcome, for whoever debugs a slow refresh.
        #[cfg(feature = "tracing")]
        let span = tracing::debug_span!("session_backend", op, outcome = tracing::field::Empty);
        #[cfg(feature = "tracing")]
        let call = tracing::Instrument::instrument(call, span.clone());
        let result = call.await;
        #[cfg(feature = "tracing")]
        span.record("outcome", if result.is_ok() { "ok" } else { "error" });
        #[cfg(feature = "metrics")]
        crate::telemetry::backend_call(op, result.is_ok(), started.elapsed());
        if let Err(_err) = &result {
            crate::telemetry::debug_event!("session backend failed on {}: {}", op, _err);
        }
        result
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        // Fail fast rather than queue: waiting requests would only pile up behind a stall.
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(BackendError::new(
                "too many session backend calls in flight",
            ));
        }
        let _slot = Slot(&self.in_flight);
        match self.timeout {
            Some(timeout) => timer::timeout(timeout, call)
                .await
                .unwrap_or_else(|()| Err(BackendError::new("session backend call timed out"))),
            None => call.await,
        }
    }
}
