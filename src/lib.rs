//! JWT sessions for any tower server (axum, tonic, warp, hyper) in one [`Layer`](tower_layer::Layer).
//!
//! The layer verifies `Authorization: Bearer <access token>` (algorithm fixed by your keys,
//! `exp`/`nbf`/`iss`/`aud`, explicit `typ`) and puts the typed [`Claims`] into the request
//! extensions. It answers the refresh route itself (`POST /sessions/refresh/`, Machinable's
//! Bearer form or RFC 6749's `grant_type=refresh_token`), checking each session through a
//! cache in front of your [`SessionBackend`]. Your login handler calls [`Sessions::create`];
//! [`Sessions::revoke`] ends a session, its access tokens included, on every instance that
//! shares a backend with a revocation feed (Redis, Postgres). Every refusal is an RFC 6750
//! response (401 with `WWW-Authenticate`, 400, 403; 503, never 401, when the backend is
//! down). `Verifier` (feature `jwks`) is a resource server for the tokens of any issuer;
//! DPoP (RFC 9449) binds tokens to a client's key.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt_sessions::{
//!     Claims, Keys, MachinableClaims, MachinableUser, MemoryBackend, SessionMeta, Sessions,
//! };
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let memory = MemoryBackend::<MachinableClaims>::new();
//! let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
//! let sessions = Sessions::builder(keys, memory.clone(), memory)
//!     .build()?;
//! let app = ServiceBuilder::new().layer(sessions.layer()).service(service_fn(
//!     |req: Request<String>| async move {
//!         let claims = req.extensions().get::<Claims<MachinableClaims>>().unwrap();
//!         Ok::<_, std::convert::Infallible>(Response::new(claims.user.name.clone()))
//!     },
//! ));
//!
//! let user = MachinableUser { id: "u1".into(), name: "testUser".into(), active: true,
//!                             read: true, write: true, kind: "project".into() };
//! let issued = sessions.create("u1", &MachinableClaims::new("pet-demo", user), SessionMeta::default()).await?;
//!
//! let req = Request::get("/me")
//!     .header("authorization", format!("Bearer {}", issued.access_token))
//!     .body(String::new())?;
//! assert_eq!(app.clone().oneshot(req).await?.status(), StatusCode::OK);
//!
//! let anonymous = Request::get("/me").body(String::new())?;
//! assert_eq!(app.oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Guides
//!
//! Each job is explained once, in a guide (also readable as `docs/*.md` in the repository):
//!
//! - [Sessions and the refresh route](guide::sessions): login, refresh (both forms),
//!   revocation, rotation, keys that change, configuration.
//! - [A resource server for any issuer](guide::resource_server): `Verifier`, scopes, this
//!   crate's layer as an RFC 9068 issuer.
//! - [Protecting an MCP server](guide::mcp): per-tool scopes, step-up (RFC 9470), the MCP
//!   authorization profile.
//! - [DPoP](guide::dpop): tokens bound to a client's key, on both sides.
//! - [Browser apps](guide::browser): the refresh token in a cookie, and CORS.
//! - [Backends and scale](guide::backends): Redis, Redis Cluster, Postgres, writing your own.
//! - [Operations](guide::operations): metrics, spans, logs, memory bounds.
//! - [Security model and limits](guide::security).
//! - [The example servers](guide::examples): their routes and settings.
//!
//! Cargo features are listed once, in the README's feature table; every item behind a
//! feature says which.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]
// Library code answers every input without panicking; its unit tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod access;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod capability;
mod clock;
pub mod cookie;
pub mod defaults;
pub mod dpop;
mod error;
pub mod guide;
mod http;
mod keys;
pub mod limits;
mod machinable;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub mod mcp;
mod refresh;
mod routes;
mod scope;
mod service;
mod sessions;
mod standard_claims;
pub mod step_up;
mod store;
mod telemetry;
mod timer;
mod token;
mod user_cache;
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub mod verifier;
mod well_known;

pub use self::http::{ResponseBody, ResponseFuture};
pub use cookie::RefreshCookie;
pub use dpop::Dpop;
pub use error::{AuthError, ConfigError, ErrorRenderer};
pub use jsonwebtoken::Algorithm;
pub use keys::Keys;
pub use machinable::{MachinableClaims, MachinableUser, scopes};
pub use scope::{RequireScope, RequireScopeLayer, Scope};
pub use service::{SessionLayer, SessionService};
pub use sessions::{IssuedTokens, SessionError, Sessions, SessionsBuilder};
pub use standard_claims::{HasScopes, Scopes, StandardClaims};
pub use store::MemoryBackend;
pub use token::Claims;
pub use tower_jwt_sessions_core::{
    BackendError, ReplayBackend, RevocationSink, RotatingBackend, Session, SessionBackend,
    SessionMeta, UserClaims, Users,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use tower_jwt_sessions_postgres::{PostgresBackend, PostgresBackendBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use tower_jwt_sessions_redis::{
    RedisBackend, RedisBackendBuilder, RedisClusterBackend, RedisClusterBackendBuilder,
};
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub use verifier::{Verifier, VerifierBuilder};
