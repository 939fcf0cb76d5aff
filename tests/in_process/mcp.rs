//! The MCP layer through the `mcp_server` example (rmcp's streamable HTTP service behind the
//! verifier), with RFC 9068 tokens of the jose issuer (`tests/issuer/issuer.mjs`, node):
//! the discovery challenge, per-tool scopes decided from the headers and from the body,
//! lying headers, batches, the body bound, step-up, the audience, CORS. Features `jwks` and
//! `mcp`; needs node and `npm ci` in `tests/issuer`.
#![cfg(all(feature = "jwks", feature = "mcp"))]

use std::io::{Read, Write};
use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use crate::common::idp::Idp;
use crate::common::nodes::within;
use crate::mcp_server::{self, Config};

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

#[tokio::test]
async fn a_client_without_a_token_learns_the_metadata_and_the_base_scope() {
    let idp = Idp::start();
    let (base, audience) = serve(&idp, &[]).await;
    let anonymous = post(&base, None, &[], call_body("whoami", json!({})).to_string()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.challenge,
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"mcp\"",
            metadata_url(&base)
        )
    );
    let http = reqwest::Client::new();
    let inserted: Value = http
        .get(metadata_url(&base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root: Value = http
        .get(format!("{base}/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inserted, root);
    assert_eq!(inserted["resource"], audience);
    assert_eq!(inserted["authorization_servers"], json!([idp.issuer]));
    assert_eq!(
        inserted["scopes_supported"],
        json!(["mcp", "notes:read", "notes:write"])
    );
    // Nothing comes from Host or X-Forwarded-*.
    let forged = http
        .get(metadata_url(&base))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "host=evil.example;proto=https")
        .send()
        .await
        .unwrap();
    let forged: Value = forged.json().await.unwrap();
    assert_eq!(forged["resource"], audience);
}

#[tokio::test]
async fn a_403_names_every_scope_the_call_needs_and_the_body_never_runs() {
    let idp = Idp::start();
    let (base, audience) = serve(&idp, &[]).await;
    let base_only = token(&idp, &audience, "mcp notes:read", json!({})).await;
    let whoami = call(&base, &base_only, "whoami", json!({})).await;
    assert_eq!(whoami.status, StatusCode::OK, "{}", whoami.body);
    assert!(whoami.body.contains("user-1"), "{}", whoami.body);

    let refused = call(&base, &base_only, "add_note", json!({"text": "x"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.challenge,
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"the token lacks the \
             permission this request needs\", scope=\"mcp notes:write\", \
             resource_metadata=\"{}\"",
            metadata_url(&base)
        )
    );
    // The base scope is named, held or not, and notes:write does not give notes:read.
    let writer = token(&idp, &audience, "notes:write", json!({})).await;
    let refused = call(&base, &writer, "whoami", json!({})).await;
    assert!(
        refused.challenge.contains("scope=\"mcp\""),
        "{}",
        refused.challenge
    );
    let writer = token(&idp, &audience, "mcp notes:write", json!({})).await;
    let refused = call(&base, &writer, "list_notes", json!({})).await;
    assert!(
        refused.challenge.contains("scope=\"mcp notes:read\""),
        "{}",
        refused.challenge
    );
    // `scp` counts as `scope` does; with more scopes the call passes.
    let scp = idp
        .mint(
            json!({"claims": {"aud": audience, "scp": ["mcp", "notes:write"]}, "omit": ["scope"]}),
        )
        .await;
    let added = call(&base, &scp, "add_note", json!({"text": "first"})).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let listed = call(&base, &base_only, "list_notes", json!({})).await;
    assert!(listed.body.contains("first"), "{}", listed.body);
}

#[tokio::test]
async fn lying_or_missing_headers_are_400_and_never_run_the_call() {
    let idp = Idp::start();
    let (base, audience) = serve(&idp, &[]).await;
    let reader = token(&idp, &audience, "mcp notes:read", json!({})).await;
    let writer = token(&idp, &audience, "mcp notes:write", json!({})).await;
    let add = call_body("add_note", json!({"text": "smuggled"})).to_string();
    let v = ("mcp-protocol-version", MODERN);
    for headers in [
        // Headers naming a call the token may make, a body naming another.
        vec![v, ("mcp-method", "tools/call"), ("mcp-name", "whoami")],
        vec![v, ("mcp-method", "tools/list")],
        // Required from 2026-07-28 on.
        vec![v],
        // Twice.
        vec![
            v,
            ("mcp-method", "tools/call"),
            ("mcp-name", "whoami"),
            ("mcp-name", "add_note"),
        ],
    ] {
        let lie = post(&base, Some(&reader), &headers, add.clone()).await;
        assert_eq!(lie.status, StatusCode::BAD_REQUEST, "{headers:?}");
        let error: Value = serde_json::from_str(&lie.body).unwrap();
        assert_eq!(error["error"]["code"], -32020, "{headers:?}");
    }
    // A duplicated JSON member, escaped or not: refused whatever the headers say.
    let twice = add.replacen(
        "\"name\":\"add_note\"",
        "\"name\":\"whoami\",\"na\\u006de\":\"add_note\"",
        1,
    );
    assert!(twice.contains("na\\u006de"), "{twice}");
    let headers = [v, ("mcp-method", "tools/call"), ("mcp-name", "whoami")];
    let refused = post(&base, Some(&reader), &headers, twice).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // The Base64 form of Mcp-Name (SEP-2243) is decoded.
    let headers = [
        v,
        ("mcp-method", "tools/call"),
        ("mcp-name", "=?base64?YWRkX25vdGU=?="),
    ];
    let ok = post(&base, Some(&writer), &headers, add.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // Only the one note the honest request added.
    let listed = call(&base, &reader, "list_notes", json!({})).await;
    assert_eq!(
        listed.body.matches("smuggled").count(),
        1,
        "{}",
        listed.body
    );
}

#[tokio::test]
async fn older_revisions_are_decided_from_the_body_and_batches_by_their_union() {
    let idp = Idp::start();
    let (base, audience) = serve(&idp, &[]).await;
    let reader = token(&idp, &audience, "mcp notes:read", json!({})).await;
    let call = |tool: &str| json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}});
    // 2025-11-25: no mirrored headers; the body decides, before any session exists.
    let legacy = [("mcp-protocol-version", "2025-11-25")];
    let refused = post(
        &base,
        Some(&reader),
        &legacy,
        call("purge_notes").to_string(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.challenge.contains("scope=\"mcp notes:write\""),
        "{}",
        refused.challenge
    );
    // A batch where the revision forbids one.
    let batch = json!([call("whoami"), call("list_notes")]).to_string();
    let forbidden = post(&base, Some(&reader), &legacy, batch).await;
    assert_eq!(forbidden.status, StatusCode::BAD_REQUEST);
    // 2025-03-26 allows batches: the most demanding call decides.
    let old = [("mcp-protocol-version", "2025-03-26")];
    let batch = json!([call("whoami"), call("add_note"), call("list_notes")]).to_string();
    let refused = post(&base, Some(&reader), &old, batch).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .challenge
            .contains("scope=\"mcp notes:write notes:read\""),
        "{}",
        refused.challenge
    );
}

#[tokio::test]
async fn bodies_over_the_bound_are_413_chunked_or_not() {
    let idp = Idp::start();
    let (base, audience) = serve(&idp, &[]).await;
    let writer = token(&idp, &audience, "mcp notes:write", json!({})).await;
    let big = call_body("add_note", json!({"text": "x".repeat(5 << 20)})).to_string();
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "add_note"),
    ];
    assert_eq!(
        post(&base, Some(&writer), &headers, big.clone())
            .await
            .status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Chunked: no Content-Length to trust.
    let addr = base.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {writer}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         mcp-protocol-version: {MODERN}\r\nmcp-method: tools/call\r\nmcp-name: add_note\r\n\
         transfer-encoding: chunked\r\n\r\n"
    );
    let answer = raw(addr, head, Some(big.into_bytes())).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// Sends `head` and, chunked, `body` (or nothing more) over a raw connection; the start of
