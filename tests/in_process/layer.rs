//! The layer driven in-process with `tower::ServiceExt`: access tokens, public and optional
//! routes, the refresh route, the cache, and every bad input of the core issue.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use bytes::Bytes;
use http::header::{ALLOW, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_jwt_sessions::{
    Claims, IssuedTokens, Keys, MachinableClaims, SessionMeta, Sessions, SessionsBuilder,
};

struct Harness {
    sessions: Sessions<CountingBackend>,
    backend: CountingBackend,
    inner_calls: Arc<AtomicUsize>,
}

type TestService = tower_jwt_sessions::SessionService<
    tower::util::BoxCloneService<Request<String>, Response<String>, Infallible>,
    CountingBackend,
>;

fn builder() -> SessionsBuilder<CountingBackend> {
    let backend = CountingBackend::new(memory_with_u1());
    Sessions::builder(Keys::hs256(SECRET).unwrap(), backend.clone(), backend)
        .public_path("/health")
        .public_route(Method::POST, "/sessions/")
}

impl Harness {
    fn new() -> Self {
        Harness::with(builder())
    }

    fn with(builder: SessionsBuilder<CountingBackend>) -> Self {
        let sessions = builder.build().unwrap();
        let backend = sessions.users().clone();
        // Beside `u1`: a user who may not write.
        backend.inner.set_user("u2", user("u2", true, true, false));
        Harness {
            sessions,
            backend,
            inner_calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn service(&self) -> TestService {
        let calls = Arc::clone(&self.inner_calls);
        let inner = tower::service_fn(move |req: Request<String>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let body = match req.extensions().get::<Claims<MachinableClaims>>() {
                Some(claims) => format!("user:{}", claims.subject()),
                None => "anonymous".to_owned(),
            };
            async move { Ok::<_, Infallible>(Response::new(body)) }
        });
        ServiceBuilder::new()
            .layer(self.sessions.layer())
            .service(tower::util::BoxCloneService::new(inner))
    }

    async fn login(&self, user_id: &str) -> IssuedTokens {
        use tower_jwt_sessions::Users;
        let claims = self.backend.inner.claims(user_id).await.unwrap().unwrap();
        self.sessions
            .create(user_id, &claims, SessionMeta::default())
            .await
            .unwrap()
    }

    async fn send(&self, req: Request<String>) -> Reply {
        let res = self.service().oneshot(req).await.unwrap();
        Reply::from(res).await
    }

    async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(value) = authorization {
            req = req.header(AUTHORIZATION, value);
        }
        self.send(req.body(String::new()).unwrap()).await
    }

    async fn refresh(&self, token: &str) -> Reply {
        let req = Request::post("/sessions/refresh/")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(String::new())
            .unwrap();
        self.send(req).await
    }
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    async fn from<B>(res: Response<B>) -> Self
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = res.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn challenge(&self) -> String {
        self.headers
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    #[track_caller]
    fn assert_invalid_token(&self) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        let challenge = self.challenge();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
            "{challenge}"
        );
        assert_eq!(challenge.matches("error=").count(), 1);
        assert_eq!(self.json()["error"], "invalid_token");
        assert!(self.json()["error_description"].is_string());
    }

    #[track_caller]
    fn assert_invalid_request(&self) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{self:?}");
        assert!(self.challenge().contains("error=\"invalid_request\""));
        assert_eq!(self.json()["error"], "invalid_request");
    }

    #[track_caller]
    fn assert_bare_challenge(&self) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        assert_eq!(self.challenge(), "Bearer");
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// --- access tokens -------------------------------------------------------------------------

#[tokio::test]
async fn valid_access_token_reaches_the_handler_with_claims() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    let reply = h.get("/me", Some(&bearer(&issued.access_token))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "user:u1");
    // The scheme is case-insensitive.
    let reply = h
        .get("/me", Some(&format!("bEaReR {}", issued.access_token)))
        .await;
    assert_eq!(reply.text(), "user:u1");
    // The access path never touches the backend.
    assert_eq!(h.backend.loads(), 0);
}

