//! A backend's optional capabilities, each behind a pointer whatever the backend's type:
//! [`Rotate`] (refresh-token rotation, for the session layer) and [`Record`] (DPoP proofs
//! accepted once, for the session layer and the verify-only layer).
//!
//! The builder method that needs a capability makes its pointer from the backend, and only
//! where the backend's type has it (`where S: RotatingBackend`): a backend without it is a
//! compile error at that call, with the contract's message, never a setting refused at run
//! time. The backend's futures were boxed before this too, so a call through the pointer
//! costs no more.

use std::future::Future;
use std::pin::Pin;

use tower_jwt_sessions_core::{BackendError, ReplayBackend, RotatingBackend};

/// A backend call's future, boxed.
pub(crate) type BackendFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// [`RotatingBackend::rotate`] of any backend that has it.
pub(crate) trait Rotate: Send + Sync {
    fn rotate<'a>(&'a self, id: &'a str, from: u64, to: u64, at: u64) -> BackendFuture<'a, bool>;
}

impl<B: RotatingBackend> Rotate for B {
    fn rotate<'a>(&'a self, id: &'a str, from: u64, to: u64, at: u64) -> BackendFuture<'a, bool> {
        Box::pin(RotatingBackend::rotate(self, id, from, to, at))
    }
}

/// [`ReplayBackend::record_once`] of any backend that has it.
pub(crate) trait Record: Send + Sync {
    fn record_once<'a>(&'a self, id: &'a str, expires_at: u64) -> BackendFuture<'a, bool>;
}

impl<B: ReplayBackend> Record for B {
    fn record_once<'a>(&'a self, id: &'a str, expires_at: u64) -> BackendFuture<'a, bool> {
        Box::pin(ReplayBackend::record_once(self, id, expires_at))
    }
}
