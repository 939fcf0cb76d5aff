//! The contract between [tower-jwt-sessions] and its session backends.
//!
//! A backend author needs this crate alone: [`SessionBackend`] keeps session rows,
//! [`RotatingBackend`] adds the compare-and-swap that refresh-token rotation needs,
//! [`ReplayBackend`] records each DPoP proof once for every instance, [`Session`] is the row,
//! [`BackendError`] the one failure; a backend with a revocation feed delivers to a
//! [`RevocationSink`]. [`Users`] and [`UserClaims`] describe the app's user directory, kept
//! apart from the backend. The conformance suite (feature
//! `test-suite`, module `suite`) checks a backend against the contract in one line.
//!
//! No crypto, no runtime, no HTTP: serde and std only. tower-jwt-sessions re-exports
//! everything here, so apps write `tower_jwt_sessions::SessionBackend`.
//!
//! [tower-jwt-sessions]: https://docs.rs/tower-jwt-sessions
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]
// Library code answers every input without panicking; its unit tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod backend;
mod error;
mod session;
mod users;

#[cfg(feature = "test-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suite")))]
// The conformance suite fails a backend by panicking, as a test does.
#[allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
pub mod suite;

pub use backend::{ReplayBackend, RevocationSink, RotatingBackend, SessionBackend};
pub use error::BackendError;
pub use session::{Session, SessionMeta};
pub use users::{UserClaims, Users};
