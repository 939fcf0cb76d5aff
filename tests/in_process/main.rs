//! Every test that needs no server outside this process, in one binary (one link on a
//! 2-core machine instead of sixteen): the layer, the example servers over loopback HTTP,
//! each framework, attacks, faults, instances sharing an in-process backend, the backend
//! contract of `MemoryBackend`, and (feature `jwks`) the verify-only layer.

#[path = "../common/mod.rs"]
mod common;

// The HTTP example server, which several modules serve over loopback.
#[path = "../../examples/server/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../../examples/server/backend.rs"]
#[allow(dead_code)]
mod backend;
// The example server's environment helpers (the resource server example has its own copy).
#[path = "../../examples/common/env.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod env;

// The resource server example (verify-only mode), served by the verifier and issuer tests.
#[cfg(feature = "jwks")]
#[path = "../../examples/resource_server/main.rs"]
#[allow(dead_code)]
mod resource_server;

// The MCP server example (rmcp behind the verifier and the MCP layer).
#[cfg(all(feature = "jwks", feature = "mcp"))]
#[path = "../../examples/mcp_server/main.rs"]
#[allow(dead_code)]
mod mcp_server;

mod attacks;
mod axum;
mod cookie;
mod dpop;
mod faults;
mod grant;
mod grpc;
mod hardening;
mod hyper;
mod instances;
mod introspection;
mod issuers;
mod keys;
mod layer;
mod mcp;
mod properties;
mod rotation;
mod server;
mod store;
mod verifier;
mod warp;
