//! Opaque tokens by RFC 7662 introspection, against node-oidc-provider (`tests/issuer/
//! provider.mjs`), an authorization server we did not write, driven over HTTP: active,
//! inactive, expired, revoked at the issuer (within the TTL; at once with TTL 0), another
//! audience, scopes, the endpoint down and a wrong client secret (503, cached answers still
//! served), DPoP-bound opaque tokens, single flight, the negative cache, JWTs verified
//! locally unless `always`, `private_key_jwt`, eviction, the example's settings, and (from a
//! local endpoint) a timeout, a web page and a JSON array. Behind
//! the `jwks` feature; needs node and `npm ci` in `tests/issuer`.
#![cfg(feature = "jwks")]

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use tower_jwt_sessions::verifier::{Introspection, Issuer};
use tower_jwt_sessions::{Algorithm, ConfigError, Dpop, Keys, StandardClaims, Verifier};

use crate::common::idp::Idp;
use crate::common::nodes::{futures_join, within};
use crate::common::provider::{Provider, RESOURCE};
use crate::resource_server;

/// The resource server's own introspection client.
fn basic() -> Introspection {
    Introspection::client_secret_basic("rs", "rs-secret")
}

fn verifier(provider: &Provider, introspection: Introspection) -> Verifier<StandardClaims> {
    Verifier::<StandardClaims>::builder()
        .issuer(
            Issuer::new(&provider.issuer)
                .audience(RESOURCE)
                .introspection(introspection),
        )
        .dpop(Dpop::allowed())
        .build()
        .unwrap()
}

async fn serve(verifier: &Verifier<StandardClaims>) -> String {
    crate::common::serve(resource_server::app(verifier)).await
}

struct Answer {
    status: StatusCode,
    challenge: String,
    retry_after: Option<String>,
    body: Value,
}

async fn get(base: &str, path: &str, token: &str) -> Answer {
    send(
        reqwest::Client::new()
            .get(format!("{base}{path}"))
            .bearer_auth(token),
    )
    .await
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let res = request.send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, challenge, retry_after) = (
        res.status(),
        header("www-authenticate").unwrap_or_default(),
        header("retry-after"),
    );
    Answer {
        status,
        challenge,
        retry_after,
        body: res.json().await.unwrap_or(Value::Null),
    }
}

