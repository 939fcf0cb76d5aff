//! Property tests: for arbitrary `Authorization` values and arbitrary byte mutations of a
//! valid token, the layer never panics, never answers 5xx, and accepts only the unmodified
//! token.

use std::convert::Infallible;

use crate::common::*;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use proptest::prelude::*;
use tower::{Layer, ServiceExt};
use tower_jwt_sessions::IssuedTokens;

struct World {
    rt: tokio::runtime::Runtime,
    sessions: MemorySessions,
    issued: IssuedTokens,
}

impl World {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (sessions, issued) = rt.block_on(signed_in());
        World {
            rt,
            sessions,
            issued,
        }
    }

    fn status(&self, path: &str, method: http::Method, value: Option<HeaderValue>) -> StatusCode {
        let app = self
            .sessions
            .layer()
            .layer(tower::service_fn(|_: Request<String>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .body(String::new())
            .unwrap();
        if let Some(value) = value {
            req.headers_mut().insert(AUTHORIZATION, value);
        }
        self.rt.block_on(app.oneshot(req)).unwrap().status()
    }
}

/// Replaces `count` bytes of `token` at the given positions with the given bytes.
fn mutate(token: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    for &(pos, byte) in edits {
        let pos = pos % bytes.len();
        bytes[pos] = byte;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_authorization_values_are_4xx(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let world = World::new();
        let value = HeaderValue::from_bytes(&bytes).ok();
        for (path, method) in [("/me", http::Method::GET), ("/sessions/refresh/", http::Method::POST)] {
            let status = world.status(path, method, value.clone());
            prop_assert!(status.is_client_error(), "{status} for {bytes:?}");
        }
    }

    #[test]
    fn arbitrary_bearer_tokens_are_4xx(token in "[A-Za-z0-9_.=+/~-]{0,400}") {
        let world = World::new();
        let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let status = world.status("/me", http::Method::GET, Some(value));
        prop_assert!(status.is_client_error(), "{status} for {token}");
    }

    #[test]
    fn only_the_unmodified_access_token_is_accepted(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)
    ) {
        let world = World::new();
        let token = &world.issued.access_token;
        let mutated = mutate(token, &edits);
        let ok = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        prop_assert_eq!(world.status("/me", http::Method::GET, Some(ok)), StatusCode::OK);
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(&mutated);
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            let status = world.status("/me", http::Method::GET, Some(value));
            if mutated == token.as_bytes() {
                prop_assert_eq!(status, StatusCode::OK);
            } else {
                prop_assert!(status.is_client_error(), "{} for {:?}", status, String::from_utf8_lossy(&mutated));
            }
        }
    }

    #[test]
    fn only_the_unmodified_refresh_token_is_accepted(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)
    ) {
        let world = World::new();
        let token = &world.issued.refresh_token;
        let mutated = mutate(token, &edits);
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(&mutated);
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            let status = world.status("/sessions/refresh/", http::Method::POST, Some(value));
            if mutated == token.as_bytes() {
                prop_assert_eq!(status, StatusCode::OK);
            } else {
                prop_assert!(status.is_client_error(), "{} for {:?}", status, String::from_utf8_lossy(&mutated));
            }
        }
        let ok = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        prop_assert_eq!(world.status("/sessions/refresh/", http::Method::POST, Some(ok)), StatusCode::OK);
    }
}
