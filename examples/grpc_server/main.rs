//! gRPC health service (`grpc.health.v1.Health`) behind the session layer, with tonic.
//!
//! `APP_ADDR` (default `127.0.0.1:50051`) and `APP_SECRET` as in the HTTP example: an access
//! token minted by `cargo run --example server` with the same secret is accepted here.
//! Failures are gRPC statuses: `UNAUTHENTICATED` (16), `PERMISSION_DENIED` (7),
//! `UNAVAILABLE` (14).

mod app;
#[path = "../common/env.rs"]
mod env;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env::addr("127.0.0.1:50051");
    let sessions = env::or_exit(app::sessions(&env::secret()?));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("gRPC health service on {}", listener.local_addr()?);
    app::serve(listener, sessions).await?;
    Ok(())
}