#[tokio::test]
async fn missing_or_foreign_credentials_get_a_bare_challenge() {
    let h = Harness::new();
    h.get("/me", None).await.assert_bare_challenge();
    h.get("/me", Some("Basic dGVzdFVzZXI6dGVzdFBhc3N3b3Jk"))
        .await
        .assert_bare_challenge();
    assert_eq!(h.inner_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bearer_without_token_is_invalid_request() {
    let h = Harness::new();
    h.get("/me", Some("Bearer")).await.assert_invalid_request();
    h.get("/me", Some("Bearer    "))
        .await
        .assert_invalid_request();
}

#[tokio::test]
async fn garbage_tokens_are_invalid_token() {
    let h = Harness::new();
    let dots = ".".repeat(5000);
    let long = "a".repeat(64 * 1024);
    let long_jws = format!(
        "{}.{}.{}",
        "a".repeat(30000),
        "b".repeat(30000),
        "c".repeat(5000)
    );
    for token in [
        "garbage",
        "..",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        dots.as_str(),
        long.as_str(),
        long_jws.as_str(),
        "eyJhbGciOiJIUzI1NiJ9.e30.",
    ] {
        h.get("/me", Some(&bearer(token)))
            .await
            .assert_invalid_token();
    }
    let mut req = Request::get("/me").body(String::new()).unwrap();
    req.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_bytes(b"Bearer \xc3\xa9t\xc3\xa9.\xff.x").unwrap(),
    );
    h.send(req).await.assert_invalid_token();
    assert_eq!(h.inner_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let h = Harness::new();
    let expired = access_claims("u1", "s", now() - 3600, now() - 60);
    let token = sign(&header(Algorithm::HS256, "at+jwt"), &expired, SECRET);
    let reply = h.get("/me", Some(&bearer(&token))).await;
    reply.assert_invalid_token();
    assert_eq!(reply.json()["error_description"], "the token has expired");

    let mut future = access_claims("u1", "s", now(), now() + 600);
    future["nbf"] = json!(now() + 300);
    let token = sign(&header(Algorithm::HS256, "at+jwt"), &future, SECRET);
    let reply = h.get("/me", Some(&bearer(&token))).await;
    reply.assert_invalid_token();
    assert_eq!(
        reply.json()["error_description"],
        "the token is not valid yet"
    );

    let mut no_exp = access_claims("u1", "s", now(), now() + 600);
    no_exp.as_object_mut().unwrap().remove("exp");
    let token = sign(&header(Algorithm::HS256, "at+jwt"), &no_exp, SECRET);
    h.get("/me", Some(&bearer(&token)))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn token_kinds_never_cross() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    // A refresh token on a protected route.
    let reply = h.get("/me", Some(&bearer(&issued.refresh_token))).await;
    reply.assert_invalid_token();
    assert_eq!(
        reply.json()["error_description"],
        "a refresh token cannot be used as an access token"
    );
    // An access token on the refresh route.
    let reply = h.refresh(&issued.access_token).await;
    reply.assert_invalid_token();
    assert_eq!(
        reply.json()["error_description"],
        "an access token cannot be used as a refresh token"
    );
    // A plain `JWT` typ (Machinable's tokens) is neither kind.
    let claims = access_claims("u1", &issued.session_id, now(), now() + 600);
    let token = sign(&header(Algorithm::HS256, "JWT"), &claims, SECRET);
    h.get("/me", Some(&bearer(&token)))
        .await
        .assert_invalid_token();
    // Access claims re-signed with the refresh typ: the token_use claim still says access.
    let token = sign(&header(Algorithm::HS256, "refresh+jwt"), &claims, SECRET);
    h.get("/me", Some(&bearer(&token)))
        .await
        .assert_invalid_token();
    h.refresh(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn duplicate_headers_and_query_tokens_are_invalid_requests() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    let mut req = Request::get("/me").body(String::new()).unwrap();
    let value = HeaderValue::from_str(&bearer(&issued.access_token)).unwrap();
    req.headers_mut().append(AUTHORIZATION, value.clone());
    req.headers_mut().append(AUTHORIZATION, value);
    h.send(req).await.assert_invalid_request();

    let req = Request::get(format!("/me?access_token={}", issued.access_token))
        .header(AUTHORIZATION, bearer(&issued.access_token))
        .body(String::new())
        .unwrap();
    h.send(req).await.assert_invalid_request();
}

// --- public and optional routes --------------------------------------------------------------

#[tokio::test]
async fn public_routes_pass_untouched() {
    let h = Harness::new();
    let reply = h.get("/health", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "anonymous");
    // Public means no check at all, even of a bad token.
    let reply = h.get("/health/", Some("Bearer garbage")).await;
    assert_eq!(reply.status, StatusCode::OK);
    // POST /sessions/ is public, GET /sessions/ is not.
    let req = Request::post("/sessions")
        .header(AUTHORIZATION, "Basic dTpw")
        .body(String::new())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::OK);
    h.get("/sessions/", None).await.assert_bare_challenge();
}

#[tokio::test]
async fn cors_preflights_reach_the_inner_service_without_claims() {
    let h = Harness::new();
    // What Chromium sends before a cross-origin `fetch` with an `Authorization` header: no
    // credentials of any kind.
    let preflight = |path: &str| {
        Request::options(path)
            .header("origin", "http://127.0.0.1:5173")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .header("sec-fetch-mode", "cors")
            .header("sec-fetch-site", "same-site")
            .header("sec-fetch-dest", "empty")
            .body(String::new())
            .unwrap()
    };
    for path in ["/me", "/sessions/refresh/", "/sessions/refresh"] {
        let reply = h.send(preflight(path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        assert_eq!(reply.text(), "anonymous", "{path}");
    }
    assert_eq!(h.inner_calls.load(Ordering::SeqCst), 3);
    // An `OPTIONS` that is no preflight is an ordinary request.
    let req = Request::options("/me").body(String::new()).unwrap();
    h.send(req).await.assert_bare_challenge();
    let req = Request::options("/sessions/refresh/")
        .header("origin", "http://127.0.0.1:5173")
        .body(String::new())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h.inner_calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn optional_mode_lets_anonymous_through_but_not_bad_tokens() {
    let h = Harness::with(builder().optional(true));
    let reply = h.get("/me", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "anonymous");
    h.get("/me", Some("Bearer garbage"))
        .await
        .assert_invalid_token();
    let issued = h.login("u1").await;
    let reply = h.get("/me", Some(&bearer(&issued.access_token))).await;
    assert_eq!(reply.text(), "user:u1");
}

#[tokio::test]
async fn issuer_and_audience_are_required_when_configured() {
    let strict = Harness::with(builder().issuer("https://auth.example").audience("pets"));
    let loose = Harness::new();
    let issued = loose.login("u1").await;
    strict
        .get("/me", Some(&bearer(&issued.access_token)))
        .await
        .assert_invalid_token();
    let mut claims = access_claims("u1", "s", now(), now() + 600);
    claims["iss"] = json!("https://auth.example");
    claims["aud"] = json!("other-api");
    let token = sign(&header(Algorithm::HS256, "at+jwt"), &claims, SECRET);
    let reply = strict.get("/me", Some(&bearer(&token))).await;
    reply.assert_invalid_token();
    assert_eq!(
        reply.json()["error_description"],
        "the token is meant for another audience"
    );
    let issued = strict.login("u1").await;
    assert_eq!(
        strict
            .get("/me", Some(&bearer(&issued.access_token)))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        strict.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
}

// --- the refresh route ---------------------------------------------------------------------

#[tokio::test]
async fn refresh_returns_a_fresh_access_token() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    let reply = h.refresh(&issued.refresh_token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["cache-control"], "no-store");
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let me = h.get("/me", Some(&bearer(&access))).await;
    assert_eq!(me.text(), "user:u1");
    // The request never reached the app.
    assert_eq!(h.inner_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refresh_route_matches_without_slash_and_only_for_post() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    let req = Request::post("/sessions/refresh")
        .header(AUTHORIZATION, bearer(&issued.refresh_token))
        .body(String::new())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::OK);
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let req = Request::builder()
            .method(method)
            .uri("/sessions/refresh/")
            .header(AUTHORIZATION, bearer(&issued.refresh_token))
            .body(String::new())
            .unwrap();
        let reply = h.send(req).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.headers[ALLOW], "POST");
    }
    assert_eq!(h.inner_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn refresh_without_credentials_is_a_bare_challenge() {
    let h = Harness::new();
    let req = Request::post("/sessions/refresh/")
        .body(String::new())
        .unwrap();
    h.send(req).await.assert_bare_challenge();
    h.refresh("garbage").await.assert_invalid_token();
    let expired = json!({"sub": "u1", "sid": "s", "gen": 0, "iat": now() - 100,
        "exp": now() - 60, "token_use": "refresh"});
    let token = sign(&header(Algorithm::HS256, "refresh+jwt"), &expired, SECRET);
    h.refresh(&token).await.assert_invalid_token();
    assert_eq!(
        h.backend.loads(),
        0,
        "bad refresh tokens never reach the backend"
    );
}

#[tokio::test]
async fn revoked_session_is_refused_at_once_even_when_cached() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.backend.loads(),
        1,
        "the second refresh is served from the cache"
    );
    assert!(h.sessions.revoke(&issued.session_id).await.unwrap());
    let reply = h.refresh(&issued.refresh_token).await;
    reply.assert_invalid_token();
    assert_eq!(reply.json()["error_description"], "the session has ended");
    assert!(!h.sessions.revoke(&issued.session_id).await.unwrap());
}

#[tokio::test]
async fn a_forged_session_id_is_refused() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    // Right user, unknown session.
    let claims = json!({"sub": "u1", "sid": "0".repeat(32), "gen": 0, "iat": now(),
        "exp": now() + 600, "token_use": "refresh"});
    let token = sign(&header(Algorithm::HS256, "refresh+jwt"), &claims, SECRET);
    h.refresh(&token).await.assert_invalid_token();
    // Another user's session.
    let claims = json!({"sub": "u2", "sid": issued.session_id, "gen": 0, "iat": now(),
        "exp": now() + 600, "token_use": "refresh"});
    let token = sign(&header(Algorithm::HS256, "refresh+jwt"), &claims, SECRET);
    h.refresh(&token).await.assert_invalid_token();
    // A generation the session never had.
    let claims = json!({"sub": "u1", "sid": issued.session_id, "gen": 7, "iat": now(),
        "exp": now() + 600, "token_use": "refresh"});
    let token = sign(&header(Algorithm::HS256, "refresh+jwt"), &claims, SECRET);
    h.refresh(&token).await.assert_invalid_token();
}

#[tokio::test]
async fn inactive_or_deleted_users_end_their_sessions() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    h.backend
        .inner
        .set_user("u1", user("u1", false, true, true));
    let reply = h.refresh(&issued.refresh_token).await;
    reply.assert_invalid_token();
    assert_eq!(
        reply.json()["error_description"],
        "the user is no longer active"
    );
    // The session is gone, even once the user is active again.
    h.backend.inner.set_user("u1", u1());
    h.refresh(&issued.refresh_token)
        .await
        .assert_invalid_token();
    assert!(h.sessions.list("u1").await.unwrap().is_empty());

    let issued = h.login("u2").await;
    h.backend.inner.remove_user("u2");
    h.refresh(&issued.refresh_token)
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn refresh_mints_from_current_claims() {
    let h = Harness::new();
    let issued = h.login("u2").await;
    let before = h
        .sessions
        .verify_access(&issued.access_token)
        .await
        .unwrap();
    assert!(!before.user.write);
    h.backend.inner.set_user("u2", user("u2", true, true, true));
    let reply = h.refresh(&issued.refresh_token).await;
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let after = h.sessions.verify_access(&access).await.unwrap();
    assert!(after.user.write);
    assert_eq!(after.session_id(), Some(issued.session_id.as_str()));
}

#[tokio::test]
async fn access_tokens_never_outlive_their_session() {
    let h = Harness::with(
        builder()
            .access_ttl(Duration::from_secs(600))
            .refresh_ttl(Duration::from_secs(900)),
    );
    let issued = h.login("u1").await;
    let claims = h
        .sessions
        .verify_access(&issued.access_token)
        .await
        .unwrap();
    assert_eq!(claims.expires_at() - claims.issued_at(), 600);
    let reply = h.refresh(&issued.refresh_token).await;
    assert!(reply.json()["expires_in"].as_u64().unwrap() <= 600);
}

#[tokio::test]
async fn concurrent_cold_refreshes_load_the_session_once() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    // A slow backend makes the 200 requests overlap for real.
    h.backend.set_delay(Some(Duration::from_millis(50)));
    let svc = h.service();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let mut svc = svc.clone();
            let token = issued.refresh_token.clone();
            tokio::spawn(async move {
                let req = Request::post("/sessions/refresh/")
                    .header(AUTHORIZATION, bearer(&token))
                    .body(String::new())
                    .unwrap();
                let res = svc.ready().await.unwrap().call(req).await.unwrap();
                res.status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(h.backend.loads(), 1);
    assert!(h.backend.touches() <= 1, "touch is debounced");
}

#[tokio::test]
async fn touch_is_debounced() {
    let h = Harness::with(builder().touch_debounce(Duration::ZERO));
    let issued = h.login("u1").await;
    for _ in 0..3 {
        assert_eq!(
            h.refresh(&issued.refresh_token).await.status,
            StatusCode::OK
        );
    }
    // With no debounce at all, each refresh in a new second writes; within one second at
    // most one does.
    assert!(h.backend.touches() >= 1);

    let h = Harness::new();
    let issued = h.login("u1").await;
    for _ in 0..20 {
        assert_eq!(
            h.refresh(&issued.refresh_token).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        h.backend.touches(),
        0,
        "a session created now needs no touch for 60 s"
    );
}

#[tokio::test]
async fn backend_failure_is_503_and_never_cached() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    h.backend.set_fail(true);
    let reply = h.refresh(&issued.refresh_token).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers[RETRY_AFTER], "1");
    assert!(reply.headers.get(WWW_AUTHENTICATE).is_none());
    assert_eq!(h.backend.loads(), 1);
    h.backend.set_fail(false);
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(h.backend.loads(), 2, "the failure was not cached");
}

/// Was `unknown_sessions_are_not_cached`: a flood of refreshes naming unknown (or revoked)
/// sessions reached the backend every time. Now "gone" is remembered for a short while.
#[tokio::test]
async fn unknown_sessions_are_remembered_briefly() {
    let h = Harness::with(builder().cache_ttl(Duration::from_millis(200)));
    let claims = json!({"sub": "u1", "sid": "f".repeat(32), "gen": 0, "iat": now(),
        "exp": now() + 600, "token_use": "refresh"});
    let token = sign(&header(Algorithm::HS256, "refresh+jwt"), &claims, SECRET);
    for _ in 0..5 {
        h.refresh(&token).await.assert_invalid_token();
    }
    assert_eq!(h.backend.loads(), 1, "one backend read for five refreshes");
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.refresh(&token).await.assert_invalid_token();
    assert_eq!(
        h.backend.loads(),
        2,
        "and asked again once the window passed"
    );
}

#[tokio::test]
async fn cache_entries_expire_with_the_configured_ttl() {
    let h = Harness::with(builder().cache_ttl(Duration::from_millis(200)));
    let issued = h.login("u1").await;
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(h.backend.loads(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    assert_eq!(h.backend.loads(), 2);
}

#[tokio::test]
async fn a_revocation_outside_the_crate_is_seen_after_the_cache_ttl() {
    use tower_jwt_sessions::SessionBackend;
    let h = Harness::with(builder().cache_ttl(Duration::from_millis(200)));
    let issued = h.login("u1").await;
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    // Another instance deletes the row directly in the shared backend.
    assert!(h.backend.inner.revoke(&issued.session_id).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.refresh(&issued.refresh_token)
        .await
        .assert_invalid_token();
}

// --- the session API -------------------------------------------------------------------------

#[tokio::test]
async fn session_api_lists_and_revokes_only_own_sessions() {
    let h = Harness::new();
    let a = h.login("u1").await;
    let b = h.login("u1").await;
    let other = h.login("u2").await;
    let list = h.sessions.list("u1").await.unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a.session_id.as_str()) && ids.contains(&b.session_id.as_str()));
    assert!(
        !h.sessions
            .revoke_for_user("u1", &other.session_id)
            .await
            .unwrap()
    );
    assert_eq!(h.refresh(&other.refresh_token).await.status, StatusCode::OK);
    assert!(
        h.sessions
            .revoke_for_user("u1", &a.session_id)
            .await
            .unwrap()
    );
    h.refresh(&a.refresh_token).await.assert_invalid_token();
    assert_eq!(h.refresh(&b.refresh_token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn create_refuses_inactive_users_and_reports_backend_failure() {
    let h = Harness::new();
    let err = h
        .sessions
        .create("u9", &user("u9", false, true, true), SessionMeta::default())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        tower_jwt_sessions::SessionError::UserInactive
    ));
    h.backend.set_fail(true);
    let err = h
        .sessions
        .create("u1", &u1(), SessionMeta::default())
        .await
        .unwrap_err();
    assert!(matches!(err, tower_jwt_sessions::SessionError::Backend(_)));
}

#[tokio::test]
async fn debug_output_holds_no_secret_token_or_claim() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    let claims = h
        .sessions
        .verify_access(&issued.access_token)
        .await
        .unwrap();
    let text = format!(
        "{:?} {:?} {:?} {:?} {:?}",
        h.sessions,
        issued,
        claims,
        Keys::hs256(SECRET).unwrap(),
        h.sessions.layer()
    );
    assert!(!text.contains(std::str::from_utf8(SECRET).unwrap()));
    assert!(!text.contains(&issued.access_token));
    assert!(!text.contains(&issued.refresh_token));
    assert!(!text.contains("user-u1"));
}

#[tokio::test]
async fn custom_error_renderer_replaces_the_body() {
    let renderer = tower_jwt_sessions::ErrorRenderer::new(|err, _realm| {
        let mut res = Response::new(Bytes::from(format!(
            "nope: {}",
            err.code().unwrap_or("none")
        )));
        *res.status_mut() = err.status();
        res
    });
    let h = Harness::with(builder().error_renderer(renderer));
    let reply = h.get("/me", Some("Bearer x.y.z")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.text(), "nope: invalid_token");
}

#[tokio::test]
async fn a_cached_token_is_still_refused_once_expired() {
    let h = Harness::with(
        builder()
            .access_ttl(Duration::from_secs(1))
            .leeway(Duration::ZERO),
    );
    let issued = h.login("u1").await;
    let auth = bearer(&issued.access_token);
    assert_eq!(h.get("/me", Some(&auth)).await.status, StatusCode::OK);
    assert_eq!(h.get("/me", Some(&auth)).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = h.get("/me", Some(&auth)).await;
    reply.assert_invalid_token();
    assert_eq!(reply.json()["error_description"], "the token has expired");
}

#[tokio::test]
async fn the_token_cache_can_be_turned_off() {
    let h = Harness::with(builder().token_cache_bytes(None));
    let issued = h.login("u1").await;
    let auth = bearer(&issued.access_token);
    for _ in 0..3 {
        assert_eq!(h.get("/me", Some(&auth)).await.text(), "user:u1");
    }
}

#[tokio::test]
async fn idle_sessions_end() {
    let h = Harness::with(
        builder()
            .touch_debounce(Duration::from_secs(1))
            .idle_timeout(Some(Duration::from_secs(1))),
    );
    let issued = h.login("u1").await;
    assert_eq!(
        h.refresh(&issued.refresh_token).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = h.refresh(&issued.refresh_token).await;
    reply.assert_invalid_token();
    assert_eq!(
        reply.json()["error_description"],
        "the session expired after inactivity"
    );
    assert!(h.sessions.list("u1").await.unwrap().is_empty());
}

#[tokio::test]
async fn revoking_a_session_stops_its_access_tokens_at_once() {
    let h = Harness::new();
    let issued = h.login("u1").await;
    let other = h.login("u1").await;
    let auth = bearer(&issued.access_token);
    // Verified twice, so it sits in the verified-token cache too.
    for _ in 0..2 {
        assert_eq!(h.get("/me", Some(&auth)).await.status, StatusCode::OK);
    }
    assert!(h.sessions.revoke(&issued.session_id).await.unwrap());
    let reply = h.get("/me", Some(&auth)).await;
    reply.assert_invalid_token();
    assert_eq!(reply.json()["error_description"], "the session has ended");
    // The user's other session is untouched.
    let reply = h.get("/me", Some(&bearer(&other.access_token))).await;
    assert_eq!(reply.status, StatusCode::OK);
}
