//! Verify-only mode over real HTTP: the resource server example's routes behind a
//! `Verifier` that fetches a JWKS document from an issuer on loopback. Startup with the
//! issuer down, then up; a key rotation at the issuer reaching the resource server through
//! the unknown-`kid` refetch; a flood of made-up `kid`s costing at most one fetch per
//! cooldown. Behind the `jwks` feature.
#![cfg(feature = "jwks")]

#[path = "../examples/resource_server/main.rs"]
#[allow(dead_code)]
mod resource_server;

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::nodes::within;
use common::*;
use http::{Request, Response, StatusCode};
use jsonwebtoken::Algorithm;
use tower::{Layer, ServiceExt};
use tower_jwt_sessions::{
    DEFAULT_JWKS_PATH, Keys, MachinableClaims, SessionMeta, Sessions, Verifier,
};

/// An issuer: the keys' sessions, and its JWKS document as the layer serves it.
async fn issuer(keys: Keys) -> (Sessions, String) {
    let sessions = Sessions::builder(keys)
        .jwks_path(Some(DEFAULT_JWKS_PATH))
        .build()
        .unwrap();
    let app = sessions
        .layer()
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let res = app
        .oneshot(Request::get(DEFAULT_JWKS_PATH).body(String::new()).unwrap())
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (sessions, String::from_utf8(body.to_vec()).unwrap())
}

async fn token(sessions: &Sessions) -> String {
    sessions
        .create("u1", &user("u1", true, true, true), SessionMeta::default())
        .await
        .unwrap()
        .access_token
}

/// Serves a document that the test can swap, counting fetches.
#[derive(Clone, Default)]
struct JwksHost {
    document: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksHost {
    async fn serve(&self, listener: tokio::net::TcpListener) {
        let host = self.clone();
        let app = Router::new().route(
            DEFAULT_JWKS_PATH,
            get(move || {
                let host = host.clone();
                async move {
                    host.fetches.fetch_add(1, Ordering::SeqCst);
                    let body = host.document.lock().unwrap().clone();
                    ([("cache-control", "public, max-age=300")], body)
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn resource(url: &str, cooldown: Duration) -> (Verifier<MachinableClaims>, String) {
    let verifier = Verifier::<MachinableClaims>::builder(url)
        .public_path("/health")
        .refetch_cooldown(cooldown)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = resource_server::app(&verifier);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (verifier, format!("http://{addr}"))
}

async fn me(base: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{base}/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

fn ec() -> Keys {
    Keys::from_private_pem(Algorithm::ES256, &key_file("ec_private.pem")).unwrap()
}

fn rsa() -> Keys {
    Keys::from_private_pem(Algorithm::RS256, &key_file("rsa_private.pem")).unwrap()
}

#[tokio::test]
async fn the_issuer_down_at_startup_is_503_until_its_keys_arrive() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener); // Nothing listens there yet.
    let url = format!("http://127.0.0.1:{port}{DEFAULT_JWKS_PATH}");
    let (verifier, base) = resource(&url, Duration::from_millis(200)).await;
    let (issuing, document) = issuer(ec()).await;
    let access = token(&issuing).await;

    assert_eq!(me(&base, &access).await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!verifier.has_keys());
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let host = JwksHost::default();
    *host.document.lock().unwrap() = document;
    host.serve(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        within(Duration::from_secs(5), async || me(&base, &access).await
            == StatusCode::OK)
        .await
        .is_some(),
        "the keys never arrived"
    );
    // The claims are the same as on the issuer.
    let claims: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(claims["user"]["id"], "u1");
}

#[tokio::test]
async fn a_rotation_at_the_issuer_reaches_the_resource_server_and_a_kid_flood_costs_one_fetch() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}{DEFAULT_JWKS_PATH}",
        listener.local_addr().unwrap()
    );
    let host = JwksHost::default();
    let (old, old_document) = issuer(ec()).await;
    *host.document.lock().unwrap() = old_document;
    host.serve(listener).await;
    let cooldown = Duration::from_millis(1500);
    let (verifier, base) = resource(&url, cooldown).await;
    let old_token = token(&old).await;
    assert!(
        within(Duration::from_secs(5), async || me(&base, &old_token).await
            == StatusCode::OK)
        .await
        .is_some()
    );
    assert!(verifier.has_keys());

    // The issuer rotates: it signs with RSA now, the EC key kept for verification.
    let retired = Keys::ec_public_pem(Algorithm::ES256, &key_file("ec_public.pem")).unwrap();
    let (new, new_document) = issuer(rsa().verifying(retired).unwrap()).await;
    *host.document.lock().unwrap() = new_document;
    let new_token = token(&new).await;
    let start = Instant::now();
    assert!(
        within(cooldown * 2, async || me(&base, &new_token).await
            == StatusCode::OK)
        .await
        .is_some(),
        "the rotation did not reach the resource server"
    );
    assert!(start.elapsed() <= cooldown * 2);
    assert_eq!(me(&base, &old_token).await, StatusCode::OK);

    // A flood of tokens naming made-up keys: at most one fetch per cooldown.
    tokio::time::sleep(cooldown).await;
    let before = host.fetches();
    let started = Instant::now();
    let claims = access_claims("u1", "s1", now(), now() + 60);
    for i in 0..200 {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(format!("made-up-{i}"));
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(me(&base, &forged).await, StatusCode::UNAUTHORIZED);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let windows = started.elapsed().as_millis() / cooldown.as_millis() + 1;
    let fetched = host.fetches() - before;
    assert!(
        fetched as u128 <= windows,
        "{fetched} fetches in {windows} cooldown windows"
    );
    assert!(fetched >= 1, "an unknown kid never triggered a refetch");
}
