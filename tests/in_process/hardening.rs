//! Regression tests of the hardening pass: each case once panicked, failed open, grew
//! without bound or was silently truncated.

use std::convert::Infallible;
use std::time::Duration;

use crate::common::client::{Reply, get, login, refresh};
use crate::common::nodes::futures_join;
use crate::common::*;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use jsonwebtoken::Algorithm;
use serde_json::json;
use tower::{Layer, ServiceExt};
use tower_jwt_sessions::{Keys, SessionMeta, Sessions};

#[track_caller]
fn assert_invalid_token(reply: &Reply, description: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_token");
    assert_eq!(reply.body["error_description"], description);
}

fn counting() -> (Sessions<CountingBackend>, CountingBackend) {
    let backend = CountingBackend::new(memory_with_u1());
    let keys = Keys::hs256(SECRET).unwrap();
    let sessions = Sessions::builder(keys, backend.clone(), backend.clone())
        .revocation_budget(10)
        .build()
        .unwrap();
    (sessions, backend)
}

// --- 1. revocations are never forgotten under a flood ----------------------------------------

#[tokio::test]
async fn a_revocation_flood_past_the_budget_never_lets_a_revoked_access_token_in() {
    let (sessions, backend) = counting();
    let mut issued = Vec::new();
    for _ in 0..40 {
        let tokens = login(&sessions).await;
        // Verified twice: the token sits in the verified-token cache.
        for _ in 0..2 {
            assert_eq!(
                get(&sessions, &tokens.access_token).await.status,
                StatusCode::OK
            );
        }
        issued.push(tokens);
    }
    let live = issued.pop().unwrap();
    // Four times the budget: the oldest revocations were dropped before, and their access
    // tokens answered 200 again.
    for tokens in &issued {
        assert!(sessions.revoke(&tokens.session_id).await.unwrap());
    }
    let mut accepted = 0;
    for tokens in &issued {
        let reply = get(&sessions, &tokens.access_token).await;
        if reply.status == StatusCode::OK {
            accepted += 1;
        } else {
            assert_invalid_token(&reply, "the session has ended");
        }
    }
    assert_eq!(accepted, 0, "revoked access tokens accepted");
    // A live session still works; past the budget it is vouched for by the backend.
    let before = backend.loads();
    assert_eq!(
        get(&sessions, &live.access_token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        sessions
            .verify_access(&live.access_token)
            .await
            .unwrap()
            .session_id(),
        Some(live.session_id.as_str())
    );
    assert!(backend.loads() > before, "the fallback asked the backend");
    // And the handle agrees with the layer about a revoked one.
    assert!(
        sessions
            .verify_access(&issued[0].access_token)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn past_the_budget_a_backend_failure_is_503_not_an_open_door() {
    let (sessions, backend) = counting();
    let live = login(&sessions).await;
    for _ in 0..11 {
        let other = login(&sessions).await;
        sessions.revoke(&other.session_id).await.unwrap();
    }
    backend.set_fail(true);
    let reply = get(&sessions, &live.access_token).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    backend.set_fail(false);
    assert_eq!(
        get(&sessions, &live.access_token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn past_the_budget_grpc_requests_are_refused_the_grpc_way() {
    let (sessions, _) = counting();
    let mut revoked = Vec::new();
    for _ in 0..12 {
        let tokens = login(&sessions).await;
        sessions.revoke(&tokens.session_id).await.unwrap();
        revoked.push(tokens);
    }
    // The last ones found no room in the set: refused by the session check.
    let req = Request::post("/grpc.health.v1.Health/Check")
        .header(
            AUTHORIZATION,
            format!("Bearer {}", revoked[11].access_token),
        )
        .header(CONTENT_TYPE, "application/grpc")
        .body(String::new())
        .unwrap();
    let app = sessions
        .layer()
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "16");
}

// --- 2. memory per session is bounded ---------------------------------------------------------

#[tokio::test]
async fn a_huge_user_agent_is_cut_and_lists_are_bounded() {
    let (sessions, _) = counting();
    let meta = SessionMeta {
        ip: Some("203.0.113.7".into()),
        user_agent: Some("x".repeat(380 * 1024)),
        ..SessionMeta::default()
    };
    for _ in 0..150 {
        sessions.create("u1", &u1(), meta.clone()).await.unwrap();
    }
    let list = sessions.list("u1").await.unwrap();
    assert_eq!(list.len(), tower_jwt_sessions::limits::MAX_LISTED_SESSIONS);
    for session in &list {
        let agent = session.meta.user_agent.as_deref().unwrap();
        assert_eq!(agent.len(), tower_jwt_sessions::limits::MAX_META_LEN);
    }
    // Newest first.
    assert!(list.windows(2).all(|w| w[0].created_at >= w[1].created_at));
}

// --- 3. no panic, and no acceptance, from extreme token values --------------------------------

#[tokio::test]
async fn an_exp_past_2_pow_63_is_refused_every_time_never_a_panic() {
    let (sessions, _) = counting();
    let issued = login(&sessions).await;
    for exp in [1u64 << 63, u64::MAX, 253_402_300_800] {
        let claims = access_claims("u1", &issued.session_id, now(), exp);
        let token = sign(&header(Algorithm::HS256, "at+jwt"), &claims, SECRET);
        // Twice: the first answer once panicked after moka had stored the entry, and the
        // second then answered 200.
        for _ in 0..2 {
            assert_invalid_token(
                &get(&sessions, &token).await,
                "the token has a date out of range",
            );
        }
    }
    for field in ["iat", "nbf"] {
        let mut claims = access_claims("u1", &issued.session_id, now(), now() + 60);
        claims[field] = json!(u64::MAX);
        let token = sign(&header(Algorithm::HS256, "at+jwt"), &claims, SECRET);
        assert_invalid_token(
            &get(&sessions, &token).await,
            "the token has a date out of range",
        );
    }
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let (sessions, _) = counting();
    let claims = access_claims("u1", "s1", now() + 3600, now() + 7200);
    let token = sign(&header(Algorithm::HS256, "at+jwt"), &claims, SECRET);
    assert_invalid_token(
        &get(&sessions, &token).await,
        "the token was issued in the future",
    );
    // Within the leeway it is clock skew, not a forgery.
    let claims = access_claims("u1", "s1", now() + 2, now() + 60);
    let token = sign(&header(Algorithm::HS256, "at+jwt"), &claims, SECRET);
    assert_eq!(get(&sessions, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_token_of_the_last_generation_is_refused_not_a_panic() {
    let backend = memory_with_u1();
    let keys = Keys::hs256(SECRET).unwrap();
    let sessions = Sessions::builder(keys, backend.clone(), backend.clone())
        .rotate_refresh_tokens(Duration::from_secs(10))
        .build()
        .unwrap();
    let issued = login(&sessions).await;
    // Make the stored generation u64::MAX, as a long-lived session could only dream of.
    use tower_jwt_sessions::RotatingBackend;
    assert!(
        backend
            .rotate(&issued.session_id, 0, u64::MAX, now())
            .await
            .unwrap()
    );
    let claims = json!({"sub": "u1", "sid": issued.session_id, "gen": u64::MAX,
        "iat": now(), "exp": now() + 600, "token_use": "refresh"});
    let token = sign(&header(Algorithm::HS256, "refresh+jwt"), &claims, SECRET);
    assert_invalid_token(
        &refresh(&sessions, &token).await,
        "the refresh token has been replaced",
    );
}

// --- 5. JOSE header shapes --------------------------------------------------------------------

#[tokio::test]
async fn a_header_that_is_an_array_or_has_a_null_crit_is_refused() {
    let (sessions, _) = counting();
    let claims = access_claims("u1", "s1", now(), now() + 60).to_string();
    let array = raw_token(r#"["HS256","at+jwt"]"#, &claims, None, SECRET);
    assert_invalid_token(&get(&sessions, &array).await, "the token is malformed");
    let null_crit = raw_token(
        r#"{"alg":"HS256","typ":"at+jwt","crit":null}"#,
        &claims,
        None,
        SECRET,
    );
    assert_invalid_token(
        &get(&sessions, &null_crit).await,
        "the token has critical header parameters",
    );
    // Claims that are an array are no claims either.
    let array_claims = raw_token(
        r#"{"alg":"HS256","typ":"at+jwt"}"#,
        r#"["u1","s1",0,99999999999,null,null,null,"access"]"#,
        None,
        SECRET,
    );
    assert_invalid_token(
        &get(&sessions, &array_claims).await,
        "the token claims are malformed",
    );
}

// --- 8. one client cannot push everyone into 503 ----------------------------------------------

#[tokio::test]
async fn concurrent_refreshes_of_one_user_read_the_directory_once() {
    let (sessions, backend) = counting();
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(login(&sessions).await.refresh_token);
    }
    let replies = futures_join(tokens.iter().map(|t| refresh(&sessions, t)).collect()).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(
        backend
            .claims_reads
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "20 refreshes of one user within the window share one read"
    );
}

/// Issue 17, item 9: ids that cannot be the crate's (32 lowercase hex digits) name no
/// session, and are answered without a backend call: the backend here fails every call, and
/// still no odd id makes an error.
#[tokio::test]
async fn an_id_that_cannot_be_a_session_never_reaches_the_backend() {
    let (sessions, backend) = counting();
    let tokens = login(&sessions).await;
    backend.set_fail(true);
    let id = tokens.session_id.as_str();
    for odd in [
        "\0".to_owned(),
        format!("{id}\0"),
        format!("{id}0"),
        id.to_uppercase(),
        String::new(),
        "é".repeat(16),
        "x".repeat(1 << 20),
    ] {
        assert!(!sessions.revoke(&odd).await.unwrap());
        assert!(!sessions.revoke_for_user("u1", &odd).await.unwrap());
    }
    assert_eq!(backend.loads(), 0);
    // A real id goes to the backend, which fails: the error is the backend's, not "not found".
    assert!(sessions.revoke(id).await.is_err());
}
