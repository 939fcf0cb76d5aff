//! The [`tower_layer::Layer`] that wraps an app in [`SessionService`].

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::SessionService;
use crate::access::Shared;

/// Wraps a service in [`SessionService`]; made by [`Sessions::layer`](crate::Sessions::layer).
#[must_use]
pub struct SessionLayer<S, U = S> {
    shared: Arc<Shared<S, U>>,
}

impl<S, U> SessionLayer<S, U> {
    pub(crate) fn from_shared(shared: Arc<Shared<S, U>>) -> Self {
        SessionLayer { shared }
    }
}

impl<T, S, U> Layer<T> for SessionLayer<S, U> {
    type Service = SessionService<T, S, U>;

    fn layer(&self, inner: T) -> Self::Service {
        SessionService::from_shared(inner, Arc::clone(&self.shared))
    }
}

impl<S, U> Clone for SessionLayer<S, U> {
    fn clone(&self) -> Self {
        SessionLayer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, U> fmt::Debug for SessionLayer<S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer").finish_non_exhaustive()
    }
}
