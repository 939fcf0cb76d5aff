//! A bare hyper 1 server (hyper-util's `TowerToHyperService`) behind the layer: nothing
//! axum-specific is needed.

use std::convert::Infallible;

use crate::common::*;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use reqwest::StatusCode;
use tower::Layer;
use tower_jwt_sessions::{Claims, MachinableClaims};

#[tokio::test]
async fn a_bare_hyper_server_gets_claims_and_refresh() {
    let (sessions, issued) = signed_in().await;
    let app = tower::service_fn(|req: Request<Incoming>| async move {
        let claims = req.extensions().get::<Claims<MachinableClaims>>().cloned();
        let body = claims.map_or("none".to_owned(), |c| c.subject().to_owned());
        Ok::<_, Infallible>(Response::new(body))
    });
    let service = sessions.layer().layer(app);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let client = reqwest::Client::new();
    let res = client
        .get(format!("http://{addr}/anything"))
        .bearer_auth(&issued.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "u1");

    let res = client
        .get(format!("http://{addr}/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let res = client
        .post(format!("http://{addr}/sessions/refresh/"))
        .bearer_auth(&issued.refresh_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["access_token"].is_string());
}
