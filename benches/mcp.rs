//! The MCP layer's decision over the plain verification: one `tools/call` through the session
//! layer (HS256, new token each time: no cache) around a trivial service, with and without
//! the MCP layer inside it, in the same run. With the `Mcp-Method`/`Mcp-Name` headers the
//! layer decides from them and then checks them against the body; without them, from the
//! body. The issue's goal: at most 1 µs over the plain verification with the headers.

mod common;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response};
use serde::{Deserialize, Serialize};
use tower::{Layer, Service};
use tower_jwt_sessions::mcp::McpLayer;
use tower_jwt_sessions::step_up::HasAuthentication;
use tower_jwt_sessions::{HasScopes, MemoryBackend, Scopes, SessionMeta, Sessions, UserClaims};

/// The claims of the bench's tokens: their `scope`, read back from the token.
#[derive(Clone, Serialize, Deserialize)]
struct McpClaims {
    name: String,
    // Written by `UserClaims::scope`, read here.
    #[serde(default, skip_serializing)]
    scope: Scopes,
}

impl UserClaims for McpClaims {
    fn scope(&self) -> Option<String> {
        Some("mcp notes:write".to_owned())
    }
}

impl HasScopes for McpClaims {
    fn scopes(&self) -> &Scopes {
        &self.scope
    }
}

impl HasAuthentication for McpClaims {
    fn acr(&self) -> Option<&str> {
        None
    }
    fn auth_time(&self) -> Option<u64> {
        None
    }
}

/// The MCP server's stand-in: answers at once, whatever the body.
#[derive(Clone)]
struct Server;

impl<B> Service<Request<B>> for Server {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        ready(Ok(Response::new(String::from("ok"))))
    }
}

const BODY: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"a note of a few words"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;

fn request(auth: &HeaderValue, mirrored: bool) -> Request<String> {
    let mut req = Request::post("/mcp").body(String::from(BODY)).unwrap();
    let headers = req.headers_mut();
    headers.insert(http::header::AUTHORIZATION, auth.clone());
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if mirrored {
        headers.insert(
            "mcp-protocol-version",
            HeaderValue::from_static("2026-07-28"),
        );
        headers.insert("mcp-method", HeaderValue::from_static("tools/call"));
        headers.insert("mcp-name", HeaderValue::from_static("add_note"));
    } else {
        headers.insert(
            "mcp-protocol-version",
            HeaderValue::from_static("2025-11-25"),
        );
    }
    req
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (keys, _) = keys(jsonwebtoken::Algorithm::HS256);
    let memory = MemoryBackend::<McpClaims>::new();
    let sessions = Sessions::builder(keys, memory.clone(), memory)
        .token_cache_bytes(None)
        .build()
        .unwrap();
    let claims = McpClaims {
        name: "u1".into(),
        scope: Scopes::default(),
    };
    let issued = rt
        .block_on(sessions.create("u1", &claims, SessionMeta::default()))
        .unwrap();
    let auth = HeaderValue::from_str(&format!("Bearer {}", issued.access_token)).unwrap();
    let mcp = McpLayer::<McpClaims>::builder("mcp")
        .tool("add_note", ["notes:write"])
        .tool("list_notes", ["notes:read"])
        .build()
        .unwrap();

    let mut group = c.benchmark_group("mcp");
    let mut plain = sessions.layer().layer(Server);
    group.bench_function("layer", |b| {
        b.iter(|| {
            now(plain.call(request(black_box(&auth), true)))
                .unwrap()
                .status()
        })
    });
    let mut with_mcp = sessions.layer().layer(mcp.layer(Server));
    let ok = now(with_mcp.call(request(&auth, true))).unwrap().status();
    assert_eq!(ok, http::StatusCode::OK);
    group.bench_function("layer_mcp_headers", |b| {
        b.iter(|| {
            now(with_mcp.call(request(black_box(&auth), true)))
                .unwrap()
                .status()
        })
    });
    group.bench_function("layer_mcp_body", |b| {
        b.iter(|| {
            now(with_mcp.call(request(black_box(&auth), false)))
                .unwrap()
                .status()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench
}
criterion_main!(benches);
