//! axum 0.8 integration (feature `axum`): extractors ([`Claims`] itself, `Option<Claims<C>>`
//! for optional authentication, [`Require`] for a permission) and
//! [`Sessions::axum_layer`](crate::Sessions::axum_layer), the layer whose responses are axum's
//! own `Body`.
//!
//! ```
//! use axum::Router;
//! use axum::routing::{get, post};
//! use tower_jwt_sessions::axum::Require;
//! use tower_jwt_sessions::scopes::Write;
//! use tower_jwt_sessions::{Claims, Keys, MachinableClaims, MemoryBackend, Sessions};
//!
//! async fn me(claims: Claims<MachinableClaims>) -> String {
//!     claims.user.name.clone()
//! }
//! async fn greeting(claims: Option<Claims<MachinableClaims>>) -> String {
//!     claims.map_or("hello, stranger".into(), |c| format!("hello, {}", c.user.name))
//! }
//! async fn create_pet(claims: Require<Write>) -> String {
//!     claims.subject().to_owned()
//! }
//!
//! let memory = MemoryBackend::<MachinableClaims>::new();
//! let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
//! let sessions = Sessions::builder(keys, memory.clone(), memory)
//!     .public_path("/greeting")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/greeting", get(greeting))
//!     .route("/pets", post(create_pet))
//!     .layer(sessions.axum_layer());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On a public route, or in optional mode without a token, `Claims` answers the layer's 401
//! and `Option<Claims>` is `None`. Without the layer at all, both answer a 500 that says so.
//!
//! # A browser app on another origin (CORS)
//!
//! Put tower-http's `CorsLayer` outermost, around the session layer: it answers the
//! preflights itself and adds its headers to every answer, the session layer's 401s and
//! 503s included, so that the page can read a refusal (and tell "signed out" from "network
//! down") instead of seeing a network error. Allow the `Authorization` header (and the CSRF
//! header of [`RefreshCookie::csrf_header`](crate::RefreshCookie::csrf_header), if you use
//! one), allow credentials when the refresh token travels in the cookie, and expose
//! `WWW-Authenticate` and `Retry-After`. The session layer itself never refuses a preflight
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`, which carries no
//! credentials): it passes it on without claims, so a `CorsLayer` inside it answers too,
//! but its own refusals would then carry no CORS headers.
//!
//! ```
//! use axum::body::Body;
//! use axum::routing::get;
//! use axum::Router;
//! use http::{HeaderValue, Method, Request, StatusCode, header};
//! use tower::{Layer, ServiceExt};
//! use tower_http::cors::CorsLayer;
//! use tower_jwt_sessions::{Keys, MachinableClaims, MemoryBackend, RefreshCookie, Sessions};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let page = "https://app.example";
//! let memory = MemoryBackend::<MachinableClaims>::new();
//! let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
//! let sessions = Sessions::builder(keys, memory.clone(), memory)
//!     .refresh_cookie(RefreshCookie::new().allowed_origin(page))
//!     .build()?;
//! let cors = CorsLayer::new()
//!     .allow_origin(HeaderValue::from_static(page))
//!     .allow_credentials(true)
//!     .allow_methods([Method::GET, Method::POST, Method::DELETE])
//!     .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
//!     .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER]);
//! let routes = Router::new().route("/me", get(|| async { "me" }));
//! // CORS, then the session layer, then the routes.
//! let app = Router::new().fallback_service(cors.layer(sessions.axum_layer().layer(routes)));
//!
//! let preflight = Request::options("/me")
//!     .header(header::ORIGIN, page)
//!     .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
//!     .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
//!     .body(Body::empty())?;
//! let res = app.clone().oneshot(preflight).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], page);
//!
//! // The page reads the layer's refusal.
//! let anonymous = Request::get("/me").header(header::ORIGIN, page).body(Body::empty())?;
//! let res = app.oneshot(anonymous).await?;
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], page);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;

mod layer;

pub use layer::{AxumFuture, AxumLayer, AxumService};

use crate::error::AuthError;
use crate::http::LayerMark;
use crate::scope::Scope;
use crate::token::Claims;

const LAYER_MISSING: &str = "tower-jwt-sessions: no claims in the request extensions and the \
SessionLayer did not see this request. Add `sessions.layer()` around this route (or the whole \
router), and check that the handler's claim type is the backend's `Claims` type.";

/// Why a [`Claims`] or [`Require`] extractor refused: the layer's own 401/403 response, or a
/// 500 saying plainly that the layer is not installed.
pub struct ClaimsRejection {
    response: Option<http::Response<Bytes>>,
}

impl ClaimsRejection {
    fn layer_missing() -> Self {
        ClaimsRejection { response: None }
    }

    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        self.response
            .as_ref()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |r| r.status())
    }
}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        match self.response {
            Some(response) => response.map(Body::from),
            None => (StatusCode::INTERNAL_SERVER_ERROR, LAYER_MISSING).into_response(),
        }
    }
}

impl fmt::Debug for ClaimsRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimsRejection")
            .field("status", &self.status())
            .finish()
    }
}

impl fmt::Display for ClaimsRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.response {
            Some(_) => write!(f, "request refused with {}", self.status()),
            None => f.write_str(LAYER_MISSING),
        }
    }
}

impl std::error::Error for ClaimsRejection {}

impl IntoResponse for AuthError {
    /// The crate's default rendering (no realm); use
    /// [`Sessions::error_response`](crate::Sessions::error_response) for a custom renderer.
    fn into_response(self) -> Response {
        self.to_response(None).map(Body::from)
    }
}

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims<C>>() {
            return Ok(claims.clone());
        }
        match parts.extensions.get::<LayerMark>() {
            Some(LayerMark(renderer)) => Err(ClaimsRejection {
                response: Some(renderer.render(&AuthError::MissingCredentials)),
            }),
            None => Err(ClaimsRejection::layer_missing()),
        }
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims<C>>() {
            return Ok(Some(claims.clone()));
        }
        match parts.extensions.get::<LayerMark>() {
            Some(_) => Ok(None),
            None => Err(ClaimsRejection::layer_missing()),
        }
    }
}

/// Extracts the [`Claims`] only if they carry the permission `P`; 403
/// `insufficient_scope` (rendered as the layer renders) otherwise.
///
/// Dereferences to the claims.
pub struct Require<P: Scope> {
    claims: Claims<P::Claims>,
    _scope: PhantomData<fn() -> P>,
}

impl<P: Scope> Require<P> {
    /// The claims, which carry `P`.
    pub fn into_claims(self) -> Claims<P::Claims> {
        self.claims
    }
}

impl<P: Scope> Deref for Require<P> {
    type Target = Claims<P::Claims>;

    fn deref(&self) -> &Claims<P::Claims> {
        &self.claims
    }
}

impl<P: Scope> fmt::Debug for Require<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("scope", &P::NAME)
            .finish_non_exhaustive()
    }
}

impl<S, P> FromRequestParts<S> for Require<P>
where
    S: Send + Sync,
    P: Scope,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims =
            <Claims<P::Claims> as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        match claims.require::<P>() {
            Ok(()) => Ok(Require {
                claims,
                _scope: PhantomData,
            }),
            Err(err) => Err(ClaimsRejection {
                response: Some(claims.render(&err)),
            }),
        }
    }
}
