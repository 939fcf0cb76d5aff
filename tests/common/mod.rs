//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod client;
pub mod cluster;
mod counting;
pub mod idp;
pub mod nodes;
pub mod pg;
pub mod provider;
pub mod redis_keys;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tower_jwt_sessions::{
    IssuedTokens, Keys, MachinableClaims, MachinableUser, MemoryBackend, Sessions, SessionsBuilder,
};

#[allow(unused_imports)] // Not every test binary counts.
pub use counting::CountingBackend;

/// The in-memory backend and user directory, with the example's claims.
pub type Memory = MemoryBackend<MachinableClaims>;

/// Sessions kept in one [`Memory`].
pub type MemorySessions = Sessions<Memory>;

/// Sessions over a fresh [`Memory`], which is their user directory too, for tests that need
/// nothing else.
pub fn in_memory(keys: Keys) -> SessionsBuilder<Memory> {
    let memory = Memory::new();
    Sessions::builder(keys, memory.clone(), memory)
}

/// `u1`, the user most tests sign in: active, may read and write.
pub fn u1() -> MachinableClaims {
    user("u1", true, true, true)
}

/// A fresh [`Memory`] whose directory holds [`u1`]; wrap it in a [`CountingBackend`] to count
/// its calls.
pub fn memory_with_u1() -> Memory {
    let memory = Memory::new();
    memory.set_user("u1", u1());
    memory
}

/// The signed-in user of most tests: sessions over [`memory_with_u1`] (HS256 with [`SECRET`],
/// every default), and one session of u1's, as the login handler makes it ([`client::login`]).
pub async fn signed_in() -> (MemorySessions, IssuedTokens) {
    let memory = memory_with_u1();
    let sessions = Sessions::builder(Keys::hs256(SECRET).unwrap(), memory.clone(), memory)
        .build()
        .unwrap();
    let issued = client::login(&sessions).await;
    (sessions, issued)
}

/// Serves an axum app (the example server's, say) on an ephemeral port, with the peer
/// address the example reads; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_on(listener, app)
}

/// [`serve`] on a listener bound before the app was built (whose address the app needs).
pub fn serve_on(listener: tokio::net::TcpListener, app: axum::Router) -> String {
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
