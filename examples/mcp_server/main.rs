//! An MCP server (rmcp's streamable HTTP transport, endpoint `/mcp`) protected as an OAuth
//! 2.0 resource server: tokens of the issuers at `ISSUER_URL`, per-tool scopes, a step-up for
//! the dangerous tool, RFC 9728 metadata and CORS for browser clients.
//!
//! - `APP_ADDR` (default `127.0.0.1:3200`).
//! - `ISSUER_URL`: one issuer URL, or several comma-separated (found by discovery; RFC 9068
//!   access tokens). Required.
//! - `AUDIENCE`: the MCP endpoint's canonical URI, which tokens must name in `aud` and the
//!   metadata names as `resource` (default `http://` + `APP_ADDR` + `/mcp`); never built from
//!   `Host`.
//! - `ALLOWED_ORIGINS`: browser origins allowed, comma-separated (default none: a request
//!   with an `Origin` is 403).
//!
//! Tools: `whoami` (scope `mcp`: the caller's `sub` and scopes), `list_notes` (`notes:read`),
//! `add_note` (`notes:write`, `{"text": string}`), `purge_notes` (`notes:write`, and `acr`
//! `urn:example:mfa` with `auth_time` within 300 s). Every call needs `mcp`. Metadata at
//! `/.well-known/oauth-protected-resource/mcp` and at the root.
//!
//! `cargo run --example mcp_server --features mcp`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use tower::ServiceBuilder;
use tower_jwt_sessions::mcp::{McpCorsLayer, McpLayer};
use tower_jwt_sessions::step_up::StepUp;
use tower_jwt_sessions::verifier::{Issuer, ResourceMetadata};
use tower_jwt_sessions::{Claims, ErrorRenderer, StandardClaims, Verifier};

/// The base scope: every MCP request needs it.
pub const BASE_SCOPE: &str = "mcp";

/// What the server needs to know, read from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `APP_ADDR`.
    pub addr: String,
    /// `ISSUER_URL`, split.
    pub issuers: Vec<String>,
    /// `AUDIENCE`, scheme and host in lowercase.
    pub audience: String,
    /// `ALLOWED_ORIGINS`, split.
    pub allowed_origins: Vec<String>,
}

