//! The Machinable-compatible session API, served with axum.
//!
//! `APP_ADDR` (default `127.0.0.1:3000`), `APP_SECRET` (HS256 secret, at least 32 bytes;
//! random when unset). Users `testUser`, `readOnlyUser`, `inactiveUser`, password
//! `testPassword`.

mod app;

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("APP_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let secret = match std::env::var("APP_SECRET") {
        Ok(secret) => secret.into_bytes(),
        Err(_) => {
            eprintln!(
                "warning: APP_SECRET is not set; using a random secret, so tokens die with this process"
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
    let (app, _sessions) = match app::app(&secret) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
