//! The refresh route: warm and cold session cache over the in-memory backend, against the
//! floor (decode the refresh token + encode one access token), and 200 concurrent refreshes
//! of one cold session, which must cost exactly one backend load.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};
use tower_jwt_sessions::{MachinableClaims, SessionMeta, Sessions};

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainRefresh {
    sub: String,
    sid: String,
    #[serde(rename = "gen")]
    generation: u64,
    iat: u64,
    exp: u64,
    token_use: String,
}

#[derive(Serialize)]
struct PlainAccess<'a> {
    sub: &'a str,
    sid: &'a str,
    iat: u64,
    exp: u64,
    token_use: &'static str,
    #[serde(flatten)]
    user: &'a MachinableClaims,
}

fn refresh_request(auth: &HeaderValue) -> Request<String> {
    let mut req = Request::post("/sessions/refresh/")
        .body(String::new())
        .unwrap();
    req.headers_mut().insert(AUTHORIZATION, auth.clone());
    req
}

/// Sessions over a fresh counting backend whose `inner` holds `u1` and is the user directory.
fn counted() -> (Sessions<CountingBackend, Memory>, CountingBackend) {
    let backend = CountingBackend::default();
    backend.inner.set_user("u1", user());
    let keys = keys(Algorithm::HS256).0;
    let sessions = Sessions::builder(keys, backend.clone(), backend.inner.clone())
        .build()
        .unwrap();
    (sessions, backend)
}

fn refresh(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (sessions, _) = counted();
    let svc = sessions.layer().layer(Hello);
    let issued = rt
        .block_on(sessions.create("u1", &user(), SessionMeta::default()))
        .unwrap();
    let auth = HeaderValue::from_str(&format!("Bearer {}", issued.refresh_token)).unwrap();

    let mut group = c.benchmark_group("refresh");

    // The floor: decode the refresh token, encode one access token.
    let decoding = jsonwebtoken::DecodingKey::from_secret(SECRET);
    let encoding = EncodingKey::from_secret(SECRET);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.validate_nbf = true;
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    let claims = user();
    let token = issued.refresh_token.clone();
    group.bench_function("floor", |b| {
        b.iter(|| {
            let data =
                jsonwebtoken::decode::<PlainRefresh>(black_box(&token), &decoding, &validation)
                    .unwrap();
            let access = PlainAccess {
                sub: &data.claims.sub,
                sid: &data.claims.sid,
                iat: data.claims.iat,
                exp: data.claims.iat + 900,
                token_use: "access",
                user: &claims,
            };
            jsonwebtoken::encode(&header, &access, &encoding).unwrap()
        })
    });

    // Warm: the session is cached and every await completes at once, so the future is
    // polled once with no runtime in the way (the floor has none either). `now` panics if
    // it ever was not ready.
    rt.block_on(svc.clone().oneshot(refresh_request(&auth)))
        .unwrap();
    group.bench_function("warm", |b| {
        let mut svc = svc.clone();
        b.iter(|| {
            let res = now(svc.call(refresh_request(black_box(&auth)))).unwrap();
            assert_eq!(res.status(), 200);
        })
    });

    group.bench_function("cold", |b| {
        let mut svc = svc.clone();
        b.iter_batched(
            || {
                let issued = rt
                    .block_on(sessions.create("u1", &user(), SessionMeta::default()))
                    .unwrap();
                HeaderValue::from_str(&format!("Bearer {}", issued.refresh_token)).unwrap()
            },
            |auth| {
                let res = rt.block_on(svc.call(refresh_request(&auth))).unwrap();
                assert_eq!(res.status(), 200);
            },
            BatchSize::SmallInput,
        )
    });

    // 200 concurrent refreshes of one cold session, each iteration a new session. A fresh
    // cache: the cold benchmark above filled the first one to capacity, where moka's
    // admission policy may turn a new entry away (then a later request loads again).
    const N: usize = 200;
    let (sessions, backend) = counted();
    let svc = sessions.layer().layer(Hello);
    group.sample_size(10);
    group.bench_function("concurrent_cold_200", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let issued = rt
                    .block_on(sessions.create("u1", &user(), SessionMeta::default()))
                    .unwrap();
                let auth =
                    HeaderValue::from_str(&format!("Bearer {}", issued.refresh_token)).unwrap();
                let before = backend.loads();
                let start = Instant::now();
                rt.block_on(async {
                    let tasks: Vec<_> = (0..N)
                        .map(|_| {
                            let svc = svc.clone();
                            let req = refresh_request(&auth);
                            tokio::spawn(async move { svc.oneshot(req).await.unwrap().status() })
                        })
                        .collect();
                    for task in tasks {
                        assert_eq!(task.await.unwrap(), 200);
                    }
                });
                total += start.elapsed();
                let loads = backend.loads() - before;
                assert_eq!(loads, 1, "{N} concurrent cold refreshes must load once");
            }
            total
        })
    });
    group.finish();
    eprintln!("concurrent_cold_200: every iteration made exactly 1 backend load for {N} refreshes");
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = refresh
}
criterion_main!(benches);
