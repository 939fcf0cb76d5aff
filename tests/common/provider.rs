//! node-oidc-provider (`tests/issuer/provider.mjs`): an authorization server we did not
//! write, issuing opaque tokens and answering introspection and revocation over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use http::StatusCode;
use serde_json::Value;

/// The resource the provider's tokens are for unless asked otherwise.
pub const RESOURCE: &str = "http://api.test/";

/// One provider process; killed when dropped (or [`stop`](Provider::stop)ped).
pub struct Provider {
    child: Child,
    pub issuer: String,
    http: reqwest::Client,
}

impl Provider {
    pub fn start() -> Provider {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/issuer");
        assert!(
            std::path::Path::new(dir)
                .join("node_modules/oidc-provider")
                .exists(),
            "tests/issuer needs its packages: run `npm ci` there (.ci/run does)"
        );
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg("0")
            .current_dir(dir)
            .stdout(Stdio::piped())
            // Its warnings (development adapter, Node version) are not ours to show.
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs node-oidc-provider (install node to run these tests)");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Drained while it runs: a closed pipe would end it at its next line of output.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let started: Value = serde_json::from_str(&line).expect("the provider's first line");
        Provider {
            child,
            issuer: started["issuer"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// A client-credentials token response of `client` (its secret is `{client}-secret`),
    /// with the form's extra `params` and, if given, a DPoP proof.
    pub async fn grant(&self, client: &str, params: &[(&str, &str)], dpop: Option<&str>) -> Value {
        let mut form = String::from("grant_type=client_credentials");
        for (name, value) in params {
            form.push_str(&format!("&{name}={}", encode(value)));
        }
        let mut request = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        if let Some(proof) = dpop {
            request = request.header("dpop", proof);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// An opaque access token of client `app` with `scope`.
    pub async fn opaque(&self, scope: &str) -> String {
        let answer = self.grant("app", &[("scope", scope)], None).await;
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// Revokes `token` at the provider (RFC 7009), as client `app`.
    pub async fn revoke(&self, token: &str) {
        let res = self
            .http
            .post(format!("{}/token/revocation", self.issuer))
            .basic_auth("app", Some("app-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={}", encode(token)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// Calls to the introspection endpoint so far.
    pub async fn introspections(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/test/stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["introspections"].as_u64().unwrap()
    }

    /// Stops the provider: its endpoints are down from now on.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}
