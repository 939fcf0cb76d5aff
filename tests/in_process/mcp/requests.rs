//! Requests of every shape against the example, with the jose issuer's tokens.

use std::io::{Read, Write};

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use super::*;

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
/// the answer, read while the body goes (an early answer is not lost to a reset of the
/// upload), whose writes may fail once the server has answered.
async fn raw(addr: String, head: String, body: Option<Vec<u8>>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reader = conn.try_clone().unwrap();
        let answer = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let n = reader.read(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
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
        answer.join().unwrap()
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
