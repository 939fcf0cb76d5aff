//! The shared backends over loopback, against the in-memory backend in the same run: warm
//! paths (no backend call at all), a cold refresh beside one bare round trip of the same
//! driver, how soon another instance refuses a revoked access token, and 200 concurrent
//! cold refreshes of one session spread over two instances.
//!
//! `cargo bench --features redis,postgres --bench stores` (REDIS_URL, DATABASE_URL; the
//! local servers by default; with REDIS_CLUSTER_URL, seed URLs separated by commas, a Redis
//! Cluster too: `bash benches/cluster.sh` starts one on loopback). Ratios:
//! `python3 benches/report.py`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use jsonwebtoken::Algorithm;
use tower::{Layer, Service, ServiceExt};
use tower_jwt_sessions::{
    PostgresBackend, RedisBackend, RedisClusterBackend, SessionBackend, SessionMeta, Sessions,
};

fn users() -> Memory {
    let users = Memory::new();
    users.set_user("u1", user());
    users
}

fn instance<S: SessionBackend>(backend: S, users: &Memory) -> Sessions<S, Memory> {
    Sessions::builder(keys(Algorithm::HS256).0, backend, users.clone())
        .build()
        .unwrap()
}

fn request(path: &str, token: &str) -> Request<String> {
    let method = if path == "/me" {
        http::Method::GET
    } else {
        http::Method::POST
    };
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .body(String::new())
        .unwrap();
    req.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    req
}

fn unique(kind: &str) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    format!("tjs_bench_{kind}_{:016x}", u64::from_le_bytes(bytes))
}

