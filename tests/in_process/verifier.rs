//! Verify-only mode over real HTTP: the resource server example's routes behind a
//! `Verifier` that fetches a JWKS document from an issuer on loopback. Startup with the
//! issuer down, then up; a key rotation at the issuer reaching the resource server through
//! the unknown-`kid` refetch; a flood of made-up `kid`s costing at most one fetch per
//! cooldown. Behind the `jwks` feature.
#![cfg(feature = "jwks")]

use crate::resource_server;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::client::login;
use crate::common::nodes::within;
use crate::common::*;
use axum::Router;
use axum::routing::get;
use http::{Request, Response, StatusCode};
use jsonwebtoken::Algorithm;
use tower::{Layer, ServiceExt};
use tower_jwt_sessions::defaults::{self, JWKS_PATH};
use tower_jwt_sessions::verifier::Issuer;
use tower_jwt_sessions::{Keys, StandardClaims, Verifier};

/// An issuer: the keys' sessions, and its JWKS document as the layer serves it.
async fn issuer(keys: Keys) -> (MemorySessions, String) {
    let sessions = in_memory(keys)
        .jwks_path(Some(defaults::JWKS_PATH))
        .build()
        .unwrap();
    let app = sessions
        .layer()
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let res = app
        .oneshot(
            Request::get(defaults::JWKS_PATH)
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (sessions, String::from_utf8(body.to_vec()).unwrap())
}

async fn token(sessions: &MemorySessions) -> String {
    login(sessions).await.access_token
}

/// Serves a document that the test can swap, counting fetches; or, when `redirect` is set,
/// a 302 to it instead.
#[derive(Clone, Default)]
struct JwksHost {
    document: Arc<Mutex<String>>,
    redirect: Arc<Mutex<Option<String>>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksHost {
    async fn serve(&self, listener: tokio::net::TcpListener) {
        let host = self.clone();
        let app = Router::new().route(
            defaults::JWKS_PATH,
            get(move || {
                let host = host.clone();
                async move {
                    host.fetches.fetch_add(1, Ordering::SeqCst);
                    if let Some(to) = host.redirect.lock().unwrap().clone() {
                        return (StatusCode::FOUND, [("location", to)], String::new());
                    }
                    let body = host.document.lock().unwrap().clone();
                    (
                        StatusCode::OK,
                        [("cache-control", "public, max-age=300".to_owned())],
                        body,
                    )
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn resource(url: &str, cooldown: Duration) -> (Verifier<StandardClaims>, String) {
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(Issuer::sessions(url))
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
    let url = format!("http://127.0.0.1:{port}{JWKS_PATH}");
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
    assert_eq!(claims["sub"], "u1");
    // The four the example promises are always named, `null` where the token has none.
    for name in ["iss", "client_id", "scope"] {
        assert!(claims.get(name).is_some(), "{name} in {claims}");
    }
}

#[tokio::test]
async fn a_rotation_at_the_issuer_reaches_the_resource_server_and_a_kid_flood_costs_one_fetch() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap());
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

/// A host serving `document` at the JWKS path; its URL.
async fn host_with(document: String) -> (JwksHost, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap());
    let host = JwksHost::default();
    *host.document.lock().unwrap() = document;
    host.serve(listener).await;
    (host, url)
}

/// A token naming a key nobody has: it makes the verifier look at the document again (at
/// most once per cooldown).
fn unknown_kid_token() -> String {
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("nobody-has-this-key".into());
    let claims = access_claims("u1", "s1", now(), now() + 60);
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// Issue 17, item 1: the issuer drops a key (its answer to a stolen key); a token that key
/// signed, accepted and cached before, with a year to live, stops at the next fetch.
#[tokio::test]
async fn a_key_removed_from_the_issuers_set_stops_its_tokens_even_cached_ones() {
    let ec_public = Keys::ec_public_pem(Algorithm::ES256, &key_file("ec_public.pem")).unwrap();
    let (_, both) = issuer(rsa().verifying(ec_public).unwrap()).await;
    let (_, rsa_only) = issuer(rsa()).await;
    let (host, url) = host_with(both).await;
    let cooldown = Duration::from_millis(300);
    let (_verifier, base) = resource(&url, cooldown).await;
    let (stolen, rightful) = (issuer(ec()).await.0, issuer(rsa()).await.0);
    let stolen = login(&stolen).await.access_token;
    let rightful = token(&rightful).await;
    assert!(
        within(Duration::from_secs(5), async || me(&base, &stolen).await
            == StatusCode::OK)
        .await
        .is_some()
    );
    // Seen again, verified again and now cached; then from the verified-token cache.
    for _ in 0..2 {
        assert_eq!(me(&base, &stolen).await, StatusCode::OK);
    }

    *host.document.lock().unwrap() = rsa_only;
    let before = host.fetches();
    let stopped = within(Duration::from_secs(5), async || {
        me(&base, &unknown_kid_token()).await;
        me(&base, &stolen).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        host.fetches() > before,
        "the document was never fetched again"
    );
    assert!(
        stopped.is_some(),
        "a token of the removed key still passes (from the cache)"
    );
    assert_eq!(me(&base, &rightful).await, StatusCode::OK);
}

/// Issue 17, item 3: the issuer's URL answers 302 to another origin, whose document holds
/// an attacker's key. Not followed: the last good set stays, the attacker's token is
/// refused. A redirect within the issuer's own origin is still followed.
#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (attacker, attacker_document) = issuer(ec()).await;
    let (_, elsewhere) = host_with(attacker_document).await;
    let (rightful, rightful_document) = issuer(rsa()).await;
    let (host, url) = host_with(rightful_document.clone()).await;
    let cooldown = Duration::from_millis(300);
    let (verifier, base) = resource(&url, cooldown).await;
    let (forged, good) = (token(&attacker).await, token(&rightful).await);
    assert!(
        within(Duration::from_secs(5), async || me(&base, &good).await
            == StatusCode::OK)
        .await
        .is_some()
    );

    *host.redirect.lock().unwrap() = Some(elsewhere.clone());
    let before = host.fetches();
    for _ in 0..10 {
        me(&base, &unknown_kid_token()).await;
        // Refused: 401 while the set is fresh, 503 once a refetch failed (the issuer cannot
        // be read, so an unknown `kid` may yet be its own).
        let status = me(&base, &forged).await;
        assert!(
            matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::SERVICE_UNAVAILABLE
            ),
            "{status}"
        );
        tokio::time::sleep(cooldown / 2).await;
    }
    assert!(
        host.fetches() > before,
        "the document was never fetched again"
    );
    assert_eq!(
        me(&base, &good).await,
        StatusCode::OK,
        "the last good set is kept"
    );
    assert!(verifier.has_keys());

    // Nothing ever fetched from another origin, from the start either.
    let redirecting = JwksHost::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_url = format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap());
    *redirecting.redirect.lock().unwrap() = Some(elsewhere);
    redirecting.serve(listener).await;
    let (fresh, fresh_base) = resource(&redirect_url, cooldown).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!fresh.has_keys());
    assert_eq!(
        me(&fresh_base, &forged).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Within its own origin, a redirect is followed (a moved document).
    let moving = JwksHost::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    *moving.redirect.lock().unwrap() = Some(format!("{origin}/moved"));
    let served = rightful_document.clone();
    let app = Router::new()
        .route(
            defaults::JWKS_PATH,
            get(|| async move { (StatusCode::FOUND, [("location", "/moved")]) }),
        )
        .route("/moved", get(move || async move { served.clone() }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (moved, moved_base) = resource(&format!("{origin}{JWKS_PATH}"), cooldown).await;
    assert!(
        within(Duration::from_secs(5), async || me(&moved_base, &good)
            .await
            == StatusCode::OK)
        .await
        .is_some(),
        "a redirect within the issuer's origin was not followed"
    );
    assert!(moved.has_keys());
}

/// An endless body without `Content-Length` (chunked), counting what it sent.
struct Endless {
    sent: Arc<AtomicUsize>,
}

impl http_body::Body for Endless {
    type Data = bytes::Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Infallible>>> {
        const CHUNK: usize = 64 * 1024;
        if self.sent.fetch_add(CHUNK, Ordering::SeqCst) >= 64 << 20 {
            return std::task::Poll::Ready(None);
        }
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from_static(
            &[b' '; CHUNK],
        )))))
    }
}

/// Issue 17, item 4: a 64 MiB document sent chunked (no `Content-Length`) is refused while
/// it streams in, at the 1 MiB cap, instead of being read whole first.
#[tokio::test]
async fn a_chunked_document_is_capped_while_it_streams() {
    let sent = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap());
    let counter = Arc::clone(&sent);
    let app = Router::new().route(
        defaults::JWKS_PATH,
        get(move || {
            let sent = Arc::clone(&counter);
            async move { axum::body::Body::new(Endless { sent }) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (verifier, base) = resource(&url, Duration::from_secs(60)).await;
    let (issuing, _) = issuer(ec()).await;
    let access = token(&issuing).await;
    // The first fetch runs at startup; give it time to end either way.
    let settled = within(Duration::from_secs(10), async || {
        let before = sent.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        before > 0 && sent.load(Ordering::SeqCst) == before
    })
    .await;
    assert!(
        settled.is_some(),
        "the document was never fetched, or never stopped"
    );
    let read = sent.load(Ordering::SeqCst);
    assert!(
        read < 16 << 20,
        "{} MiB of a 64 MiB document were sent before the fetch gave up",
        read >> 20
    );
    assert!(!verifier.has_keys());
    assert_eq!(me(&base, &access).await, StatusCode::SERVICE_UNAVAILABLE);
}

/// Issue 17, item 5: keys meant for encryption (`use: enc`, or `key_ops` without
/// `verify`) never verify a signature, and two keys sharing a `kid` make it unusable
/// (today the last one silently won); the other keys of the document still work.
#[tokio::test]
async fn keys_not_meant_for_signatures_and_ambiguous_kids_verify_nothing() {
    let named = |keys: Keys, kid: &str| keys.with_kid(kid);
    let encrypting = named(ec(), "enc");
    let operating = named(
        Keys::from_private_pem(Algorithm::EdDSA, &key_file("ed_private.pem")).unwrap(),
        "ops",
    );
    let twin = named(
        Keys::from_private_pem(Algorithm::PS256, &key_file("rsa_private.pem")).unwrap(),
        "dup",
    );
    let duplicated = named(rsa(), "dup");
    let good = named(
        Keys::from_private_pem(Algorithm::PS384, &key_file("rsa_private.pem")).unwrap(),
        "good",
    );
    let mut keys = Vec::new();
    let mut tokens = Vec::new();
    for (set, tweak) in [
        (encrypting, Some(("use", serde_json::json!("enc")))),
        (operating, Some(("key_ops", serde_json::json!(["encrypt"])))),
        (twin, None),
        // Last: the one that won before.
        (duplicated, None),
        (good, None),
    ] {
        let (sessions, document) = issuer(set).await;
        let mut document: serde_json::Value = serde_json::from_str(&document).unwrap();
        let mut key = document["keys"][0].take();
        if let Some((name, value)) = tweak {
            key[name] = value;
            if name == "key_ops" {
                key.as_object_mut().unwrap().remove("use");
            }
        }
        keys.push(key);
        tokens.push(token(&sessions).await);
    }
    let document = serde_json::json!({ "keys": keys }).to_string();
    let (_host, url) = host_with(document).await;
    let (_verifier, base) = resource(&url, Duration::from_secs(60)).await;
    let good = tokens.pop().unwrap();
    assert!(
        within(Duration::from_secs(5), async || me(&base, &good).await
            == StatusCode::OK)
        .await
        .is_some()
    );
    for (token, why) in tokens
        .iter()
        .zip(["use: enc", "key_ops: encrypt", "dup", "dup"])
    {
        assert_eq!(me(&base, token).await, StatusCode::UNAUTHORIZED, "{why}");
    }
}
