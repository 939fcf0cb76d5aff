//! The backend contract: the in-memory backend passes the conformance suite every backend runs,
//! and the suite catches a backend that breaks the contract.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use tower_jwt_sessions::{BackendError, MachinableClaims, MemoryBackend, Session, SessionBackend};
use tower_jwt_sessions_core::suite;

#[tokio::test]
async fn the_memory_backend_keeps_the_backend_contract() {
    suite::check_backend(&MemoryBackend::<MachinableClaims>::new()).await;
}

#[tokio::test]
async fn the_memory_backend_records_each_proof_once() {
    suite::check_replay(&MemoryBackend::<MachinableClaims>::new()).await;
}

#[tokio::test]
async fn the_memory_backend_rotates_by_compare_and_swap() {
    suite::check_rotation(&MemoryBackend::<MachinableClaims>::new()).await;
}

/// Forgets to delete on revoke: the row (and its refresh token) would live on.
#[derive(Default)]
struct Undeleting(Mutex<HashMap<String, Session>>);

impl SessionBackend for Undeleting {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.0.lock().unwrap().insert(session.id.clone(), session);
        Ok(())
    }
    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }
    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        Ok(self.0.lock().unwrap().contains_key(id))
    }
    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        let mut rows: Vec<Session> = self
            .0
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.user_id == user_id)
            .cloned()
            .collect();
        rows.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        rows.truncate(limit);
        Ok(rows)
    }
    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        if let Some(s) = self.0.lock().unwrap().get_mut(id) {
            s.last_accessed = s.last_accessed.max(at);
        }
        Ok(())
    }
}

#[test]
fn the_suite_fails_a_backend_that_does_not_delete_on_revoke() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(suite::check_backend(&Undeleting::default()))
    }));
    let message = outcome.expect_err("a broken backend must fail the suite");
    let message = message
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| message.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    // The panic names the rule the backend broke, then its clause.
    assert!(
        message.contains("revoke_deletes_the_row: a revoked row is gone"),
        "unexpected failure: {message}"
    );
}
