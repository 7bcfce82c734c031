//! `r2gitops reconcile` against the emulator: from empty to converged and idempotent, drift
//! corrected, deletions guarded, the crash window between create and write recovered, and
//! the CLI contract (exit codes, formats, the lock, bad files). Credentials are proven with
//! the real `age` CLI and boto3.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use r2gitops::cloudflare::{Client, ReadApi, WriteClient};
use r2gitops::config::{Desired, Owner};
use r2gitops::plan::Plan;
use r2gitops::reconcile;
use r2gitops::reconcile::{Observe, Pass};
use r2gitops::secrets::S3Endpoints;
use serde_json::json;

mod cli;
mod converge;
mod logs;
mod tokens;

struct World(common::Sandbox);

impl std::ops::Deref for World {
    type Target = common::Sandbox;
    fn deref(&self) -> &common::Sandbox {
        &self.0
    }
}

impl World {
    async fn new() -> World {
        World(common::Sandbox::new().await)
    }

    fn endpoints(&self) -> S3Endpoints {
        S3Endpoints::from_args(&self.s3_pairs(), None).unwrap()
    }

    fn desired(&self) -> Desired {
        reconcile::load_desired(&self.file(), None, r2gitops::config::AdoptRolls::Refused).unwrap()
    }

    async fn client(&self) -> Client {
        common::admin_client(&self.emu).await
    }

    async fn admin(&self) -> WriteClient {
        self.client().await.into_writer()
    }

    /// Plan through the library (the code path the CLI and the daemon share).
    async fn plan(&self) -> Plan {
        let (desired, endpoints) = (self.desired(), self.endpoints());
        Pass::local(&desired, &endpoints)
            .plan(&self.client().await, Observe::default())
            .await
            .unwrap()
            .plan
    }

    /// One full pass through the library.
    async fn pass(&self) -> (Plan, r2gitops::apply::Report) {
        common::library_pass(&self.desired(), self.client().await, &self.endpoints()).await
    }

    /// Run the real binary against the emulator (blocking: call from spawn_blocking).
    fn cli(&self, args: &[&str]) -> Output {
        let out = self.r2gitops(args).output().unwrap();
        eprintln!(
            "r2gitops {args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    async fn run(self: &Arc<Self>, args: &'static [&'static str]) -> Output {
        let w = self.clone();
        tokio::task::spawn_blocking(move || w.cli(args))
            .await
            .unwrap()
    }

    async fn tokens_named(&self, name: &str) -> Vec<String> {
        self.client()
            .await
            .list_tokens(Owner::Account)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.name == name)
            .map(|t| t.id)
            .collect()
    }

    /// Decrypt an env output with the real age CLI and check its credentials with boto3:
    /// put then get `key` in `bucket`.
    fn prove_env_output(&self, file: &str, bucket: &str, key: &str) {
        let plain = common::age_decrypt(&self.identity, &self.out().join(file));
        let vars = common::env_vars(&plain);
        let op = |op: &str| {
            json!({
                "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": vars["AWS_ACCESS_KEY_ID"],
                "secret": vars["AWS_SECRET_ACCESS_KEY"], "op": op, "bucket": bucket,
                "key": key, "body": "hello from boto3",
            })
        };
        let results = common::s3_ops(&json!([op("put"), op("get")]));
        assert_eq!(results[0]["ok"], true, "put: {results}");
        assert_eq!(results[1]["body"], "hello from boto3", "get: {results}");
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn lines(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(r2gitops::plan::render::step_line)
        .collect()
}

const TWO_OF_EACH: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: media
  - name: logs
    jurisdiction: eu
    location_hint: weur
tokens:
  - name: uploader
    access: object-read-write
    buckets: [media]
    output: { file: uploader.env.age, format: env }
  - name: log-reader
    access: object-read
    buckets: [logs]
    output: { file: logs/reader.json.age, format: json }
"#;

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
