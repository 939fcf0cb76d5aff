//! A resource server: verifies the example server's access tokens with the keys of its JWKS
//! document, holds no secret and no session backend.
//!
//! `JWKS_URL` (default `http://127.0.0.1:3000/.well-known/jwks.json`; start the example
//! server with an asymmetric `APP_ALG` and `APP_KEY_FILE`), `APP_ADDR` (default
//! `127.0.0.1:3100`). Routes: `GET /health` (no token), `GET /me` (the decoded claims). An
//! unreachable issuer is a warning: `/me` answers 503 until its keys arrive.
//!
//! `cargo run --example resource_server --features jwks`

#[path = "../common/env.rs"]
mod env;

use axum::routing::get;
use axum::{Json, Router};
use tower_jwt_sessions::{Claims, MachinableClaims, Verifier};

/// The resource server's routes behind the verifier (shared with `tests/verifier.rs`).
pub fn app(verifier: &Verifier<MachinableClaims>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/me",
            get(|claims: Claims<MachinableClaims>| async move { Json(claims) }),
        )
        .layer(verifier.layer())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env::addr("127.0.0.1:3100");
    let url = std::env::var("JWKS_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:3000/.well-known/jwks.json".to_owned());
    let verifier = env::or_exit(
        Verifier::<MachinableClaims>::builder(&url)
            .public_path("/health")
            .build(),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    if !verifier.has_keys() {
        eprintln!("warning: no keys from {url} yet; /me answers 503 until they arrive");
    }
    axum::serve(listener, app(&verifier)).await?;
    Ok(())
}