/// the answer. Writes may fail once the server has answered.
async fn raw(addr: String, head: String, body: Option<Vec<u8>>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        conn.write_all(head.as_bytes()).unwrap();
        for chunk in body.iter().flat_map(|b| b.chunks(64 << 10)) {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
            if conn.write_all(&framed).is_err() {
                break;
            }
        }
        if body.is_some() {
            let _ = conn.write_all(b"0\r\n\r\n");
        }
        let mut buf = [0u8; 512];
        let n = conn.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_token_is_checked_before_a_byte_of_the_body() {
    let idp = Idp::start();
    let (base, _) = serve(&idp, &[]).await;
    let addr = base.trim_start_matches("http://").to_owned();
    // A body announced and never sent: the 401 comes anyway.
    let head = "POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                content-length: 1000\r\n\r\n{"
        .to_owned();
    let answer = raw(addr, head, None).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test]
async fn the_step_up_follows_the_scopes_and_passes_with_a_recent_mfa() {
    let idp = Idp::start();
    let (base, audience) = serve(&idp, &[]).await;
    let now = crate::common::now();
    let reader = token(
        &idp,
        &audience,
        "mcp",
        json!({"acr": "urn:example:mfa", "auth_time": now}),
    )
    .await;
    let refused = call(&base, &reader, "purge_notes", json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "scopes first");
    let challenge = |answer: &Answer| answer.challenge.clone();
    for claims in [
        json!({}),
        json!({"acr": "urn:example:pwd", "auth_time": now}),
        json!({"acr": "urn:example:mfa"}),
        json!({"acr": "urn:example:mfa", "auth_time": now - 400}),
        json!({"acr": "urn:example:mfa", "auth_time": now + 60}),
    ] {
        let writer = token(&idp, &audience, "mcp notes:write", claims.clone()).await;
        let short = call(&base, &writer, "purge_notes", json!({})).await;
        assert_eq!(short.status, StatusCode::UNAUTHORIZED, "{claims}");
        assert_eq!(
            challenge(&short),
            format!(
                "Bearer error=\"insufficient_user_authentication\", error_description=\"a \
                 stronger or more recent authentication of the user is required\", \
                 acr_values=\"urn:example:mfa\", max_age=\"300\", scope=\"mcp notes:write\", \
                 resource_metadata=\"{}\"",
                metadata_url(&base)
            )
        );
    }
    let stepped_up = token(
        &idp,
        &audience,
        "mcp notes:write",
        json!({"acr": "urn:example:mfa", "auth_time": now - 10}),
    )
    .await;
    let purged = call(&base, &stepped_up, "purge_notes", json!({})).await;
    assert_eq!(purged.status, StatusCode::OK, "{}", purged.body);
    assert!(purged.body.contains("purged"), "{}", purged.body);
}

#[tokio::test]
async fn tokens_for_another_audience_are_401() {
    let idp = Idp::start();
    let (base, audience) = serve(&idp, &[]).await;
    for aud in [
        "http://resource.test".to_owned(),
        format!("{audience}/"),
        audience.replace("/mcp", "/MCP"),
        audience.replace("/mcp", ""),
    ] {
        let other = token(&idp, &aud, "mcp", json!({})).await;
        let refused = call(&base, &other, "whoami", json!({})).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{aud}");
        assert!(
            refused.challenge.contains("invalid_token"),
            "{}",
            refused.challenge
        );
    }
}

#[tokio::test]
async fn browsers_of_allowed_origins_read_the_challenge_and_others_are_403() {
    let idp = Idp::start();
    let (base, _) = serve(&idp, &["http://localhost:6274"]).await;
    let http = reqwest::Client::new();
    let from = |origin: &'static str| {
        http.post(format!("{base}/mcp"))
            .header("origin", origin)
            .header("content-type", "application/json")
            .body("{}")
    };
    let allowed = from("http://localhost:6274").send().await.unwrap();
    assert_eq!(allowed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let exposed = allowed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    assert_eq!(
        from("http://evil.example").send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // The metadata documents and their preflights too.
    let preflight = http
        .request(http::Method::OPTIONS, metadata_url(&base))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let document = http
        .get(metadata_url(&base))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(
        document.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
}

/// A node script of `tests/mcp` (its packages installed by `npm ci` there), killed when
/// dropped.
struct Node(std::process::Child);

impl Node {
    /// Starts `script` with `args`; its first line on stdout.
    fn start(script: &str, args: &[&str]) -> (Node, Value) {
        use std::io::BufRead;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp");
        assert!(
            std::path::Path::new(dir)
                .join("node_modules/oidc-provider")
                .exists(),
            "tests/mcp needs its packages: run `npm ci` there (.ci/run does)"
        );
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

/// The official TypeScript SDK (`@modelcontextprotocol/sdk`) with tokens of node-oidc-provider,
/// both from npm (`tests/mcp/client.mjs`, `tests/mcp/as.mjs`).
#[tokio::test]
async fn the_official_typescript_sdk_discovers_upscopes_and_meets_the_step_up() {
    let (_as, started) = Node::start("as.mjs", &[]);
    let issuer = started["issuer"].as_str().unwrap().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Config::from_env(&|name| match name {
        "APP_ADDR" => Some(addr.clone()),
        "ISSUER_URL" => Some(issuer.clone()),
        _ => None,
    })
    .unwrap();
    let verifier = mcp_server::verifier(&config).unwrap();
    let base = crate::common::serve_on(listener, mcp_server::app(&config, &verifier).unwrap());
    assert!(
        within(Duration::from_secs(10), async || verifier.has_keys())
            .await
            .is_some(),
        "node-oidc-provider's keys never arrived"
    );
    let run = {
        let (base, issuer) = (base.clone(), issuer.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("node")
                .args(["client.mjs", &base, &issuer])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp"))
                .output()
                .unwrap()
        })
    };
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    let exchanges = out["exchanges"].as_array().unwrap();
    let at = |client: &str, status: u16| -> Vec<&Value> {
        exchanges
            .iter()
            .filter(|e| {
                e["client"] == client && e["status"] == status && e["url"] == format!("{base}/mcp")
            })
            .collect()
    };
    // The discovery chain: 401 naming the metadata and the base scope, RFC 9728, the issuer's
    // metadata, a token for the base scope and this resource.
    let metadata = format!("{base}/.well-known/oauth-protected-resource/mcp");
    assert_eq!(
        exchanges[0]["challenge"],
        format!("Bearer resource_metadata=\"{metadata}\", scope=\"mcp\"")
    );
    assert_eq!(exchanges[1]["url"], metadata);
    assert!(exchanges[2]["url"].as_str().unwrap().starts_with(&issuer));
    let tokens: Vec<&Value> = exchanges
        .iter()
        .filter(|e| e["url"] == format!("{issuer}/token") && e["client"] == "agent")
        .collect();
    assert_eq!(tokens[0]["token_scope"], "mcp");
    assert_eq!(tokens[0]["token_resource"], format!("{base}/mcp"));
    // Listed and called; the 403s named every scope of the call, the new tokens asked for them.
    assert_eq!(
        out["tools"],
        json!(["add_note", "list_notes", "purge_notes", "whoami"])
    );
    assert_eq!(out["whoami"], json!({"sub": "agent", "scopes": ["mcp"]}));
    let refusals: Vec<&str> = at("agent", 403)
        .iter()
        .map(|e| e["challenge"].as_str().unwrap())
        .collect();
    assert!(
        refusals[0].contains("scope=\"mcp notes:write\""),
        "{refusals:?}"
    );
    assert!(
        refusals[1].contains("scope=\"mcp notes:read\""),
        "{refusals:?}"
    );
    assert_eq!(tokens[1]["token_scope"], "mcp notes:write");
    assert_eq!(out["add_note"]["ok"], "{\"added\":true,\"count\":1}");
    assert_eq!(out["list_notes"]["ok"], "{\"notes\":[\"from the SDK\"]}");
    // The step-up: refused with its challenge, which kept the scopes; passes with acr and auth_time.
    let short = at("agent", 401);
    let step_up = short.last().unwrap()["challenge"].as_str().unwrap();
    assert!(
        step_up.starts_with("Bearer error=\"insufficient_user_authentication\"")
            && step_up.contains(
                "acr_values=\"urn:example:mfa\", max_age=\"300\", scope=\"mcp notes:write\""
            )
            && step_up.contains(&format!("resource_metadata=\"{metadata}\"")),
        "{step_up}"
    );
    assert!(
        out["purge_short"]["error"]
            .as_str()
            .unwrap()
            .contains("401"),
        "{}",
        out["purge_short"]
    );
    assert_eq!(out["purge_mfa"]["ok"], "{\"purged\":1}");
    // By hand, with this issuer's tokens.
    assert_eq!(out["lying_headers"]["status"], 400);
    assert_eq!(out["oversized"]["status"], 413);
    assert_eq!(out["other_audience"]["status"], 401);
    assert!(
        out["other_audience"]["challenge"]
            .as_str()
            .unwrap()
            .contains("another audience"),
        "{}",
        out["other_audience"]
    );
}

/// RFC 9470 on any route: `RequireStepUpLayer` behind a verifier with DPoP allowed.
#[tokio::test]
async fn a_step_up_guards_any_route_and_challenges_a_dpop_client_with_dpop() {
    use tower_jwt_sessions::step_up::{RequireStepUpLayer, StepUp};
    use tower_jwt_sessions::verifier::{Issuer, ResourceMetadata};
    use tower_jwt_sessions::{Dpop, StandardClaims, Verifier};

    let idp = Idp::start();
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(Issuer::new(&idp.issuer).audience("http://resource.test"))
        .resource_metadata(ResourceMetadata::new("http://resource.test"))
        .dpop(Dpop::allowed())
        .build()
        .unwrap();
    let step_up = StepUp::new()
        .acr("urn:example:mfa")
        .max_age(Duration::from_secs(60));
    let app = axum::Router::new()
        .route("/wire", axum::routing::get(|| async { "sent" }))
        .layer(RequireStepUpLayer::<StandardClaims>::new(step_up).unwrap())
        .layer(verifier.layer());
    let base = crate::common::serve(app).await;
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some()
    );
    let http = reqwest::Client::new();
    let now = crate::common::now();
    let get = async |authorization: String, proof: Option<String>| {
        let mut req = http
            .get(format!("{base}/wire"))
            .header("authorization", authorization);
        if let Some(proof) = proof {
            req = req.header("dpop", proof);
        }
        let res = req.send().await.unwrap();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (res.status(), challenge)
    };
    let weak = idp
        .mint(json!({"claims": {"acr": "urn:example:pwd", "auth_time": now}}))
        .await;
    let (status, challenge) = get(format!("Bearer {weak}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with(
            "Bearer error=\"insufficient_user_authentication\", error_description=\"a stronger \
             or more recent authentication of the user is required\", \
             acr_values=\"urn:example:mfa\", max_age=\"60\", \
             resource_metadata=\"http://resource.test/.well-known/oauth-protected-resource\""
        ),
        "{challenge}"
    );
    let strong = idp
        .mint(json!({"claims": {"acr": "urn:example:mfa", "auth_time": now}}))
        .await;
    assert_eq!(
        get(format!("Bearer {strong}"), None).await.0,
        StatusCode::OK
    );

    // A DPoP-bound token that falls short: the challenge is a DPoP one alone.
    let jkt = idp.client_jkt("a").await;
    let bound = idp
        .mint(json!({"claims": {"cnf": {"jkt": jkt}, "acr": "urn:example:mfa", "auth_time": now - 600}}))
        .await;
    let proof = idp
        .proof(json!({"htm": "GET", "htu": format!("{base}/wire"), "token": bound}))
        .await;
    let (status, challenge) = get(format!("DPoP {bound}"), Some(proof)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with("DPoP error=\"insufficient_user_authentication\"")
            && challenge.contains("max_age=\"60\"")
            && challenge.contains("algs=\"")
            && !challenge.contains("Bearer"),
        "{challenge}"
    );
}
