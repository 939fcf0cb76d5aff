//! Step-up authentication (RFC 9470): a route that needs a stronger or a more recent
//! authentication of the user than the token shows answers 401
//! `insufficient_user_authentication` with `acr_values` and `max_age`, and the client sends
//! the user back to the authorization server with them.
//!
//! ```
//! use std::time::Duration;
//! use tower::ServiceBuilder;
//! use tower_jwt_sessions::step_up::{RequireStepUpLayer, StepUp};
//! use tower_jwt_sessions::StandardClaims;
//!
//! let mfa_lately = StepUp::new().acr("urn:example:mfa").max_age(Duration::from_secs(300));
//! let purge = ServiceBuilder::new()
//!     .layer(RequireStepUpLayer::<StandardClaims>::new(mfa_lately)?)
//!     .service(tower::service_fn(|_req: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("purged")))
//!     }));
//! # Ok::<(), tower_jwt_sessions::ConfigError>(())
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{AuthError, ConfigError};
use crate::http::{ResponseBody, ResponseFuture};
use crate::standard_claims::StandardClaims;
use crate::token::Claims;

/// Claims that say how and when the user authenticated (OpenID Connect's `acr` and
/// `auth_time`, RFC 9068 §2.2.1), for [`StepUp`].
pub trait HasAuthentication {
    /// The authentication context class the user met (`acr`).
    fn acr(&self) -> Option<&str>;
    /// When the user authenticated, in seconds since the Unix epoch (`auth_time`).
    fn auth_time(&self) -> Option<u64>;
}

impl HasAuthentication for StandardClaims {
    fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }

    fn auth_time(&self) -> Option<u64> {
        self.auth_time
    }
}

/// What a request needs of the user's authentication: an `acr` among those named (exactly,
/// as RFC 9470 §3 compares), and an `auth_time` no older than `max_age`. A token without
/// `auth_time` where a max age is required falls short, as does one whose `auth_time` is in
/// the future beyond the leeway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct StepUp {
    acr_values: Vec<String>,
    max_age: Option<Duration>,
    leeway: Duration,
}

impl StepUp {
    /// No requirement yet; add [`acr`](Self::acr) values and a [`max_age`](Self::max_age).
    /// The leeway for `auth_time` is the verifier's default,
    /// [`defaults::LEEWAY`](crate::defaults::LEEWAY).
    pub fn new() -> Self {
        StepUp {
            acr_values: Vec::new(),
            max_age: None,
            leeway: crate::defaults::LEEWAY,
        }
    }

    /// An acceptable authentication context class; call once per value (any one passes).
    pub fn acr(mut self, acr: impl Into<String>) -> Self {
        self.acr_values.push(acr.into());
        self
    }

    /// The greatest age of the user's authentication, in whole seconds (as `auth_time` is).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Clock-skew leeway for `auth_time`; give the verifier's if you changed it there.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The acceptable `acr` values, space-separated, as the challenge names them.
    pub(crate) fn acr_values(&self) -> Option<String> {
        (!self.acr_values.is_empty()).then(|| self.acr_values.join(" "))
    }

    /// Whether the configuration can be met: whole seconds, a leeway within bounds.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.max_age.is_some_and(|age| age.subsec_nanos() != 0) {
            return Err(ConfigError::FractionalSeconds {
                setting: "StepUp::max_age",
            });
        }
        if self.leeway > crate::limits::MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                max: crate::limits::MAX_LEEWAY,
            });
        }
        Ok(())
    }

    /// `Ok` when `claims` meet the rule at `now` (seconds since the epoch), else the 401 to
    /// answer with.
    pub(crate) fn verify(
        &self,
        claims: &impl HasAuthentication,
        now: u64,
    ) -> Result<(), AuthError> {
        let acr_ok = self.acr_values.is_empty()
            || claims
                .acr()
                .is_some_and(|acr| self.acr_values.iter().any(|v| v == acr));
        let leeway = self.leeway.as_secs();
        let recent = match self.max_age {
            None => true,
            Some(max_age) => claims.auth_time().is_some_and(|at| {
                at <= now.saturating_add(leeway)
                    && now <= at.saturating_add(max_age.as_secs()).saturating_add(leeway)
            }),
        };
        if acr_ok && recent {
            return Ok(());
        }
        Err(self.refusal(None))
    }

    /// The 401 of a token that falls short; `scope` names what the request needs besides.
    pub(crate) fn refusal(&self, scope: Option<String>) -> AuthError {
        AuthError::InsufficientUserAuthentication {
            acr_values: self.acr_values().map(Into::into),
            max_age: self.max_age.map(|age| age.as_secs()),
            scope: scope.map(Into::into),
        }
    }
}

/// Lets through only requests whose verified [`Claims<C>`](Claims) meet a [`StepUp`]; put
/// it inside the session or verifier layer, around the routes that need it (as
/// [`RequireScopeLayer`](crate::RequireScopeLayer)). A token that falls short is 401
/// `insufficient_user_authentication` (a `DPoP` challenge for a DPoP-bound token), gRPC
/// `UNAUTHENTICATED`; a request without claims is the layer's 401.
#[must_use]
pub struct RequireStepUpLayer<C> {
    step_up: StepUp,
    _claims: PhantomData<fn() -> C>,
}

