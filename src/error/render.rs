//! The app's hook to change how refusals look.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;

use super::AuthError;

/// Turns an [`AuthError`] into the response the client gets.
///
/// The default is [`AuthError::to_response`]; replace it with
/// [`SessionsBuilder::error_renderer`](crate::SessionsBuilder::error_renderer) to change the
/// body format. The renderer is called only for refusals, never on the success path.
#[derive(Clone)]
pub struct ErrorRenderer {
    render: Arc<RenderFn>,
}

type RenderFn = dyn Fn(&AuthError) -> Response<Bytes> + Send + Sync;

impl ErrorRenderer {
    /// Wraps a rendering function.
    pub fn new(render: impl Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static) -> Self {
        ErrorRenderer {
            render: Arc::new(render),
        }
    }

    /// The crate's default rendering, with an optional realm in every challenge.
    pub fn default_with_realm(realm: Option<String>) -> Self {
        ErrorRenderer::new(move |err| err.to_response(realm.as_deref()))
    }

    /// Renders one error.
    pub fn render(&self, err: &AuthError) -> Response<Bytes> {
        (self.render)(err)
    }
}

impl Default for ErrorRenderer {
    fn default() -> Self {
        ErrorRenderer::default_with_realm(None)
    }
}

impl fmt::Debug for ErrorRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRenderer").finish_non_exhaustive()
    }
}
