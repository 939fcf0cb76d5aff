//! DPoP (RFC 9449): a request with a cached access token bound to a key and a fresh proof
//! through the layer, against its floor measured in the same run: verifying the same proof
//! with jsonwebtoken (ES256, the key from its header) plus one record in the same memory
//! backend. Proofs are made by jsonwebtoken before each measured call (not measured).
//! `cargo bench --bench dpop`; `python3 benches/report.py` prints the ratios.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use tower::{Layer, Service};
use tower_jwt_sessions::{Dpop, ReplayBackend, SessionMeta, Sessions};

const HTU: &str = "http://api.test/me";

/// What the floor reads from a proof.
#[derive(Deserialize)]
#[allow(dead_code)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    ath: String,
}

struct Client {
    key: EncodingKey,
    jwk: Jwk,
    counter: AtomicU64,
}

impl Client {
    fn new() -> Self {
        let key = EncodingKey::from_ec_pem(&key_file("ec_private.pem")).unwrap();
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        Client {
            key,
            jwk,
            counter: AtomicU64::new(0),
        }
    }

    /// A fresh proof of `GET HTU` with `token`, made by jsonwebtoken.
    fn proof(&self, token: &str, htu: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let ath = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            token.as_bytes(),
        ));
        let claims = serde_json::json!({
            "jti": format!("proof-{}", self.counter.fetch_add(1, Ordering::Relaxed)),
            "htm": "GET", "htu": htu, "iat": jsonwebtoken::get_current_timestamp(), "ath": ath,
        });
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

fn request(token: &str, proof: &str) -> Request<String> {
    let mut req = Request::get("/me").body(String::new()).unwrap();
    let headers = req.headers_mut();
    headers.insert("host", HeaderValue::from_static("api.test"));
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("DPoP {token}")).unwrap(),
    );
    headers.insert("dpop", HeaderValue::from_str(proof).unwrap());
    req
}

fn dpop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new();
    let jkt = client.jwk.thumbprint(ThumbprintHash::SHA256).unwrap();
    let memory = Memory::new();
    memory.set_user("u1", user());
    let sessions = Sessions::builder(keys(Algorithm::HS256).0, memory.clone(), memory.clone())
        .dpop(Dpop::allowed())
        .build()
        .unwrap();
    let meta = SessionMeta {
        dpop_jkt: Some(jkt),
        ..SessionMeta::default()
    };
    let token = rt
        .block_on(sessions.create("u1", &user(), meta))
        .unwrap()
        .access_token;
    let mut service = sessions.layer().layer(Hello);
    // The access token is cached by the first request.
    let first = request(&token, &client.proof(&token, HTU));
    assert_eq!(now(service.call(first)).unwrap().status(), 200);

    let mut group = c.benchmark_group("dpop");
    let key = DecodingKey::from_jwk(&client.jwk).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let records = Memory::new();
    group.bench_function("floor", |b| {
        b.iter_batched(
            || client.proof(&token, HTU),
            |proof| {
                let data = jsonwebtoken::decode::<ProofClaims>(&proof, &key, &validation).unwrap();
                now(records.record_once(&data.claims.jti, u64::MAX / 2)).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("layer_cached_token", |b| {
        b.iter_batched(
            || request(&token, &client.proof(&token, HTU)),
            |req| now(service.call(req)).unwrap().status(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("layer_refused_wrong_htu", |b| {
        b.iter_batched(
            || request(&token, &client.proof(&token, "http://api.test/other")),
            |req| now(service.call(req)).unwrap().status(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion().measurement_time(Duration::from_secs(3));
    targets = dpop
}
criterion_main!(benches);
