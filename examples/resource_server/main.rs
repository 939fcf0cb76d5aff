//! A resource server: verifies access tokens of one or more issuers with their published keys;
//! holds no secret and no session backend.
//!
//! - `ISSUER_URL`: one issuer URL, or several comma-separated (any OAuth 2.0 authorization
//!   server or OpenID provider, found by discovery; RFC 9068 access tokens). The example
//!   server is one when it signs with an asymmetric key (`APP_ALG`, `APP_KEY_FILE`).
//! - `PUBLIC_URL`: the origin clients reach this server at (default `http://` + `APP_ADDR`):
//!   a DPoP proof's `htu` must name it, whatever `Host` a client sends.
//! - `AUDIENCE`: this resource's identifier, which those tokens must name in `aud`
//!   (default `PUBLIC_URL`).
//! - `JWKS_URL`, when `ISSUER_URL` is not set: the example server's own tokens, from its JWKS
//!   document (default `http://127.0.0.1:3000/.well-known/jwks.json`), naming `AUDIENCE`.
//! - `DPOP`: `off` (the default), `allowed` or `required`, for tokens bound to a key (RFC
//!   9449); `DPOP_NONCE_SECRET` with it: server nonces (§8), derived from this secret.
//! - `INTROSPECTION_CLIENT_ID` with `INTROSPECTION_CLIENT_SECRET` (`client_secret_basic`) or
//!   `INTROSPECTION_KEY_FILE` (`private_key_jwt`, a PEM private key: RS256, ES256 or EdDSA by
//!   its kind): opaque tokens are introspected (RFC 7662) at the first issuer of
//!   `ISSUER_URL`, whose metadata names the endpoint. `INTROSPECT=always` introspects its
//!   JWTs too. `INTROSPECTION_TTL`: seconds an active answer is trusted (default 60; 0 asks
//!   the issuer every time).
//! - `APP_ADDR` (default `127.0.0.1:3100`).
//!
//! Routes: `GET /health` (no token); `GET /me` (`sub`, `iss`, `client_id`, `scope`, ... of the
//! token); `GET /api/read` (scope `read`); `POST /api/write` (scope `write`); `GET
//! /.well-known/oauth-protected-resource` (RFC 9728). An unreachable issuer is a warning: its
//! tokens get 503 until its keys arrive.
//!
//! `cargo run --example resource_server --features jwks`

#[path = "../common/env.rs"]
mod env;

use axum::routing::{get, post};
use axum::{Json, Router};
use tower_jwt_sessions::axum::Require;
use tower_jwt_sessions::verifier::{Introspection, Issuer, ResourceMetadata};
use tower_jwt_sessions::{Algorithm, Claims, ConfigError, Keys, StandardClaims, Verifier};

tower_jwt_sessions::oauth_scope!(
    /// Scope `read`.
    pub Read = "read"
);
tower_jwt_sessions::oauth_scope!(
    /// Scope `write`.
    pub Write = "write"
);

/// The resource server's routes behind the verifier (shared with the tests).
pub fn app(verifier: &Verifier<StandardClaims>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/me", get(me))
        .route(
            "/api/read",
            get(|_: Require<Read>| async { Json(serde_json::json!({"read": true})) }),
        )
        .route(
            "/api/write",
            post(|_: Require<Write>| async { Json(serde_json::json!({"written": true})) }),
        )
        .layer(verifier.layer())
}

/// The token's claims, with `sub`, `iss`, `client_id` and `scope` always named (`null` when
/// the token has none).
async fn me(claims: Claims<StandardClaims>) -> Json<serde_json::Value> {
    let mut body = serde_json::to_value(claims.custom()).unwrap_or_default();
    if let Some(fields) = body.as_object_mut() {
        for name in ["sub", "iss", "client_id", "scope"] {
            fields.entry(name).or_insert(serde_json::Value::Null);
        }
    }
    Json(body)
}

