//! What operators count (feature `metrics`, through the `metrics` facade): every name is
//! `tjs_*`, counters end in `_total`, durations are `_seconds` histograms, and labels are
//! low-cardinality: an outcome, an error code, a fixed reason, a backend operation; never a
//! user, a session or a token. Without the feature every function here is empty and
//! inlined away: the hot path pays nothing.
//!
//! The names and labels are listed once, in the operations guide (`docs/operations.md`).
//!
//! Refusals are logged (debug level) and counted here and nowhere else: the layers only say
//! which route refused what. The log macros live here too, so that low modules log without
//! importing the crate root.

/// A debug event (a refusal, a backend failure), through `tracing` when the feature is on;
/// without it the arguments are still type-checked, and nothing runs.
macro_rules! debug_event {
    ($($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::debug!($($arg)*);
        #[cfg(not(feature = "tracing"))]
        {
            let _ = format_args!($($arg)*);
        }
    }};
}
pub(crate) use debug_event;

/// A warning for the operator (a fault of a dependency, logged once per episode), through
/// `tracing` when the feature is on.
macro_rules! warn_event {
    ($($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::warn!($($arg)*);
        #[cfg(not(feature = "tracing"))]
        {
            let _ = format_args!($($arg)*);
        }
    }};
}
pub(crate) use warn_event;

#[cfg(feature = "metrics")]
use std::time::Duration;

use crate::error::AuthError;

/// The counters of every accepted request, looked up once per thread and recorder instead
/// of per request: registering a counter hashes its name and labels and takes the
/// recorder's registry lock, which cost more than the rest of a cache hit.
#[cfg(feature = "metrics")]
mod hot {
    use std::cell::RefCell;

    use metrics::{Counter, Recorder};

    pub(super) struct Hot {
        /// The address of the recorder the handles came from (the no-op one before any is
        /// installed): a new recorder, global or local, gets new handles. A local recorder
        /// dropped and replaced by another at the same address would keep the old handles;
        /// the global one, which servers use, lives for the process.
        recorder: usize,
        pub(super) accepted: Counter,
        pub(super) cache_hits: Counter,
        pub(super) cache_misses: Counter,
        #[cfg(feature = "jwks")]
        pub(super) introspection_hits: Counter,
        #[cfg(feature = "jwks")]
        pub(super) introspection_misses: Counter,
    }

    thread_local! {
        static HOT: RefCell<Option<Hot>> = const { RefCell::new(None) };
    }

    pub(super) fn with(f: impl FnOnce(&Hot)) {
        let recorder =
            metrics::with_recorder(|r| std::ptr::from_ref::<dyn Recorder>(r).cast::<()>() as usize);
        // Off a thread's end or re-entered (a recorder counting from inside a counter): the
        // count is dropped rather than a panic.
        let _ = HOT.try_with(|hot| {
            let Ok(mut hot) = hot.try_borrow_mut() else {
                return;
            };
            if hot.as_ref().is_none_or(|h| h.recorder != recorder) {
                *hot = Some(Hot {
                    recorder,
                    accepted: metrics::counter!("tjs_access_requests_total", "outcome" => "accepted"),
                    cache_hits: metrics::counter!("tjs_token_cache_lookups_total", "result" => "hit"),
                    cache_misses: metrics::counter!("tjs_token_cache_lookups_total", "result" => "miss"),
                    #[cfg(feature = "jwks")]
                    introspection_hits: metrics::counter!("tjs_introspection_cache_lookups_total", "result" => "hit"),
                    #[cfg(feature = "jwks")]
                    introspection_misses: metrics::counter!("tjs_introspection_cache_lookups_total", "result" => "miss"),
                });
            }
            if let Some(hot) = hot.as_ref() {
                f(hot);
            }
        });
    }
}

#[cfg(feature = "metrics")]
fn error_labels(err: &AuthError) -> (&'static str, String) {
    (
        err.code().unwrap_or("missing_credentials"),
        err.description().to_owned(),
    )
}

/// A protected request let through with claims.
#[inline]
pub(crate) fn access_accepted() {
    #[cfg(feature = "metrics")]
    hot::with(|hot| hot.accepted.increment(1));
}