/// Waits until the instance's revocation feed is up (its caches are trusted only then).
fn feed_up<S>(sessions: &Sessions<S, Memory>) {
    let start = Instant::now();
    while !sessions.revocation_feed_up() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the feed never came up"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn paths<S: SessionBackend>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    sessions: &Sessions<S, Memory>,
) {
    feed_up(sessions);
    let mut group = c.benchmark_group("stores");
    let svc = sessions.layer().layer(Hello);
    let issued = rt
        .block_on(sessions.create("u1", &user(), SessionMeta::default()))
        .unwrap();
    // Warm: the session and the user are cached, the access token verified once; every
    // await completes at once (`now` panics otherwise), so no backend call is made.
    rt.block_on(
        svc.clone()
            .oneshot(request("/sessions/refresh/", &issued.refresh_token)),
    )
    .unwrap();
    rt.block_on(svc.clone().oneshot(request("/me", &issued.access_token)))
        .unwrap();
    group.bench_function(format!("warm_refresh/{name}"), |b| {
        let mut svc = svc.clone();
        b.iter(|| {
            let res = now(svc.call(request("/sessions/refresh/", &issued.refresh_token))).unwrap();
            assert_eq!(res.status(), 200);
        })
    });
    group.bench_function(format!("cached_access/{name}"), |b| {
        let mut svc = svc.clone();
        b.iter(|| {
            let res = now(svc.call(request("/me", &issued.access_token))).unwrap();
            assert_eq!(res.status(), 200);
        })
    });
    group.bench_function(format!("cold_refresh/{name}"), |b| {
        let mut svc = svc.clone();
        b.iter_batched(
            || {
                rt.block_on(sessions.create("u1", &user(), SessionMeta::default()))
                    .unwrap()
                    .refresh_token
            },
            |token| {
                let res = rt
                    .block_on(svc.call(request("/sessions/refresh/", &token)))
                    .unwrap();
                assert_eq!(res.status(), 200);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// How long after `b.revoke` returns until `a` refuses the access token it had cached.
fn propagation<S: SessionBackend>(
    rt: &tokio::runtime::Runtime,
    name: &str,
    a: &Sessions<S, Memory>,
    b: &Sessions<S, Memory>,
    n: usize,
) {
    let mut seen = Vec::with_capacity(n);
    rt.block_on(async {
        for _ in 0..n {
            let issued = a
                .create("u1", &user(), SessionMeta::default())
                .await
                .unwrap();
            a.verify_access(&issued.access_token).await.unwrap();
            assert!(b.revoke(&issued.session_id).await.unwrap());
            let start = Instant::now();
            while a.verify_access(&issued.access_token).await.is_ok() {
                assert!(start.elapsed() < Duration::from_secs(5), "never seen");
                tokio::task::yield_now().await;
            }
            seen.push(start.elapsed());
        }
    });
    seen.sort();
    let at = |q: f64| seen[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "revocation seen by the other instance ({name}, {n} revocations): p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        seen[n - 1]
    );
}

/// 200 concurrent refreshes of one cold session, half on each of two instances.
fn two_instances_cold<S: SessionBackend + Clone>(
    rt: &tokio::runtime::Runtime,
    name: &str,
    backend: S,
) {
    let users = users();
    let counting = CountingBackend::new(backend);
    let (a, b) = (
        instance(counting.clone(), &users),
        instance(counting.clone(), &users),
    );
    feed_up(&a);
    feed_up(&b);
    let mut worst = 0;
    for _ in 0..20 {
        let issued = rt
            .block_on(a.create("u1", &user(), SessionMeta::default()))
            .unwrap();
        let before = counting.loads();
        rt.block_on(async {
            let tasks: Vec<_> = (0..200)
                .map(|i| {
                    let svc = if i % 2 == 0 { a.layer() } else { b.layer() }.layer(Hello);
                    let req = request("/sessions/refresh/", &issued.refresh_token);
                    tokio::spawn(async move { svc.oneshot(req).await.unwrap().status() })
                })
                .collect();
            for task in tasks {
                assert_eq!(task.await.unwrap(), 200);
            }
        });
        worst = worst.max(counting.loads() - before);
    }
    assert!(
        worst <= 2,
        "{name}: {worst} loads for one session on two instances"
    );
    println!(
        "200 concurrent cold refreshes on two instances ({name}, 20 sessions): at most {worst} store loads each"
    );
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _inside = rt.enter();
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let pg_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = unique("pg");
    let (admin, connection) = rt
        .block_on(tokio_postgres::connect(&pg_url, tokio_postgres::NoTls))
        .expect("Postgres answers");
    rt.spawn(connection);
    rt.block_on(admin.batch_execute(&format!("CREATE SCHEMA {schema}")))
        .unwrap();
    let redis = |prefix: &str| {
        rt.block_on(
            RedisBackend::builder(&redis_url)
                .key_prefix(prefix)
                .connect(),
        )
        .expect("Redis answers")
    };
    let postgres = || {
        rt.block_on(PostgresBackend::builder(&pg_url).schema(&schema).connect())
            .expect("Postgres answers")
    };
    let users = users();

    let memory: Memory = Memory::new();
    paths(c, &rt, "memory", &instance(memory, &users));
    let prefix = unique("redis");
    paths(c, &rt, "redis", &instance(redis(&prefix), &users));
    paths(c, &rt, "postgres", &instance(postgres(), &users));
    let cluster_seeds = std::env::var("REDIS_CLUSTER_URL").ok();
    let cluster = |seeds: &str| {
        rt.block_on(
            RedisClusterBackend::builder(seeds.split(','))
                .key_prefix(&prefix)
                .connect(),
        )
        .expect("the Redis Cluster of REDIS_CLUSTER_URL answers")
    };
    match &cluster_seeds {
        Some(seeds) => paths(c, &rt, "redis_cluster", &instance(cluster(seeds), &users)),
        None => println!("REDIS_CLUSTER_URL unset: no Redis Cluster figures"),
    }

    // One bare round trip of each driver, for scale.
    let mut group = c.benchmark_group("stores");
    let client = rt
        .block_on(
            redis::Client::open(redis_url.as_str())
                .unwrap()
                .get_multiplexed_async_connection(),
        )
        .unwrap();
    group.bench_function("round_trip/redis_get", |b| {
        b.iter(|| {
            let mut client = client.clone();
            rt.block_on(async move {
                redis::cmd("GET")
                    .arg("tjs-bench-missing")
                    .query_async::<Option<String>>(&mut client)
                    .await
                    .unwrap()
            })
        })
    });
    group.bench_function("round_trip/postgres_select", |b| {
        b.iter(|| rt.block_on(admin.simple_query("SELECT 1")).unwrap())
    });
    group.finish();

    let (a, b) = (
        instance(redis(&prefix), &users),
        instance(redis(&prefix), &users),
    );
    feed_up(&a);
    feed_up(&b);
    propagation(&rt, "redis", &a, &b, 1000);
    let (a, b) = (instance(postgres(), &users), instance(postgres(), &users));
    feed_up(&a);
    feed_up(&b);
    propagation(&rt, "postgres", &a, &b, 1000);

    two_instances_cold(&rt, "redis", redis(&prefix));
    two_instances_cold(&rt, "postgres", postgres());
    if let Some(seeds) = &cluster_seeds {
        let (a, b) = (
            instance(cluster(seeds), &users),
            instance(cluster(seeds), &users),
        );
        feed_up(&a);
        feed_up(&b);
        // The feed polls every 200 ms: a hundred revocations take 20 s.
        propagation(&rt, "redis_cluster", &a, &b, 100);
        two_instances_cold(&rt, "redis_cluster", cluster(seeds));
    }

    rt.block_on(admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")))
        .unwrap();
    rt.block_on(async {
        let mut client = client.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{{{prefix}}}:*"))
            .query_async(&mut client)
            .await
            .unwrap();
        for chunk in keys.chunks(500) {
            redis::cmd("DEL")
                .arg(chunk)
                .query_async::<i64>(&mut client)
                .await
                .unwrap();
        }
    });
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = stores
}
criterion_main!(benches);
