//! The contract between [tower-jwt-sessions] and its session stores.
//!
//! A store author needs this crate alone: [`SessionStore`] keeps session rows,
//! [`RotatingStore`] adds the compare-and-swap that refresh-token rotation needs, [`Session`]
//! is the row, [`BackendError`] the one failure. [`Users`] and [`UserClaims`] describe the
//! app's user directory, kept apart from the store. The conformance suite (feature
//! `test-suite`, module `suite`) checks a store against the contract in one line.
//!
//! No crypto, no runtime, no HTTP: serde and std only. tower-jwt-sessions re-exports
//! everything here, so apps write `tower_jwt_sessions::SessionStore`.
//!
//! [tower-jwt-sessions]: https://docs.rs/tower-jwt-sessions
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]

mod error;
mod session;
mod store;
mod users;

#[cfg(feature = "test-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suite")))]
pub mod suite;

pub use error::BackendError;
pub use session::{Session, SessionMeta};
pub use store::{RevocationSink, RotatingStore, SessionStore};
pub use users::{UserClaims, Users};
