//! Several instances sharing one backend: revocations reach every instance through the backend's
//! feed, "sign out everywhere" and "other devices", the per-user limit, and an instance whose
//! feed is down, or whose backend lost part of its log, trusting nothing it cached. The shared
//! backend here is the in-memory one with a feed that delivers at once; `tests/redis.rs` and
//! `tests/postgres.rs` run the same over real servers.

use std::sync::{Arc, Mutex};

use crate::common::nodes::{access, login, refresh_with};
use crate::common::*;
use http::StatusCode;
use tower_jwt_sessions::{
    BackendError, IssuedTokens, Keys, MachinableClaims, RevocationSink, Session, SessionBackend,
    Sessions, Users,
};

/// One backend for every instance; a revocation through it reaches every instance's sink.
#[derive(Clone, Default)]
struct Broadcasting {
    rows: Memory,
    sinks: Arc<Mutex<Vec<Arc<dyn RevocationSink>>>>,
}

impl Broadcasting {
    fn sink(&self, instance: usize) -> Arc<dyn RevocationSink> {
        Arc::clone(&self.sinks.lock().unwrap()[instance])
    }
}

impl SessionBackend for Broadcasting {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.rows.create(session).await
    }
    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        self.rows.load(id).await
    }
    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        let existed = self.rows.revoke(id).await?;
        for sink in self.sinks.lock().unwrap().iter() {
            sink.revoked(id);
        }
        Ok(existed)
    }
    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        self.rows.list(user_id, limit).await
    }
    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        self.rows.touch(id, at).await
    }
    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        self.sinks.lock().unwrap().push(sink);
    }
}

impl Users for Broadcasting {
    type Claims = MachinableClaims;
    async fn claims(&self, user_id: &str) -> Result<Option<MachinableClaims>, BackendError> {
        self.rows.claims(user_id).await
    }
}

fn instance(backend: &Broadcasting) -> Sessions<Broadcasting> {
    let keys = Keys::hs256(SECRET).unwrap();
    Sessions::builder(keys, backend.clone(), backend.clone())
        .build()
        .unwrap()
}

fn cluster(n: usize) -> (Broadcasting, Vec<Sessions<Broadcasting>>) {
    let backend = Broadcasting {
        rows: memory_with_u1(),
        ..Broadcasting::default()
    };
    let instances = (0..n).map(|_| instance(&backend)).collect();
    (backend, instances)
}

async fn refresh(sessions: &Sessions<Broadcasting>, tokens: &IssuedTokens) -> StatusCode {
    refresh_with(sessions, &tokens.refresh_token).await.0
}

#[tokio::test]
async fn a_revocation_on_one_instance_stops_both_tokens_on_the_other_at_once() {
    let (_, nodes) = cluster(2);
    let (a, b) = (&nodes[0], &nodes[1]);
    let tokens = login(a).await;
    // Both instances have the session and the access token (verified twice) cached.
    for node in [a, b] {
        assert_eq!(refresh(node, &tokens).await, StatusCode::OK);
        assert_eq!(access(node, &tokens).await, StatusCode::OK);
        assert_eq!(access(node, &tokens).await, StatusCode::OK);
    }
    assert!(b.revoke(&tokens.session_id).await.unwrap());
    assert_eq!(access(a, &tokens).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(a, &tokens).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_out_everywhere_and_other_devices_reaches_every_instance() {
    let (_, nodes) = cluster(2);
    let (a, b) = (&nodes[0], &nodes[1]);
    let phone = login(a).await;
    let laptop = login(a).await;
    let tablet = login(b).await;
    for tokens in [&phone, &laptop, &tablet] {
        assert_eq!(access(b, tokens).await, StatusCode::OK);
    }
    // From the laptop: sign out the other devices.
    assert_eq!(b.revoke_others("u1", &laptop.session_id).await.unwrap(), 2);
    for node in [a, b] {
        assert_eq!(access(node, &phone).await, StatusCode::UNAUTHORIZED);
        assert_eq!(access(node, &tablet).await, StatusCode::UNAUTHORIZED);
        assert_eq!(access(node, &laptop).await, StatusCode::OK);
    }
    // A password change: everywhere.
    assert_eq!(a.revoke_all("u1").await.unwrap(), 1);
    for node in [a, b] {
        assert_eq!(access(node, &laptop).await, StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(node, &laptop).await, StatusCode::UNAUTHORIZED);
    }
    assert!(a.list("u1").await.unwrap().is_empty());
}

#[tokio::test]
async fn while_the_feed_is_down_nothing_cached_is_trusted() {
    let (backend, nodes) = cluster(1);
    let a = &nodes[0];
    let tokens = login(a).await;
    assert_eq!(refresh(a, &tokens).await, StatusCode::OK);
    assert_eq!(access(a, &tokens).await, StatusCode::OK);
    backend.sink(0).feed_up(false);
    // Deleted by another instance whose broadcast never arrived.
    assert!(backend.rows.revoke(&tokens.session_id).await.unwrap());
    assert_eq!(access(a, &tokens).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(a, &tokens).await, StatusCode::UNAUTHORIZED);
    // Live sessions still work, read from the backend.
    let other = login(a).await;
    assert_eq!(access(a, &other).await, StatusCode::OK);
    assert_eq!(refresh(a, &other).await, StatusCode::OK);
    backend.sink(0).feed_up(true);
    assert_eq!(access(a, &other).await, StatusCode::OK);
}

#[tokio::test]
async fn after_the_backend_reports_a_lost_log_nothing_cached_before_it_is_trusted() {
    let (backend, nodes) = cluster(1);
    let a = &nodes[0];
    let tokens = login(a).await;
    assert_eq!(access(a, &tokens).await, StatusCode::OK);
    // Revoked elsewhere, and the log entry lost with the log (truncated, say): the feed is
    // up, the broadcast never came, but the backend says its log is complete only from now.
    assert!(backend.rows.revoke(&tokens.session_id).await.unwrap());
    backend.sink(0).log_complete_since(now());
    assert_eq!(access(a, &tokens).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(a, &tokens).await, StatusCode::UNAUTHORIZED);
    // Live sessions still work, read from the backend.
    let other = login(a).await;
    assert_eq!(access(a, &other).await, StatusCode::OK);
    assert_eq!(refresh(a, &other).await, StatusCode::OK);
    assert!(a.revocation_feed_up(), "the feed itself is up");
}

#[tokio::test]
async fn past_the_per_user_limit_the_oldest_sessions_end() {
    let backend = Broadcasting {
        rows: memory_with_u1(),
        ..Broadcasting::default()
    };
    let keys = Keys::hs256(SECRET).unwrap();
    let a = Sessions::builder(keys, backend.clone(), backend.clone())
        .max_sessions_per_user(Some(2))
        .build()
        .unwrap();
    let first = login(&a).await;
    assert_eq!(access(&a, &first).await, StatusCode::OK);
    // Sessions created within one second share `created_at`; order them.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = login(&a).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let third = login(&a).await;
    assert_eq!(access(&a, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&a, &first).await, StatusCode::UNAUTHORIZED);
    for tokens in [&second, &third] {
        assert_eq!(access(&a, tokens).await, StatusCode::OK);
    }
    assert_eq!(a.list("u1").await.unwrap().len(), 2);
}