impl Config {
    /// `APP_ADDR`, `ISSUER_URL`, `AUDIENCE`, `ALLOWED_ORIGINS`, read through `var`.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let addr = var("APP_ADDR").unwrap_or_else(|| "127.0.0.1:3200".to_owned());
        let list = |name: &str| -> Vec<String> {
            var(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let issuers = list("ISSUER_URL");
        if issuers.is_empty() {
            return Err("ISSUER_URL must name at least one issuer".to_owned());
        }
        let audience = var("AUDIENCE").unwrap_or_else(|| format!("http://{addr}/mcp"));
        Ok(Config {
            audience: canonical(&audience)?,
            issuers,
            allowed_origins: list("ALLOWED_ORIGINS"),
            addr,
        })
    }
}

/// The URI with its scheme and host in lowercase (they are case-insensitive; the path is
/// not), so that the metadata's `resource` and the audience are one string.
fn canonical(uri: &str) -> Result<String, String> {
    let bad = || format!("AUDIENCE {uri:?} is not an http(s) URL without query or fragment");
    let (scheme, rest) = uri.split_once("://").ok_or_else(bad)?;
    if uri.contains(['?', '#']) {
        return Err(bad());
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Ok(format!(
        "{}://{}{path}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// The verifier of `config`: its issuers' tokens for the audience, the RFC 9728 document at
/// the path-inserted location and the root, 401s naming the base scope.
pub fn verifier(config: &Config) -> Result<Verifier<StandardClaims>, String> {
    let mut builder = Verifier::<StandardClaims>::builder()
        .error_renderer(ErrorRenderer::default().with_scope(BASE_SCOPE))
        .resource_metadata(
            ResourceMetadata::new(&config.audience)
                .scopes_supported([BASE_SCOPE, "notes:read", "notes:write"])
                .also_at_root(),
        );
    for issuer in &config.issuers {
        builder = builder.issuer(Issuer::new(issuer).audience(&config.audience));
    }
    builder.build().map_err(|err| err.to_string())
}

/// The table of the tools' scopes and step-ups.
pub fn mcp_layer() -> Result<McpLayer<StandardClaims>, String> {
    McpLayer::<StandardClaims>::builder(BASE_SCOPE)
        .tool("list_notes", ["notes:read"])
        .tool("add_note", ["notes:write"])
        .tool("purge_notes", ["notes:write"])
        .tool_step_up(
            "purge_notes",
            StepUp::new()
                .acr("urn:example:mfa")
                .max_age(Duration::from_secs(300)),
        )
        .build()
        .map_err(|err| err.to_string())
}

/// rmcp's streamable HTTP service over the notes, alone (the tests compare it with [`app`]).
pub fn rmcp_service(config: &Config) -> StreamableHttpService<NotesServer, LocalSessionManager> {
    let notes = Notes::default();
    let mut rmcp_config = StreamableHttpServerConfig::default();
    // rmcp checks `Host` against loopback names by default; the audience's host is ours too.
    if let Some(host) = config
        .audience
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
    {
        rmcp_config.allowed_hosts.push(host.to_owned());
    }
    StreamableHttpService::new(
        move || Ok(NotesServer::new(notes.clone())),
        LocalSessionManager::default().into(),
        rmcp_config,
    )
}

/// The whole app: CORS outermost, then the verifier (and the metadata), then the MCP layer
/// around rmcp's service at `/mcp`.
pub fn app(config: &Config, verifier: &Verifier<StandardClaims>) -> Result<Router, String> {
    let mcp = ServiceBuilder::new()
        .layer(mcp_layer()?)
        .service(rmcp_service(config));
    let cors = McpCorsLayer::new(&config.allowed_origins).map_err(|err| err.to_string())?;
    Ok(Router::new()
        .route_service("/mcp", mcp)
        .layer(verifier.layer())
        .layer(cors))
}

/// The notes every session shares.
#[derive(Clone, Default)]
pub struct Notes(Arc<Mutex<Vec<String>>>);

impl Notes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The MCP server: four tools over the notes.
#[derive(Clone)]
pub struct NotesServer {
    notes: Notes,
    #[allow(dead_code)] // read by the tool_handler macro
    tool_router: ToolRouter<NotesServer>,
}

/// `add_note`'s arguments.
#[derive(serde::Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AddNote {
    /// The note.
    pub text: String,
}

/// The verified claims the layers put in the request, as rmcp hands its head to a tool.
fn claims(parts: &http::request::Parts) -> Result<&Claims<StandardClaims>, ErrorData> {
    parts
        .extensions
        .get::<Claims<StandardClaims>>()
        .ok_or_else(|| ErrorData::internal_error("no verified token", None))
}

#[tool_router]
impl NotesServer {
    fn new(notes: Notes) -> Self {
        NotesServer {
            notes,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Who the token says the caller is: its sub and scopes")]
    async fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<String, ErrorData> {
        let claims = claims(&parts)?;
        let scopes: Vec<&str> = claims.scope.iter().collect();
        Ok(serde_json::json!({"sub": claims.subject(), "scopes": scopes}).to_string())
    }

    #[tool(description = "Every note")]
    async fn list_notes(&self) -> String {
        serde_json::json!({"notes": *self.notes.lock()}).to_string()
    }

    #[tool(description = "Adds a note")]
    async fn add_note(&self, Parameters(AddNote { text }): Parameters<AddNote>) -> String {
        let mut notes = self.notes.lock();
        notes.push(text);
        serde_json::json!({"added": true, "count": notes.len()}).to_string()
    }

    #[tool(description = "Deletes every note (needs a recent multi-factor authentication)")]
    async fn purge_notes(&self) -> String {
        let mut notes = self.notes.lock();
        let purged = notes.len();
        notes.clear();
        serde_json::json!({"purged": purged}).to_string()
    }
}

#[tool_handler]
impl ServerHandler for NotesServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
#[allow(dead_code)] // the tests include this file for `app`
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env(&|name| std::env::var(name).ok())?;
    let verifier = verifier(&config)?;
    let app = app(&config, &verifier)?;
    let listener = tokio::net::TcpListener::bind(&config.addr).await?;
    eprintln!(
        "MCP endpoint on http://{}/mcp (audience {})",
        listener.local_addr()?,
        config.audience
    );
    axum::serve(listener, app).await?;
    Ok(())
}
