//! The [`tower_layer::Layer`] that wraps an app in [`SessionService`].

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::service::SessionService;
use crate::sessions::Shared;

/// Wraps a service in [`SessionService`]; made by [`Sessions::layer`](crate::Sessions::layer).
#[must_use]
pub struct SessionLayer<B> {
    shared: Arc<Shared<B>>,
}

impl<B> SessionLayer<B> {
    pub(crate) fn from_shared(shared: Arc<Shared<B>>) -> Self {
        SessionLayer { shared }
    }
}

impl<S, B> Layer<S> for SessionLayer<B> {
    type Service = SessionService<S, B>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::from_shared(inner, Arc::clone(&self.shared))
    }
}

impl<B> Clone for SessionLayer<B> {
    fn clone(&self) -> Self {
        SessionLayer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<B> fmt::Debug for SessionLayer<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer").finish_non_exhaustive()
    }
}
