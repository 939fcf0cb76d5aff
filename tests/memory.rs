//! Memory per session, counted by the allocator: a client-chosen `User-Agent` of 380 KiB,
//! cut to `limits::MAX_META_LEN`, must not keep its 380 KiB alive with the session (issue 17,
//! item 6: 100 logins grew the example server by 37 MiB). A test binary of its own, so
//! that no other test allocates while it counts.

#[path = "../examples/server/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../examples/server/backend.rs"]
#[allow(dead_code)]
mod backend;
#[path = "../examples/common/env.rs"]
#[allow(dead_code)]
mod env;

// The counting allocator, made this binary's global allocator by its inclusion.
#[path = "../benches/allocator.rs"]
#[allow(dead_code)]
mod allocator;

use base64::Engine;
use http::{Request, StatusCode, header};
use tower::ServiceExt;

#[tokio::test(flavor = "current_thread")]
async fn a_huge_user_agent_costs_a_session_only_what_is_kept() {
    let (router, _sessions) = app::app(b"memory-test-secret-at-least-32-bytes!").unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("testUser:{}", app::PASSWORD))
    );
    let agent = "A".repeat(380 * 1024);
    let login = async |router: &axum::Router| {
        let req = Request::post("/sessions/")
            .header(header::AUTHORIZATION, &basic)
            .header(header::USER_AGENT, &agent)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    };
    // Warm up: lazily built statics, the runtime's buffers.
    for _ in 0..10 {
        login(&router).await;
    }
    let before = allocator::live();
    const LOGINS: isize = 100;
    for _ in 0..LOGINS {
        login(&router).await;
    }
    let per_session = (allocator::live() - before) / LOGINS;
    // A session row with a 512-byte agent, its index entry and tokens: a few KiB at most.
    assert!(
        per_session < 16 * 1024,
        "each login kept {per_session} bytes alive (the agent is {} bytes)",
        agent.len()
    );
}
