//! The Machinable-compatible session API, served with axum.
//!
//! `APP_ADDR` (default `127.0.0.1:3000`), `APP_SECRET` (HS256 secret, at least 32 bytes;
//! random when unset), `REVOCATION_BUDGET` (revocations remembered at once; default
//! 100 000). Users `testUser`, `readOnlyUser`, `inactiveUser`, password
//! `testPassword`.

mod app;
#[path = "../common/env.rs"]
mod env;

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env::addr("127.0.0.1:3000");
    let secret = env::secret()?;
    let built = match std::env::var("REVOCATION_BUDGET") {
        Ok(budget) => app::app_with_budget(&secret, env::or_exit(budget.parse())),
        Err(_) => app::app(&secret),
    };
    let (app, _sessions) = env::or_exit(built);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
