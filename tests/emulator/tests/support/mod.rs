//! Shared helpers of the emulator's own tests: an admin HTTP client and token helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use cf_emulator::{Emulator, EmulatorConfig};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const OBJECT_WRITE: &str = "2efd5506f9c8494dacb1fa10a3e7d5b6";
pub const OBJECT_READ: &str = "6a018a9f2fc74eb6b293b0c548f38b39";
pub const ADMIN_WRITE: &str = "bf7481a1826f439697cb59a20b22293e";
pub const ADMIN_READ: &str = "b4992e1108244f5d8bfbd5744320c2e1";

/// An HTTP client for the tests. In a workspace build, Cargo unifies reqwest's features with
/// the root package's `rustls-no-provider`, so a crypto provider must be installed first or
/// reqwest panics when the client is built.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub async fn start() -> Emulator {
    Emulator::start(EmulatorConfig::default()).await.unwrap()
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Api<'a> {
    pub emu: &'a Emulator,
    pub http: reqwest::Client,
    pub token: String,
}

impl<'a> Api<'a> {
    pub fn admin(emu: &'a Emulator) -> Self {
        Api {
            emu,
            http: http(),
            token: emu.admin_token().to_string(),
        }
    }

    pub fn with_token(emu: &'a Emulator, token: &str) -> Self {
        Api {
            emu,
            http: http(),
            token: token.to_string(),
        }
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let path = path.replace(":acct", self.emu.account_id());
        self.http
            .request(method, format!("{}{}", self.emu.api_url(), path))
            .bearer_auth(&self.token)
    }

    pub async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp: Response = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn create_bucket(&self, jurisdiction: &str, name: &str) -> (u16, Value) {
        let resp = self
            .req(Method::POST, "/accounts/:acct/r2/buckets")
            .header("cf-r2-jurisdiction", jurisdiction)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// Create an account token with one policy; returns (id, value).
    pub async fn create_token(
        &self,
        name: &str,
        group: &str,
        resources: Value,
    ) -> (String, String) {
        let (status, v) = self
            .json(
                Method::POST,
                "/accounts/:acct/tokens",
                Some(json!({
                    "name": name,
                    "policies": [{"effect": "allow", "resources": resources, "permission_groups": [{"id": group}]}],
                })),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        (
            v["result"]["id"].as_str().unwrap().to_string(),
            v["result"]["value"].as_str().unwrap().to_string(),
        )
    }

    pub fn bucket_resource(&self, jurisdiction: &str, bucket: &str) -> Value {
        json!({ format!("com.cloudflare.edge.r2.bucket.{}_{}_{}", self.emu.account_id(), jurisdiction, bucket): "*" })
    }

    pub fn account_resource(&self) -> Value {
        json!({ format!("com.cloudflare.api.account.{}", self.emu.account_id()): "*" })
    }
}

pub fn s3_secret(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// The venv python made by `scripts/setup-test-tools.sh`.
pub fn python() -> PathBuf {
    let p = workspace_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup-test-tools.sh` first",
        p.display()
    );
    p
}
