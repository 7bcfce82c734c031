//! The inventory and its lease in R2 (`--state r2://BUCKET/KEY`), through the binary against
//! the emulator's conditional writes: runners with no shared disk share one inventory, two
//! applies started together never both apply, a partitioned old holder is fenced by epoch,
//! and bad state input stops before any change.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use r2gitops::config::{Jurisdiction, Owner};
use serde_json::Value;

mod lease;
mod refusals;
mod sharing;

const STATE: &str = "r2://state/teams/r2gitops.json";
const KEY: &str = "teams/r2gitops.json";

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

/// The sandbox, a `state` bucket, and S3 credentials (read-write on it alone).
struct World {
    sb: common::Sandbox,
    key_id: String,
    secret: String,
}

impl World {
    async fn new() -> World {
        World::with(common::Sandbox::new().await).await
    }

    async fn with(sb: common::Sandbox) -> World {
        let (key_id, secret) = common::state_bucket(&sb.emu, Jurisdiction::Default).await;
        sb.write(FILE);
        sb.emu.reset_stats();
        World { key_id, secret, sb }
    }

    /// A runner: its own work directory with a copy of the file, and nothing else.
    fn runner(&self, name: &str) -> PathBuf {
        let dir = self.sb.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(self.sb.file(), dir.join("r2gitops.yaml")).unwrap();
        dir
    }

    /// `r2gitops ARGS -f DIR/r2gitops.yaml` with the state's S3 credentials in the
    /// environment and DIR as working directory (outputs under DIR/secrets).
    fn cmd(&self, dir: &Path, args: &[&str]) -> Command {
        self.cmd_out(dir, &dir.join("secrets"), args)
    }

    /// The same with the outputs in `out` (a volume replicas share).
    fn cmd_out(&self, dir: &Path, out: &Path, args: &[&str]) -> Command {
        let mut cmd = self.sb.r2gitops_without_file(args);
        cmd.arg("-f")
            .arg(dir.join("r2gitops.yaml"))
            .arg("--output-dir")
            .arg(out)
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .current_dir(dir);
        cmd
    }

    /// S3 operations on the state bucket with its credentials.
    fn s3(&self, ops: Value) -> Value {
        let endpoint = &self.sb.emu.s3_urls()["default"];
        common::s3_ops_on(endpoint, &self.key_id, &self.secret, "state", ops)
    }

    async fn tokens_named(&self, name: &str) -> usize {
        use r2gitops::cloudflare::ReadApi;
        common::admin_client(&self.sb.emu)
            .await
            .list_tokens(Owner::Account)
            .await
            .unwrap()
            .iter()
            .filter(|t| t.name == name)
            .count()
    }
}

/// The outputs a checkout of the repository brings along (they are ciphertext), never the
/// inventory.
fn copy_outputs(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("secrets")).unwrap();
    for f in ["uploader.env.age", "reader.json.age"] {
        std::fs::copy(from.join("secrets").join(f), to.join("secrets").join(f)).unwrap();
    }
}
