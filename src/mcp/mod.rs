//! The auth layer of a remote MCP (Model Context Protocol) server: per-tool scopes, step-up
//! (RFC 9470) and the MCP authorization profile, for any tower MCP transport (rmcp's
//! streamable HTTP service, say) (feature `mcp`).
//!
//! An MCP server is an OAuth 2.0 resource server: the [`Verifier`](crate::Verifier) checks
//! the token (audience: the MCP endpoint's canonical URI) and serves the RFC 9728 document
//! at `/.well-known/oauth-protected-resource/mcp`; [`McpLayer`] inside it decides each call
//! by a table; [`McpCorsLayer`] outside lets browser clients read the challenges.
//!
//! ```
//! use std::time::Duration;
//! use tower_jwt_sessions::mcp::McpLayer;
//! use tower_jwt_sessions::step_up::StepUp;
//! use tower_jwt_sessions::StandardClaims;
//!
//! let mcp = McpLayer::<StandardClaims>::builder("mcp")
//!     .tool("list_notes", ["notes:read"])
//!     .tool("add_note", ["notes:write"])
//!     .tool("purge_notes", ["notes:write"])
//!     .tool_step_up(
//!         "purge_notes",
//!         StepUp::new().acr("urn:example:mfa").max_age(Duration::from_secs(300)),
//!     )
//!     .build()?;
//! // Router::new().nest_service("/mcp", ServiceBuilder::new().layer(mcp).service(rmcp_service))
//! //     .layer(verifier.layer()).layer(McpCorsLayer::new(origins)?)
//! # Ok::<(), tower_jwt_sessions::ConfigError>(())
//! ```
//!
//! - **Every call needs the base scope**; a call of the table needs its scopes too. A token
//!   short of any is refused 403 `insufficient_scope` naming every scope the call needs, the
//!   base scope included, held or not, and nothing else (`scope="mcp notes:write"`): the
//!   client asks once for all (SEP-2350). A batch needs the union of its calls' scopes.
//! - **Step-up**: a call with a [`StepUp`](crate::step_up::StepUp) and a token that falls
//!   short (after its scopes passed) is 401 `insufficient_user_authentication` with
//!   `acr_values`, `max_age`, `scope` and `resource_metadata` (a `DPoP` challenge for a
//!   DPoP-bound token).
//! - **Headers are never trusted alone.** When `Mcp-Method` and `Mcp-Name` (SEP-2243, the
//!   `2026-07-28` revision) name the call, a refusal is decided from them before the body
//!   is read; whatever they say, the body (read up to the
//!   [limit](McpLayerBuilder::body_limit), chunked or not: over it, 413) is checked against
//!   them, and a mismatch is 400 (JSON-RPC error `-32020`). A `2026-07-28` request without
//!   them is 400; older revisions are decided from the body. The Base64 form of `Mcp-Name`
//!   is decoded; a header sent twice, a JSON member given twice (escaped or not), a name
//!   that is not a string are 400: no reading of the request lets a call run that another
//!   would refuse. A batch under a revision that forbids batches (`2025-06-18` on) is 400.
//! - **The token before the body**: a request without claims is the outer layer's 401 (with
//!   `resource_metadata`, and `scope` when its renderer has
//!   [`with_scope`](crate::ErrorRenderer::with_scope)), before a byte is read.
//! - `GET` (a stream) and `DELETE` (the end of a session) need the base scope.

mod builder;
mod cors;
mod future;
mod message;
mod policy;
mod reply;
mod service;

pub use builder::McpLayerBuilder;
pub use cors::{McpCors, McpCorsLayer};
pub use future::{McpBody, ResponseFuture};
pub use service::{McpLayer, McpService};
