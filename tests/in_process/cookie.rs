//! The opt-in cookie transport of the refresh token: the login cookie, the refresh by cookie
//! with its CSRF check, rotation into the cookie, clearing, and the Bearer API unchanged;
//! through the layer, then through the example server over HTTP.

use std::convert::Infallible;
use std::time::Duration;

use crate::common::client::login;
use crate::common::*;
use http::header::{AUTHORIZATION, COOKIE, ORIGIN, REFERER, SET_COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_jwt_sessions::{ConfigError, Keys, RefreshCookie, Sessions};

const APP: &str = "https://app.example";
const REFRESH_TTL: u64 = 3600;

fn cookie_mode() -> RefreshCookie {
    RefreshCookie::new()
        .allowed_origin(APP)
        .csrf_header(HeaderName::from_static("x-requested-with"))
}

fn sessions(cookie: Option<RefreshCookie>, rotation: Option<Duration>) -> MemorySessions {
    let backend = memory_with_u1();
    let mut builder = Sessions::builder(Keys::hs256(SECRET).unwrap(), backend.clone(), backend)
        .refresh_ttl(Duration::from_secs(REFRESH_TTL));
    if let Some(cookie) = cookie {
        builder = builder.refresh_cookie(cookie);
    }
    if let Some(grace) = rotation {
        builder = builder.rotate_refresh_tokens(grace);
    }
    builder.build().unwrap()
}

/// `name=value` of a `Set-Cookie` value, the part a browser sends back.
fn pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn set_cookie(&self) -> Option<&str> {
        self.headers.get(SET_COOKIE).map(|v| v.to_str().unwrap())
    }
}

async fn post_refresh(sessions: &MemorySessions, headers: &[(HeaderName, &str)]) -> Answer {
    let app = sessions
        .layer()
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let mut req = Request::post("/sessions/refresh/");
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let res = app.oneshot(req.body(String::new()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn login_gives_a_ready_cookie_and_keeps_the_token_out_of_the_body() {
    let sessions = sessions(Some(cookie_mode()), None);
    let issued = login(&sessions).await;
    let cookie = issued.refresh_cookie().unwrap().to_str().unwrap();
    assert_eq!(
        cookie,
        format!(
            "refresh_token={}; Max-Age={REFRESH_TTL}; Path=/sessions/refresh; HttpOnly; Secure; SameSite=Strict",
            issued.refresh_token
        )
    );
    let body = serde_json::to_value(&issued).unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].as_str().is_some());
    assert!(!format!("{issued:?}").contains(&issued.refresh_token));

    // Without cookie mode: no cookie, the token in the body, as before.
    let plain = login(&self::sessions(None, None)).await;
    assert!(plain.refresh_cookie().is_none());
    let body = serde_json::to_value(&plain).unwrap();
    assert_eq!(body["refresh_token"], plain.refresh_token.as_str());
}

#[tokio::test]
async fn a_refresh_by_cookie_needs_an_allowed_origin_referer_or_the_header() {
    let sessions = sessions(Some(cookie_mode()), None);
    let issued = login(&sessions).await;
    let cookie = pair(issued.refresh_cookie().unwrap().to_str().unwrap()).to_owned();
    let with = |extra: Vec<(HeaderName, &'static str)>| {
        let mut headers = vec![(COOKIE, "theme=dark")];
        headers.extend(extra);
        headers
    };
    let mut headers: Vec<(HeaderName, &str)> = with(vec![]);
    headers.push((COOKIE, &cookie));

    for (extra, expected) in [
        (vec![], StatusCode::FORBIDDEN),
        (
            vec![(ORIGIN, "https://evil.example")],
            StatusCode::FORBIDDEN,
        ),
        (vec![(ORIGIN, "null")], StatusCode::FORBIDDEN),
        (
            vec![(REFERER, "https://evil.example/page")],
            StatusCode::FORBIDDEN,
        ),
        (vec![(ORIGIN, APP)], StatusCode::OK),
        (
            vec![(REFERER, "https://app.example/account")],
            StatusCode::OK,
        ),
        (
            vec![(HeaderName::from_static("x-requested-with"), "fetch")],
            StatusCode::OK,
        ),
    ] {
        let mut request = headers.clone();
        request.extend(extra.iter().cloned());
        let answer = post_refresh(&sessions, &request).await;
        assert_eq!(answer.status, expected, "{extra:?}: {}", answer.body);
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(answer.body["error"], "cross_site_request");
            assert!(answer.body["error_description"].as_str().is_some());
            assert!(answer.headers.get(WWW_AUTHENTICATE).is_none());
            // A cross-site page must not be able to log the user out either.
            assert!(answer.set_cookie().is_none());
        } else {
            assert!(answer.body["access_token"].as_str().is_some());
            // No rotation: the cookie stays as it is.
            assert!(answer.set_cookie().is_none());
            assert!(answer.body.get("refresh_token").is_none());
        }
    }
}

