//! Verify-only mode with another issuer's RFC 9068 tokens (minted by jsonwebtoken, not by this
//! crate), against the floor on the same token: a hand-written layer around
//! `jsonwebtoken::decode` with the same checks. Also the cache hit, a verifier of two issuers
//! (which reads `iss` before the signature), and the refusal of an unknown `iss`.
//! `cargo bench --features jwks --bench issuers`; `python3 benches/report.py` prints the ratios.

mod common;

use std::time::Duration;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use tower::{Layer, Service};
use tower_jwt_sessions::verifier::Issuer;
use tower_jwt_sessions::{StandardClaims, Verifier};

const ISSUER: &str = "https://idp.example";
const OTHER_ISSUER: &str = "https://other-idp.example";
const AUDIENCE: &str = "https://api.example";

/// What a hand-written layer would decode from the same token.
#[derive(Clone, Deserialize)]
#[allow(dead_code)]
struct PlainRfc9068 {
    sub: String,
    iss: String,
    aud: String,
    client_id: String,
    jti: String,
    iat: u64,
    exp: u64,
    scope: String,
}

fn encoding_key(alg: Algorithm) -> (EncodingKey, DecodingKey) {
    match alg {
        Algorithm::RS256 => (
            EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap(),
            DecodingKey::from_rsa_pem(&key_file("rsa_public.pem")).unwrap(),
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(&key_file("ec_private.pem")).unwrap(),
            DecodingKey::from_ec_pem(&key_file("ec_public.pem")).unwrap(),
        ),
        other => panic!("no benchmark keys for {other:?}"),
    }
}

/// A token of `iss`, minted by jsonwebtoken.
fn token(alg: Algorithm, key: &EncodingKey, iss: &str) -> String {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "iss": iss, "sub": "user-1", "aud": AUDIENCE, "client_id": "client-1",
        "jti": "5f0c2b8e-4d3a-4f1e-9a77-0b6c1d2e3f40", "iat": now, "exp": now + 3600,
        "scope": "read write",
    });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

/// Serves the key's JWKS document on loopback; its URL.
fn serve_jwks(rt: &tokio::runtime::Runtime, alg: Algorithm, key: &EncodingKey) -> String {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some("k1".into());
    let body = serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app =
            axum::Router::new().route("/jwks", axum::routing::get(move || async move { body }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/jwks")
    })
}

/// A verifier of `issuers` (iss, JWKS URL), with or without its token cache, once its keys
/// are in.
fn verifier(
    rt: &tokio::runtime::Runtime,
    issuers: &[(&str, &str)],
    cache: bool,
) -> Verifier<StandardClaims> {
    let _entered = rt.enter();
    let mut builder =
        Verifier::<StandardClaims>::builder().token_cache_bytes(cache.then_some(32 << 20));
    for (iss, url) in issuers {
        builder = builder.issuer(Issuer::new(*iss).audience(AUDIENCE).jwks_url(*url));
    }
    let verifier = builder.build().unwrap();
    rt.block_on(async {
        while !verifier.has_keys() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    verifier
}

fn floor(
    inner: &mut Hello,
    key: &DecodingKey,
    validation: &Validation,
    auth: &HeaderValue,
) -> http::StatusCode {
    let mut req: Request<String> = authed_request(auth);
    let value = req.headers().get(http::header::AUTHORIZATION).unwrap();
    let token = value.to_str().unwrap().strip_prefix("Bearer ").unwrap();
    match jsonwebtoken::decode::<PlainRfc9068>(token, key, validation) {
        Ok(data) => {
            req.extensions_mut().insert(data.claims);
            now(inner.call(req)).unwrap().status()
        }
        Err(_) => http::StatusCode::UNAUTHORIZED,
    }
}

fn bench_alg(c: &mut Criterion, rt: &tokio::runtime::Runtime, alg: Algorithm) {
    let (encoding, decoding) = encoding_key(alg);
    let url = serve_jwks(rt, alg, &encoding);
    let auth = HeaderValue::from_str(&format!("Bearer {}", token(alg, &encoding, ISSUER))).unwrap();
    let mut validation = Validation::new(alg);
    validation.leeway = 5;
    validation.validate_nbf = true;
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

    let mut group = c.benchmark_group(format!("issuers/{alg:?}"));
    let mut inner = Hello;
    assert_eq!(
        floor(&mut inner, &decoding, &validation, &auth),
        http::StatusCode::OK
    );
    group.bench_function("floor", |b| {
        b.iter(|| floor(&mut inner, &decoding, &validation, &auth))
    });
    for (name, issuers, cache) in [
        ("layer", vec![(ISSUER, url.as_str())], false),
        ("layer_cached", vec![(ISSUER, url.as_str())], true),
        (
            "layer_two_issuers",
            vec![(ISSUER, url.as_str()), (OTHER_ISSUER, url.as_str())],
            false,
        ),
    ] {
        let verifier = verifier(rt, &issuers, cache);
        let mut service = verifier.layer().layer(Hello);
        let status = now(service.call(authed_request(&auth))).unwrap().status();
        assert_eq!(status, http::StatusCode::OK, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| now(service.call(authed_request(&auth))).unwrap().status())
        });
    }
    if alg == Algorithm::RS256 {
        // An `iss` of neither issuer: refused before any signature work.
        let verifier = verifier(
            rt,
            &[(ISSUER, url.as_str()), (OTHER_ISSUER, url.as_str())],
            false,
        );
        let stranger = token(alg, &encoding, "https://stranger.example");
        let stranger = HeaderValue::from_str(&format!("Bearer {stranger}")).unwrap();
        let mut service = verifier.layer().layer(Hello);
        let status = now(service.call(authed_request(&stranger)))
            .unwrap()
            .status();
        assert_eq!(status, http::StatusCode::UNAUTHORIZED);
        group.bench_function("refused_unknown_issuer", |b| {
            b.iter(|| {
                now(service.call(authed_request(&stranger)))
                    .unwrap()
                    .status()
            })
        });
    }
    group.finish();
}

fn issuers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    bench_alg(c, &rt, Algorithm::RS256);
    bench_alg(c, &rt, Algorithm::ES256);
}

criterion_group! {
    name = benches;
    config = criterion().measurement_time(Duration::from_secs(3));
    targets = issuers
}
criterion_main!(benches);
