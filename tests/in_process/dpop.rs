//! DPoP (RFC 9449) in verify-only mode, with tokens and proofs this crate did not make: the
//! test issuer (panva/jose under node) mints tokens bound to a client's key (`cnf.jkt`) and
//! makes that client's proofs. Each check of §4.3 by name, replay, the scheme rules of §7.1,
//! `Dpop::required`, nonces (§8), and gRPC. Behind the `jwks` feature; needs node.
#![cfg(feature = "jwks")]

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use tower_jwt_sessions::verifier::Issuer;
use tower_jwt_sessions::{Algorithm, Dpop, StandardClaims, Verifier};

use crate::common::idp::Idp;
use crate::common::nodes::within;
use crate::resource_server;

const AUDIENCE: &str = "http://resource.test";

/// A resource server for `idp`'s tokens with `dpop`; its base URL.
async fn resource(idp: &Idp, dpop: Dpop) -> String {
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(Issuer::new(&idp.issuer).audience(AUDIENCE))
        .dpop(dpop)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = resource_server::app(&verifier);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some()
    );
    base
}

/// A token bound to client `client`'s key.
async fn bound_token(idp: &Idp, client: &str) -> String {
    let jkt = idp.client_jkt(client).await;
    idp.mint(json!({ "claims": { "cnf": { "jkt": jkt } } }))
        .await
}

struct Answer {
    status: StatusCode,
    challenge: String,
    nonce: Option<String>,
    body: Value,
}

async fn get(base: &str, authorization: &str, proofs: &[&str]) -> Answer {
    let mut req = reqwest::Client::new()
        .get(format!("{base}/me"))
        .header("authorization", authorization);
    for proof in proofs {
        req = req.header("dpop", *proof);
    }
    let res = req.send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, challenge, nonce) = (
        res.status(),
        header("www-authenticate").unwrap_or_default(),
        header("dpop-nonce"),
    );
    Answer {
        status,
        challenge,
        nonce,
        body: res.json().await.unwrap_or(Value::Null),
    }
}

/// A proof for `GET {base}/me` with `token`, from `body`'s other settings.
async fn proof(idp: &Idp, base: &str, token: &str, mut body: Value) -> String {
    let fields = body.as_object_mut().unwrap();
    fields.entry("htm").or_insert(json!("GET"));
    fields.entry("htu").or_insert(json!(format!("{base}/me")));
    fields.entry("token").or_insert(json!(token));
    idp.proof(body).await
}