#[tokio::test]
async fn rotation_moves_the_new_token_into_the_cookie_and_reuse_clears_it() {
    let sessions = sessions(Some(cookie_mode()), Some(Duration::ZERO));
    let issued = login(&sessions).await;
    let first = pair(issued.refresh_cookie().unwrap().to_str().unwrap()).to_owned();

    let answer = post_refresh(&sessions, &[(COOKIE, &first), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.get("refresh_token").is_none(),
        "{}",
        answer.body
    );
    let rotated = answer.set_cookie().unwrap().to_owned();
    assert!(rotated.ends_with("; Path=/sessions/refresh; HttpOnly; Secure; SameSite=Strict"));
    let max_age: u64 = rotated
        .split("; Max-Age=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (REFRESH_TTL - 5..=REFRESH_TTL).contains(&max_age),
        "{rotated}"
    );
    let second = pair(&rotated).to_owned();
    assert_ne!(first, second);

    // The new cookie works; the retired one, sent again, ends the session and is cleared.
    let answer = post_refresh(&sessions, &[(COOKIE, &second), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let third = pair(answer.set_cookie().unwrap()).to_owned();
    let answer = post_refresh(&sessions, &[(COOKIE, &first), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"], "invalid_token");
    assert_eq!(
        answer.set_cookie(),
        Some(
            "refresh_token=; Max-Age=0; Path=/sessions/refresh; HttpOnly; Secure; SameSite=Strict"
        )
    );
    let answer = post_refresh(&sessions, &[(COOKIE, &third), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_bearer_api_is_unchanged_and_comes_first() {
    let sessions = sessions(Some(cookie_mode()), Some(Duration::ZERO));
    let issued = login(&sessions).await;

    // A refresh token by Bearer decides, even with a cookie (here a dead one), and needs no
    // Origin; the rotated token comes in the body.
    let bearer = format!("Bearer {}", issued.refresh_token);
    let answer = post_refresh(
        &sessions,
        &[
            (AUTHORIZATION, &bearer),
            (COOKIE, "refresh_token=not.a.jwt"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body["refresh_token"].as_str().is_some());
    assert!(answer.set_cookie().is_none());

    // Cookie mode off: a cookie is not a credential.
    let plain = self::sessions(None, None);
    let issued = login(&plain).await;
    let cookie = format!("refresh_token={}", issued.refresh_token);
    let answer = post_refresh(&plain, &[(COOKIE, &cookie), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.headers[WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn an_access_token_on_the_refresh_route_does_not_mask_the_cookie() {
    let sessions = sessions(Some(cookie_mode()), Some(Duration::ZERO));
    let issued = login(&sessions).await;
    let cookie = pair(issued.refresh_cookie().unwrap().to_str().unwrap()).to_owned();
    let bearer = format!("Bearer {}", issued.access_token);

    // Without an allowed origin, the cookie is refused as it would be alone, and kept.
    let answer = post_refresh(&sessions, &[(AUTHORIZATION, &bearer), (COOKIE, &cookie)]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.body["error"], "cross_site_request");
    assert!(answer.set_cookie().is_none());

    // From the app's page: the cookie is used and rotated, as without the header.
    let answer = post_refresh(
        &sessions,
        &[(AUTHORIZATION, &bearer), (COOKIE, &cookie), (ORIGIN, APP)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body["access_token"].as_str().is_some());
    assert!(
        answer.body.get("refresh_token").is_none(),
        "{}",
        answer.body
    );
    let rotated = pair(answer.set_cookie().unwrap()).to_owned();
    assert_ne!(rotated, cookie);

    // The app's access token has usually expired by the time it refreshes: still no mask.
    let now = now();
    let expired = sign(
        &header(jsonwebtoken::Algorithm::HS256, "at+jwt"),
        &access_claims("u1", &issued.session_id, now - 7200, now - 3600),
        SECRET,
    );
    let bearer = format!("Bearer {expired}");
    let answer = post_refresh(
        &sessions,
        &[(AUTHORIZATION, &bearer), (COOKIE, &rotated), (ORIGIN, APP)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.set_cookie().is_some());

    // A dead cookie (the first, retired) behind an access token is refused and cleared, as
    // alone.
    let answer = post_refresh(
        &sessions,
        &[(AUTHORIZATION, &bearer), (COOKIE, &cookie), (ORIGIN, APP)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.set_cookie().map(pair), Some("refresh_token="));

    // No cookie: the access token is refused for what it is.
    let issued = login(&sessions).await;
    let bearer = format!("Bearer {}", issued.access_token);
    let answer = post_refresh(&sessions, &[(AUTHORIZATION, &bearer), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.body["error_description"],
        "an access token cannot be used as a refresh token"
    );
    assert!(answer.set_cookie().is_none());

    // Cookie mode off: an access token is refused, whatever cookie rides along.
    let plain = self::sessions(None, None);
    let issued = login(&plain).await;
    let bearer = format!("Bearer {}", issued.access_token);
    let cookie = format!("refresh_token={}", issued.refresh_token);
    let answer = post_refresh(
        &plain,
        &[(AUTHORIZATION, &bearer), (COOKIE, &cookie), (ORIGIN, APP)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn other_credentials_and_planted_cookies() {
    let sessions = sessions(Some(cookie_mode()), None);
    let issued = login(&sessions).await;
    let cookie = pair(issued.refresh_cookie().unwrap().to_str().unwrap()).to_owned();
    // A browser's cached Basic credentials are no Bearer token: the cookie is used.
    let answer = post_refresh(
        &sessions,
        &[
            (AUTHORIZATION, "Basic dXNlcjpwYXNz"),
            (COOKIE, &cookie),
            (ORIGIN, APP),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // A second value (a sibling subdomain can plant one): 400, and ours is not cleared.
    let planted = "refresh_token=eyJ.planted.value";
    let answer = post_refresh(
        &sessions,
        &[(COOKIE, planted), (COOKIE, &cookie), (ORIGIN, APP)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"], "invalid_request");
    assert!(answer.set_cookie().is_none());
    // The cookie values handed to the app never show the token in `Debug`.
    assert!(!format!("{:?}", issued.refresh_cookie().unwrap()).contains(&issued.refresh_token));
}

#[tokio::test]
async fn dead_cookies_are_cleared_and_a_backend_fault_keeps_the_cookie() {
    let sessions = sessions(Some(cookie_mode()), None);
    let issued = login(&sessions).await;
    let cookie = pair(issued.refresh_cookie().unwrap().to_str().unwrap()).to_owned();
    assert!(sessions.revoke(&issued.session_id).await.unwrap());
    let answer = post_refresh(&sessions, &[(COOKIE, &cookie), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.set_cookie().map(pair), Some("refresh_token="));

    // Garbage in the cookie: 401 and cleared; far too long: the same, before any decoding.
    for junk in [
        "refresh_token=not.a.jwt".to_owned(),
        format!("refresh_token={}", "a".repeat(9000)),
    ] {
        let answer = post_refresh(&sessions, &[(COOKIE, &junk), (ORIGIN, APP)]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.set_cookie().map(pair), Some("refresh_token="));
    }

    // A backend that fails: 503, and the cookie (which may well be good) is kept.
    let backend = CountingBackend::new(memory_with_u1());
    let keys = Keys::hs256(SECRET).unwrap();
    let failing = Sessions::builder(keys, backend.clone(), backend.clone())
        .refresh_cookie(cookie_mode())
        .build()
        .unwrap();
    let issued = login(&failing).await;
    let cookie = pair(issued.refresh_cookie().unwrap().to_str().unwrap()).to_owned();
    backend.set_fail(true);
    let app = failing
        .layer()
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let req = Request::post("/sessions/refresh/")
        .header(COOKIE, &cookie)
        .header(ORIGIN, APP)
        .body(String::new())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn site_wide_cookies_and_bad_configurations() {
    let sessions = sessions(Some(cookie_mode().site_wide()), None);
    let issued = login(&sessions).await;
    let cookie = issued
        .refresh_cookie()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-refresh_token="), "{cookie}");
    assert!(cookie.contains("; Path=/;"), "{cookie}");
    let answer = post_refresh(&sessions, &[(COOKIE, pair(&cookie)), (ORIGIN, APP)]).await;
    assert_eq!(answer.status, StatusCode::OK);

    let build = |cookie: RefreshCookie| {
        in_memory(Keys::hs256(SECRET).unwrap())
            .refresh_cookie(cookie)
            .build()
            .map(|_| ())
    };
    assert_eq!(
        build(RefreshCookie::new()).unwrap_err(),
        ConfigError::NoCsrfDefence
    );
    assert_eq!(
        build(RefreshCookie::new().allowed_origin("app.example")).unwrap_err(),
        ConfigError::BadOrigin("app.example".into())
    );
    assert_eq!(
        build(cookie_mode().name("__Host-rt")).unwrap_err(),
        ConfigError::BadCookieName("__Host-rt".into())
    );
    assert_eq!(
        build(cookie_mode().name("rt;x")).unwrap_err(),
        ConfigError::BadCookieName("rt;x".into())
    );
    // The error names what it refused.
    assert!(
        ConfigError::BadCookieName("rt;x".into())
            .to_string()
            .contains("\"rt;x\"")
    );
    assert!(build(cookie_mode().name("rt")).is_ok());
    assert!(!ConfigError::NoCsrfDefence.to_string().is_empty());
}

// --- the example server, over HTTP ------------------------------------------------------------

const SERVER_SECRET: &[u8] = b"cookie-test-secret-at-least-32-bytes";
const ORIGIN_OK: &str = "http://localhost:5173";

async fn start_server() -> String {
    let tuning = crate::app::Tuning {
        refresh_cookie: Some(RefreshCookie::new().allowed_origin(ORIGIN_OK)),
        ..crate::app::Tuning::default()
    };
    let (router, _sessions) = crate::app::app_tuned(
        Keys::hs256(SERVER_SECRET).unwrap(),
        tuning,
        crate::backend::AnyBackend::Memory(Memory::new()),
    )
    .unwrap();
    serve(router).await
}

fn set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_example_server_in_cookie_mode() {
    let base = start_server().await;
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/sessions/"))
        .basic_auth("testUser", Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = set_cookie(&res).unwrap();
    assert!(
        cookie.contains("HttpOnly; Secure; SameSite=Strict"),
        "{cookie}"
    );
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let session_id = body["session_id"].as_str().unwrap().to_owned();

    let refresh = |cookie: String, origin: Option<&'static str>| {
        let mut req = client
            .post(format!("{base}/sessions/refresh/"))
            .header(COOKIE, cookie);
        if let Some(origin) = origin {
            req = req.header(ORIGIN, origin);
        }
        req.send()
    };
    // No origin, then a foreign one: 403, and the cookie still works afterwards.
    let res = refresh(pair(&cookie).to_owned(), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = refresh(pair(&cookie).to_owned(), Some("http://evil.localhost"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "cross_site_request");

    // The example rotates in cookie mode: the new token comes as a cookie only.
    let res = refresh(pair(&cookie).to_owned(), Some(ORIGIN_OK))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rotated = set_cookie(&res).unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].as_str().is_some());

    // An HTTP client that sends the access token with every call, the refresh included:
    // the cookie is still used (and rotated).
    let res = client
        .post(format!("{base}/sessions/refresh/"))
        .bearer_auth(&access)
        .header(COOKIE, pair(&rotated))
        .header(ORIGIN, ORIGIN_OK)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rotated = set_cookie(&res).unwrap();

    // Signing out of this session clears the cookie; the cookie then fails.
    let res = client
        .delete(format!("{base}/sessions/{session_id}"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&res).unwrap();
    assert!(
        cleared.starts_with("refresh_token=; Max-Age=0;"),
        "{cleared}"
    );
    let res = refresh(pair(&rotated).to_owned(), Some(ORIGIN_OK))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res).unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn the_example_server_with_a_site_wide_cookie_for_an_app_on_another_origin() {
    // As `REFRESH_COOKIE_SITE_WIDE=1 ALLOWED_ORIGINS=... cargo run --example server`.
    let vars = [
        ("REFRESH_COOKIE_SITE_WIDE", "1"),
        ("ALLOWED_ORIGINS", ORIGIN_OK),
    ];
    let mut tuning = crate::app::Tuning::default();
    tuning
        .browser_from(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
    let (router, _sessions) = crate::app::app_tuned(
        Keys::hs256(SERVER_SECRET).unwrap(),
        tuning,
        crate::backend::AnyBackend::Memory(Memory::new()),
    )
    .unwrap();
    let base = serve(router).await;
    let client = reqwest::Client::new();
    // The page's own requests, as Chromium sends them.
    let from_app = |req: reqwest::RequestBuilder| {
        req.header(ORIGIN, ORIGIN_OK)
            .header("sec-fetch-mode", "cors")
            .header("sec-fetch-site", "same-site")
            .header("sec-fetch-dest", "empty")
    };
    let readable = |res: &reqwest::Response| {
        assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN_OK);
        assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    };

    let res = from_app(client.post(format!("{base}/sessions/")))
        .basic_auth("testUser", Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    readable(&res);
    let cookie = set_cookie(&res).unwrap();
    assert!(cookie.starts_with("__Host-refresh_token="), "{cookie}");
    assert!(cookie.contains("; Path=/;"), "{cookie}");

    // A refresh by cookie needs no preflight; its answer is readable by the page, rotated
    // cookie included.
    let res = from_app(client.post(format!("{base}/sessions/refresh/")))
        .header(COOKIE, pair(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    readable(&res);
    let rotated = set_cookie(&res).unwrap();
    assert!(rotated.starts_with("__Host-refresh_token="), "{rotated}");

    // A dead cookie: a readable 401 that clears it, so the page knows it is signed out
    // (and not that the network is down).
    let res = from_app(client.post(format!("{base}/sessions/refresh/")))
        .header(COOKIE, "__Host-refresh_token=not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    readable(&res);
    assert!(
        set_cookie(&res)
            .unwrap()
            .starts_with("__Host-refresh_token=; Max-Age=0; Path=/;")
    );
}
