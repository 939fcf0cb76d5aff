//! The gRPC example's server, shared with `tests/grpc.rs`: the standard gRPC health service
//! behind the session layer.

use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower_jwt_sessions::{ConfigError, Keys, MachinableClaims, MemoryBackend, Sessions};

/// Sessions and users in memory, with the example server's claims.
pub type AppSessions = Sessions<MemoryBackend<MachinableClaims>>;

/// The sessions: the same configuration as the HTTP example, so that its access tokens are
/// accepted here when both share `APP_SECRET`.
pub fn sessions(secret: &[u8]) -> Result<AppSessions, ConfigError> {
    let memory = MemoryBackend::new();
    Sessions::builder(Keys::hs256(secret)?, memory.clone(), memory).build()
}

/// Serves `grpc.health.v1.Health` on `listener`; every call needs a valid access token.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sessions: AppSessions,
) -> Result<(), tonic::transport::Error> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder()
        .layer(sessions.layer())
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}
