//! The one client of the tests that drive a layer in process: a request through
//! `sessions.layer()` in front of a handler answering `{"ok":true}`, and its answer read
//! whole.

use std::convert::Infallible;

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, Response, StatusCode};
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_jwt_sessions::{
    IssuedTokens, MachinableClaims, SessionBackend, SessionMeta, Sessions, Users,
};

use super::u1;

/// An answer, read whole.
pub struct Reply {
    pub status: StatusCode,
    /// The `WWW-Authenticate` header, empty when there is none.
    pub challenge: String,
    pub headers: HeaderMap,
    /// The JSON body; `Null` when it is not JSON.
    pub body: Value,
}

impl Reply {
    /// The rotated refresh token of a refresh answer.
    pub fn refresh_token(&self) -> Option<&str> {
        self.body["refresh_token"].as_str()
    }
}

/// Sends `req` through the layer to a handler answering `{"ok":true}`.
pub async fn send<S: SessionBackend, U: Users>(
    sessions: &Sessions<S, U>,
    req: Request<String>,
) -> Reply {
    let app = sessions
        .layer()
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(r#"{"ok":true}"#.to_owned()))
        }));
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let challenge = headers
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    Reply {
        status,
        challenge,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// `GET /me` with `token` as Bearer.
pub async fn get<S: SessionBackend, U: Users>(sessions: &Sessions<S, U>, token: &str) -> Reply {
    let req = Request::get("/me")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    send(sessions, req).await
}

/// `POST /sessions/refresh/` with `token` as Bearer.
pub async fn refresh<S: SessionBackend, U: Users>(sessions: &Sessions<S, U>, token: &str) -> Reply {
    let req = Request::post("/sessions/refresh/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    send(sessions, req).await
}

/// A session for `u1`, the user every test directory holds, as the login handler makes it.
pub async fn login<S: SessionBackend, U: Users<Claims = MachinableClaims>>(
    sessions: &Sessions<S, U>,
) -> IssuedTokens {
    sessions
        .create("u1", &u1(), SessionMeta::default())
        .await
        .unwrap()
}
