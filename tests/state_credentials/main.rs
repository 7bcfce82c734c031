//! `--state-credentials temporary`, through the binary against the emulator, with no AWS
//! key anywhere: r2gitops mints the state's S3 credentials under its parent token
//! `r2gitops:state` (created once, found by name after), scoped to KEY and KEY.lease, renews
//! them, never lets a file touch the parent, and never writes a minted secret out.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use r2gitops::cloudflare::WriteApi;
use r2gitops::config::{Jurisdiction, StorageClass};
use serde_json::{Value, json};

mod converge;
mod refusals;

const STATE: &str = "r2://state/teams/r2gitops.json";
const KEY: &str = "teams/r2gitops.json";
const PARENT: &str = "r2gitops:state";

const FILE: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: media
tokens:
  - name: uploader
    access: object-read-write
    buckets: [media]
    output: { file: uploader.env.age, format: env }
  - name: reader
    access: object-read
    buckets: [media]
    output: { file: reader.json.age, format: json }
"#;

/// The sandbox and a `state` bucket; no S3 key for it exists.
struct World {
    sb: common::Sandbox,
}

impl World {
    async fn new() -> World {
        let sb = common::Sandbox::new().await;
        common::admin_client(&sb.emu)
            .await
            .into_writer()
            .create_bucket(Jurisdiction::Default, "state", None, StorageClass::Standard)
            .await
            .unwrap();
        sb.write(FILE);
        sb.emu.reset_stats();
        World { sb }
    }

    fn runner(&self, name: &str) -> PathBuf {
        let dir = self.sb.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(self.sb.file(), dir.join("r2gitops.yaml")).unwrap();
        dir
    }

    /// `r2gitops ARGS -f DIR/r2gitops.yaml --output-dir OUT`, with only what the sandbox sets
    /// (the Cloudflare API token, no AWS_*), logging r2gitops at TRACE for the leak scan.
    fn cmd(&self, dir: &Path, out: &Path, args: &[&str]) -> Command {
        let mut cmd = self.sb.r2gitops_without_file(args);
        cmd.arg("-f")
            .arg(dir.join("r2gitops.yaml"))
            .arg("--output-dir")
            .arg(out)
            .env("RUST_LOG", "info,r2gitops=trace")
            .current_dir(dir);
        cmd
    }

    fn parents(&self) -> Vec<String> {
        self.sb
            .emu
            .tokens()
            .into_iter()
            .filter(|t| t.name == PARENT)
            .map(|t| t.id)
            .collect()
    }

    /// Boto3 with one minted credential, on the state bucket unless an op names another.
    fn s3_as(&self, cred: &(String, String, String), ops: Value) -> Value {
        let ops: Vec<Value> = ops
            .as_array()
            .unwrap()
            .iter()
            .map(|op| {
                let mut op = op.clone();
                op["endpoint"] = json!(self.sb.emu.s3_urls()["default"]);
                op["key_id"] = json!(cred.0);
                op["secret"] = json!(cred.1);
                op["session_token"] = json!(cred.2);
                if op.get("bucket").is_none() {
                    op["bucket"] = json!("state");
                }
                op
            })
            .collect();
        common::s3_ops(&json!(ops))
    }

    /// Every minted secret and session token, and every token value issued (the parent's
    /// included) with its derived S3 secret: none may be in `text`.
    fn assert_no_secret_in(&self, what: &str, text: &str) {
        let mut secrets = self.sb.emu.issued_secrets();
        for (_, secret, session) in self.sb.emu.temporary_secrets() {
            secrets.push(secret);
            secrets.push(session);
        }
        for s in secrets {
            assert!(!text.contains(&s), "a secret is in {what}");
        }
    }

    /// The same over every file under the sandbox.
    fn assert_no_secret_on_disk(&self) {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(self.sb.dir.path(), &mut files);
        for f in files {
            let bytes = std::fs::read(&f).unwrap_or_default();
            self.assert_no_secret_in(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
        }
    }
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!(
        "-> {:?}\nstdout:\n{}\nstderr (tail):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        tail(&String::from_utf8_lossy(&out.stderr))
    );
    out
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
