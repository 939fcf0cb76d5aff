//! The example server over real HTTP on an ephemeral port, driven by reqwest: every row of
//! its contract and every bad input of the core issue.

use base64::Engine;
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const SECRET: &[u8] = b"server-test-secret-at-least-32-bytes";

/// The refresh token printed on Machinable's API page: HS256 under Machinable's own secret,
/// typ `JWT`, expired in 2019.
const MACHINABLE_REFRESH: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE1NTI1ODExMTksInNlc3Npb25faWQiOiI1Yzg2OGQ3ZmE3NzQ4YmIyMjQ4MzNmNGMiLCJ1c2VyX2lkIjoiNWM4NjhkNDBhNzc0OGJiMjI0ODMzZjRiIn0.wWyb-nNff3RBw73D1hqN9k8U8_pKMHWGShMwA9YvSAc";

struct Server {
    base: String,
    client: Client,
}

impl Server {
    async fn start() -> Self {
        let (app, _sessions) = crate::app::app(SECRET).unwrap();
        Server::serve(app).await
    }

    /// The example as its binary starts with these environment variables (the browser
    /// settings: `ALLOWED_ORIGINS`, `REFRESH_COOKIE`, `REFRESH_COOKIE_SITE_WIDE`).
    async fn with_env(vars: &[(&str, &str)]) -> Self {
        let mut tuning = crate::app::Tuning::default();
        tuning.browser_from(env(vars)).unwrap();
        let (app, _sessions) = crate::app::app_tuned(
            tower_jwt_sessions::Keys::hs256(SECRET).unwrap(),
            tuning,
            crate::backend::AnyBackend::Memory(tower_jwt_sessions::MemoryBackend::new()),
        )
        .unwrap();
        Server::serve(app).await
    }