/// The verifier the environment (`var`) describes: `ISSUER_URL` (comma-separated) and
/// `AUDIENCE`, else the example server's `JWKS_URL`.
pub fn verifier(
    var: &impl Fn(&str) -> Option<String>,
    addr: &str,
) -> Result<Verifier<StandardClaims>, String> {
    let public_url = env::public_url(var, addr)?;
    let audience = var("AUDIENCE").unwrap_or_else(|| public_url.clone());
    let mut builder = Verifier::<StandardClaims>::builder().public_path("/health");
    if let Some(dpop) = env::dpop(var, &public_url)? {
        builder = builder.dpop(dpop);
    }
    let mut introspection = introspection(var)?;
    match var("ISSUER_URL") {
        Some(issuers) => {
            for issuer in issuers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let mut issuer = Issuer::new(issuer).audience(&audience);
                // The first issuer introspects (opaque tokens name none).
                if let Some(introspection) = introspection.take() {
                    issuer = issuer.introspection(introspection);
                }
                builder = builder.issuer(issuer);
            }
            builder = builder.resource_metadata(
                ResourceMetadata::new(&audience).scopes_supported(["read", "write"]),
            );
        }
        None => {
            if introspection.is_some() {
                return Err("INTROSPECTION_CLIENT_ID needs ISSUER_URL".to_owned());
            }
            let url = var("JWKS_URL")
                .unwrap_or_else(|| "http://127.0.0.1:3000/.well-known/jwks.json".to_owned());
            // The example server's tokens name the resource they are for.
            builder = builder.issuer(Issuer::sessions(url).audience(&audience));
        }
    }
    builder.build().map_err(|err: ConfigError| err.to_string())
}

/// `INTROSPECTION_CLIENT_ID` with `INTROSPECTION_CLIENT_SECRET` or `INTROSPECTION_KEY_FILE`,
/// `INTROSPECT` and `INTROSPECTION_TTL`.
fn introspection(var: &impl Fn(&str) -> Option<String>) -> Result<Option<Introspection>, String> {
    let Some(client_id) = var("INTROSPECTION_CLIENT_ID").filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    let introspection = match (
        var("INTROSPECTION_CLIENT_SECRET"),
        var("INTROSPECTION_KEY_FILE"),
    ) {
        (Some(secret), None) => Introspection::client_secret_basic(client_id, secret),
        (None, Some(file)) => {
            let pem =
                std::fs::read(&file).map_err(|e| format!("INTROSPECTION_KEY_FILE={file}: {e}"))?;
            let keys = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA]
                .into_iter()
                .find_map(|alg| Keys::from_private_pem(alg, &pem).ok())
                .ok_or_else(|| {
                    format!("INTROSPECTION_KEY_FILE={file}: not a PEM RSA, EC P-256 or Ed25519 private key")
                })?;
            Introspection::private_key_jwt(client_id, keys)
        }
        _ => {
            return Err(
                "INTROSPECTION_CLIENT_ID needs INTROSPECTION_CLIENT_SECRET or INTROSPECTION_KEY_FILE (one of them)"
                    .to_owned(),
            );
        }
    };
    let always = match var("INTROSPECT").as_deref() {
        None | Some("") | Some("opaque") => false,
        Some("always") => true,
        Some(other) => return Err(format!("INTROSPECT={other} is not `always` or `opaque`")),
    };
    let ttl = match var("INTROSPECTION_TTL") {
        None => tower_jwt_sessions::defaults::INTROSPECTION_TTL,
        Some(secs) => secs
            .parse()
            .map(std::time::Duration::from_secs)
            .map_err(|_| format!("INTROSPECTION_TTL={secs} is not a number of seconds"))?,
    };
    Ok(Some(introspection.always(always).ttl(ttl)))
}

#[tokio::main]
#[allow(dead_code)] // the tests include this file for `app` and `verifier`
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env::addr("127.0.0.1:3100");
    let verifier = env::or_exit(verifier(&env::var, &addr));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    if !verifier.has_keys() {
        eprintln!(
            "warning: not every issuer's keys are here yet; its tokens get 503 until they arrive"
        );
    }
    axum::serve(listener, app(&verifier)).await?;
    Ok(())
}
