//! The warp example's server, shared with `tests/warp.rs`: a warp filter tree turned into a
//! tower service, wrapped by the session layer, served by hyper-util.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::Layer;
use tower_jwt_sessions::{Claims, ConfigError, Keys, MachinableClaims, MemoryBackend, Sessions};
use warp::Filter;

/// Sessions and users in memory, with the example server's claims.
pub type AppSessions = Sessions<MemoryBackend<MachinableClaims>>;

/// The same configuration as the HTTP example, so tokens are interchangeable.
pub fn sessions(secret: &[u8]) -> Result<AppSessions, ConfigError> {
    let memory = MemoryBackend::new();
    Sessions::builder(Keys::hs256(secret)?, memory.clone(), memory).build()
}

/// Accepts connections on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sessions: AppSessions,
) -> std::io::Result<()> {
    // `GET /me`: the claims the layer put into the request extensions, as JSON.
    let me = warp::path("me")
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::ext::get::<Claims<MachinableClaims>>())
        .map(|claims: Claims<MachinableClaims>| warp::reply::json(&claims));
    let service = sessions.layer().layer(warp::service(me));
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            // A client that hangs up mid-request is not our error.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
