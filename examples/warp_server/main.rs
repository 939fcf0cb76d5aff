//! warp behind the session layer: `GET /me` answers the decoded claims, 401 with the Bearer
//! challenge without a token. `APP_ADDR` (default `127.0.0.1:3030`) and `APP_SECRET` as in
//! the HTTP example, whose access tokens are accepted here.

mod app;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("APP_ADDR").unwrap_or_else(|_| "127.0.0.1:3030".to_owned());
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
    eprintln!("warp on http://{}", listener.local_addr()?);
    app::serve(listener, sessions).await?;
    Ok(())
}
