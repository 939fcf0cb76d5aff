//! A backend that counts its calls and can be told to fail or to stall, around any backend
//! (the in-memory one by default): written once for the tests (`tests/common`) and the
//! benches (`benches/common.rs`, through `#[path]`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tower_jwt_sessions::{
    BackendError, MachinableClaims, MemoryBackend, ReplayBackend, RevocationSink, Session,
    SessionBackend, Users,
};

/// Counts the calls to `inner`, and fails or stalls them when told: a backend and, when
/// `inner` is one, a user directory and a proof record. It cannot rotate (it is no
/// `RotatingBackend`). `CountingBackend::default()` is over a fresh in-memory backend, which
/// is the user directory too.
#[derive(Clone)]
pub struct CountingBackend<B = MemoryBackend<MachinableClaims>> {
    pub inner: B,
    pub loads: Arc<AtomicUsize>,
    pub touches: Arc<AtomicUsize>,
    pub claims_reads: Arc<AtomicUsize>,
    pub proof_records: Arc<AtomicUsize>,
    pub fail: Arc<AtomicBool>,
    pub fail_touch: Arc<AtomicBool>,
    pub delay: Arc<std::sync::Mutex<Option<Duration>>>,
}

impl Default for CountingBackend {
    fn default() -> Self {
        CountingBackend::new(MemoryBackend::new())
    }
}

impl<B> CountingBackend<B> {
    /// Counts the calls to `inner`, failing none.
    pub fn new(inner: B) -> Self {
        CountingBackend {
            inner,
            loads: Arc::default(),
            touches: Arc::default(),
            claims_reads: Arc::default(),
            proof_records: Arc::default(),
            fail: Arc::default(),
            fail_touch: Arc::default(),
            delay: Arc::default(),
        }
    }

    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    pub fn touches(&self) -> usize {
        self.touches.load(Ordering::SeqCst)
    }

    pub fn set_fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Option<Duration>) {
        *self.delay.lock().unwrap() = delay;
    }

    async fn gate(&self) -> Result<(), BackendError> {
        let delay = *self.delay.lock().unwrap();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(BackendError::new("injected failure"));
        }
        Ok(())
    }
}

impl<B: ReplayBackend> ReplayBackend for CountingBackend<B> {
    async fn record_once(&self, id: &str, expires_at: u64) -> Result<bool, BackendError> {
        self.proof_records.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(BackendError::new("injected failure"));
        }
        self.inner.record_once(id, expires_at).await
    }
}

impl<B: SessionBackend> SessionBackend for CountingBackend<B> {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.gate().await?;
        self.inner.create(session).await
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        self.inner.load(id).await
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        self.gate().await?;
        self.inner.revoke(id).await
    }

    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        self.gate().await?;
        self.inner.list(user_id, limit).await
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        self.touches.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        if self.fail_touch.load(Ordering::SeqCst) {
            return Err(BackendError::new("injected touch failure"));
        }
        self.inner.touch(id, at).await
    }

    fn session_id_prefix(&self, user_id: &str) -> Option<String> {
        self.inner.session_id_prefix(user_id)
    }

    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        self.inner.watch_revocations(sink);
    }
}

impl<B: Users> Users for CountingBackend<B> {
    type Claims = B::Claims;

    async fn claims(&self, user_id: &str) -> Result<Option<B::Claims>, BackendError> {
        self.claims_reads.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        self.inner.claims(user_id).await
    }
}
