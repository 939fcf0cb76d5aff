//! Every backend call the crate makes goes through here: at most `max_in_flight` at once,
//! each bounded by a timeout. A stalled store then costs a quick 503 instead of a pile of
//! waiting requests.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::timer;
use super::{BackendError, Session, SessionBackend};

pub(crate) struct Guarded<B> {
    pub(crate) inner: B,
    in_flight: AtomicUsize,
    max_in_flight: usize,
    timeout: Option<Duration>,
}

/// Frees its slot when the call ends, however it ends (completion, error, drop).
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<B> Guarded<B> {
    pub(crate) fn new(inner: B, max_in_flight: usize, timeout: Option<Duration>) -> Self {
        Guarded {
            inner,
            in_flight: AtomicUsize::new(0),
            max_in_flight,
            timeout,
        }
    }

    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        // Fail fast rather than queue: waiting requests would only pile up behind a stall.
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(BackendError::new(
                "too many session backend calls in flight",
            ));
        }
        let _slot = Slot(&self.in_flight);
        match self.timeout {
            Some(timeout) => timer::timeout(timeout, call)
                .await
                .unwrap_or_else(|()| Err(BackendError::new("session backend call timed out"))),
            None => call.await,
        }
    }
}

impl<B: SessionBackend> SessionBackend for Guarded<B> {
    type Claims = B::Claims;

    async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.call(self.inner.create(session)).await
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        self.call(self.inner.load(id)).await
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        self.call(self.inner.revoke(id)).await
    }

    async fn list(&self, user_id: &str) -> Result<Vec<Session>, BackendError> {
        self.call(self.inner.list(user_id)).await
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        self.call(self.inner.touch(id, at)).await
    }

    async fn user_claims(&self, user_id: &str) -> Result<Option<B::Claims>, BackendError> {
        self.call(self.inner.user_claims(user_id)).await
    }

    const SUPPORTS_ROTATION: bool = B::SUPPORTS_ROTATION;

    async fn rotate(&self, id: &str, from: u64, to: u64, at: u64) -> Result<bool, BackendError> {
        self.call(self.inner.rotate(id, from, to, at)).await
    }
}
