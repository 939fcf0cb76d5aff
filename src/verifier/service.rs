//! The verify-only middleware: access tokens checked against the issuer's keys, claims in
//! the request extensions, refusals as responses (RFC 6750, or gRPC statuses).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use super::{Checked, Shared, Wait};
use crate::error::AuthError;
use crate::http::{CheckFuture, LayerMark, ResponseBody, ResponseFuture, credentials, grpc};
use crate::routes::Route;

/// Wraps a service in [`VerifierService`]; made by [`Verifier::layer`](super::Verifier::layer).
#[must_use]
pub struct VerifierLayer<C> {
    shared: Arc<Shared>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> VerifierLayer<C> {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        VerifierLayer {
            shared,
            _claims: PhantomData,
        }
    }
}

impl<T, C> Layer<T> for VerifierLayer<C> {
    type Service = VerifierService<T, C>;

    fn layer(&self, inner: T) -> Self::Service {
        VerifierService {
            inner,
            shared: Arc::clone(&self.shared),
            _claims: PhantomData,
        }
    }
}

impl<C> Clone for VerifierLayer<C> {
    fn clone(&self) -> Self {
        VerifierLayer::new(Arc::clone(&self.shared))
    }
}

impl<C> fmt::Debug for VerifierLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierLayer").finish_non_exhaustive()
    }
}

/// Verifies access tokens against an issuer's published keys; made by [`VerifierLayer`].
/// Protected requests need `Authorization: Bearer <access token>`; the verified
/// [`Claims`](crate::Claims) go into the request extensions. 503 until the first keys arrive.
pub struct VerifierService<T, C> {
    inner: T,
    shared: Arc<Shared>,
    _claims: PhantomData<fn() -> C>,
}

impl<T, C> VerifierService<T, C> {
    crate::http::inner_service_accessors!();
}

impl<T, C, ReqBody, ResBody> Service<Request<ReqBody>> for VerifierService<T, C>
where
    T: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: DeserializeOwned + Send + Sync + 'static,
    ResBody: http_body::Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = T::Error;
    type Future = ResponseFuture<T::Future, T, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        if let Some(metadata) = &shared.metadata
            && metadata.serves(req.uri().path())
        {
            return ResponseFuture::answered(metadata.respond(req.method()));
        }
        let mut deferred = None;
        let verdict = match shared.routes.classify_request(&req) {
            Route::Protected => {
                let found = credentials(req.headers(), req.uri(), shared.dpop.is_some());
                let found = found.and_then(|found| {
                    found
                        .map(|(scheme, raw)| Ok((scheme, raw.as_str()?)))
                        .transpose()
                });
                match found {
                    Ok(Some((scheme, token))) => match shared.check::<C>(token) {
                        Checked::Done(verdict) => verdict.and_then(|claims| {
                            deferred = shared.bind(scheme, token, &claims, &req)?;
                            Ok(Some(claims))
                        }),
                        Checked::Wait(wait) => {
                            let check = after_wait::<C, _>(shared, scheme, token, wait, &req);
                            let clone = self.inner.clone();
                            let inner = std::mem::replace(&mut self.inner, clone);
                            return ResponseFuture::checking(check, inner, req);
                        }
                    },
                    Ok(None) if shared.optional => Ok(None),
                    Ok(None) => Err(AuthError::MissingCredentials),
                    Err(err) => Err(err),
                }
            }
            Route::Public | Route::Refresh | Route::Jwks | Route::IssuerMetadata => Ok(None),
        };
        match (verdict, deferred) {
            (Ok(Some(claims)), Some(proof)) => {
                req.extensions_mut().insert(claims);
                // The proof is recorded in the shared backend before the request goes on.
                let (shared, grpc) = (Arc::clone(shared), grpc::is_grpc(req.headers()));
                let check: CheckFuture = Box::pin(async move {
                    match shared.record(&proof).await {
                        Ok(()) => {
                            crate::telemetry::access_accepted();
                            Ok(http::Extensions::new())
                        }
                        Err(err) => {
                            crate::telemetry::access_refused(&err);
                            Err(crate::http::refusal(&err, grpc, |err| {
                                shared.renderer.render(err)
                            }))
                        }
                    }
                });
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                return ResponseFuture::checking(check, inner, req);
            }
            (Ok(Some(claims)), None) => {
                crate::telemetry::access_accepted();
                req.extensions_mut().insert(claims);
            }
            (Ok(None), _) => {
                crate::telemetry::access_anonymous();
                req.extensions_mut()
                    .insert(LayerMark(shared.renderer.clone()));
            }
            (Err(err), _) => {
                crate::telemetry::access_refused(&err);
                let grpc = grpc::is_grpc(req.headers());
                let response = crate::http::refusal(&err, grpc, |err| shared.renderer.render(err));
                return ResponseFuture::answered(response);
            }
        }
        // Called at once, while the service we were polled with is still ready: no clone.
        ResponseFuture::inner(self.inner.call(req))
    }
}

/// The rest of the request's checks once what its token waits for has ended (rare: a `kid`
/// the issuer has just published, no keys yet, or an introspection answer not cached):
/// verify, bind, record, and hand the claims back for the request's extensions.
fn after_wait<C: DeserializeOwned + Send + Sync + 'static, B>(
    shared: &Arc<Shared>,
    scheme: crate::dpop::TokenType,
    token: &str,
    wait: Wait,
    req: &Request<B>,
) -> CheckFuture {
    // What the DPoP checks read of the request, which goes on to the inner service.
    let mut head = Request::new(());
    *head.method_mut() = req.method().clone();
    *head.uri_mut() = req.uri().clone();
    *head.headers_mut() = req.headers().clone();
    let grpc = grpc::is_grpc(req.headers());
    let (shared, token) = (Arc::clone(shared), token.to_owned());
    Box::pin(async move {
        let verdict = async {
            let claims = shared.after_wait::<C>(&token, wait).await?;
            if let Some(proof) = shared.bind(scheme, &token, &claims, &head)? {
                shared.record(&proof).await?;
            }
            Ok(claims)
        };
        match verdict.await {
            Ok(claims) => {
                crate::telemetry::access_accepted();
                let mut extensions = http::Extensions::new();
                extensions.insert(claims);
                Ok(extensions)
            }
            Err(err) => {
                crate::telemetry::access_refused(&err);
                Err(crate::http::refusal(&err, grpc, |err| {
                    shared.renderer.render(err)
                }))
            }
        }
    })
}

impl<T: Clone, C> Clone for VerifierService<T, C> {
    fn clone(&self) -> Self {
        VerifierService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            _claims: PhantomData,
        }
    }
}

impl<T: fmt::Debug, C> fmt::Debug for VerifierService<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
