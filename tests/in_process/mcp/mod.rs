//! The MCP layer through the `mcp_server` example (rmcp's streamable HTTP service behind the
//! verifier), with RFC 9068 tokens of the jose issuer (`tests/issuer/issuer.mjs`, node):
//! the discovery challenge, per-tool scopes decided from the headers and from the body,
//! lying headers, batches, the body bound, step-up, the audience, CORS (`requests.rs`);
//! step-up on any route (`step_up.rs`); the official TypeScript SDK with node-oidc-provider
//! (`sdk.rs`); the MCP conformance runner through a token-adding proxy (`conformance.rs`).
//! Features `jwks` and `mcp`; needs node and `npm ci` in `tests/issuer`, `tests/mcp` and
//! `tests/conformance`.
#![cfg(all(feature = "jwks", feature = "mcp"))]

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use crate::common::idp::Idp;
use crate::common::nodes::within;
use crate::mcp_server::{self, Config};

mod conformance;
mod requests;
mod sdk;
mod step_up;

const MODERN: &str = "2026-07-28";

/// The example on a free port, trusting `idp`, once its keys are in: (base URL, audience).
async fn serve(idp: &Idp, origins: &[&str]) -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Config::from_env(&|name| match name {
        "APP_ADDR" => Some(addr.clone()),
        "ISSUER_URL" => Some(idp.issuer.clone()),
        "ALLOWED_ORIGINS" => Some(origins.join(",")),
        _ => None,
    })
    .unwrap();
    let verifier = mcp_server::verifier(&config).unwrap();
    let app = mcp_server::app(&config, &verifier).unwrap();
    let base = crate::common::serve_on(listener, app);
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some(),
        "the issuer's keys never arrived"
    );
    assert_eq!(config.audience, format!("{base}/mcp"));
    (base, config.audience)
}

/// A token for `audience` with `scope`, and `claims` besides.
async fn token(idp: &Idp, audience: &str, scope: &str, claims: Value) -> String {
    let mut all = json!({"aud": audience, "scope": scope});
    all.as_object_mut()
        .unwrap()
        .extend(claims.as_object().unwrap().clone());
    idp.mint(json!({ "claims": all })).await
}

struct Answer {
    status: StatusCode,
    challenge: String,
    body: String,
}

/// A `2026-07-28` stateless `tools/call` of `tool`, with `headers` (the mirrored ones unless
/// the test lies).
fn call_body(tool: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {
            "name": tool, "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            },
        },
    })
}

async fn post(base: &str, token: Option<&str>, headers: &[(&str, &str)], body: String) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    Answer {
        status: res.status(),
        challenge: res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        body: res.text().await.unwrap(),
    }
}

/// A mirrored `2026-07-28` call of `tool`.
async fn call(base: &str, token: &str, tool: &str, arguments: Value) -> Answer {
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool),
    ];
    post(
        base,
        Some(token),
        &headers,
        call_body(tool, arguments).to_string(),
    )
    .await
}

fn metadata_url(base: &str) -> String {
    format!("{base}/.well-known/oauth-protected-resource/mcp")
}

/// A node script of a package directory under `tests/` (its packages installed by `npm ci`
/// there), killed when dropped.
struct Node(std::process::Child);

impl Node {
    /// Starts `tests/<package>/<script>` with `args`; its first line on stdout.
    fn start(package: &str, script: &str, args: &[&str]) -> (Node, Value) {
        use std::io::BufRead;
        let dir = package_dir(package);
        let mut child = std::process::Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs the MCP test scripts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let first = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{script}: {line}"));
        (Node(child), first)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tests/<package>`, whose packages must be installed.
fn package_dir(package: &str) -> String {
    let dir = format!("{}/tests/{package}", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&dir).join("node_modules").exists(),
        "tests/{package} needs its packages: run `npm ci` there (.ci/run does)"
    );
    dir
}
