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

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use base64::Engine;
use http::{Request, StatusCode, header};
use tower::ServiceExt;

/// The system allocator, counting the bytes live at any moment.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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
    let before = LIVE.load(Ordering::Relaxed);
    const LOGINS: isize = 100;
    for _ in 0..LOGINS {
        login(&router).await;
    }
    let per_session = (LIVE.load(Ordering::Relaxed) - before) / LOGINS;
    // A session row with a 512-byte agent, its index entry and tokens: a few KiB at most.
    assert!(
        per_session < 16 * 1024,
        "each login kept {per_session} bytes alive (the agent is {} bytes)",
        agent.len()
    );
}
