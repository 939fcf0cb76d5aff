//! Opaque tokens by introspection (RFC 7662), each figure beside its floor in the same run:
//! - a cache hit of an introspected token beside a cache hit of a JWT (RS256, verified
//!   locally) on a verifier that does not introspect, both through the verifier's layer, and
//!   the JWT's hit on a verifier that introspects (which looks at the token's shape first);
//! - a miss (TTL 0: every request asks) beside one round trip to the same local endpoint
//!   with the same client library (reqwest), the same form and the same answer.
//!
//! `cargo bench --features jwks --bench introspection`; `python3 benches/report.py` prints the
//! ratios.

mod common;

use std::time::Duration;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderValue;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tower::{Layer, Service};
use tower_jwt_sessions::verifier::{Introspection, Issuer};
use tower_jwt_sessions::{StandardClaims, Verifier};

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "https://api.example";
/// An opaque token as node-oidc-provider writes them: 43 base64url characters.
const OPAQUE: &str = "0Hl2g9hLiVl30WG-YFMyS9ib1_5CCtCfIF7pRCQ7cxe";

/// The issuer: its JWKS document and an introspection endpoint that answers active for any
/// token, as node-oidc-provider's answer reads.
fn serve_issuer(rt: &tokio::runtime::Runtime, key: &EncodingKey) -> String {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("k1".into());
    let jwks = serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let answer = serde_json::json!({
        "active": true, "client_id": "app", "exp": exp, "iat": exp - 3600, "iss": ISSUER,
        "aud": AUDIENCE, "scope": "read write", "token_type": "Bearer",
    })
    .to_string();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/jwks", axum::routing::get(move || async move { jwks }))
            .route(
                "/introspect",
                axum::routing::post(move || async move {
                    ([(http::header::CONTENT_TYPE, "application/json")], answer)
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    })
}

fn jwt(key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "client_id": "client-1",
        "jti": "j1", "iat": now, "exp": now + 3600, "scope": "read write",
    });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

/// A verifier of the issuer's JWTs and, with a TTL, of its opaque tokens by introspection.
fn verifier(
    rt: &tokio::runtime::Runtime,
    base: &str,
    ttl: Option<Duration>,
) -> Verifier<StandardClaims> {
    let _entered = rt.enter();
    let mut issuer = Issuer::new(ISSUER)
        .audience(AUDIENCE)
        .jwks_url(format!("{base}/jwks"));
    if let Some(ttl) = ttl {
        issuer = issuer.introspection(
            Introspection::client_secret_basic("rs", "rs-secret")
                .endpoint(format!("{base}/introspect"))
                .ttl(ttl),
        );
    }
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(issuer)
        .build()
        .unwrap();
    rt.block_on(async {
        while !verifier.has_keys() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    verifier
}

fn introspection(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let key = EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap();
    let base = serve_issuer(&rt, &key);
    let jwt = HeaderValue::from_str(&format!("Bearer {}", jwt(&key))).unwrap();
    let opaque = HeaderValue::from_str(&format!("Bearer {OPAQUE}")).unwrap();
    let mut group = c.benchmark_group("introspection");

    // Cache hits: the JWT's (verified once, locally) on a verifier that does not introspect,
    // the floor; then the same JWT and the opaque token (asked once) on one that does.
    let plain = verifier(&rt, &base, None);
    let mut service = plain.layer().layer(Hello);
    let status = rt
        .block_on(service.call(authed_request(&jwt)))
        .unwrap()
        .status();
    assert_eq!(status, http::StatusCode::OK);
    group.bench_function("jwt_cache_hit", |b| {
        b.iter(|| now(service.call(authed_request(&jwt))).unwrap().status())
    });
    let cached = verifier(&rt, &base, Some(Duration::from_secs(60)));
    let mut service = cached.layer().layer(Hello);
    for auth in [&jwt, &opaque] {
        let status = rt
            .block_on(service.call(authed_request(auth)))
            .unwrap()
            .status();
        assert_eq!(status, http::StatusCode::OK);
    }
    group.bench_function("jwt_cache_hit_beside_introspection", |b| {
        b.iter(|| now(service.call(authed_request(&jwt))).unwrap().status())
    });
    group.bench_function("opaque_cache_hit", |b| {
        b.iter(|| now(service.call(authed_request(&opaque))).unwrap().status())
    });

    // A miss: one call to the endpoint per request, against the same call made by hand. Both
    // run as a task on the runtime's worker, as a server's requests do (the call, its
    // connection and the request then share that thread; the bench thread only waits).
    let client = reqwest::Client::new();
    let url = format!("{base}/introspect");
    let round_trip = move || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let res = client
                .post(&url)
                .basic_auth("rs", Some("rs-secret"))
                .header(http::header::ACCEPT, "application/json")
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(format!("token={OPAQUE}&token_type_hint=access_token"))
                .send()
                .await
                .unwrap();
            let body = res.bytes().await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()["active"] == true
        }
    };
    assert!(rt.block_on(rt.spawn(round_trip())).unwrap());
    group.bench_function("round_trip_floor", |b| {
        b.iter(|| rt.block_on(rt.spawn(round_trip())).unwrap())
    });
    let uncached = verifier(&rt, &base, Some(Duration::ZERO));
    let service = uncached.layer().layer(Hello);
    let miss = || {
        let mut service = service.clone();
        let req = authed_request(&opaque);
        async move { service.call(req).await.unwrap().status() }
    };
    assert_eq!(rt.block_on(rt.spawn(miss())).unwrap(), http::StatusCode::OK);
    group.bench_function("opaque_miss", |b| {
        b.iter(|| rt.block_on(rt.spawn(miss())).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion().measurement_time(Duration::from_secs(3));
    targets = introspection
}
criterion_main!(benches);
