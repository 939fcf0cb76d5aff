//! Evictions on every instance, through a shared backend's revocation feed.
//!
//! The feed carries session ids of rows that were deleted. An eviction is announced as a
//! row created for it and revoked at once, named `{prefix.}{SHA-256 of the token, 64 hex
//! digits}`: no session id has that shape (theirs have 32), and the digest names the
//! token without revealing it. Every instance watching the feed forgets its answer for that
//! digest. While the feed is down, cached answers are not served (fail closed: an eviction
//! may be passing by unseen).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, Weak};

use tower_jwt_sessions_core::{RevocationSink, Session, SessionBackend, SessionMeta};

use crate::capability::BackendFuture;
use crate::verifier::Shared;

/// The user id of the rows that announce evictions.
const ANNOUNCER: &str = "tower-jwt-sessions:introspection";

/// Announces an eviction through a backend's revocation feed.
pub(crate) trait Announce: Send + Sync {
    fn announce<'a>(&'a self, digest: &'a [u8; 32]) -> BackendFuture<'a, ()>;
}

impl<B: SessionBackend> Announce for B {
    fn announce<'a>(&'a self, digest: &'a [u8; 32]) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            let hex = hex(digest);
            let id = match self.session_id_prefix(ANNOUNCER) {
                Some(prefix) => format!("{prefix}.{hex}"),
                None => hex,
            };
            let now = crate::clock::unix_now();
            self.create(Session {
                id: id.clone(),
                user_id: ANNOUNCER.to_owned(),
                created_at: now,
                expires_at: now.saturating_add(60),
                last_accessed: now,
                generation: 0,
                rotated_at: 0,
                meta: SessionMeta::default(),
            })
            .await?;
            self.revoke(&id).await.map(|_| ())
        })
    }
}

/// Where the feed delivers: the verifier, once built.
#[derive(Default)]
pub(crate) struct EvictionSink {
    pub(crate) shared: OnceLock<Weak<Shared>>,
    /// The latest time since which the feed's log is complete, as the backend said.
    complete_since: AtomicU64,
}

impl EvictionSink {
    fn each(&self, f: impl Fn(&super::Introspector)) {
        let Some(shared) = self.shared.get().and_then(Weak::upgrade) else {
            return;
        };
        for source in &shared.sources {
            if let Some(introspector) = &source.introspector {
                f(introspector);
            }
        }
    }
}

/// A digest as 64 lowercase hex digits.
fn hex(digest: &[u8; 32]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The digest an announced id names; `None` for any other id (a session's).
fn digest_of(id: &str) -> Option<[u8; 32]> {
    let hex = id.rsplit('.').next()?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(digest)
}

impl RevocationSink for EvictionSink {
    fn revoked(&self, session_id: &str) {
        if let Some(digest) = digest_of(session_id) {
            self.each(|introspector| introspector.evict(digest));
        }
    }

    fn feed_up(&self, up: bool) {
        self.each(|introspector| {
            introspector.feed_up.store(up, Ordering::Release);
        });
    }

    fn log_complete_since(&self, unix_secs: u64) {
        // A loss the backend found: evictions may have been lost, so no answer cached
        // before can be trusted to have seen them.
        if self.complete_since.fetch_max(unix_secs, Ordering::AcqRel) < unix_secs {
            self.each(super::Introspector::clear);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_announced_ids_name_a_digest() {
        let digest = [0xab; 32];
        let hex = hex(&digest);
        assert_eq!(digest_of(&hex), Some(digest));
        assert_eq!(digest_of(&format!("shard-1.{hex}")), Some(digest));
        assert_eq!(digest_of("0123456789abcdef0123456789abcdef"), None);
        assert_eq!(digest_of(&"g".repeat(64)), None);
        assert_eq!(digest_of(""), None);
    }
}
