//! Verify-only mode as an OAuth 2.0 resource server for issuers this crate did not write:
//! an issuer built on panva/jose (`tests/issuer/issuer.mjs`, run with node) mints RFC 9068
//! access tokens with RS256, ES256 and EdDSA keys and publishes its JWKS and its RFC 8414 or
//! OpenID Connect metadata; the resource server example verifies them over HTTP. Two issuers
//! at once, wrong audience, another issuer in the metadata, an unknown `iss` (no fetch),
//! expiry, `typ` rules, required claims, scopes (403 `insufficient_scope`, gRPC
//! `PERMISSION_DENIED`), a key rotation at the issuer, the issuer down at start, and the RFC
//! 9728 document with its challenge parameter. Behind the `jwks` feature; needs node and
//! `npm ci` in `tests/issuer` (`.ci/run` does both).
#![cfg(feature = "jwks")]

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use tower_jwt_sessions::verifier::{Issuer, ResourceMetadata};
use tower_jwt_sessions::{StandardClaims, Verifier, VerifierBuilder};

use crate::common::idp::Idp;
use crate::common::nodes::within;
use crate::resource_server;

/// The audience every issuer's tokens name by default.
const AUDIENCE: &str = "http://resource.test";

/// The refetch cooldown of these tests' verifiers.
const COOLDOWN: Duration = Duration::from_millis(300);

fn builder() -> VerifierBuilder<StandardClaims> {
    Verifier::<StandardClaims>::builder()
        .public_path("/health")
        .refetch_cooldown(COOLDOWN)
        .resource_metadata(ResourceMetadata::new(AUDIENCE).scopes_supported(["read", "write"]))
}

/// The resource server example's routes behind `verifier`, on a free port; its base URL.
async fn serve(verifier: &Verifier<StandardClaims>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = resource_server::app(verifier);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A resource server trusting `issuer` (with `configure` applied to it), once its keys are in.
async fn resource(issuer: Issuer) -> (Verifier<StandardClaims>, String) {
    let verifier = builder().issuer(issuer).build().unwrap();
    let base = serve(&verifier).await;
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some(),
        "the issuer's keys never arrived"
    );
    (verifier, base)
}

struct Answer {
    status: StatusCode,
    challenge: String,
    body: Value,
}

async fn call(base: &str, method: http::Method, path: &str, token: Option<&str>) -> Answer {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        body,
    }
}

async fn me(base: &str, token: &str) -> Answer {
    call(base, http::Method::GET, "/me", Some(token)).await
}