/// A request let through without claims (public route, optional mode).
#[inline]
pub(crate) fn access_anonymous() {
    #[cfg(feature = "metrics")]
    metrics::counter!("tjs_access_requests_total", "outcome" => "anonymous").increment(1);
}

/// A request refused by a layer (any route but a refresh): logged and counted.
#[inline]
pub(crate) fn access_refused(err: &AuthError) {
    crate::telemetry::debug_event!("request refused: {}", err);
    #[cfg(feature = "metrics")]
    {
        let (code, reason) = error_labels(err);
        metrics::counter!("tjs_access_requests_total", "outcome" => "refused",
            "error" => code, "reason" => reason)
        .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = err;
}

/// A DPoP proof: `accepted` (checked and recorded), `replayed`, or `refused` with the
/// check it failed.
#[inline]
pub(crate) fn dpop_proof(outcome: Result<(), &AuthError>) {
    #[cfg(feature = "metrics")]
    match outcome {
        Ok(()) => metrics::counter!("tjs_dpop_proofs_total", "outcome" => "accepted").increment(1),
        Err(err) if *err == crate::error::refusals::PROOF_REPLAYED => {
            metrics::counter!("tjs_dpop_proofs_total", "outcome" => "replayed").increment(1)
        }
        Err(err) => {
            let (_, reason) = error_labels(err);
            metrics::counter!("tjs_dpop_proofs_total", "outcome" => "refused", "reason" => reason)
                .increment(1)
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// One lookup of the verified-token cache.
#[inline]
pub(crate) fn token_cache(hit: bool) {
    #[cfg(feature = "metrics")]
    hot::with(|hot| {
        if hit {
            hot.cache_hits.increment(1)
        } else {
            hot.cache_misses.increment(1)
        }
    });
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}

/// A refresh answered with new tokens.
#[inline]
pub(crate) fn refreshed() {
    #[cfg(feature = "metrics")]
    metrics::counter!("tjs_refresh_requests_total", "outcome" => "refreshed").increment(1);
}

/// A refresh refused (a 503 included: its error code says so): logged and counted.
#[inline]
pub(crate) fn refresh_refused(err: &AuthError) {
    crate::telemetry::debug_event!("refresh refused: {}", err);
    #[cfg(feature = "metrics")]
    {
        let (code, reason) = error_labels(err);
        metrics::counter!("tjs_refresh_requests_total", "outcome" => "refused",
            "error" => code, "reason" => reason)
        .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = err;
}

/// One call to the backend or the user directory, and how long it took (timed only with the
/// feature on).
#[cfg(feature = "metrics")]
#[inline]
pub(crate) fn backend_call(op: &'static str, ok: bool, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("tjs_backend_calls_total", "op" => op,
            "result" => if ok { "ok" } else { "error" })
        .increment(1);
        metrics::histogram!("tjs_backend_call_duration_seconds", "op" => op)
            .record(took.as_secs_f64());
    }
}

/// A revocation this process made, or one the backend's feed reported.
#[inline]
pub(crate) fn revocation(from_feed: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tjs_revocations_total",
        "source" => if from_feed { "feed" } else { "local" })
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = from_feed;
}

/// The backend's revocation feed went up or down.
#[inline]
pub(crate) fn feed_up(up: bool) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("tjs_revocation_feed_up").set(if up { 1.0 } else { 0.0 });
    #[cfg(not(feature = "metrics"))]
    let _ = up;
}

#[cfg(feature = "jwks")]
/// One introspection call and how it ended: `active`, `inactive` (a refusal the answer
/// gave) or `failed` (the endpoint's fault), with its duration.
#[inline]
pub(crate) fn introspection_call(outcome: &'static str, took: std::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("tjs_introspection_calls_total", "outcome" => outcome).increment(1);
        metrics::histogram!("tjs_introspection_call_duration_seconds").record(took.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (outcome, took);
}

/// A lookup in the introspection cache.
#[cfg(feature = "jwks")]
#[inline]
pub(crate) fn introspection_cache(hit: bool) {
    #[cfg(feature = "metrics")]
    hot::with(|hot| {
        if hit {
            hot.introspection_hits.increment(1)
        } else {
            hot.introspection_misses.increment(1)
        }
    });
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}
