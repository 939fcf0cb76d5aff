//! The axum extractors: `Claims`, `Option<Claims>`, `Require<P>`, and the plain error when
//! the layer is missing.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_jwt_sessions::axum::Require;
use tower_jwt_sessions::scopes::{Read, Write};
use tower_jwt_sessions::{Claims, ErrorRenderer, Keys, MachinableClaims, SessionMeta};

async fn me(claims: Claims<MachinableClaims>) -> String {
    claims.user.name.clone()
}

async fn maybe(claims: Option<Claims<MachinableClaims>>) -> String {
    claims.map_or("anonymous".into(), |c| c.subject().to_owned())
}

async fn write(claims: Require<Write>) -> String {
    format!("wrote as {}", claims.subject())
}

async fn read(claims: Require<Read>) -> String {
    format!("read as {}", claims.subject())
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/write", get(write))
        .route("/read", get(read))
        .route("/public/me", get(me))
        .route("/public/maybe", get(maybe))
}

fn sessions() -> MemorySessions {
    in_memory(Keys::hs256(SECRET).unwrap())
        .public_prefix("/public/")
        .error_renderer(ErrorRenderer::default().with_realm("pets"))
        .build()
        .unwrap()
}

async fn call(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get(path);
    if let Some(token) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        challenge,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn token(sessions: &MemorySessions, id: &str, write: bool) -> String {
    sessions
        .create(id, &user(id, true, true, write), SessionMeta::default())
        .await
        .unwrap()
        .access_token
}

#[tokio::test]
async fn claims_extractor_reads_what_the_layer_verified() {
    let sessions = sessions();
    let app = routes().layer(sessions.axum_layer());
    let t = token(&sessions, "u1", true).await;
    assert_eq!(
        call(&app, "/me", Some(&t)).await,
        (StatusCode::OK, String::new(), "user-u1".into())
    );
    assert_eq!(call(&app, "/maybe", Some(&t)).await.2, "u1");
}

#[tokio::test]
async fn without_a_token_claims_is_401_and_option_is_none() {
    let sessions = sessions();
    let app = routes().layer(sessions.layer());
    let (status, challenge, _) = call(&app, "/public/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge, "Bearer realm=\"pets\"");
    assert_eq!(
        call(&app, "/public/maybe", None).await,
        (StatusCode::OK, String::new(), "anonymous".into())
    );

    let optional = in_memory(Keys::hs256(SECRET).unwrap())
        .optional(true)
        .build()
        .unwrap();
    let app = routes().layer(optional.layer());
    assert_eq!(call(&app, "/maybe", None).await.2, "anonymous");
    assert_eq!(call(&app, "/me", None).await.0, StatusCode::UNAUTHORIZED);
    // A bad token is still refused in optional mode, before any extractor runs.
    assert_eq!(
        call(&app, "/maybe", Some("x.y.z")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn require_answers_403_insufficient_scope() {
    let sessions = sessions();
    let app = routes().layer(sessions.layer());
    let reader = token(&sessions, "u2", false).await;
    let (status, challenge, body) = call(&app, "/write", Some(&reader)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge.starts_with("Bearer realm=\"pets\""),
        "{challenge}"
    );
    assert!(challenge.contains("error=\"insufficient_scope\""));
    assert!(challenge.contains("scope=\"write\""));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(call(&app, "/read", Some(&reader)).await.2, "read as u2");
    let writer = token(&sessions, "u1", true).await;
    assert_eq!(call(&app, "/write", Some(&writer)).await.2, "wrote as u1");
}

#[tokio::test]
async fn a_missing_layer_is_named_plainly() {
    let app = routes();
    for path in ["/me", "/maybe", "/write"] {
        let (status, _, body) = call(&app, path, None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(body.contains("SessionLayer"), "{body}");
    }
}

#[tokio::test]
async fn auth_error_is_a_response() {
    use axum::response::IntoResponse;
    let res = tower_jwt_sessions::AuthError::InvalidToken("the token has expired").into_response();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key(WWW_AUTHENTICATE));
}

#[tokio::test]
async fn the_axum_layer_answers_exactly_as_the_generic_one() {
    let sessions = sessions();
    let generic = routes().layer(sessions.layer());
    let native = routes().layer(sessions.axum_layer());
    let reader = token(&sessions, "u2", false).await;
    let mut forged = reader.clone();
    forged.pop();
    for (path, token) in [
        ("/me", Some(reader.as_str())),
        ("/me", None),
        ("/me", Some(forged.as_str())),
        ("/write", Some(reader.as_str())),
        ("/public/maybe", None),
        ("/nowhere", Some(reader.as_str())),
    ] {
        let expected = call(&generic, path, token).await;
        assert_eq!(call(&native, path, token).await, expected, "{path}");
    }
    // The refresh route, answered by the layer itself.
    let issued = sessions
        .create("u3", &user("u3", true, true, true), SessionMeta::default())
        .await
        .unwrap();
    sessions
        .users()
        .set_user("u3", user("u3", true, true, true));
    let req = Request::post("/sessions/refresh/")
        .header(AUTHORIZATION, format!("Bearer {}", issued.refresh_token))
        .body(Body::empty())
        .unwrap();
    let res = native.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("access_token"));
}