fn invalid_token(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert!(
        answer.challenge.contains(r#"error="invalid_token""#),
        "{}",
        answer.challenge
    );
}

fn unavailable(answer: &Answer) {
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
}

#[tokio::test]
async fn an_opaque_token_passes_with_its_claims_and_scopes_for_one_call() {
    let provider = Provider::start();
    let base = serve(&verifier(&provider, basic())).await;
    let token = provider.opaque("read").await;
    assert!(!token.contains('.'), "oidc-provider's tokens are opaque");

    let me = get(&base, "/me", &token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    // A client-credentials token names no subject: absent, not a refusal.
    assert_eq!(me.body["sub"], Value::Null);
    assert_eq!(me.body["client_id"], "app");
    assert_eq!(me.body["iss"], provider.issuer.as_str());
    assert_eq!(me.body["aud"], json!([RESOURCE]));
    assert_eq!(me.body["scope"], "read");

    assert_eq!(get(&base, "/api/read", &token).await.status, StatusCode::OK);
    let write = send(
        reqwest::Client::new()
            .post(format!("{base}/api/write"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert!(
        write.challenge.contains(r#"error="insufficient_scope""#)
            && write.challenge.contains(r#"scope="write""#),
        "{}",
        write.challenge
    );
    // Three requests, one question to the issuer.
    assert_eq!(provider.introspections().await, 1);
}

#[tokio::test]
async fn unknown_expired_and_foreign_audience_tokens_are_401() {
    let provider = Provider::start();
    let base = serve(&verifier(&provider, basic())).await;
    invalid_token(&get(&base, "/me", "made-up-opaque-token").await);
    // A five-segment JWE-shaped token is introspected too (and unknown there).
    invalid_token(&get(&base, "/me", "a.b.c.d.e").await);
    assert_eq!(provider.introspections().await, 2);

    let other = provider
        .grant("app", &[("resource", "http://other.test/")], None)
        .await;
    let other = other["access_token"].as_str().unwrap();
    let refused = get(&base, "/me", other).await;
    invalid_token(&refused);
    assert_eq!(
        refused.body["error_description"],
        "the token is meant for another audience"
    );

    // Tokens of client `short` live 2 seconds; the cached answer does not outlive them.
    let short = provider.grant("short", &[("scope", "read")], None).await;
    let short = short["access_token"].as_str().unwrap();
    assert_eq!(get(&base, "/me", short).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    invalid_token(&get(&base, "/me", short).await);
}

#[tokio::test]
async fn a_token_revoked_at_the_issuer_stops_within_the_ttl_and_at_once_without_cache() {
    let provider = Provider::start();
    let cached = serve(&verifier(&provider, basic().ttl(Duration::from_secs(2)))).await;
    let uncached = serve(&verifier(&provider, basic().ttl(Duration::ZERO))).await;
    let token = provider.opaque("read").await;
    assert_eq!(get(&cached, "/me", &token).await.status, StatusCode::OK);
    assert_eq!(get(&uncached, "/me", &token).await.status, StatusCode::OK);

    provider.revoke(&token).await;
    invalid_token(&get(&uncached, "/me", &token).await);
    // The cached answer is served until its TTL, then the issuer's word.
    assert_eq!(get(&cached, "/me", &token).await.status, StatusCode::OK);
    let stopped = within(Duration::from_secs(3), async || {
        get(&cached, "/me", &token).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(stopped.is_some(), "refused once the 2 s TTL is over");
}

#[tokio::test]
async fn an_evicted_answer_is_asked_again() {
    let provider = Provider::start();
    let verifier = verifier(&provider, basic());
    let base = serve(&verifier).await;
    let token = provider.opaque("read").await;
    assert_eq!(get(&base, "/me", &token).await.status, StatusCode::OK);
    provider.revoke(&token).await;
    // The app learned of the revocation (its own logout, say): it evicts at once.
    verifier.evict_everywhere(&token).await.unwrap();
    invalid_token(&get(&base, "/me", &token).await);
    assert_eq!(provider.introspections().await, 2);
}

#[tokio::test]
async fn the_endpoint_down_or_a_wrong_secret_is_503_and_cached_answers_still_serve() {
    let mut provider = Provider::start();
    let wrong = serve(&verifier(
        &provider,
        Introspection::client_secret_basic("rs", "not-the-secret"),
    ))
    .await;
    let base = serve(&verifier(&provider, basic())).await;
    let (seen, unseen) = (provider.opaque("read").await, provider.opaque("read").await);
    // The issuer answers 401 to our client: its fault to us, never the token's.
    unavailable(&get(&wrong, "/me", &seen).await);
    assert_eq!(get(&base, "/me", &seen).await.status, StatusCode::OK);

    provider.stop();
    assert_eq!(get(&base, "/me", &seen).await.status, StatusCode::OK);
    unavailable(&get(&base, "/me", &unseen).await);
    // Not cached: asked again (and still down).
    unavailable(&get(&base, "/me", &unseen).await);
}

#[tokio::test]
async fn a_dpop_bound_opaque_token_needs_its_keys_proof() {
    let (provider, idp) = (Provider::start(), Idp::start());
    let base = serve(&verifier(&provider, basic())).await;
    let proof = idp
        .proof(json!({ "htm": "POST", "htu": format!("{}/token", provider.issuer) }))
        .await;
    let answer = provider
        .grant("app", &[("scope", "read")], Some(&proof))
        .await;
    assert_eq!(answer["token_type"], "DPoP");
    let token = answer["access_token"].as_str().unwrap();

    let refused = get(&base, "/me", token).await;
    invalid_token(&refused);
    assert!(
        refused.challenge.starts_with("DPoP"),
        "{}",
        refused.challenge
    );

    let proof = idp
        .proof(json!({ "htm": "GET", "htu": format!("{base}/me"), "token": token }))
        .await;
    let passed = send(
        reqwest::Client::new()
            .get(format!("{base}/me"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof),
    )
    .await;
    assert_eq!(passed.status, StatusCode::OK, "{}", passed.body);
    // Another key's proof is refused.
    let other = idp
        .proof(json!({ "client": "b", "htm": "GET", "htu": format!("{base}/me"), "token": token }))
        .await;
    let refused = send(
        reqwest::Client::new()
            .get(format!("{base}/me"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", other),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn fifty_requests_and_twenty_concurrent_first_ones_each_cost_one_call() {
    let provider = Provider::start();
    let base = serve(&verifier(&provider, basic())).await;
    let token = provider.opaque("read").await;
    for _ in 0..50 {
        assert_eq!(get(&base, "/me", &token).await.status, StatusCode::OK);
    }
    assert_eq!(provider.introspections().await, 1);

    let fresh = provider.opaque("read").await;
    let answers = futures_join((0..20).map(|_| get(&base, "/me", &fresh)).collect()).await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    assert_eq!(provider.introspections().await, 2);
}

#[tokio::test]
async fn a_negative_answer_is_asked_again_after_at_most_five_seconds() {
    let provider = Provider::start();
    let base = serve(&verifier(&provider, basic())).await;
    invalid_token(&get(&base, "/me", "never-issued").await);
    invalid_token(&get(&base, "/me", "never-issued").await);
    assert_eq!(provider.introspections().await, 1);
    tokio::time::sleep(Duration::from_millis(5100)).await;
    invalid_token(&get(&base, "/me", "never-issued").await);
    assert_eq!(provider.introspections().await, 2);
}

#[tokio::test]
async fn a_jwt_is_verified_locally_unless_always() {
    let provider = Provider::start();
    let local = verifier(&provider, basic());
    let always = verifier(&provider, basic().always(true));
    let (local_base, always_base) = (serve(&local).await, serve(&always).await);
    let jwt = provider.grant("jwt-app", &[("scope", "read")], None).await;
    let jwt = jwt["access_token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3);
    within(Duration::from_secs(5), async || local.has_keys())
        .await
        .expect("the provider's keys");
    let me = get(&local_base, "/me", jwt).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["client_id"], "jwt-app");
    assert_eq!(provider.introspections().await, 0);
    // node-oidc-provider will not introspect its JWTs (400): the endpoint's fault, 503.
    unavailable(&get(&always_base, "/me", jwt).await);
    assert_eq!(provider.introspections().await, 1);
}

#[tokio::test]
async fn private_key_jwt_authenticates_the_resource_server() {
    let provider = Provider::start();
    let key = Keys::from_private_pem(Algorithm::ES256, &crate::common::key_file("ec_private.pem"))
        .unwrap();
    let base = serve(&verifier(
        &provider,
        Introspection::private_key_jwt("rs-jwt", key),
    ))
    .await;
    let token = provider.opaque("read write").await;
    let me = get(&base, "/me", &token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["scope"], "read write");
}

#[tokio::test]
async fn the_example_reads_its_introspection_settings() {
    let provider = Provider::start();
    let issuer = provider.issuer.clone();
    let vars = move |extra: &'static [(&'static str, &'static str)]| {
        let issuer = issuer.clone();
        move |name: &str| match name {
            "ISSUER_URL" => Some(issuer.clone()),
            "AUDIENCE" => Some(RESOURCE.to_owned()),
            _ => extra
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()),
        }
    };
    let verifier = resource_server::verifier(
        &vars(&[
            ("INTROSPECTION_CLIENT_ID", "rs"),
            ("INTROSPECTION_CLIENT_SECRET", "rs-secret"),
            ("INTROSPECTION_TTL", "0"),
        ]),
        "127.0.0.1:0",
    )
    .unwrap();
    let base = serve(&verifier).await;
    let token = provider.opaque("read").await;
    let me = get(&base, "/me", &token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["sub"], Value::Null);
    assert_eq!(get(&base, "/me", &token).await.status, StatusCode::OK);
    // TTL 0: every request asks.
    assert_eq!(provider.introspections().await, 2);

    let key_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/ec_private.pem");
    let by_key = resource_server::verifier(
        &|name: &str| match name {
            "INTROSPECTION_KEY_FILE" => Some(key_file.to_owned()),
            "INTROSPECT" => Some("always".to_owned()),
            other => vars(&[("INTROSPECTION_CLIENT_ID", "rs-jwt")])(other),
        },
        "127.0.0.1:0",
    );
    assert!(by_key.is_ok(), "{:?}", by_key.err());
    for bad in [
        &[("INTROSPECTION_CLIENT_ID", "rs")][..],
        &[
            ("INTROSPECTION_CLIENT_ID", "rs"),
            ("INTROSPECTION_CLIENT_SECRET", "s"),
            ("INTROSPECT", "sometimes"),
        ],
        &[
            ("INTROSPECTION_CLIENT_ID", "rs"),
            ("INTROSPECTION_CLIENT_SECRET", "s"),
            ("INTROSPECTION_TTL", "1.5"),
        ],
    ] {
        assert!(resource_server::verifier(&vars(bad), "127.0.0.1:0").is_err());
    }
}

#[tokio::test]
async fn only_one_issuer_introspects() {
    let err = Verifier::<StandardClaims>::builder()
        .issuer(
            Issuer::new("https://a.example")
                .audience("api")
                .introspection(basic()),
        )
        .issuer(
            Issuer::new("https://b.example")
                .audience("api")
                .introspection(basic()),
        )
        .build()
        .err();
    assert_eq!(
        err,
        Some(ConfigError::SeveralIntrospectingIssuers(
            "https://b.example".into()
        ))
    );
    let err = Verifier::<StandardClaims>::builder()
        .issuer(Issuer::sessions("https://a.example/jwks").introspection(basic()))
        .build()
        .err();
    assert_eq!(err, Some(ConfigError::NoIntrospectionEndpoint));
    // A secret never shows in Debug.
    assert!(!format!("{:?}", basic()).contains("rs-secret"));
}

/// The endpoint's faults that node-oidc-provider does not make on demand, from a local
/// endpoint: too slow (past the timeout), a web page with status 200, a JSON array, a
/// redirect elsewhere. Each is a 503 and is asked again next time.
#[tokio::test]
async fn a_slow_endpoint_a_web_page_or_a_json_array_is_503() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::response::IntoResponse;

    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let endpoint = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move |body: String| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                let html = [(http::header::CONTENT_TYPE, "text/html")];
                let json = [(http::header::CONTENT_TYPE, "application/json")];
                match body.split('&').next().unwrap_or_default() {
                    "token=slow" => {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        (json, r#"{"active":true}"#).into_response()
                    }
                    "token=page" => (html, "<html>sign in</html>").into_response(),
                    "token=array" => (json, r#"[{"active":true}]"#).into_response(),
                    _ => (json, r#"{"active":true,"scope":"read"}"#).into_response(),
                }
            }
        }),
    );
    let base = crate::common::serve(endpoint).await;
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(
            Issuer::new("https://as.example")
                .audience(RESOURCE)
                .introspection(
                    basic()
                        .endpoint(format!("{base}/introspect"))
                        .timeout(Duration::from_millis(300)),
                ),
        )
        .build()
        .unwrap();
    let app = serve(&verifier).await;
    for token in ["slow", "page", "array"] {
        unavailable(&get(&app, "/me", token).await);
        unavailable(&get(&app, "/me", token).await);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 6, "faults are never cached");
    assert_eq!(get(&app, "/me", "fine").await.status, StatusCode::OK);
}
