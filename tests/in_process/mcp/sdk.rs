//! The official TypeScript SDK with tokens of node-oidc-provider.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;

/// The official TypeScript SDK (`@modelcontextprotocol/sdk`) with tokens of node-oidc-provider,
/// both from npm (`tests/mcp/client.mjs`, `tests/mcp/as.mjs`).
#[tokio::test]
async fn the_official_typescript_sdk_discovers_upscopes_and_meets_the_step_up() {
    let (_as, started) = Node::start("mcp", "as.mjs", &[]);
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
                .current_dir(package_dir("mcp"))
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
