//! JWT sessions for any tower server (axum, tonic, warp, hyper) in one [`Layer`](tower_layer::Layer).
//!
//! - Protected requests carry `Authorization: Bearer <access token>`; the layer verifies it
//!   (algorithm fixed by you, `exp`/`nbf`/`iss`/`aud`, explicit `typ`) and puts the typed
//!   [`Claims`] into the request extensions.
//! - `POST /sessions/refresh/` is answered by the layer: a refresh token in, `{"access_token"}`
//!   out, after checking its session through a moka cache in front of your [`SessionBackend`].
//! - Your login handler calls [`Sessions::create`]; [`Sessions::revoke`] ends a session at once.
//! - Every refusal is an RFC 6750 response (401 + `WWW-Authenticate`, 400, 403, 503); no token
//!   or secret ever reaches `Debug` output or logs.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt_sessions::{Claims, Keys, MachinableClaims, MachinableUser, SessionMeta, Sessions};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let sessions = Sessions::builder(Keys::hs256(b"a secret of at least thirty-two bytes!")?).build()?;
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
//! Cargo features: `aws-lc-rs` (default crypto backend), `rust-crypto` (pure Rust instead),
//! `tracing` (default; debug-level events for refusals), `axum` (extractors in the `axum`
//! module).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]

macro_rules! debug_event {
    ($($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::debug!($($arg)*);
        #[cfg(not(feature = "tracing"))]
        {
            let _ = format_args!($($arg)*);
        }
    }};
}
pub(crate) use debug_event;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod clock;
mod error;
mod keys;
mod machinable;
mod refresh;
mod routes;
mod scope;
mod service;
mod sessions;
mod shared;
mod store;
mod token;

pub use error::{AuthError, ConfigError, ErrorRenderer};
pub use jsonwebtoken::Algorithm;
pub use keys::{Keys, MIN_HMAC_SECRET_LEN};
pub use machinable::{MachinableClaims, MachinableUser, scopes};
pub use scope::Scope;
pub use service::{ResponseBody, ResponseFuture, SessionLayer, SessionService};
pub use sessions::{
    DEFAULT_ACCESS_TTL, DEFAULT_BACKEND_TIMEOUT, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL,
    DEFAULT_LEEWAY, DEFAULT_MAX_BACKEND_CALLS, DEFAULT_REFRESH_PATH, DEFAULT_REFRESH_TTL,
    DEFAULT_TOKEN_CACHE_BYTES, DEFAULT_TOUCH_DEBOUNCE, IssuedTokens, MAX_LEEWAY, SessionError,
    Sessions, SessionsBuilder,
};
pub use store::MemoryBackend;
pub use token::Claims;
pub use tower_jwt_sessions_core::{
    BackendError, RotatingStore, Session, SessionMeta, SessionStore, UserClaims, Users,
};
