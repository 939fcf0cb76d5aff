//! warp behind the session layer: `GET /me` answers the decoded claims, 401 with the Bearer
//! challenge without a token. `APP_ADDR` (default `127.0.0.1:3030`) and `APP_SECRET` as in
//! the HTTP example, whose access tokens are accepted here.

mod app;
#[path = "../common/env.rs"]
mod env;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env::addr("127.0.0.1:3030");
    let sessions = env::or_exit(app::sessions(&env::secret()?));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("warp on http://{}", listener.local_addr()?);
    app::serve(listener, sessions).await?;
    Ok(())
}
