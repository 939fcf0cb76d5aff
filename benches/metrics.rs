//! The cache-hit path with the `metrics` feature: before any recorder is installed, then
//! with the Prometheus recorder the example server uses (goal: within 1.1x of the path
//! without metrics). `cargo bench --features metrics --bench metrics`; the feature-off
//! figure is `access/HS256/layer_cached` of `cargo bench --bench access`, each as a ratio to
//! the bare service of its own run.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderValue;
use tower::{Layer, Service};

fn metrics(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (sessions, token) = sessions_and_token(&rt);
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();

    let mut group = c.benchmark_group("metrics");
    let mut bare = Hello;
    group.bench_function("bare", |b| {
        b.iter(|| {
            now(bare.call(authed_request(black_box(&auth))))
                .unwrap()
                .status()
        })
    });
    let mut svc = sessions.layer().layer(Hello);
    group.bench_function("layer_cached_no_recorder", |b| {
        b.iter(|| {
            now(svc.call(authed_request(black_box(&auth))))
                .unwrap()
                .status()
        })
    });
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap();
    group.bench_function("layer_cached_prometheus", |b| {
        b.iter(|| {
            now(svc.call(authed_request(black_box(&auth))))
                .unwrap()
                .status()
        })
    });
    group.finish();
    // The counters did move: the figures above are of a recorder at work.
    assert!(handle.render().contains("tjs_token_cache_lookups_total"));
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = metrics
}
criterion_main!(benches);
