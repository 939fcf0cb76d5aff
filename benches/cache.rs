//! Memory and allocations, counted by a global allocator: bytes per cached session, bytes
//! per cached verified token, heap allocations per accepted request on the access path.
//! Prints its figures; run with `cargo bench --bench cache`.

mod allocator;
mod common;

use allocator::{allocs, live};
use common::*;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use jsonwebtoken::Algorithm;
use tower::{Layer, Service};
use tower_jwt_sessions::SessionMeta;

fn request(auth: &HeaderValue) -> Request<String> {
    let mut req = Request::get("/me").body(String::new()).unwrap();
    req.headers_mut().insert(AUTHORIZATION, auth.clone());
    req
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we ignore.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    const N: usize = 10_000;

    // --- bytes per cached session ---------------------------------------------------------
    let sessions = in_memory(keys(Algorithm::HS256).0).build().unwrap();
    sessions.users().set_user("u1", user());
    let issued: Vec<_> = (0..N)
        .map(|_| {
            rt.block_on(sessions.create("u1", &user(), SessionMeta::default()))
                .unwrap()
        })
        .collect();
    let auths: Vec<HeaderValue> = issued
        .iter()
        .map(|i| HeaderValue::from_str(&format!("Bearer {}", i.refresh_token)).unwrap())
        .collect();
    let mut svc = sessions.layer().layer(Hello);
    let before = live();
    for auth in &auths {
        let mut req = Request::post("/sessions/refresh/")
            .body(String::new())
            .unwrap();
        req.headers_mut().insert(AUTHORIZATION, auth.clone());
        let res = rt.block_on(svc.call(req)).unwrap();
        assert_eq!(res.status(), 200);
    }
    let per_session = (live() - before) as f64 / N as f64;
    println!("bytes per cached session (all-in, {N} sessions): {per_session:.0}");

    // --- bytes per cached verified token ------------------------------------------------------
    let tokens: Vec<String> = issued.iter().map(|i| i.access_token.clone()).collect();
    let token_len = tokens.iter().map(String::len).sum::<usize>() / N;
    let before = live();
    for token in &tokens {
        rt.block_on(sessions.verify_access(token)).unwrap();
    }
    let per_token = (live() - before) as f64 / N as f64;
    println!(
        "bytes per cached verified token (all-in, {N} tokens of {token_len} bytes): {per_token:.0}"
    );

    // --- allocations per accepted request -----------------------------------------------------
    let auth = HeaderValue::from_str(&format!("Bearer {}", tokens[0])).unwrap();
    let count = |f: &mut dyn FnMut()| {
        f(); // warm
        let before = allocs();
        for _ in 0..1000 {
            f();
        }
        (allocs() - before) as f64 / 1000.0
    };
    let mut bare = Hello;
    let baseline = count(&mut || {
        now(bare.call(request(&auth))).unwrap();
    });
    let cached = count(&mut || {
        now(svc.call(request(&auth))).unwrap();
    });
    let uncached_sessions = in_memory(keys(Algorithm::HS256).0)
        .token_cache_bytes(None)
        .build()
        .unwrap();
    let issued = rt
        .block_on(uncached_sessions.create("u1", &user(), SessionMeta::default()))
        .unwrap();
    let auth2 = HeaderValue::from_str(&format!("Bearer {}", issued.access_token)).unwrap();
    let mut uncached_svc = uncached_sessions.layer().layer(Hello);
    let uncached = count(&mut || {
        now(uncached_svc.call(request(&auth2))).unwrap();
    });
    println!("allocations per request, bare service (request + response): {baseline:.1}");
    println!(
        "allocations per accepted request added by the layer, token cached: {:.1}",
        cached - baseline
    );
    println!(
        "allocations per accepted request added by the layer, no token cache: {:.1}",
        uncached - baseline
    );
}
