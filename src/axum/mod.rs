//! axum 0.8 integration (feature `axum`): extractors ([`Claims`] itself, `Option<Claims<C>>`
//! for optional authentication, [`Require`] for a permission) and
//! [`Sessions::axum_layer`](crate::Sessions::axum_layer), the layer whose responses are axum's
//! own `Body`.
//!
//! ```
//! use axum::Router;
//! use axum::routing::{get, post};
//! use tower::Layer;
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
//! let routes = Router::new()
//!     .route("/me", get(me))
//!     .route("/greeting", get(greeting))
//!     .route("/pets", post(create_pet));
//! // The layer around the whole router: it sees every request before routing.
//! let app: Router = Router::new().fallback_service(sessions.axum_layer().layer(routes));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Mount the layer around the whole router, as above, rather than with `Router::layer`,
//! which runs it after routing, on each route added before it: a route added later would go
//! unguarded, and a route pattern that matches the refresh path (`/sessions/{id}`) would add
//! its own `Allow` header to the layer's refresh answer. Either way the layer answers the
//! refresh route itself. A page on another origin needs CORS outside this layer: see the
//! [browser guide](crate::guide::browser).
//!
//! On a public route, or in optional mode without a token, `Claims` answers the layer's 401
//! and `Option<Claims>` is `None`. Without the layer at all, both answer a 500 that says so.

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
SessionLayer did not see this request. Wrap the whole router in `sessions.axum_layer()` \
(`Router::new().fallback_service(sessions.axum_layer().layer(router))`), and check that the \
handler's claim type is the user directory's `Claims` type.";

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
