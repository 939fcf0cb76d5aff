//! The test issuer of `tests/issuer/issuer.mjs` (panva/jose under node): RFC 9068 tokens,
//! JWKS and discovery documents, and DPoP proofs made by keys this crate never sees.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use http::StatusCode;
use serde_json::Value;

/// One issuer process; killed when dropped.
pub struct Idp {
    child: Child,
    pub issuer: String,
    http: reqwest::Client,
}

impl Idp {
    /// An issuer on `port` (0: any free one).
    pub fn start_on(port: u16) -> Idp {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/issuer");
        assert!(
            std::path::Path::new(dir).join("node_modules/jose").exists(),
            "tests/issuer needs its packages: run `npm ci` there (.ci/run does)"
        );
        let mut child = Command::new("node")
            .arg("issuer.mjs")
            .arg(port.to_string())
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs the test issuer (install node to run these tests)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let started: Value = serde_json::from_str(&line).expect("the issuer's first line");
        Idp {
            child,
            issuer: started["issuer"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub fn start() -> Idp {
        Idp::start_on(0)
    }

    pub async fn post(&self, path: &str, body: Value) -> String {
        let res = self
            .http
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.text().await.unwrap()
    }

    /// A token minted by jose: `alg` ES256, `typ` at+jwt, and every RFC 9068 claim unless
    /// `body` says otherwise (`claims` overrides, `omit` drops).
    pub async fn mint(&self, body: Value) -> String {
        self.post("/mint", body).await
    }

    /// Documents fetched so far: (metadata, JWKS).
    pub async fn stats(&self) -> (u64, u64) {
        let stats: Value = self
            .http
            .get(format!("{}/stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            stats["metadata"].as_u64().unwrap(),
            stats["jwks"].as_u64().unwrap(),
        )
    }
}

impl Idp {
    /// A DPoP proof made by client `body["client"]` (default `a`): see `issuer.mjs`.
    pub async fn proof(&self, body: Value) -> String {
        self.post("/proof", body).await
    }

    /// The RFC 7638 thumbprint of client `name`'s key.
    pub async fn client_jkt(&self, name: &str) -> String {
        let clients: Value = self
            .http
            .get(format!("{}/clients", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        clients[name].as_str().unwrap().to_owned()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