    async fn serve(app: axum::Router) -> Self {
        Server {
            base: crate::common::serve(app).await,
            client: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn login(&self, user: &str) -> Value {
        let res = self
            .client
            .post(self.url("/sessions/"))
            .basic_auth(user, Some(crate::app::PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    async fn refresh(&self, path: &str, token: &str) -> reqwest::Response {
        // As on the original API page: a POST with a lower-case `authorization` header.
        self.client
            .post(self.url(path))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn assert_up(&self) {
        let res = self.client.get(self.url("/health")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}

/// An environment of exactly these variables.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn token_of(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap().to_owned()
}

async fn assert_invalid_token(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn health_needs_no_token() {
    let server = Server::start().await;
    let res = server
        .client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn login_answers_like_machinable() {
    let server = Server::start().await;
    let body = server.login("testUser").await;
    assert_eq!(body["message"], "Successfully logged in");
    for field in ["access_token", "refresh_token", "session_id"] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }

    // Machinable's docs build the header with `echo "u:p" | base64`: a trailing newline.
    let encoded = base64::engine::general_purpose::STANDARD.encode("testUser:testPassword\n");
    let res = server
        .client
        .post(server.url("/sessions"))
        .header("authorization", format!("Basic {encoded}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // RFC 6749 §5.1: an answer carrying tokens is never cached.
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
}

#[tokio::test]
async fn bad_logins_are_401_with_a_basic_challenge_and_inactive_is_403() {
    let server = Server::start().await;
    let bad = [
        Some(("testUser", "wrong")),
        Some(("nobody", "testPassword")),
        None,
    ];
    for credentials in bad {
        let mut req = server.client.post(server.url("/sessions/"));
        if let Some((user, password)) = credentials {
            req = req.basic_auth(user, Some(password));
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{credentials:?}");
        let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Basic"), "{challenge}");
    }

    let res = server
        .client
        .post(server.url("/sessions/"))
        .basic_auth("inactiveUser", Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// The scheme of a `WWW-Authenticate` value, lower-cased.
fn scheme(challenge: &HeaderValue) -> String {
    let value = challenge.to_str().unwrap();
    value.split(' ').next().unwrap().to_ascii_lowercase()
}

#[tokio::test]
async fn a_failed_login_by_script_gets_json_and_no_challenge_browsers_act_on() {
    let server = Server::start().await;
    // The headers Chromium sends with a page's `fetch` (same and cross origin), an XHR
    // library's marker, and a form's navigation.
    let fetch_same_origin: &[(&str, &str)] = &[
        ("sec-fetch-mode", "cors"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-dest", "empty"),
    ];
    let fetch_cross_origin: &[(&str, &str)] = &[
        ("origin", "http://127.0.0.1:5173"),
        ("sec-fetch-mode", "cors"),
        ("sec-fetch-site", "same-site"),
        ("sec-fetch-dest", "empty"),
    ];
    let no_cors: &[(&str, &str)] = &[("sec-fetch-mode", "no-cors")];
    let xhr: &[(&str, &str)] = &[("x-requested-with", "XMLHttpRequest")];
    for headers in [fetch_same_origin, fetch_cross_origin, no_cors, xhr] {
        for password in [Some("wrong"), None] {
            let mut req = server.client.post(server.url("/sessions/"));
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            if let Some(password) = password {
                req = req.basic_auth("testUser", Some(password));
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
            // RFC 9110: still a challenge, in a scheme no browser prompts for.
            let challenge = res.headers()[WWW_AUTHENTICATE].clone();
            assert_eq!(scheme(&challenge), "xbasic", "{headers:?}");
            let body: Value = res.json().await.unwrap();
            assert!(body["error"].as_str().is_some(), "{headers:?}: {body}");
        }
    }
    // A navigation (a plain form) and a client that is no browser get the real challenge.
    let navigate: &[(&str, &str)] = &[
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-dest", "document"),
    ];
    for headers in [navigate, &[]] {
        let mut req = server
            .client
            .post(server.url("/sessions/"))
            .basic_auth("testUser", Some("wrong"));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            "Basic realm=\"pet-demo\", charset=\"UTF-8\""
        );
    }
}

#[tokio::test]
async fn refresh_as_on_the_original_api_page() {
    let server = Server::start().await;
    let login = server.login("testUser").await;
    let refresh = token_of(&login, "refresh_token");
    for path in ["/sessions/refresh/", "/sessions/refresh"] {
        let res = server.refresh(path, &refresh).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: Value = res.json().await.unwrap();
        let access = token_of(&body, "access_token");
        let me = server.get("/me", &access).await;
        assert_eq!(me.status(), StatusCode::OK);
    }
    // The page's own token: signed with Machinable's secret and long expired.
    assert_invalid_token(
        server
            .refresh("/sessions/refresh/", MACHINABLE_REFRESH)
            .await,
    )
    .await;
    let res = server
        .client
        .get(server.url("/sessions/refresh/"))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
}

#[tokio::test]
async fn me_returns_the_decoded_claims() {
    let server = Server::start().await;
    let login = server.login("testUser").await;
    let res = server.get("/me", &token_of(&login, "access_token")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let claims: Value = res.json().await.unwrap();
    assert_eq!(claims["user"]["name"], "testUser");
    assert_eq!(claims["user"]["type"], "project");
    assert_eq!(claims["projects"], json!({"pet-demo": true}));
    assert_eq!(claims["sid"], login["session_id"]);

    let res = server.client.get(server.url("/me")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer realm=\"pet-demo\"");
}

#[tokio::test]
async fn pets_need_read_and_write() {
    let server = Server::start().await;
    let writer = token_of(&server.login("testUser").await, "access_token");
    let reader = token_of(&server.login("readOnlyUser").await, "access_token");

    assert_eq!(
        server.get("/api/pets", &reader).await.status(),
        StatusCode::OK
    );
    let res = server
        .client
        .post(server.url("/api/pets"))
        .bearer_auth(&reader)
        .json(&json!({"name": "Tom"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");

    let res = server
        .client
        .post(server.url("/api/pets"))
        .bearer_auth(&writer)
        .json(&json!({"name": "Tom"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let list: Value = server.get("/api/pets", &writer).await.json().await.unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Tom")
    );

    let res = server
        .client
        .post(server.url("/api/pets"))
        .bearer_auth(&writer)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sessions_list_and_revoke_are_per_user() {
    let server = Server::start().await;
    let mine = server.login("testUser").await;
    let second = server.login("testUser").await;
    let theirs = server.login("readOnlyUser").await;
    let access = token_of(&mine, "access_token");

    let list: Value = server
        .get("/sessions/", &access)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&mine["session_id"].as_str().unwrap()));
    assert!(!ids.contains(&theirs["session_id"].as_str().unwrap()));

    let delete = |id: &str| {
        server
            .client
            .delete(server.url(&format!("/sessions/{id}")))
            .bearer_auth(&access)
            .send()
    };
    let res = delete(theirs["session_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = delete("0123456789abcdef0123456789abcdef").await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = delete(second["session_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_invalid_token(
        server
            .refresh("/sessions/refresh/", &token_of(&second, "refresh_token"))
            .await,
    )
    .await;
    // The other sessions live on.
    let res = server
        .refresh("/sessions/refresh/", &token_of(&mine, "refresh_token"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = server
        .refresh("/sessions/refresh/", &token_of(&theirs, "refresh_token"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn signing_out_other_devices_and_everywhere() {
    let server = Server::start().await;
    let here = server.login("testUser").await;
    let there = server.login("testUser").await;
    let theirs = server.login("readOnlyUser").await;
    let here_access = token_of(&here, "access_token");
    let delete = |path: &'static str, token: String| {
        server
            .client
            .delete(server.url(path))
            .bearer_auth(token)
            .send()
    };

    let res = delete("/sessions/others", here_access.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server
            .get("/me", &token_of(&there, "access_token"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get("/me", &here_access).await.status(),
        StatusCode::OK
    );

    let res = delete("/sessions/", here_access.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/me", &here_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_invalid_token(
        server
            .refresh("/sessions/refresh/", &token_of(&here, "refresh_token"))
            .await,
    )
    .await;
    // Another user's session is untouched.
    assert_eq!(
        server
            .get("/me", &token_of(&theirs, "access_token"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_inputs_get_clear_4xx_and_the_server_stays_up() {
    let server = Server::start().await;
    let login = server.login("testUser").await;
    let access = token_of(&login, "access_token");
    let refresh = token_of(&login, "refresh_token");

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("wrong scheme", b"Token abc".to_vec()),
        ("bearer without token", b"Bearer".to_vec()),
        ("garbage", b"Bearer garbage".to_vec()),
        ("dots", b"Bearer ..".to_vec()),
        (
            "thousands of dots",
            format!("Bearer {}", ".".repeat(5000)).into_bytes(),
        ),
        (
            "64 KiB",
            format!("Bearer {}", "a".repeat(64 * 1024)).into_bytes(),
        ),
        ("non-ASCII", b"Bearer \xe2\x98\x83.\xff\xfe.abc".to_vec()),
        (
            "refresh as access",
            format!("Bearer {refresh}").into_bytes(),
        ),
        (
            "alg none",
            b"Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.".to_vec(),
        ),
    ];
    for (name, value) in &cases {
        let res = server
            .client
            .get(server.url("/me"))
            .header("authorization", HeaderValue::from_bytes(value).unwrap())
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert!(status.is_client_error(), "{name}: {status}");
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST {
            assert!(res.headers().contains_key(WWW_AUTHENTICATE), "{name}");
        }
    }
    let res = server.client.get(server.url("/me")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_invalid_token(server.refresh("/sessions/refresh/", &access).await).await;
    server.assert_up().await;
    assert_eq!(server.get("/me", &access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn two_hundred_concurrent_refreshes_all_succeed() {
    let server = Server::start().await;
    let refresh = token_of(&server.login("testUser").await, "refresh_token");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let client = server.client.clone();
            let url = server.url("/sessions/refresh/");
            let token = refresh.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
}

// --- a single-page app on another origin --------------------------------------------------

/// The app's origin: another port of the same host, as a dev server would be.
const APP_ORIGIN: &str = "http://127.0.0.1:5173";

/// What Chromium sends before a cross-origin `fetch` that is no simple request.
fn preflight(server: &Server, path: &str, method: &str, headers: &str) -> reqwest::RequestBuilder {
    preflight_from(APP_ORIGIN, server, path, method, headers)
}

fn preflight_from(
    origin: &str,
    server: &Server,
    path: &str,
    method: &str,
    headers: &str,
) -> reqwest::RequestBuilder {
    let mut req = server
        .client
        .request(reqwest::Method::OPTIONS, server.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-site", "same-site")
        .header("sec-fetch-dest", "empty")
        .header("accept", "*/*");
    if !headers.is_empty() {
        req = req.header("access-control-request-headers", headers);
    }
    req
}

/// The headers of a page's cross-origin `fetch` itself.
fn from_app(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("origin", APP_ORIGIN)
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-site", "same-site")
        .header("sec-fetch-dest", "empty")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

/// The comma-separated list of a header, lower-cased.
fn list(res: &reqwest::Response, name: &str) -> Vec<String> {
    header(res, name)
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

#[tokio::test]
async fn allowed_origins_get_their_preflights_answered_on_every_route() {
    let server = Server::with_env(&[("ALLOWED_ORIGINS", APP_ORIGIN)]).await;
    let cases = [
        ("/sessions/", "POST", "authorization"),
        ("/me", "GET", "authorization"),
        ("/sessions/refresh/", "POST", "authorization"),
        ("/sessions/refresh/", "POST", "x-requested-with"),
        ("/sessions/", "GET", "authorization"),
        ("/sessions/0123456789abcdef", "DELETE", "authorization"),
        ("/api/pets", "POST", "authorization,content-type"),
    ];
    for (path, method, headers) in cases {
        let res = preflight(&server, path, method, headers)
            .send()
            .await
            .unwrap();
        let case = format!("{method} {path} ({headers})");
        assert_eq!(res.status(), StatusCode::OK, "{case}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            APP_ORIGIN,
            "{case}"
        );
        assert_eq!(
            header(&res, "access-control-allow-credentials"),
            "true",
            "{case}"
        );
        assert!(
            list(&res, "access-control-allow-methods").contains(&method.to_ascii_lowercase()),
            "{case}"
        );
        let allowed = list(&res, "access-control-allow-headers");
        for wanted in headers.split(',') {
            assert!(allowed.contains(&wanted.to_owned()), "{case}: {allowed:?}");
        }
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none(), "{case}");
    }
    // Another origin learns nothing: no `Access-Control-Allow-Origin`, so its browser
    // refuses to send the request.
    let res = preflight_from(
        "http://127.0.0.1:6666",
        &server,
        "/me",
        "GET",
        "authorization",
    )
    .send()
    .await
    .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_app_on_another_origin_reads_every_answer_refusals_included() {
    let server = Server::with_env(&[("ALLOWED_ORIGINS", APP_ORIGIN)]).await;
    let readable = |res: &reqwest::Response| {
        assert_eq!(header(res, "access-control-allow-origin"), APP_ORIGIN);
        assert_eq!(header(res, "access-control-allow-credentials"), "true");
    };
    let res = from_app(server.client.post(server.url("/sessions/")))
        .basic_auth("testUser", Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    readable(&res);
    let login: Value = res.json().await.unwrap();

    // The layer's own refusal: readable, with the challenge exposed to the script.
    let res = from_app(server.client.get(server.url("/me")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    readable(&res);
    let exposed = list(&res, "access-control-expose-headers");
    for name in ["www-authenticate", "retry-after"] {
        assert!(exposed.contains(&name.to_owned()), "{exposed:?}");
    }
    let res = from_app(server.client.get(server.url("/me")))
        .bearer_auth(token_of(&login, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    readable(&res);
    // A refresh by Bearer, and its refusal.
    let res = from_app(server.client.post(server.url("/sessions/refresh/")))
        .bearer_auth(token_of(&login, "refresh_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    readable(&res);
    let res = from_app(server.client.post(server.url("/sessions/refresh/")))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    readable(&res);
}

#[tokio::test]
async fn without_allowed_origins_there_is_no_cors() {
    let server = Server::start().await;
    let res = preflight(&server, "/me", "GET", "authorization")
        .send()
        .await
        .unwrap();
    // Passed on by the layer (no 401), then refused by the router: no method for it.
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = from_app(server.client.get(server.url("/me")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn the_browser_settings_are_read_from_the_environment() {
    let tuning = |vars: &[(&str, &str)]| {
        let mut tuning = crate::app::Tuning::default();
        tuning.browser_from(env(vars)).map(|()| tuning)
    };
    // ALLOWED_ORIGINS alone: CORS, no cookie; origins as browsers write them.
    let only = tuning(&[(
        "ALLOWED_ORIGINS",
        " HTTP://LocalHost:5173/ , https://app.example:443,http://[::1]:8080",
    )])
    .unwrap();
    assert!(only.refresh_cookie.is_none());
    assert_eq!(
        only.allowed_origins,
        [
            "http://localhost:5173",
            "https://app.example",
            "http://[::1]:8080"
        ]
    );
    assert!(tuning(&[]).unwrap().allowed_origins.is_empty());
    let both = tuning(&[("ALLOWED_ORIGINS", APP_ORIGIN), ("REFRESH_COOKIE", "1")]).unwrap();
    assert!(both.refresh_cookie.is_some());
    assert_eq!(both.allowed_origins, [APP_ORIGIN]);
    assert!(
        tuning(&[("ALLOWED_ORIGINS", APP_ORIGIN), ("REFRESH_COOKIE", "0")])
            .unwrap()
            .refresh_cookie
            .is_none()
    );
    for (name, value) in [
        ("ALLOWED_ORIGINS", "localhost:5173"),
        ("ALLOWED_ORIGINS", "http://a.example/app"),
        ("ALLOWED_ORIGINS", "ftp://a.example"),
        ("ALLOWED_ORIGINS", "http://user@a.example"),
        ("ALLOWED_ORIGINS", "*"),
        ("REFRESH_COOKIE", "yes"),
        ("REFRESH_COOKIE_SITE_WIDE", "true"),
    ] {
        let err = tuning(&[(name, value)]).err().unwrap_or_default();
        assert!(
            err.starts_with(name) && err.contains(value),
            "{name}={value}: {err}"
        );
    }
}

#[tokio::test]
async fn demo_users_sign_in_like_the_seeded_ones() {
    let tuning = crate::app::Tuning {
        demo_users: 3,
        ..Default::default()
    };
    let (app, _sessions) = crate::app::app_tuned(
        tower_jwt_sessions::Keys::hs256(SECRET).unwrap(),
        tuning,
        crate::backend::AnyBackend::Memory(tower_jwt_sessions::MemoryBackend::new()),
    )
    .unwrap();
    let server = Server::serve(app).await;
    let login = |name: &'static str| {
        server
            .client
            .post(server.url("/sessions/"))
            .basic_auth(name, Some("testPassword"))
            .send()
    };
    for name in ["user1", "user3", "testUser"] {
        assert_eq!(
            login(name).await.unwrap().status(),
            StatusCode::CREATED,
            "{name}"
        );
    }
    assert_eq!(
        login("user4").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
