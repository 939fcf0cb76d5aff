//! Shared by the fuzz targets: one layer around a trivial service, a backend that knows every
//! session (so that fuzzed refresh tokens that verify go all the way to minting), and a
//! runtime.

use std::convert::Infallible;
use std::sync::OnceLock;

use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, Request, Response};
use tower::{Layer, ServiceExt};
use tower_jwt_sessions::{
    BackendError, Keys, MachinableClaims, MachinableUser, Session, SessionLayer, SessionBackend,
    Sessions, Users,
};

/// The secret the committed corpus tokens are signed with.
pub const SECRET: &[u8] = b"fuzzing-secret-of-at-least-32-bytes!!!!";

#[derive(Clone)]
pub struct EveryoneBackend;

fn claims() -> MachinableClaims {
    MachinableClaims::new(
        "pet-demo",
        MachinableUser {
            id: "u1".into(),
            name: "fuzz".into(),
            active: true,
            read: true,
            write: true,
            kind: "project".into(),
        },
    )
}

impl SessionBackend for EveryoneBackend {
    async fn create(&self, _: Session) -> Result<(), BackendError> {
        Ok(())
    }
    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        Ok(Some(Session {
            id: id.to_owned(),
            user_id: "u1".into(),
            created_at: 0,
            expires_at: 4_102_444_800,
            last_accessed: 0,
            generation: 0,
            rotated_at: 0,
            meta: Default::default(),
        }))
    }
    async fn revoke(&self, _: &str) -> Result<bool, BackendError> {
        Ok(true)
    }
    async fn list(&self, _: &str, _: usize) -> Result<Vec<Session>, BackendError> {
        Ok(Vec::new())
    }
    async fn touch(&self, _: &str, _: u64) -> Result<(), BackendError> {
        Ok(())
    }
}

impl Users for EveryoneBackend {
    type Claims = MachinableClaims;
    async fn claims(&self, _: &str) -> Result<Option<MachinableClaims>, BackendError> {
        Ok(Some(claims()))
    }
}

pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub layer: SessionLayer<EveryoneBackend>,
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let keys = Keys::hs256(SECRET).unwrap();
        let sessions = Sessions::builder(keys, EveryoneBackend, EveryoneBackend)
            .build()
            .unwrap();
        World {
            rt: tokio::runtime::Builder::new_current_thread().build().unwrap(),
            layer: sessions.layer(),
        }
    })
}

/// Sends one request with `authorization` as the raw header value; asserts the answer is a
/// client error or a success, never a server error.
pub fn check(method: Method, path: &str, authorization: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(authorization) else {
        return;
    };
    let world = world();
    let app = world.layer.layer(tower::service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let mut req = Request::builder().method(method).uri(path).body(String::new()).unwrap();
    req.headers_mut().insert(AUTHORIZATION, value);
    let status = world.rt.block_on(app.oneshot(req)).unwrap().status();
    assert!(
        status.is_success() || status.is_client_error(),
        "server error {status}"
    );
}
