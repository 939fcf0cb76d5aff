//! The refresh route's standard form (RFC 6749 §6) as clients we did not write use it:
//! panva's oauth4webapi (`tests/issuer/client.mjs`, under node) discovers the example server
//! from its RFC 8414 metadata and refreshes with `grant_type=refresh_token`, with DPoP (RFC
//! 9449 §5) and the nonce dance (§8) too; its tokens then pass the resource server example's
//! scope checks. Also the example's `PUBLIC_URL`, and the form's refusals in process, the
//! original API's form answered as before. The node tests are behind `jwks` and need node.

use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use tower_jwt_sessions::limits::MAX_FORM_LEN;
use tower_jwt_sessions::{Keys, MachinableClaims, MemoryBackend, Sessions};

use crate::common::SECRET;
use crate::common::client::{login, send};

const FORM: &str = "application/x-www-form-urlencoded";

fn sessions() -> Sessions<MemoryBackend<MachinableClaims>> {
    let memory = crate::common::memory_with_u1();
    Sessions::builder(Keys::hs256(SECRET).unwrap(), memory.clone(), memory)
        .rotate_refresh_tokens(Duration::ZERO)
        .build()
        .unwrap()
}

fn form(body: impl Into<String>) -> Request<String> {
    Request::post("/sessions/refresh/")
        .header(CONTENT_TYPE, format!("{FORM};charset=UTF-8"))
        .body(body.into())
        .unwrap()
}

fn grant(token: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={token}&client_id=pet-demo")
}

