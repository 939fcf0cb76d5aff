//! The warp example over real HTTP with reqwest, using tokens minted by the HTTP example.

#[path = "../../examples/warp_server/app.rs"]
mod warp_app;

use crate::common::*;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use tower_jwt_sessions::SessionMeta;

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp_app::serve(
        listener,
        warp_app::sessions(SECRET).unwrap(),
    ));
    format!("http://{addr}")
}

#[tokio::test]
async fn me_answers_the_claims_and_401_without_a_token() {
    let base = start().await;
    let client = reqwest::Client::new();
    let (_router, sessions) = crate::app::app(SECRET).unwrap();
    let issued = sessions
        .create("u1", &user("u1", true, true, false), SessionMeta::default())
        .await
        .unwrap();

    let res = client
        .get(format!("{base}/me"))
        .bearer_auth(&issued.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let claims: serde_json::Value = res.json().await.unwrap();
    assert_eq!(claims["sub"], "u1");
    assert_eq!(claims["user"]["write"], false);

    let res = client.get(format!("{base}/me")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer");

    let res = client
        .get(format!("{base}/me"))
        .bearer_auth(&issued.refresh_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}
