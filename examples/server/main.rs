//! The Machinable-compatible session API, served with axum.
//!
//! `METRICS_ADDR` (unset: off; Prometheus text at `/metrics`, counters with `--features
//! metrics`), `SESSION_BACKEND` (`memory`, the default; `redis` with `REDIS_URL`, default
//! `redis://127.0.0.1:6379`; `redis-cluster` with `REDIS_URL` holding seed node URLs
//! separated by commas; `postgres` with `DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; the shared ones need
//! `--features redis,postgres`), `APP_ADDR` (default `127.0.0.1:3000`), `APP_ALG` (`HS256` default, `RS256`, `ES256`,
//! `EdDSA`), `APP_KEY_FILE` (PEM private key, for the asymmetric ones; the JWKS document is
//! then served at `/.well-known/jwks.json`), `APP_RETIRED_KEY_FILES` (PEM files still accepted),
//! `DEMO_USERS` (a number N: users `user1` ... `userN` besides the three below, password
//! `testPassword`, may read and write), `DPOP` (`off`, the default; `allowed`: a login with a DPoP proof binds its session to the
//! proof's key, RFC 9449; `required`: Bearer refused), `DPOP_NONCE_SECRET` (with `DPOP`:
//! server nonces, RFC 9449 §8, derived from this secret), `PUBLIC_URL` (the origin clients
//! use, default `http://` + `APP_ADDR`: a DPoP proof's `htu` must name it, and it is the
//! issuer URL), `AUDIENCE` (with an asymmetric key: the resource its access tokens are for, default
//! `http://127.0.0.1:3100`; the server is then an RFC 9068 issuer at `PUBLIC_URL`
//! with RFC 8414 metadata naming the refresh route as its `token_endpoint`), `APP_SECRET` (HS256 secret, at least 32 bytes;
//! random when unset), `REVOCATION_BUDGET` (revocations remembered at once; default
//! 100 000), `TOKEN_CACHE_BYTES` (verified-token cache budget, `0` for off; default 32 MiB),
//! `ALLOWED_ORIGINS` (comma-separated origins, such as `http://localhost:5173`, whose pages
//! may call the API: CORS with credentials for exactly those), `REFRESH_COOKIE=1` (the
//! refresh token in an `HttpOnly` cookie, rotating, for browser apps; needs
//! `ALLOWED_ORIGINS`), `REFRESH_COOKIE_SITE_WIDE=1` (the same in a site-wide `__Host-`
//! cookie, `Path=/`). Users `testUser`, `readOnlyUser`, `inactiveUser`, password
//! `testPassword`.

mod app;
mod backend;
#[path = "../common/env.rs"]
mod env;

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env::addr("127.0.0.1:3000");
    let keys = env::or_exit(env::keys());
    // An issuer other services find from its URL alone (RFC 8414), minting RFC 9068 access
    // tokens for `AUDIENCE`: with public keys only.
    let issuer = keys.algorithm().family() != jsonwebtoken::AlgorithmFamily::Hmac;
    let tuning = env::or_exit(app::Tuning::from_vars(env::var, &addr, issuer));
    if let Ok(metrics) = std::env::var("METRICS_ADDR") {
        // Prometheus text on any path of that address (the counters need `--features metrics`).
        let addr: std::net::SocketAddr = env::or_exit(metrics.parse());
        env::or_exit(
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .with_http_listener(addr)
                .install(),
        );
        eprintln!("metrics on http://{addr}/metrics");
    }
    let store = env::or_exit(backend::AnyBackend::from_env().await);
    let (app, _sessions) = env::or_exit(app::app_tuned(keys, tuning, store));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
