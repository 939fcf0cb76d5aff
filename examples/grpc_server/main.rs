//! gRPC health service (`grpc.health.v1.Health`) behind the session layer, with tonic.
//!
//! `APP_ADDR` (default `127.0.0.1:50051`) and `APP_SECRET` as in the HTTP example: an access
//! token minted by `cargo run --example server` with the same secret is accepted here.
//! Failures are gRPC statuses: `UNAUTHENTICATED` (16), `PERMISSION_DENIED` (7),
//! `UNAVAILABLE` (14).

mod app;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("APP_ADDR").unwrap_or_else(|_| "127.0.0.1:50051".to_owned());
    let secret = match std::env::var("APP_SECRET") {
        Ok(secret) => secret.into_bytes(),
        Err(_) => {
            eprintln!(
                "warning: APP_SECRET is not set; using a random secret, so no other process's tokens are accepted"
            );
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)?;
            secret
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes()
        }
    };
    let sessions = match app::sessions(&secret) {
        Ok(sessions) => sessions,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("gRPC health service on {}", listener.local_addr()?);
    app::serve(listener, sessions).await?;
    Ok(())
}
