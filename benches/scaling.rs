//! Two questions of the cache-hit path, each answered in one run:
//!
//! - `scaling/*`: one layer shared by 1 and by 2 threads (this machine has 2 cores), every
//!   thread sending the same token (each its own copy of the header, as each connection
//!   has). Each sample times `iters` requests split over the threads, so `1_thread /
//!   2_threads` is the throughput gained by the second core (goal: >= 1.8); `bare_*` is the
//!   same for the service without the layer: what the machine itself allows.
//! - `router/*`: the layer inside an axum `Router` (`route_layer`) against the same Router
//!   without it and with a `route_layer` that does nothing (`router_identity`), beside the
//!   tower-level pair (`tower_bare`, `tower_layer`), so that the cost the layer adds in a
//!   Router compares with what it adds alone (goal: within 1.2x); and the layer around the
//!   whole Router, in an outer Router's fallback as the README writes it (`router_around`)
//!   or served as it is (`router_wrapped`).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use tower::{Layer, Service};
use tower_jwt_sessions::{Claims, MachinableClaims};

fn scaling(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (sessions, token) = sessions_and_token(&rt);
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let layer = sessions.layer();

    let mut group = c.benchmark_group("scaling");
    for (threads, guarded) in [(1u64, false), (2, false), (1, true), (2, true)] {
        let name = match (threads, guarded) {
            (1, false) => "bare_1_thread",
            (_, false) => "bare_2_threads",
            (1, true) => "1_thread",
            _ => "2_threads",
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads);
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        let auth = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
                        let layer = &layer;
                        scope.spawn(move || {
                            if guarded {
                                let mut svc = layer.layer(Hello);
                                for _ in 0..per_thread {
                                    let res =
                                        now(svc.call(authed_request(black_box(&auth)))).unwrap();
                                    assert!(res.status().is_success());
                                }
                            } else {
                                let mut svc = Hello;
                                for _ in 0..per_thread {
                                    let res =
                                        now(svc.call(authed_request(black_box(&auth)))).unwrap();
                                    assert!(res.status().is_success());
                                }
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("router");
    let mut bare = Hello;
    group.bench_function("tower_bare", |b| {
        b.iter(|| {
            now(bare.call(authed_request(black_box(&auth))))
                .unwrap()
                .status()
        })
    });
    let mut svc = layer.layer(Hello);
    group.bench_function("tower_layer", |b| {
        b.iter(|| {
            now(svc.call(authed_request(black_box(&auth))))
                .unwrap()
                .status()
        })
    });
    let router_request = || {
        let mut req = Request::get("/me").body(Body::empty()).unwrap();
        req.headers_mut().insert(AUTHORIZATION, auth.clone());
        req
    };
    let mut plain: Router = Router::new().route("/me", get(|| async { "" }));
    group.bench_function("router_bare", |b| {
        b.iter(|| {
            now(plain.call(black_box(router_request())))
                .unwrap()
                .status()
        })
    });
    // A `route_layer` that does nothing: what axum's own layering costs any middleware
    // (its boxing of the layered route, the response mapping, one more `Oneshot`).
    let mut identity: Router = Router::new()
        .route("/me", get(|| async { "" }))
        .route_layer(tower::layer::util::Identity::new());
    group.bench_function("router_identity", |b| {
        b.iter(|| {
            now(identity.call(black_box(router_request())))
                .unwrap()
                .status()
        })
    });
    let mut guarded: Router = Router::new()
        .route("/me", get(|| async { "" }))
        .route_layer(sessions.layer());
    group.bench_function("router_layer", |b| {
        b.iter(|| {
            now(guarded.call(black_box(router_request())))
                .unwrap()
                .status()
        })
    });
    // The same with the layer for axum, whose responses axum does not box again.
    let mut native: Router = Router::new()
        .route("/me", get(|| async { "" }))
        .route_layer(sessions.axum_layer());
    group.bench_function("router_axum_layer", |b| {
        b.iter(|| {
            now(native.call(black_box(router_request())))
                .unwrap()
                .status()
        })
    });
    // The layer around the whole Router, as the README and the examples write it (inside an
    // outer Router's fallback, so that the app is still a `Router`): it runs before axum's
    // routing, and its responses are axum's own.
    let mut around: Router = Router::new().fallback_service(
        sessions
            .axum_layer()
            .layer(Router::new().route("/me", get(|| async { "" }))),
    );
    group.bench_function("router_around", |b| {
        b.iter(|| {
            now(around.call(black_box(router_request())))
                .unwrap()
                .status()
        })
    });
    // The same layer around the same Router, served as it is: no outer Router.
    let mut wrapped = sessions
        .axum_layer()
        .layer(Router::new().route("/me", get(|| async { "" })));
    group.bench_function("router_wrapped", |b| {
        b.iter(|| {
            now(wrapped.call(black_box(router_request())))
                .unwrap()
                .status()
        })
    });
    // The same, with the handler taking the claims (what an app does with them).
    let mut extracting: Router = Router::new()
        .route(
            "/me",
            get(|claims: Claims<MachinableClaims>| async move {
                black_box(claims.subject().len());
                ""
            }),
        )
        .route_layer(sessions.layer());
    group.bench_function("router_layer_extracting", |b| {
        b.iter(|| {
            now(extracting.call(black_box(router_request())))
                .unwrap()
                .status()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion().measurement_time(Duration::from_secs(3));
    targets = scaling
}
criterion_main!(benches);