#[tokio::test]
async fn the_standard_form_refreshes_and_rotates_as_a_token_endpoint() {
    let sessions = sessions();
    let tokens = login(&sessions).await;
    let reply = send(&sessions, form(grant(&tokens.refresh_token))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert!(reply.body["expires_in"].as_u64().unwrap() > 0);
    assert!(reply.body["access_token"].is_string());
    let rotated = reply.refresh_token().unwrap().to_owned();
    assert_eq!(
        crate::common::client::get(&sessions, reply.body["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );

    // The retired token again: RFC 6749's invalid_grant, and the session ends (RFC 9700).
    let reused = send(&sessions, form(grant(&tokens.refresh_token))).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.body["error"], "invalid_grant");
    assert_eq!(reused.challenge, "", "a token endpoint sends no challenge");
    let after = send(&sessions, form(grant(&rotated))).await;
    assert_eq!(after.body["error"], "invalid_grant", "{}", after.body);

    // Unknown, or not a refresh token at all.
    let unknown = send(&sessions, form(grant("a.b.c"))).await;
    assert_eq!(
        (unknown.status, unknown.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let fresh = login(&sessions).await;
    let access = send(&sessions, form(grant(&fresh.access_token))).await;
    assert_eq!(access.body["error"], "invalid_grant");
}

#[tokio::test]
async fn the_standard_form_refuses_what_rfc_6749_names() {
    let sessions = sessions();
    let token = login(&sessions).await.refresh_token;
    let cases = [
        (
            format!("grant_type=password&refresh_token={token}"),
            "unsupported_grant_type",
        ),
        (
            "grant_type=authorization_code&code=x".to_owned(),
            "unsupported_grant_type",
        ),
        (format!("refresh_token={token}"), "invalid_request"),
        ("grant_type=refresh_token".to_owned(), "invalid_request"),
        (
            format!("{}&grant_type=refresh_token", grant(&token)),
            "invalid_request",
        ),
        (
            "grant_type=refresh_token&refresh_token=%G0".to_owned(),
            "invalid_request",
        ),
        // Past the bound: refused without reading on.
        (
            format!("{}&pad={}", grant(&token), "a".repeat(MAX_FORM_LEN)),
            "invalid_request",
        ),
    ];
    for (body, error) in cases {
        let reply = send(&sessions, form(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body:.80}");
        assert_eq!(reply.body["error"], error, "{body:.80}: {}", reply.body);
        assert!(reply.body["error_description"].is_string());
        assert!(reply.headers.get(WWW_AUTHENTICATE).is_none());
        assert_eq!(reply.headers["cache-control"], "no-store");
    }
    // None of them touched the session.
    let reply = send(&sessions, form(grant(&token))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn the_original_apis_form_is_answered_as_before_whatever_its_content_type() {
    let sessions = sessions();
    // A Bearer refresh labelled a form (jQuery labels every POST so), with or without a body:
    // the Bearer header decides, as it always did.
    for body in ["", "grant_type=password"] {
        let token = login(&sessions).await.refresh_token;
        let req = Request::post("/sessions/refresh/")
            .header(CONTENT_TYPE, FORM)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(body.to_owned())
            .unwrap();
        let reply = send(&sessions, req).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["access_token", "expires_in", "refresh_token", "token_type"]
        );
    }
    // No credentials and an empty form: the bare challenge of today, not a token error.
    let reply = send(&sessions, form("")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.challenge, "Bearer");
    // A bad Bearer refresh with a form body: refused as the original API refuses it.
    let req = Request::post("/sessions/refresh/")
        .header(CONTENT_TYPE, FORM)
        .header(AUTHORIZATION, "Bearer a.b.c")
        .body(grant("x"))
        .unwrap();
    let reply = send(&sessions, req).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"], "invalid_token");
}

#[cfg(feature = "jwks")]
mod with_node {
    use std::time::Duration;

    use reqwest::StatusCode;
    use serde_json::{Value, json};
    use tower_jwt_sessions::verifier::Issuer;
    use tower_jwt_sessions::{Algorithm, Keys, StandardClaims, Verifier};

    use crate::common::idp::Idp;
    use crate::common::nodes::within;

    /// The resource the example server's tokens are for, by default.
    const AUDIENCE: &str = "http://127.0.0.1:3100";

    /// The example server signing with ES256 (an RFC 9068 issuer with RFC 8414 metadata),
    /// started as its binary starts with `vars`, on a port known before; its base URL.
    async fn example(vars: &[(&str, &str)]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let var = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        // What the example's `main` reads, through the same function.
        let tuning = crate::app::Tuning::from_vars(var, &addr, true).unwrap();
        let keys =
            Keys::from_private_pem(Algorithm::ES256, &crate::common::key_file("ec_private.pem"))
                .unwrap();
        let backend = crate::backend::AnyBackend::Memory(tower_jwt_sessions::MemoryBackend::new());
        let (app, _sessions) = crate::app::app_tuned(keys, tuning, backend).unwrap();
        crate::common::serve_on(listener, app)
    }

    /// One run of `tests/issuer/client.mjs` (oauth4webapi) with `input`; its output.
    async fn client(input: Value) -> Value {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/issuer");
        assert!(
            std::path::Path::new(dir)
                .join("node_modules/oauth4webapi")
                .exists(),
            "tests/issuer needs its packages: run `npm ci` there (.ci/run does)"
        );
        let out = tokio::process::Command::new("node")
            .arg("client.mjs")
            .arg(input.to_string())
            .current_dir(dir)
            .output()
            .await
            .expect("node runs the test client (install node to run these tests)");
        assert!(
            out.status.success(),
            "client.mjs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the client's line of JSON")
    }

    fn step(output: &Value, n: usize) -> &Value {
        &output["steps"][n]
    }

    /// The resource server example for the example server at `issuer`; its base URL.
    async fn resource(issuer: &str) -> String {
        let verifier = Verifier::<StandardClaims>::builder()
            .issuer(Issuer::new(issuer).audience(AUDIENCE))
            .build()
            .unwrap();
        let base = crate::common::serve(crate::resource_server::app(&verifier)).await;
        assert!(
            within(Duration::from_secs(5), async || verifier.has_keys())
                .await
                .is_some(),
            "the example server's keys never arrived"
        );
        base
    }

    async fn status(method: reqwest::Method, url: String, token: &str) -> StatusCode {
        reqwest::Client::new()
            .request(method, url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn oauth4webapi_discovers_the_token_endpoint_and_refreshes_with_the_standard_form() {
        let base = example(&[]).await;
        let output = client(json!({
            "issuer": base,
            "login": { "user": "testUser", "password": crate::app::PASSWORD },
            "steps": [
                { "token": "latest" },
                { "token": "latest" },
                { "token": "a.b.c" },
            ],
        }))
        .await;
        let metadata = &output["metadata"];
        assert_eq!(metadata["issuer"], base.as_str());
        assert_eq!(
            metadata["token_endpoint"],
            format!("{base}/sessions/refresh/")
        );
        assert_eq!(metadata["grant_types_supported"], json!(["refresh_token"]));
        assert_eq!(
            metadata["token_endpoint_auth_methods_supported"],
            json!(["none"])
        );
        assert!(metadata.get("dpop_signing_alg_values_supported").is_none());
        for n in 0..2 {
            let refreshed = step(&output, n);
            assert_eq!(refreshed["ok"], true, "{refreshed}");
            assert_eq!(refreshed["status"], 200);
            assert_eq!(refreshed["cache_control"], "no-store");
            assert_eq!(refreshed["token_type"], "bearer");
            assert!(refreshed["expires_in"].as_u64().unwrap() > 0);
            // The example rotates only in cookie mode.
            assert_eq!(refreshed["refresh_token"], Value::Null);
        }
        let unknown = step(&output, 2);
        assert_eq!(unknown["kind"], "ResponseBodyError", "{unknown}");
        assert_eq!(unknown["status"], 400);
        assert_eq!(unknown["error"], "invalid_grant");

        // Its tokens carry the user's permissions as scopes, so the resource server example
        // serves its users (issue 26, item 8).
        let resource = resource(&base).await;
        let token = step(&output, 1)["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let read = format!("{resource}/api/read");
        let write = format!("{resource}/api/write");
        assert_eq!(
            status(reqwest::Method::GET, read.clone(), &token).await,
            200
        );
        assert_eq!(
            status(reqwest::Method::POST, write.clone(), &token).await,
            200
        );
        let reader = client(json!({
            "issuer": base,
            "login": { "user": "readOnlyUser", "password": crate::app::PASSWORD },
            "steps": [{ "token": "latest" }],
        }))
        .await;
        let token = step(&reader, 0)["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(status(reqwest::Method::GET, read, &token).await, 200);
        assert_eq!(status(reqwest::Method::POST, write, &token).await, 403);
    }

    #[tokio::test]
    async fn oauth4webapi_refreshes_a_dpop_bound_session_through_the_nonce_dance() {
        let base = example(&[
            ("DPOP", "allowed"),
            ("DPOP_NONCE_SECRET", "a nonce secret the instances share"),
        ])
        .await;
        let output = client(json!({
            "issuer": base,
            "login": { "user": "testUser", "password": crate::app::PASSWORD, "dpop": true },
            "steps": [
                { "token": "latest", "key": "own" },
                { "token": "latest", "key": "other" },
                { "token": "latest", "key": "none" },
                { "token": "latest", "key": "own" },
            ],
        }))
        .await;
        let algs = &output["metadata"]["dpop_signing_alg_values_supported"];
        assert!(algs.as_array().unwrap().contains(&json!("ES256")), "{algs}");
        let login = &output["login"];
        assert_eq!(login["status"], 201, "{login}");
        assert_eq!(login["nonce_retries"], 1, "the login asked for a nonce");
        assert_eq!(login["body"]["token_type"], "DPoP");

        // The first refresh learns the nonce (400 use_dpop_nonce with DPoP-Nonce) and retries.
        let first = step(&output, 0);
        assert_eq!(first["ok"], true, "{first}");
        assert_eq!(first["token_type"], "dpop");
        assert_eq!(first["nonce_retries"], 1);
        // A proof by another key, or none: 400 invalid_dpop_proof, the session left alone.
        for n in [1, 2] {
            let refused = step(&output, n);
            assert_eq!(refused["kind"], "ResponseBodyError", "{refused}");
            assert_eq!(refused["status"], 400);
            assert_eq!(refused["error"], "invalid_dpop_proof");
        }
        let again = step(&output, 3);
        assert_eq!(again["ok"], true, "{again}");
        assert_eq!(again["token_type"], "dpop");
        assert_eq!(again["nonce_retries"], 0, "the nonce it holds is current");
    }

    /// Issue 26, item 5, with a DPoP client we did not write: oauth4webapi reads the 403 of
    /// a DPoP request short of a scope as a `DPoP` challenge, and a Bearer one's as `Bearer`.
    #[tokio::test]
    async fn oauth4webapi_meets_a_dpop_challenge_for_a_missing_scope() {
        let base = example(&[("DPOP", "allowed")]).await;
        let resources = json!([
            { "method": "GET", "path": "/me" },
            { "method": "POST", "path": "/api/pets" },
        ]);
        for (dpop, scheme) in [(true, "dpop"), (false, "bearer")] {
            let output = client(json!({
                "issuer": base,
                "login": { "user": "readOnlyUser", "password": crate::app::PASSWORD, "dpop": dpop },
                "resources": resources,
            }))
            .await;
            let me = &output["resources"][0];
            assert_eq!(me["status"], 200, "{output}");
            let refused = &output["resources"][1];
            assert_eq!(refused["status"], 403, "{refused}");
            assert_eq!(
                refused["kind"], "WWWAuthenticateChallengeError",
                "{refused}"
            );
            let challenges = refused["challenges"].as_array().unwrap();
            assert_eq!(challenges.len(), 1, "{refused}");
            let challenge = &challenges[0];
            assert_eq!(challenge["scheme"], scheme, "{refused}");
            let parameters = &challenge["parameters"];
            assert_eq!(parameters["error"], "insufficient_scope", "{refused}");
            assert_eq!(parameters["scope"], "write", "{refused}");
            if dpop {
                let algs = parameters["algs"].as_str().unwrap();
                assert!(algs.split(' ').any(|alg| alg == "Ed25519"), "{algs}");
            } else {
                assert!(parameters.get("algs").is_none(), "{refused}");
            }
        }
    }

    /// A login at `base` bound to the test issuer's client `a`, its proof naming `origin`;
    /// the access token.
    async fn bound_login(idp: &Idp, base: &str, origin: &str) -> String {
        let proof = idp
            .proof(json!({ "htm": "POST", "htu": format!("{origin}/sessions/") }))
            .await;
        let res = reqwest::Client::new()
            .post(format!("{base}/sessions/"))
            .basic_auth("testUser", Some(crate::app::PASSWORD))
            .header("dpop", proof)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `GET /me` at `base` with `token` and a proof naming `htu`, sent with `host` if given.
    async fn me(idp: &Idp, base: &str, token: &str, htu: &str, host: Option<&str>) -> StatusCode {
        let proof = idp
            .proof(json!({ "htm": "GET", "htu": htu, "token": token }))
            .await;
        let mut req = reqwest::Client::new()
            .get(format!("{base}/me"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof);
        if let Some(host) = host {
            req = req.header("host", host);
        }
        req.send().await.unwrap().status()
    }

    #[tokio::test]
    async fn a_proof_must_name_the_public_url_whatever_host_the_client_sends() {
        let idp = Idp::start();
        let base = example(&[("DPOP", "allowed")]).await;
        let token = bound_login(&idp, &base, &base).await;
        assert_eq!(
            me(&idp, &base, &token, &format!("{base}/me"), None).await,
            200
        );
        // Another scheme than the one clients use (plain HTTP here).
        let https = base.replacen("http://", "https://", 1);
        assert_eq!(
            me(&idp, &base, &token, &format!("{https}/me"), None).await,
            401
        );
        // A client-chosen Host does not move the origin.
        assert_eq!(
            me(
                &idp,
                &base,
                &token,
                "http://evil.example/me",
                Some("evil.example")
            )
            .await,
            401
        );
    }

    #[tokio::test]
    async fn public_url_names_the_issuer_the_token_endpoint_and_the_origin_of_proofs() {
        let idp = Idp::start();
        let public = "https://api.example:8443";
        let base = example(&[
            ("DPOP", "allowed"),
            ("PUBLIC_URL", "HTTPS://API.example:8443/"),
        ])
        .await;
        // Served here, named for there.
        let metadata: Value =
            reqwest::get(format!("{base}/.well-known/oauth-authorization-server"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(metadata["issuer"], public);
        assert_eq!(
            metadata["token_endpoint"],
            format!("{public}/sessions/refresh/")
        );
        let token = bound_login(&idp, &base, public).await;
        assert_eq!(
            me(&idp, &base, &token, &format!("{public}/me"), None).await,
            200
        );
        assert_eq!(
            me(&idp, &base, &token, &format!("{base}/me"), None).await,
            401
        );
    }

    #[test]
    fn the_examples_refuse_a_public_url_or_a_nonce_secret_they_cannot_use() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        for url in [
            "https://api.example/prefix",
            "ftp://api.example",
            "api.example",
        ] {
            let var = move |name: &str| (name == "PUBLIC_URL").then(|| url.to_owned());
            assert!(
                crate::env::public_url(&var, "127.0.0.1:1").is_err(),
                "{url}"
            );
        }
        assert_eq!(
            crate::env::public_url(&vars(&[]), "127.0.0.1:1").unwrap(),
            "http://127.0.0.1:1"
        );
        let err = crate::env::dpop(&vars(&[("DPOP_NONCE_SECRET", "s")]), "http://a").unwrap_err();
        assert!(err.contains("DPOP_NONCE_SECRET"), "{err}");
        let dpop = crate::env::dpop(
            &vars(&[("DPOP", "required"), ("DPOP_NONCE_SECRET", "s")]),
            "http://a",
        )
        .unwrap()
        .unwrap();
        assert!(format!("{dpop:?}").contains("nonces: true"), "{dpop:?}");
    }
}
