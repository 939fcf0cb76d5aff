//! The one error a backend or user directory reports: it failed.

use std::fmt;

/// The backend failed: unreachable, timed out, corrupt. Answered with 503, never 401.
///
/// "Not found" is not an error: [`SessionBackend::load`](crate::SessionBackend::load) answers
/// `Ok(None)` for it.
#[derive(Debug)]
pub struct BackendError {
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl BackendError {
    /// Wraps the backend's own error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        BackendError {
            source: source.into(),
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session backend failed: {}", self.source)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
