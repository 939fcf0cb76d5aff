//! Shared by the benchmarks: criterion's configuration, services, keys, a poll-once
//! executor and the tests' counting backend.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use http::{Request, Response};
use serde::Deserialize;
use tower_jwt_sessions::{
    Algorithm, Keys, MachinableClaims, MachinableUser, MemoryBackend, Sessions, SessionsBuilder,
};

// The tests' counting backend, written once.
#[path = "../tests/common/counting.rs"]
mod counting;

#[allow(unused_imports)] // Not every bench counts.
pub use counting::CountingBackend;

/// The in-memory backend and user directory, with the example's claims.
pub type Memory = MemoryBackend<MachinableClaims>;

/// Sessions over a fresh [`Memory`], which is their user directory too.
pub fn in_memory(keys: Keys) -> SessionsBuilder<Memory> {
    let memory = Memory::new();
    Sessions::builder(keys, memory.clone(), memory)
}

/// Criterion as every bench runs it: 0.5 s of warm-up, 2 s of measurement, 40 samples.
/// `dpop`, `issuers` and `scaling` measure for 3 s (`.measurement_time` on this).
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
}

pub const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes!!";

/// Runs a future that is ready at once (every access-path future is), without a runtime
/// whose scheduling would blur the figures.
pub fn now<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("benchmark future was not ready"),
    }
}

/// The trivial inner service: answers 200 with an empty body.
#[derive(Clone, Copy)]
pub struct Hello;

impl tower::Service<Request<String>> for Hello {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<String>) -> Self::Future {
        ready(Ok(Response::new(String::new())))
    }
}

pub fn user() -> MachinableClaims {
    MachinableClaims::new(
        "pet-demo",
        MachinableUser {
            id: "5c868d40a7748bb224833f4b".into(),
            name: "testUser".into(),
            active: true,
            read: true,
            write: true,
            kind: "project".into(),
        },
    )
}

/// The payload a hand-written layer would decode: plain fields, no flatten.
#[derive(Clone, Deserialize)]
pub struct PlainClaims {
    pub sub: String,
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
    pub token_use: String,
    pub projects: BTreeMap<String, bool>,
    pub user: MachinableUser,
}

pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The crate's keys and jsonwebtoken's decoding key for one algorithm.
pub fn keys(alg: Algorithm) -> (Keys, jsonwebtoken::DecodingKey) {
    match alg {
        Algorithm::HS256 => (
            Keys::hs256(SECRET).unwrap(),
            jsonwebtoken::DecodingKey::from_secret(SECRET),
        ),
        Algorithm::RS256 => (
            Keys::rsa_pem(
                alg,
                &key_file("rsa_private.pem"),
                &key_file("rsa_public.pem"),
            )
            .unwrap(),
            jsonwebtoken::DecodingKey::from_rsa_pem(&key_file("rsa_public.pem")).unwrap(),
        ),
        Algorithm::ES256 => (
            Keys::ec_pem(alg, &key_file("ec_private.pem"), &key_file("ec_public.pem")).unwrap(),
            jsonwebtoken::DecodingKey::from_ec_pem(&key_file("ec_public.pem")).unwrap(),
        ),
        Algorithm::EdDSA => (
            Keys::ed_pem(&key_file("ed_private.pem"), &key_file("ed_public.pem")).unwrap(),
            jsonwebtoken::DecodingKey::from_ed_pem(&key_file("ed_public.pem")).unwrap(),
        ),
        other => panic!("no benchmark keys for {other:?}"),
    }
}

/// `GET /me` carrying `auth` as its `Authorization` header.
pub fn authed_request(auth: &http::HeaderValue) -> Request<String> {
    let mut req = Request::get("/me").body(String::new()).unwrap();
    req.headers_mut()
        .insert(http::header::AUTHORIZATION, auth.clone());
    req
}

/// A layer's sessions with every default but the key, and an access token of theirs.
pub fn sessions_and_token(
    rt: &tokio::runtime::Runtime,
) -> (tower_jwt_sessions::Sessions<Memory>, String) {
    let (keys, _) = keys(Algorithm::HS256);
    let sessions = in_memory(keys).build().unwrap();
    let token = rt
        .block_on(sessions.create("u1", &user(), tower_jwt_sessions::SessionMeta::default()))
        .unwrap()
        .access_token;
    (sessions, token)
}