#[tokio::test]
async fn tokens_of_an_independent_issuer_are_accepted_for_each_algorithm() {
    let idp = Idp::start();
    let (_verifier, base) = resource(Issuer::new(&idp.issuer).audience(AUDIENCE)).await;
    // `Ed25519`: RFC 9864's name, in the token's header and the JWKS `alg` alike.
    for alg in ["RS256", "ES256", "EdDSA", "Ed25519"] {
        let token = idp.mint(json!({ "alg": alg })).await;
        let answer = me(&base, &token).await;
        assert_eq!(answer.status, StatusCode::OK, "{alg}: {}", answer.body);
        assert_eq!(answer.body["sub"], "user-1");
        assert_eq!(answer.body["iss"], idp.issuer.as_str());
        assert_eq!(answer.body["client_id"], "client-1");
        assert_eq!(answer.body["scope"], "read");
    }
    // `application/at+jwt` is the same type (RFC 9068 §2.1).
    let token = idp.mint(json!({ "typ": "application/at+jwt" })).await;
    assert_eq!(me(&base, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn what_the_profile_refuses() {
    let idp = Idp::start();
    let (_verifier, base) = resource(Issuer::new(&idp.issuer).audience(AUDIENCE)).await;
    const MISSING: &str = "the token lacks a required claim";
    let refused = [
        (
            "another audience",
            json!({ "claims": { "aud": "http://other.test" } }),
            "the token is meant for another audience",
        ),
        (
            "expired",
            json!({ "claims": { "exp": 1_000_000, "iat": 999_000 } }),
            "the token has expired",
        ),
        (
            "typ JWT",
            json!({ "typ": "JWT" }),
            "the token has no accepted typ",
        ),
        (
            "no typ",
            json!({ "typ": null }),
            "the token has no accepted typ",
        ),
        (
            "a refresh token's typ",
            json!({ "typ": "refresh+jwt" }),
            "a refresh token cannot be used as an access token",
        ),
        ("no jti", json!({ "omit": ["jti"] }), MISSING),
        ("no client_id", json!({ "omit": ["client_id"] }), MISSING),
        ("no sub", json!({ "omit": ["sub"] }), MISSING),
        ("no aud", json!({ "omit": ["aud"] }), MISSING),
        (
            "another iss",
            json!({ "claims": { "iss": "http://127.0.0.1:1" } }),
            "the token was issued by another issuer",
        ),
    ];
    for (what, body, why) in refused {
        let answer = me(&base, &idp.mint(body).await).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            answer.challenge.contains("error=\"invalid_token\""),
            "{what}: {}",
            answer.challenge
        );
        assert_eq!(answer.body["error_description"], why, "{what}");
    }
    // An audience among several is ours.
    let several = json!({ "claims": { "aud": ["http://other.test", AUDIENCE] } });
    assert_eq!(
        me(&base, &idp.mint(several).await).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_issuer_that_writes_jwt_is_accepted_only_when_allowed() {
    let idp = Idp::start();
    let (_verifier, base) = resource(
        Issuer::new(&idp.issuer)
            .audience(AUDIENCE)
            .allow_jwt_typ(true),
    )
    .await;
    for body in [
        json!({ "typ": "JWT", "omit": ["jti", "client_id"] }),
        json!({ "typ": null }),
        json!({}),
    ] {
        assert_eq!(
            me(&base, &idp.mint(body).await).await.status,
            StatusCode::OK
        );
    }
    // Still not a refresh token, nor another type.
    for typ in ["refresh+jwt", "dpop+jwt"] {
        let token = idp.mint(json!({ "typ": typ })).await;
        assert_eq!(
            me(&base, &token).await.status,
            StatusCode::UNAUTHORIZED,
            "{typ}"
        );
    }
}

#[tokio::test]
async fn two_issuers_at_once_and_an_unknown_iss_costs_no_fetch() {
    let (a, b) = (Idp::start(), Idp::start());
    let verifier = builder()
        .issuer(Issuer::new(&a.issuer).audience(AUDIENCE))
        .issuer(
            Issuer::new(&b.issuer)
                .audience("http://b-only.test")
                .algorithms([jsonwebtoken::Algorithm::RS256]),
        )
        .build()
        .unwrap();
    let base = serve(&verifier).await;
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some()
    );
    let from_a = a.mint(json!({})).await;
    let from_b = b
        .mint(json!({ "alg": "RS256", "claims": { "aud": "http://b-only.test" } }))
        .await;
    assert_eq!(me(&base, &from_a).await.status, StatusCode::OK);
    assert_eq!(me(&base, &from_b).await.status, StatusCode::OK);
    // Each issuer with its own rules: B's audience is not A's, B allows RS256 only.
    let b_for_a = b.mint(json!({ "alg": "RS256" })).await;
    assert_eq!(me(&base, &b_for_a).await.status, StatusCode::UNAUTHORIZED);
    let b_es256 = b
        .mint(json!({ "alg": "ES256", "claims": { "aud": "http://b-only.test" } }))
        .await;
    assert_eq!(me(&base, &b_es256).await.status, StatusCode::UNAUTHORIZED);
    // A token signed by A claiming to be B's: checked with B's keys, which did not sign it.
    let forged = a.mint(json!({ "claims": { "iss": b.issuer } })).await;
    assert_eq!(me(&base, &forged).await.status, StatusCode::UNAUTHORIZED);

    // An `iss` of neither: refused at once, and neither issuer is asked anything. (The
    // forged token's unknown `kid` sent B a refetch: let it land first.)
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = (a.stats().await, b.stats().await);
    for i in 0..20 {
        let stranger = a
            .mint(json!({ "claims": { "iss": format!("https://stranger-{i}.example") } }))
            .await;
        let answer = me(&base, &stranger).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            answer.body["error_description"],
            "the token's issuer is not one this service accepts"
        );
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!((a.stats().await, b.stats().await), before);
}

#[tokio::test]
async fn metadata_naming_another_issuer_is_not_used_and_oidc_discovery_is_the_fallback() {
    let idp = Idp::start();
    idp.post("/config", json!({ "wrong_issuer": true })).await;
    let verifier = builder()
        .issuer(Issuer::new(&idp.issuer).audience(AUDIENCE))
        .build()
        .unwrap();
    let base = serve(&verifier).await;
    let token = idp.mint(json!({})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // The mix-up defence: no keys from a document that names someone else.
    let answer = me(&base, &token).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains("issuer's keys"),
        "{}",
        answer.body
    );
    let (metadata, jwks) = idp.stats().await;
    assert!(metadata > 0);
    assert_eq!(jwks, 0, "no key set fetched from a mixed-up document");

    // Only OpenID Connect discovery, naming the right issuer: found through it.
    idp.post(
        "/config",
        json!({ "wrong_issuer": false, "discovery": "oidc" }),
    )
    .await;
    assert!(
        within(Duration::from_secs(5), async || me(&base, &token)
            .await
            .status
            == StatusCode::OK)
        .await
        .is_some()
    );
}

#[tokio::test]
async fn scopes_from_scope_or_scp_and_a_missing_one_is_403_naming_it() {
    let idp = Idp::start();
    let (_verifier, base) = resource(Issuer::new(&idp.issuer).audience(AUDIENCE)).await;
    let read = idp.mint(json!({ "claims": { "scope": "read" } })).await;
    let answer = call(&base, http::Method::GET, "/api/read", Some(&read)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = call(&base, http::Method::POST, "/api/write", Some(&read)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer.challenge.contains("error=\"insufficient_scope\"")
            && answer.challenge.contains("scope=\"write\""),
        "{}",
        answer.challenge
    );
    assert_eq!(answer.body["error"], "insufficient_scope");
    // Entra ID and Okta write `scp`, an array.
    let scp = idp
        .mint(json!({ "claims": { "scp": ["write"] }, "omit": ["scope"] }))
        .await;
    let answer = call(&base, http::Method::POST, "/api/write", Some(&scp)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Only U+0020 separates scopes (RFC 6749 §3.3): `read\twrite` is one scope, not two.
    for scope in ["read\twrite", "read\nwrite", "write\u{b}read"] {
        let token = idp.mint(json!({ "claims": { "scope": scope } })).await;
        for (method, path) in [
            (http::Method::POST, "/api/write"),
            (http::Method::GET, "/api/read"),
        ] {
            let answer = call(&base, method, path, Some(&token)).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{scope:?} {path}");
        }
    }
}

#[tokio::test]
async fn a_key_rotation_at_the_issuer_is_followed_and_the_old_key_stops() {
    let idp = Idp::start();
    let (_verifier, base) = resource(Issuer::new(&idp.issuer).audience(AUDIENCE)).await;
    let old = idp.mint(json!({})).await;
    assert_eq!(me(&base, &old).await.status, StatusCode::OK);
    idp.post("/rotate", json!({ "alg": "ES256" })).await;
    tokio::time::sleep(COOLDOWN).await;
    // The new `kid` is unknown: the request waits for the refetch and passes at once.
    let new = idp.mint(json!({})).await;
    assert_eq!(me(&base, &new).await.status, StatusCode::OK);
    // The old key left the set: its token no longer passes, not even from the cache.
    assert_eq!(me(&base, &old).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn twenty_first_requests_with_a_just_published_key_make_one_fetch_and_all_pass() {
    let idp = Idp::start();
    let (_verifier, base) = resource(Issuer::new(&idp.issuer).audience(AUDIENCE)).await;
    idp.post("/rotate", json!({ "alg": "RS256" })).await;
    let token = idp.mint(json!({ "alg": "RS256" })).await;
    tokio::time::sleep(COOLDOWN).await;
    let (_, jwks_before) = idp.stats().await;
    let statuses = futures_join_all((0..20).map(|_| {
        let (base, token) = (base.clone(), token.clone());
        async move { me(&base, &token).await.status }
    }))
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let (_, jwks_after) = idp.stats().await;
    assert_eq!(jwks_after - jwks_before, 1, "one fetch for all twenty");
}

#[tokio::test]
async fn an_issuer_back_with_new_keys_after_an_outage_never_costs_a_401() {
    let first = Idp::start();
    let port: u16 = first.issuer.rsplit(':').next().unwrap().parse().unwrap();
    let issuer = first.issuer.clone();
    // A fetch that failed must not hold back the next for the cooldown's length.
    let cooldown = Duration::from_secs(2);
    let verifier = builder()
        .refetch_cooldown(cooldown)
        .issuer(Issuer::new(&issuer).audience(AUDIENCE))
        .build()
        .unwrap();
    let base = serve(&verifier).await;
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some()
    );
    let before = first.mint(json!({})).await;
    assert_eq!(me(&base, &before).await.status, StatusCode::OK);
    drop(first);
    // Within the cooldown of a good fetch, an unknown `kid` is taken as made up (401, no
    // fetch: a flood costs one fetch per cooldown); past it, it is looked up.
    tokio::time::sleep(cooldown).await;

    // While the issuer is down, a token naming a key the set lacks starts a fetch that
    // fails: 503 with Retry-After, not 401. A known key still passes.
    let unknown = with_kid(&before, "published-while-down");
    let res = reqwest::Client::new()
        .get(format!("{base}/me"))
        .bearer_auth(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(me(&base, &before).await.status, StatusCode::OK);

    // Back with new keys (a restart): its fresh tokens pass within 3 s, never a 401.
    let idp = Idp::start_on(port);
    let back = std::time::Instant::now();
    let token = idp.mint(json!({})).await;
    loop {
        let status = me(&base, &token).await.status;
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "after {:?}",
            back.elapsed()
        );
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(back.elapsed() < Duration::from_secs(3), "still {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back.elapsed() < Duration::from_secs(3));
    // The old keys left with the restart.
    assert_eq!(me(&base, &before).await.status, StatusCode::UNAUTHORIZED);
}

/// `token` with its header's `kid` replaced (so its signature no longer matters).
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"] = json!(kid);
    format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
    )
}

/// Runs every future at once (tokio tasks, so that the requests really overlap).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_issuer_down_at_start_is_503_until_its_keys_arrive() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let verifier = builder()
        .issuer(Issuer::new(&issuer).audience(AUDIENCE))
        .build()
        .unwrap();
    let base = serve(&verifier).await;
    // A token of the right shape before the issuer exists: 503 with Retry-After, not 401.
    let early = Idp::start();
    let token = early.mint(json!({ "claims": { "iss": issuer } })).await;
    let answer = me(&base, &token).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        call(&base, http::Method::GET, "/health", None).await.status,
        StatusCode::OK
    );
    drop(early);

    let idp = Idp::start_on(port);
    let token = idp.mint(json!({})).await;
    assert!(
        within(Duration::from_secs(5), async || me(&base, &token)
            .await
            .status
            == StatusCode::OK)
        .await
        .is_some(),
        "the keys never arrived"
    );
}

#[tokio::test]
async fn the_resource_metadata_is_served_and_named_in_challenges() {
    let idp = Idp::start();
    let (_verifier, base) = resource(Issuer::new(&idp.issuer).audience(AUDIENCE)).await;
    let document = call(
        &base,
        http::Method::GET,
        "/.well-known/oauth-protected-resource",
        None,
    )
    .await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.body["resource"], AUDIENCE);
    assert_eq!(document.body["authorization_servers"], json!([idp.issuer]));
    assert_eq!(document.body["scopes_supported"], json!(["read", "write"]));
    assert_eq!(document.body["bearer_methods_supported"], json!(["header"]));
    let url = format!("{AUDIENCE}/.well-known/oauth-protected-resource");
    let anonymous = call(&base, http::Method::GET, "/me", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.challenge,
        format!("Bearer resource_metadata=\"{url}\"")
    );
    let expired = idp
        .mint(json!({ "claims": { "exp": 1_000_000, "iat": 999_000 } }))
        .await;
    let answer = me(&base, &expired).await;
    assert!(
        answer
            .challenge
            .starts_with("Bearer error=\"invalid_token\"")
            && answer
                .challenge
                .ends_with(&format!("resource_metadata=\"{url}\"")),
        "{}",
        answer.challenge
    );
}

#[tokio::test]
async fn the_plain_tower_scope_guard_answers_grpc_with_permission_denied() {
    use tower::{Layer, ServiceExt};
    use tower_jwt_sessions::RequireScopeLayer;
    let idp = Idp::start();
    let (verifier, _) = resource(Issuer::new(&idp.issuer).audience(AUDIENCE)).await;
    let app = verifier
        .layer()
        .layer(
            RequireScopeLayer::<StandardClaims>::new("write").layer(tower::service_fn(
                |_: http::Request<String>| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
                },
            )),
        );
    let request = |token: &str, grpc: bool| {
        let mut req = http::Request::post("/pets.Pets/Create")
            .header("authorization", format!("Bearer {token}"));
        if grpc {
            req = req.header("content-type", "application/grpc");
        }
        req.body(String::new()).unwrap()
    };
    let read = idp.mint(json!({ "claims": { "scope": "read" } })).await;
    let res = app.clone().oneshot(request(&read, true)).await.unwrap();
    assert_eq!(res.headers()["grpc-status"], "7", "PERMISSION_DENIED");
    let res = app.clone().oneshot(request(&read, false)).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let write = idp
        .mint(json!({ "claims": { "scope": "read write" } }))
        .await;
    let res = app.oneshot(request(&write, true)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn this_crates_own_layer_is_an_issuer_found_from_its_url_alone() {
    use tower_jwt_sessions::{Algorithm, Keys, MemoryBackend, SessionMeta, Sessions, defaults};
    // The issuing layer, served at the URL it names as its issuer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let keys = Keys::from_private_pem(Algorithm::ES256, &crate::common::key_file("ec_private.pem"))
        .unwrap();
    let memory = MemoryBackend::new();
    let sessions = Sessions::builder(keys, memory.clone(), memory)
        .issuer(&issuer)
        .audience(AUDIENCE)
        .client_id("pets-app")
        .jwks_path(Some(defaults::JWKS_PATH))
        .public_path(defaults::JWKS_PATH)
        .build()
        .unwrap();
    let app = axum::Router::new().fallback_service(tower::Layer::layer(
        &sessions.layer(),
        tower::service_fn(|_: http::Request<axum::body::Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }),
    ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let metadata: Value = reqwest::get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(
        metadata["jwks_uri"],
        format!("{issuer}{}", defaults::JWKS_PATH)
    );

    let claims = crate::common::u1();
    let issued = sessions
        .create("u1", &claims, SessionMeta::default())
        .await
        .unwrap();
    let payload = issued.access_token.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["client_id"], "pets-app");
    assert_eq!(
        payload["jti"].as_str().unwrap().len(),
        22,
        "128 random bits"
    );

    // A resource server configured from the issuer URL alone accepts the layer's tokens.
    let (_verifier, base) = resource(Issuer::new(&issuer).audience(AUDIENCE)).await;
    let answer = me(&base, &issued.access_token).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["client_id"], "pets-app");
    assert_eq!(answer.body["sub"], "u1");
}
