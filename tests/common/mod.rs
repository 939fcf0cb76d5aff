//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod client;
pub mod cluster;
pub mod idp;
pub mod nodes;
pub mod pg;
pub mod redis_keys;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tower_jwt_sessions::{
    BackendError, MachinableClaims, MachinableUser, MemoryBackend, Session, SessionBackend,
    Sessions, SessionsBuilder, Users,
};

/// The in-memory backend and user directory, with the example's claims.
pub type Memory = MemoryBackend<MachinableClaims>;

/// Sessions kept in one [`Memory`].
pub type MemorySessions = Sessions<Memory>;

/// `.backend(m.clone()).users(m)` with a fresh [`Memory`], for tests that need nothing else.
pub trait InMemory {
    fn in_memory(self) -> SessionsBuilder<Memory, Memory>;
}

impl InMemory for SessionsBuilder {
    fn in_memory(self) -> SessionsBuilder<Memory, Memory> {
        let memory = Memory::new();
        self.backend(memory.clone()).users(memory)
    }
}

/// Serves an axum app (the example server's, say) on an ephemeral port, with the peer
/// address the example reads; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

pub const SECRET: &[u8] = b"integration-test-secret-of-32-bytes!!";
pub const OTHER_SECRET: &[u8] = b"another-secret-that-is-32-bytes-long!";

pub fn user(id: &str, active: bool, read: bool, write: bool) -> MachinableClaims {
    MachinableClaims::new(
        "pet-demo",
        MachinableUser {
            id: id.into(),
            name: format!("user-{id}"),
            active,
            read,
            write,
            kind: "project".into(),
        },
    )
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Builds a token from raw header and payload JSON, HMAC-signed with `secret` (or with the
/// given raw signature part).
pub fn raw_token(header: &str, payload: &str, signature: Option<&str>, secret: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = match signature {
        Some(sig) => sig.to_owned(),
        None => hmac_sha256(secret, message.as_bytes()),
    };
    format!("{message}.{signature}")
}

/// Header and payload given as raw bytes (which need not be UTF-8 or JSON), HS256-signed.
pub fn raw_token_bytes(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature = hmac_sha256(secret, message.as_bytes());
    format!("{message}.{signature}")
}

/// HS256 signature via jsonwebtoken's own signer, base64url.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> String {
    jsonwebtoken::crypto::sign(
        message,
        &jsonwebtoken::EncodingKey::from_secret(secret),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap()
}

/// Any serializable claims, signed with `secret` under `header`.
pub fn sign(header: &jsonwebtoken::Header, claims: &serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

pub fn header(alg: jsonwebtoken::Algorithm, typ: &str) -> jsonwebtoken::Header {
    let mut h = jsonwebtoken::Header::new(alg);
    h.typ = Some(typ.to_owned());
    h
}

/// Access claims as the crate mints them.
pub fn access_claims(sub: &str, sid: &str, iat: u64, exp: u64) -> serde_json::Value {
    let mut v = serde_json::to_value(user(sub, true, true, true)).unwrap();
    let o = v.as_object_mut().unwrap();
    o.insert("sub".into(), sub.into());
    o.insert("sid".into(), sid.into());
    o.insert("iat".into(), iat.into());
    o.insert("exp".into(), exp.into());
    o.insert("token_use".into(), "access".into());
    v
}

pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A backend and user directory that counts calls and can be told to fail or to stall. It
/// cannot rotate (it is no `RotatingBackend`).
#[derive(Clone, Default)]
pub struct CountingBackend {
    pub inner: Memory,
    pub loads: Arc<AtomicUsize>,
    pub touches: Arc<AtomicUsize>,
    pub claims_reads: Arc<AtomicUsize>,
    pub proof_records: Arc<AtomicUsize>,
    pub fail: Arc<AtomicBool>,
    pub fail_touch: Arc<AtomicBool>,
    pub delay: Arc<std::sync::Mutex<Option<Duration>>>,
}

impl CountingBackend {
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

impl tower_jwt_sessions::ReplayBackend for CountingBackend {
    async fn record_once(&self, id: &str, expires_at: u64) -> Result<bool, BackendError> {
        self.proof_records.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(BackendError::new("injected failure"));
        }
        self.inner.record_once(id, expires_at).await
    }
}

impl SessionBackend for CountingBackend {
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
}

impl Users for CountingBackend {
    type Claims = MachinableClaims;

    async fn claims(&self, user_id: &str) -> Result<Option<MachinableClaims>, BackendError> {
        self.claims_reads.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        self.inner.claims(user_id).await
    }
}