fn refused(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(
        answer.body["error_description"], description,
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn a_bound_token_passes_with_its_keys_proof_for_each_algorithm() {
    let idp = Idp::start();
    let base = resource(&idp, Dpop::allowed()).await;
    // `ed25519` signs with RFC 9864's `alg` name `Ed25519`, `ed` with `EdDSA`.
    for client in ["a", "rsa", "ed", "ed25519"] {
        let token = bound_token(&idp, client).await;
        let proof = proof(&idp, &base, &token, json!({ "client": client })).await;
        let answer = get(&base, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(answer.status, StatusCode::OK, "{client}: {}", answer.body);
        assert_eq!(answer.body["sub"], "user-1");
    }
    // `htu` is compared without its query and fragment.
    let token = bound_token(&idp, "a").await;
    let with_query = proof(
        &idp,
        &base,
        &token,
        json!({ "htu": format!("{base}/me?x=1#f") }),
    )
    .await;
    let answer = get(&base, &format!("DPoP {token}"), &[&with_query]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn each_check_of_section_4_3_by_name() {
    let idp = Idp::start();
    let base = resource(
        &idp,
        Dpop::allowed().algorithms([Algorithm::ES256, Algorithm::RS256]),
    )
    .await;
    let token = bound_token(&idp, "a").await;
    let dpop = format!("DPoP {token}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good = proof(&idp, &base, &token, json!({})).await;

    refused(
        &get(&base, &dpop, &[]).await,
        "exactly one DPoP header is required",
    );
    refused(
        &get(&base, &dpop, &[&good, &good]).await,
        "exactly one DPoP header is required",
    );
    refused(
        &get(&base, &dpop, &["not-a-jws"]).await,
        "the DPoP proof is not a compact JWS",
    );
    let cases = [
        (
            json!({ "typ": "jwt" }),
            "the DPoP proof's typ is not dpop+jwt",
        ),
        (
            json!({ "client": "ed" }),
            "the DPoP proof's algorithm is not accepted",
        ),
        (
            json!({ "private_jwk": true }),
            "the DPoP proof's jwk holds a private key",
        ),
        (
            json!({ "sign_with": "b" }),
            "the DPoP proof's signature is invalid",
        ),
        (
            json!({ "omit": ["jti"] }),
            "the DPoP proof has no usable jti",
        ),
        (
            json!({ "htm": "POST" }),
            "the DPoP proof's htm is not this request's method",
        ),
        (
            json!({ "htu": format!("{base}/other") }),
            "the DPoP proof's htu is not this request's URL",
        ),
        (
            json!({ "htu": "http://elsewhere.test/me" }),
            "the DPoP proof's htu is not this request's URL",
        ),
        (
            json!({ "iat": now - 600 }),
            "the DPoP proof is too old or from the future",
        ),
        (
            json!({ "iat": now + 600 }),
            "the DPoP proof is too old or from the future",
        ),
        (
            json!({ "token": "another-token" }),
            "the DPoP proof's ath is not the access token's hash",
        ),
        (
            json!({ "omit": ["ath"] }),
            "the DPoP proof's ath is not the access token's hash",
        ),
        (
            json!({ "client": "b" }),
            "the DPoP proof is signed by another key than the token's",
        ),
    ];
    for (body, description) in cases {
        let bad = proof(&idp, &base, &token, body.clone()).await;
        let answer = get(&base, &dpop, &[&bad]).await;
        refused(&answer, description);
        assert!(
            answer
                .challenge
                .starts_with("DPoP error=\"invalid_dpop_proof\"")
                && answer.challenge.contains("algs=\"ES256 RS256\""),
            "{body}: {}",
            answer.challenge
        );
    }
    // None of those was recorded: the good proof is still unused.
    assert_eq!(get(&base, &dpop, &[&good]).await.status, StatusCode::OK);
    // And a proof is accepted once.
    refused(
        &get(&base, &dpop, &[&good]).await,
        "the DPoP proof was used before",
    );
}

#[tokio::test]
async fn bound_tokens_only_with_dpop_and_unbound_ones_only_as_bearer() {
    let idp = Idp::start();
    let base = resource(&idp, Dpop::allowed()).await;
    let bound = bound_token(&idp, "a").await;
    let answer = get(&base, &format!("Bearer {bound}"), &[]).await;
    refused(
        &answer,
        "the token is bound to a key: send it with DPoP and a proof",
    );
    assert!(
        answer.challenge.starts_with("DPoP error=\"invalid_token\""),
        "{}",
        answer.challenge
    );

    let unbound = idp.mint(json!({})).await;
    assert_eq!(
        get(&base, &format!("Bearer {unbound}"), &[]).await.status,
        StatusCode::OK
    );
    let proof = proof(&idp, &base, &unbound, json!({})).await;
    refused(
        &get(&base, &format!("DPoP {unbound}"), &[&proof]).await,
        "the token is not bound to a key",
    );
    // Without credentials, both schemes are offered.
    let anonymous = reqwest::get(format!("{base}/me")).await.unwrap();
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(", DPoP algs=\""),
        "{challenge}"
    );
    // EdDSA is offered under both its names (RFC 9864's `Ed25519` first).
    assert!(
        challenge.contains("algs=\"ES256 ES384 Ed25519 EdDSA RS256 PS256\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn required_refuses_bearer_and_a_verifier_without_dpop_refuses_bound_tokens() {
    let idp = Idp::start();
    let strict = resource(&idp, Dpop::required()).await;
    let unbound = idp.mint(json!({})).await;
    let answer = get(&strict, &format!("Bearer {unbound}"), &[]).await;
    refused(
        &answer,
        "DPoP is required: send the token with DPoP and a proof",
    );
    assert!(
        answer.challenge.starts_with("DPoP "),
        "{}",
        answer.challenge
    );
    let bound = bound_token(&idp, "a").await;
    let good = proof(&idp, &strict, &bound, json!({})).await;
    assert_eq!(
        get(&strict, &format!("DPoP {bound}"), &[&good])
            .await
            .status,
        StatusCode::OK
    );

    // A verifier that knows nothing of DPoP never lets a bound token through as Bearer.
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(Issuer::new(&idp.issuer).audience(AUDIENCE))
        .build()
        .unwrap();
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some()
    );
    // Not through the plain verify call either: no proof comes with it.
    assert!(verifier.verify(&bound).is_err());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = format!("http://{}", listener.local_addr().unwrap());
    let app = resource_server::app(&verifier);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let answer = get(&plain, &format!("Bearer {bound}"), &[]).await;
    refused(
        &answer,
        "the token is bound to a key: send it with DPoP and a proof",
    );
}

#[tokio::test]
async fn a_missing_nonce_is_answered_with_one_to_use() {
    let idp = Idp::start();
    let base = resource(
        &idp,
        Dpop::allowed().nonces(b"a secret every instance shares"),
    )
    .await;
    let token = bound_token(&idp, "a").await;
    let dpop = format!("DPoP {token}");
    let first = proof(&idp, &base, &token, json!({})).await;
    let answer = get(&base, &dpop, &[&first]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"], "use_dpop_nonce");
    assert!(
        answer
            .challenge
            .starts_with("DPoP error=\"use_dpop_nonce\""),
        "{}",
        answer.challenge
    );
    let nonce = answer.nonce.expect("a DPoP-Nonce header");
    let wrong = proof(&idp, &base, &token, json!({ "nonce": "made-up" })).await;
    assert_eq!(
        get(&base, &dpop, &[&wrong]).await.body["error"],
        "use_dpop_nonce"
    );
    let with_nonce = proof(&idp, &base, &token, json!({ "nonce": nonce })).await;
    let answer = get(&base, &dpop, &[&with_nonce]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn grpc_gets_unauthenticated_for_a_bad_proof() {
    let idp = Idp::start();
    let base = resource(&idp, Dpop::allowed()).await;
    let token = bound_token(&idp, "a").await;
    let bad = proof(&idp, &base, &token, json!({ "sign_with": "b" })).await;
    let res = reqwest::Client::new()
        .post(format!("{base}/pets.Pets/List"))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", bad)
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["grpc-status"], "16", "UNAUTHENTICATED");
}

// --- the full layer: the example server with DPOP=allowed or required ---------------------

const SECRET: &[u8] = b"dpop-example-test-secret-32-bytes-long";

/// The example server as `DPOP=...` starts it, on loopback; its base URL.
async fn example(dpop: Dpop) -> String {
    let tuning = crate::app::Tuning {
        dpop: Some(dpop),
        ..Default::default()
    };
    let (app, _sessions) = crate::app::app_tuned(
        tower_jwt_sessions::Keys::hs256(SECRET).unwrap(),
        tuning,
        crate::backend::AnyBackend::Memory(tower_jwt_sessions::MemoryBackend::new()),
    )
    .unwrap();
    crate::common::serve(app).await
}

fn payload(token: &str) -> Value {
    let segment = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, segment)
            .unwrap(),
    )
    .unwrap()
}

/// `POST /sessions/` as testUser, with `proof` as `DPoP` if given.
async fn login(base: &str, proof: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/sessions/"))
        .basic_auth("testUser", Some("testPassword"));
    if let Some(proof) = proof {
        req = req.header("dpop", proof);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// `POST /sessions/refresh/` with the refresh token as Bearer, and `proof` if given.
async fn refresh(base: &str, refresh_token: &str, proof: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/sessions/refresh/"))
        .bearer_auth(refresh_token);
    if let Some(proof) = proof {
        req = req.header("dpop", proof);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_example_binds_a_login_its_tokens_and_its_refreshes_to_the_proofs_key() {
    let idp = Idp::start();
    let base = example(Dpop::allowed()).await;
    let jkt = idp.client_jkt("a").await;
    let login_proof = idp
        .proof(json!({ "htm": "POST", "htu": format!("{base}/sessions/") }))
        .await;
    let (status, body) = login(&base, Some(&login_proof)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&access)["cnf"]["jkt"], jkt.as_str());
    // A login proof is used once too.
    let (status, body) = login(&base, Some(&login_proof)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "the DPoP proof was used before");

    // The access token: with a proof by the key, once; never as Bearer.
    let good = proof(&idp, &base, &access, json!({})).await;
    assert_eq!(
        get(&base, &format!("DPoP {access}"), &[&good]).await.status,
        StatusCode::OK
    );
    refused(
        &get(&base, &format!("DPoP {access}"), &[&good]).await,
        "the DPoP proof was used before",
    );
    refused(
        &get(&base, &format!("Bearer {access}"), &[]).await,
        "the token is bound to a key: send it with DPoP and a proof",
    );
    let other = proof(&idp, &base, &access, json!({ "client": "b" })).await;
    refused(
        &get(&base, &format!("DPoP {access}"), &[&other]).await,
        "the DPoP proof is signed by another key than the token's",
    );

    // The refresh: refused without a proof and with another key's, the session untouched.
    let refresh_proof = |client: &'static str| {
        idp.proof(json!({
            "client": client, "htm": "POST", "htu": format!("{base}/sessions/refresh/"),
        }))
    };
    let (status, body) = refresh(&base, &refresh_token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_dpop_proof");
    let (status, _) = refresh(&base, &refresh_token, Some(&refresh_proof("b").await)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = refresh(&base, &refresh_token, Some(&refresh_proof("a").await)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let renewed = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&renewed)["cnf"]["jkt"], jkt.as_str());
    let good = proof(&idp, &base, &renewed, json!({})).await;
    assert_eq!(
        get(&base, &format!("DPoP {renewed}"), &[&good])
            .await
            .status,
        StatusCode::OK
    );

    // A login without a proof is a Bearer session, exactly as before.
    let (status, body) = login(&base, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body.get("token_type").is_none(), "{body}");
    let bearer = body["access_token"].as_str().unwrap();
    assert!(payload(bearer).get("cnf").is_none());
    assert_eq!(
        get(&base, &format!("Bearer {bearer}"), &[]).await.status,
        StatusCode::OK
    );
    let (status, body) = refresh(&base, body["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn dpop_required_refuses_a_login_without_a_proof_and_bearer_tokens() {
    let idp = Idp::start();
    let base = example(Dpop::required()).await;
    let (status, body) = login(&base, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["error_description"],
        "a DPoP proof is required to sign in"
    );
    let login_proof = idp
        .proof(json!({ "htm": "POST", "htu": format!("{base}/sessions/") }))
        .await;
    let (status, body) = login(&base, Some(&login_proof)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let good = proof(&idp, &base, &access, json!({})).await;
    assert_eq!(
        get(&base, &format!("DPoP {access}"), &[&good]).await.status,
        StatusCode::OK
    );
    let anonymous = reqwest::get(format!("{base}/me")).await.unwrap();
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP"), "{challenge}");
}

#[tokio::test]
async fn a_refused_proof_costs_no_record_and_a_failed_record_is_503() {
    use std::sync::atomic::Ordering;
    use tower_jwt_sessions::{Keys, SessionMeta, Sessions};
    let idp = Idp::start();
    let backend = crate::common::CountingBackend::new(crate::common::memory_with_u1());
    let keys = Keys::hs256(SECRET).unwrap();
    let sessions = Sessions::builder(keys, backend.clone(), backend.clone())
        .dpop(Dpop::allowed())
        .build()
        .unwrap();
    let meta = SessionMeta {
        dpop_jkt: Some(idp.client_jkt("a").await),
        ..SessionMeta::default()
    };
    let token = sessions
        .create("u1", &crate::common::u1(), meta)
        .await
        .unwrap()
        .access_token;
    let send = |proof: String| {
        let req = http::Request::get("/me")
            .header("host", "api.test")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .body(String::new())
            .unwrap();
        crate::common::client::send(&sessions, req)
    };
    let make = |body: Value| {
        let mut body = body;
        body["htm"] = json!("GET");
        body["token"] = json!(token);
        body.as_object_mut()
            .unwrap()
            .entry("htu")
            .or_insert(json!("http://api.test/me"));
        idp.proof(body)
    };
    for bad in [
        json!({ "sign_with": "b" }),
        json!({ "htu": "http://api.test/other" }),
    ] {
        let reply = send(make(bad.clone()).await).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    assert_eq!(
        backend.proof_records.load(Ordering::SeqCst),
        0,
        "a proof refused by its checks is never recorded"
    );
    assert_eq!(send(make(json!({})).await).await.status, StatusCode::OK);
    assert_eq!(backend.proof_records.load(Ordering::SeqCst), 1);
    // The record cannot be made: 503 with Retry-After, never a pass.
    backend.fail.store(true, Ordering::SeqCst);
    let reply = send(make(json!({})).await).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(
        backend.proof_records.load(Ordering::SeqCst),
        2,
        "the 503 came from the record (the session was not asked for)"
    );
    assert_eq!(backend.loads(), 0);
}

#[tokio::test]
async fn verifiers_sharing_a_backend_accept_a_proof_once_between_them() {
    use tower::{Layer, ServiceExt};
    let idp = Idp::start();
    let records = tower_jwt_sessions::MemoryBackend::<StandardClaims>::new();
    let verifier = || {
        Verifier::<StandardClaims>::builder()
            .issuer(Issuer::new(&idp.issuer).audience(AUDIENCE))
            .dpop(Dpop::allowed())
            .dpop_replay(records.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (verifier(), verifier());
    for v in [&a, &b] {
        assert!(
            within(Duration::from_secs(5), async || v.has_keys())
                .await
                .is_some()
        );
    }
    let token = bound_token(&idp, "a").await;
    let proof = idp
        .proof(json!({ "htm": "GET", "htu": "http://api.test/me", "token": token }))
        .await;
    let call = |verifier: &Verifier<StandardClaims>| {
        let app = verifier
            .layer()
            .layer(tower::service_fn(|_: http::Request<String>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            }));
        let req = http::Request::get("/me")
            .header("host", "api.test")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", &proof)
            .body(String::new())
            .unwrap();
        async move { app.oneshot(req).await.unwrap().status() }
    };
    assert_eq!(call(&a).await, StatusCode::OK);
    assert_eq!(
        call(&b).await,
        StatusCode::UNAUTHORIZED,
        "replayed on the other instance"
    );
    assert_eq!(call(&a).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn with_origins_htu_must_name_one_of_them_whatever_the_host() {
    let idp = Idp::start();
    let base = resource(&idp, Dpop::allowed().origins(["https://API.example/"])).await;
    let token = bound_token(&idp, "a").await;
    let dpop = format!("DPoP {token}");
    let public = proof(
        &idp,
        &base,
        &token,
        json!({ "htu": "https://api.example/me" }),
    )
    .await;
    assert_eq!(get(&base, &dpop, &[&public]).await.status, StatusCode::OK);
    // The authority the client reached (its Host) is no longer enough.
    let by_host = proof(&idp, &base, &token, json!({})).await;
    refused(
        &get(&base, &dpop, &[&by_host]).await,
        "the DPoP proof's htu is not this request's URL",
    );
}

/// Issue 26, item 5: a DPoP request short of a scope is challenged with the DPoP scheme
/// (RFC 9449 §7.1), as its 401s are; a Bearer request with the Bearer scheme.
#[tokio::test]
async fn a_missing_scope_on_a_dpop_request_is_a_dpop_challenge() {
    let idp = Idp::start();
    let base = resource(&idp, Dpop::allowed()).await;
    let token = bound_token(&idp, "a").await;
    let proof = idp
        .proof(json!({
            "htm": "POST",
            "htu": format!("{base}/api/write"),
            "token": token,
        }))
        .await;
    let res = reqwest::Client::new()
        .post(format!("{base}/api/write"))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP ")
            && challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"write\"")
            && challenge.contains("algs=\"ES256 ES384 Ed25519 EdDSA RS256 PS256\"")
            && !challenge.contains("Bearer"),
        "{challenge}"
    );

    let unbound = idp.mint(json!({})).await;
    let res = reqwest::Client::new()
        .post(format!("{base}/api/write"))
        .bearer_auth(&unbound)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer ") && !challenge.contains("DPoP"),
        "{challenge}"
    );
}
