//! The fixture server of `benches/whole_stack.sh` (built as the example `bench_server`): an
//! axum hello-world, `MODE=plain` (no auth), `MODE=identity` (a layer that does nothing),
//! `MODE=layer` (the session layer on the Router's routes, `Router::layer`, verified-token
//! cache on), `MODE=layer-around` (the layer around the whole Router, as the README writes it:
//! inside an outer Router's `fallback_service`), `MODE=layer-wrapped` (the layer around the
//! Router, served as it is) or `MODE=layer-nocache` (every request pays a full signature
//! check, as a never-seen token would). `TOKENS=n` mints `n` access tokens
//! (of `n` sessions) instead of one; they are written to `TOKEN_FILE`, one per line.

use axum::extract::Request;
use axum::routing::get;
use axum::{Router, ServiceExt};
use tower::Layer;
use tower_jwt_sessions::{
    Keys, MachinableClaims, MachinableUser, MemoryBackend, SessionMeta, Sessions,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("APP_ADDR").unwrap_or_else(|_| "127.0.0.1:3999".to_owned());
    let mode = std::env::var("MODE").unwrap_or_else(|_| "layer".to_owned());
    let router = Router::new().route("/", get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let cache = (mode != "layer-nocache").then_some(32 << 20);
    let memory = MemoryBackend::<MachinableClaims>::new();
    let keys = Keys::hs256(b"whole-stack-benchmark-secret-32-bytes!")?;
    let sessions = Sessions::builder(keys, memory.clone(), memory)
        .token_cache_bytes(cache)
        .build()?;
    let claims = MachinableClaims::new(
        "pet-demo",
        MachinableUser {
            id: "u1".into(),
            name: "bench".into(),
            active: true,
            read: true,
            write: true,
            kind: "project".into(),
        },
    );
    let count: usize = match std::env::var("TOKENS") {
        Ok(n) => n.parse()?,
        Err(_) => 1,
    };
    let mut tokens = String::new();
    for _ in 0..count {
        let issued = sessions
            .create("u1", &claims, SessionMeta::default())
            .await?;
        tokens.push_str(&issued.access_token);
        tokens.push('\n');
    }
    // Written in every mode, so that the runs without the layer send the same header bytes.
    if let Ok(path) = std::env::var("TOKEN_FILE") {
        std::fs::write(path, tokens)?;
    }
    if mode == "plain" {
        axum::serve(listener, router).await?;
        return Ok(());
    }
    if mode == "identity" {
        // A layer that does nothing: what axum's layering costs any middleware.
        axum::serve(listener, router.layer(tower::layer::util::Identity::new())).await?;
        return Ok(());
    }
    if mode == "layer-wrapped" {
        let app = sessions.axum_layer().layer(router);
        axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
        return Ok(());
    }
    if mode == "layer-around" {
        let app = Router::new().fallback_service(sessions.axum_layer().layer(router));
        axum::serve(listener, app).await?;
        return Ok(());
    }
    axum::serve(listener, router.layer(sessions.axum_layer())).await?;
    Ok(())
}