impl<C> RequireStepUpLayer<C> {
    /// Requires `step_up` of the claims of type `C`; a fraction of a second in its max age
    /// is an error.
    pub fn new(step_up: StepUp) -> Result<Self, ConfigError> {
        step_up.check()?;
        Ok(RequireStepUpLayer {
            step_up,
            _claims: PhantomData,
        })
    }
}

impl<T, C> Layer<T> for RequireStepUpLayer<C> {
    type Service = RequireStepUp<T, C>;

    fn layer(&self, inner: T) -> Self::Service {
        RequireStepUp {
            inner,
            step_up: self.step_up.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> Clone for RequireStepUpLayer<C> {
    fn clone(&self) -> Self {
        RequireStepUpLayer {
            step_up: self.step_up.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> fmt::Debug for RequireStepUpLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireStepUpLayer")
            .field("step_up", &self.step_up)
            .finish()
    }
}

/// The service of [`RequireStepUpLayer`].
pub struct RequireStepUp<T, C> {
    inner: T,
    step_up: StepUp,
    _claims: PhantomData<fn() -> C>,
}

impl<T, C> RequireStepUp<T, C> {
    crate::http::inner_service_accessors!();
}

impl<T, C, ReqBody, ResBody> Service<Request<ReqBody>> for RequireStepUp<T, C>
where
    T: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: HasAuthentication + Send + Sync + 'static,
    ResBody: http_body::Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = T::Error;
    type Future = ResponseFuture<T::Future, T, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let step_up = &self.step_up;
        let rule = |claims: &Claims<C>| step_up.verify(&**claims, crate::clock::unix_now());
        match crate::http::check_claims(&req, rule) {
            None => ResponseFuture::inner(self.inner.call(req)),
            Some(response) => ResponseFuture::answered(response),
        }
    }
}

impl<T: Clone, C> Clone for RequireStepUp<T, C> {
    fn clone(&self) -> Self {
        RequireStepUp {
            inner: self.inner.clone(),
            step_up: self.step_up.clone(),
            _claims: PhantomData,
        }
    }
}

impl<T: fmt::Debug, C> fmt::Debug for RequireStepUp<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireStepUp")
            .field("inner", &self.inner)
            .field("step_up", &self.step_up)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorRenderer;
    use crate::http::grpc;

    fn claims(acr: Option<&str>, auth_time: Option<u64>) -> StandardClaims {
        StandardClaims {
            acr: acr.map(str::to_owned),
            auth_time,
            ..StandardClaims::default()
        }
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn acr_matches_exactly_one_of_the_values() {
        let rule = StepUp::new().acr("urn:example:mfa").acr("urn:example:hwk");
        assert_eq!(
            rule.verify(&claims(Some("urn:example:mfa"), None), NOW),
            Ok(())
        );
        assert_eq!(
            rule.verify(&claims(Some("urn:example:hwk"), None), NOW),
            Ok(())
        );
        for short in [
            None,
            Some("urn:example:MFA"),
            Some("urn:example:mfa "),
            Some(""),
        ] {
            let err = rule.verify(&claims(short, None), NOW).unwrap_err();
            assert_eq!(
                err,
                AuthError::InsufficientUserAuthentication {
                    acr_values: Some("urn:example:mfa urn:example:hwk".into()),
                    max_age: None,
                    scope: None,
                },
                "{short:?}"
            );
        }
    }

    #[test]
    fn auth_time_is_within_max_age_and_the_leeway_and_required() {
        let rule = StepUp::new().max_age(Duration::from_secs(300));
        let at = |t| rule.verify(&claims(None, t), NOW).is_ok();
        assert!(at(Some(NOW)));
        assert!(at(Some(NOW - 300)));
        // The leeway (5 s by default) on both sides.
        assert!(at(Some(NOW - 305)));
        assert!(!at(Some(NOW - 306)));
        assert!(at(Some(NOW + 5)));
        assert!(!at(Some(NOW + 6)));
        assert!(!at(None));
        assert!(!at(Some(0)));
        assert!(!at(Some(u64::MAX)));
        let strict = rule.clone().leeway(Duration::ZERO);
        assert!(strict.verify(&claims(None, Some(NOW - 301)), NOW).is_err());
    }

    #[test]
    fn the_challenge_names_acr_values_and_max_age() {
        let rule = StepUp::new()
            .acr("urn:example:mfa")
            .max_age(Duration::from_secs(300));
        let err = rule
            .verify(&claims(Some("pwd"), Some(NOW)), NOW)
            .unwrap_err();
        let response = ErrorRenderer::default().render(&err);
        assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"insufficient_user_authentication\", error_description=\"a stronger \
             or more recent authentication of the user is required\", \
             acr_values=\"urn:example:mfa\", max_age=\"300\""
        );
        assert_eq!(grpc::status_code(&err), "16");
    }

    #[test]
    fn a_fraction_of_a_second_is_refused() {
        let fraction = StepUp::new().max_age(Duration::from_millis(1500));
        assert!(RequireStepUpLayer::<StandardClaims>::new(fraction).is_err());
    }
}
