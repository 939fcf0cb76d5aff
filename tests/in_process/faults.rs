//! Fault injection: a backend that fails, stalls past the timeout, or answers slowly. The
//! layer answers 503 with `Retry-After`, caches nothing from a failed call, recovers on the
//! next good call, and never lets a stalled backend pile up waiting requests.

use std::time::{Duration, Instant};

use crate::common::client::{Reply, login, refresh};
use crate::common::*;
use http::StatusCode;
use http::header::RETRY_AFTER;
use tower_jwt_sessions::{Keys, Sessions, SessionsBuilder};

fn builder() -> SessionsBuilder<CountingBackend> {
    let backend = CountingBackend::new(memory_with_u1());
    Sessions::builder(Keys::hs256(SECRET).unwrap(), backend.clone(), backend)
}

fn assert_503(res: &Reply) {
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers[RETRY_AFTER], "1");
    assert!(res.challenge.is_empty(), "a 503 is not a challenge");
}

fn setup(
    builder: SessionsBuilder<CountingBackend>,
) -> (Sessions<CountingBackend>, CountingBackend) {
    let sessions = builder.build().unwrap();
    let backend = sessions.users().clone();
    (sessions, backend)
}

#[tokio::test]
async fn a_failing_backend_is_503_then_recovers_with_nothing_cached() {
    let (sessions, backend) = setup(builder());
    let issued = login(&sessions).await;
    backend.set_fail(true);
    for _ in 0..3 {
        assert_503(&refresh(&sessions, &issued.refresh_token).await);
    }
    assert_eq!(
        backend.loads(),
        3,
        "every failed load went to the backend again"
    );
    backend.set_fail(false);
    assert_eq!(
        refresh(&sessions, &issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(backend.loads(), 4);
    // The good load is cached now.
    assert_eq!(
        refresh(&sessions, &issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(backend.loads(), 4);
}

#[tokio::test]
async fn a_failure_reading_user_claims_is_503_not_401() {
    // Every refresh reads the directory (no shared window), so the fault is met at once.
    let (sessions, backend) = setup(builder().user_claims_ttl(None));
    let issued = login(&sessions).await;
    // Warm the session cache so that only the user-claims read hits the failing backend.
    assert_eq!(
        refresh(&sessions, &issued.refresh_token).await.status,
        StatusCode::OK
    );
    backend.set_fail(true);
    assert_503(&refresh(&sessions, &issued.refresh_token).await);
    backend.set_fail(false);
    assert_eq!(
        refresh(&sessions, &issued.refresh_token).await.status,
        StatusCode::OK
    );
    // The session was not ended by the fault.
    assert_eq!(sessions.list("u1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_stalled_backend_times_out_with_503() {
    let (sessions, backend) = setup(builder().backend_timeout(Some(Duration::from_millis(100))));
    let issued = login(&sessions).await;
    backend.set_delay(Some(Duration::from_secs(30)));
    let start = Instant::now();
    assert_503(&refresh(&sessions, &issued.refresh_token).await);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    backend.set_delay(None);
    assert_eq!(
        refresh(&sessions, &issued.refresh_token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_slow_backend_inside_the_timeout_is_fine() {
    let (sessions, backend) = setup(builder().backend_timeout(Some(Duration::from_millis(500))));
    let issued = login(&sessions).await;
    backend.set_delay(Some(Duration::from_millis(100)));
    assert_eq!(
        refresh(&sessions, &issued.refresh_token).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_backend_cannot_pile_up_requests() {
    let (sessions, backend) = setup(
        builder()
            .max_backend_calls(4)
            .backend_timeout(Some(Duration::from_secs(10))),
    );
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(login(&sessions).await.refresh_token);
    }
    backend.set_delay(Some(Duration::from_millis(800)));
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let status = refresh(&sessions, &token).await.status;
                (status, start.elapsed())
            })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for task in tasks {
        let (status, elapsed) = task.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                assert!(
                    elapsed < Duration::from_millis(700),
                    "refused at once, not queued"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 4, "only four calls may be in flight");
    assert_eq!(refused, 16);
}

#[tokio::test]
async fn a_failing_touch_does_not_fail_the_refresh() {
    let (sessions, backend) = setup(builder().touch_debounce(Duration::ZERO));
    let issued = login(&sessions).await;
    backend
        .fail_touch
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        refresh(&sessions, &issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(backend.touches(), 1, "the touch was attempted and failed");
}

#[tokio::test]
async fn session_api_reports_backend_faults() {
    let (sessions, backend) = setup(builder());
    let issued = login(&sessions).await;
    backend.set_fail(true);
    assert!(matches!(
        sessions.revoke(&issued.session_id).await,
        Err(tower_jwt_sessions::SessionError::Backend(_))
    ));
    assert!(sessions.list("u1").await.is_err());
    backend.set_fail(false);
    assert!(sessions.revoke(&issued.session_id).await.unwrap());
}

/// A backend whose loads never finish, and which needs no timer of its own.
#[derive(Clone, Default)]
struct Stalling(Memory);

impl tower_jwt_sessions::SessionBackend for Stalling {
    async fn create(
        &self,
        s: tower_jwt_sessions::Session,
    ) -> Result<(), tower_jwt_sessions::BackendError> {
        self.0.create(s).await
    }
    async fn load(
        &self,
        _: &str,
    ) -> Result<Option<tower_jwt_sessions::Session>, tower_jwt_sessions::BackendError> {
        std::future::pending().await
    }
    async fn revoke(&self, id: &str) -> Result<bool, tower_jwt_sessions::BackendError> {
        self.0.revoke(id).await
    }
    async fn list(
        &self,
        u: &str,
        limit: usize,
    ) -> Result<Vec<tower_jwt_sessions::Session>, tower_jwt_sessions::BackendError> {
        self.0.list(u, limit).await
    }
    async fn touch(&self, id: &str, at: u64) -> Result<(), tower_jwt_sessions::BackendError> {
        self.0.touch(id, at).await
    }
}

impl tower_jwt_sessions::Users for Stalling {
    type Claims = tower_jwt_sessions::MachinableClaims;
    async fn claims(
        &self,
        u: &str,
    ) -> Result<Option<tower_jwt_sessions::MachinableClaims>, tower_jwt_sessions::BackendError>
    {
        self.0.claims(u).await
    }
}

/// The fuzzer's first find: tokio's timer panics on a runtime built without `enable_time`.
/// Our timeout needs no runtime timer at all.
#[test]
fn timeouts_work_on_a_runtime_without_timers() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let keys = Keys::hs256(SECRET).unwrap();
    let sessions = Sessions::builder(keys, Stalling::default(), Stalling::default())
        .backend_timeout(Some(Duration::from_millis(100)))
        .build()
        .unwrap();
    let issued = rt.block_on(login(&sessions));
    let start = Instant::now();
    assert_503(&rt.block_on(refresh(&sessions, &issued.refresh_token)));
    assert!(start.elapsed() < Duration::from_secs(2));
}
