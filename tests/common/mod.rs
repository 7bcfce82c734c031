//! The one harness shared by the integration tests: where the real third-party clients are,
//! and helpers to start the emulator and make keys. Each test file does `mod common;`; a test
//! split into a directory (`tests/NAME/main.rs`) does `#[path = "../common/mod.rs"] mod common;`.
//! Append helpers here; do not change the meaning of existing ones.
#![allow(dead_code)]

pub mod loopback;
pub mod output;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv python made by `scripts/setup-test-tools.sh` (override: R2GITOPS_TEST_PYTHON).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("R2GITOPS_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup-test-tools.sh` first",
        p.display()
    );
    p
}

/// A command for a tool installed on PATH by `scripts/setup-test-tools.sh` (age, rclone, ...).
/// AWS_CA_BUNDLE is removed: this machine exports it and it breaks rclone even over http.
pub fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not on PATH: run `bash scripts/setup-test-tools.sh` first"
    );
    let mut cmd = Command::new(name);
    cmd.env_remove("AWS_CA_BUNDLE");
    cmd
}

/// A fresh age X25519 identity from the real `age-keygen`: (identity file, public recipient).
pub fn age_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let out = tool("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("run age-keygen");
    assert!(out.status.success(), "age-keygen failed: {:?}", out);
    let text = std::fs::read_to_string(&path).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string();
    (path, public)
}

/// Decrypt an age file with the real `age` CLI.
pub fn age_decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    let out = tool("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .expect("run age");
    assert!(
        out.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

// ---- Cloudflare client helpers (tests of the client and of reconcile) ----

use std::collections::BTreeSet;
use std::time::Duration;

use cf_emulator::Emulator;
use r2gitops::cloudflare::{Client, ClientConfig, TokenRequest};
use r2gitops::config::{IpRules, Owner};
use r2gitops::observed::{Effect, Policy, ResourceValue};
use r2gitops::secret::TokenValue;

/// A client config for the emulator's admin token (or any other), with the default budget.
pub fn client_config(emu: &Emulator, token: &str) -> ClientConfig {
    client_config_with_budget(emu, token, 1000)
}

/// The same with another request budget (per 300 s), for fixtures that create thousands.
pub fn client_config_with_budget(emu: &Emulator, token: &str, budget: u32) -> ClientConfig {
    ClientConfig {
        api_url: emu.api_url().to_string(),
        api_token: TokenValue::new(token),
        token_owner: Owner::Account,
        account_id: emu.account_id().to_string(),
        account_source: "the test",
        budget: (budget, Duration::from_secs(300)),
        concurrency: 4,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        max_retries: 3,
    }
}

/// A verified client holding the emulator's admin token.
pub async fn admin_client(emu: &Emulator) -> Client {
    Client::connect(client_config(emu, emu.admin_token()))
        .await
        .unwrap()
}

/// One full pass through the library, on the local inventory (the code path the CLI and
/// the daemon share): plan, then apply with 4 steps in flight.
pub async fn library_pass(
    desired: &r2gitops::config::Desired,
    client: Client,
    endpoints: &r2gitops::secrets::S3Endpoints,
) -> (r2gitops::plan::Plan, r2gitops::apply::Report) {
    use r2gitops::reconcile::{Observe, Pass, Planned, Run};
    let pass = Pass::local(desired, endpoints);
    let Planned { plan, inventory } = pass.plan(&client, Observe::default()).await.unwrap();
    let run = Run {
        concurrency: 4,
        stop: &r2gitops::apply::Stop::new(),
        progress: None,
    };
    let report = pass.apply(client, &plan, inventory, run).await.report;
    (plan, report)
}

/// A bucket `state` in jurisdiction `j` for `--state r2://state/…`, and S3 credentials
/// (Bucket Item Write on it alone) as (access key id, secret access key).
pub async fn state_bucket(emu: &Emulator, j: r2gitops::config::Jurisdiction) -> (String, String) {
    use r2gitops::cloudflare::WriteApi;
    let admin = admin_client(emu).await.into_writer();
    admin
        .create_bucket(j, "state", None, r2gitops::config::StorageClass::Standard)
        .await
        .unwrap();
    let policy = Policy {
        effect: r2gitops::observed::Effect::Allow,
        // Workers R2 Storage Bucket Item Write.
        permission_groups: ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_{}_state",
                emu.account_id(),
                j.as_str()
            ),
            r2gitops::observed::ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    let created = admin
        .create_token(
            r2gitops::config::Owner::Account,
            &token_request("state-rw", policy),
        )
        .await
        .unwrap();
    let secret = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        created.value.expose().as_bytes(),
    ));
    (created.token.id.clone(), secret)
}

/// An allow policy: Bucket Item Read on one `default`-jurisdiction bucket.
pub fn object_read_policy(emu: &Emulator, bucket: &str) -> Policy {
    Policy {
        effect: Effect::Allow,
        permission_groups: BTreeSet::from(["6a018a9f2fc74eb6b293b0c548f38b39".to_string()]),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_{bucket}",
                emu.account_id()
            ),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    }
}

/// A create body with one policy and nothing else.
pub fn token_request(name: &str, policy: Policy) -> TokenRequest {
    TokenRequest {
        name: name.to_string(),
        policies: vec![policy],
        not_before: None,
        expires_on: None,
        condition: IpRules::default(),
        status: None,
    }
}

// ---- real S3 client and output helpers ----

/// Run S3 operations with boto3 (`tests/clients/s3_ops.py`), with no AWS_* variable of
/// this machine in the way. `ops` is the script's JSON list; returns its JSON results.
pub fn s3_ops(ops: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(root().join("tests/clients/s3_ops.py"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run s3_ops.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ops.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "s3_ops.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("s3_ops.py prints JSON")
}

/// `s3_ops` on one bucket with one key pair: every op of `ops` gets `endpoint`, the
/// credentials and `bucket` filled in.
pub fn s3_ops_on(
    endpoint: &str,
    key_id: &str,
    secret: &str,
    bucket: &str,
    ops: serde_json::Value,
) -> serde_json::Value {
    let ops: Vec<serde_json::Value> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            let mut op = op.clone();
            op["endpoint"] = serde_json::json!(endpoint);
            op["key_id"] = serde_json::json!(key_id);
            op["secret"] = serde_json::json!(secret);
            op["bucket"] = serde_json::json!(bucket);
            op
        })
        .collect();
    s3_ops(&serde_json::json!(ops))
}

/// The variables of a decrypted `env` output.
pub fn env_vars(plain: &[u8]) -> std::collections::BTreeMap<String, String> {
    String::from_utf8_lossy(plain)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---- a sandbox for end-to-end runs: emulator, temp dir, age key, the binary ----

/// An emulator, a temp dir holding `r2gitops.yaml` (outputs under `secrets/`), and an age
/// identity from the real `age-keygen` whose recipient replaces `{recipient}` in files.
pub struct Sandbox {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
    pub recipient: String,
}

impl Sandbox {
    pub async fn new() -> Sandbox {
        Sandbox::with_behaviour(cf_emulator::Behaviour::default()).await
    }

    /// A sandbox whose emulator shows one of the live-API behaviours it can switch on (`cf_emulator::Behaviour`).
    pub async fn with_behaviour(behaviour: cf_emulator::Behaviour) -> Sandbox {
        let emu = Emulator::start(cf_emulator::EmulatorConfig {
            behaviour,
            ..cf_emulator::EmulatorConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (identity, recipient) = age_keygen(dir.path(), "ops");
        Sandbox {
            emu,
            dir,
            identity,
            recipient,
        }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("r2gitops.yaml")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    /// Replace the desired-state file the way editors do (temp file, rename over it);
    /// `{recipient}` becomes the sandbox's age recipient.
    pub fn write(&self, yaml: &str) {
        let tmp = self.dir.path().join(".r2gitops.yaml.swp");
        std::fs::write(&tmp, yaml.replace("{recipient}", &self.recipient)).unwrap();
        std::fs::rename(tmp, self.file()).unwrap();
    }

    /// `JURISDICTION=URL` for each of the emulator's S3 listeners.
    pub fn s3_pairs(&self) -> Vec<String> {
        self.emu
            .s3_urls()
            .iter()
            .map(|(j, url)| format!("{j}={url}"))
            .collect()
    }

    /// The real binary with `args`, `-f <file>` and an environment naming only the
    /// emulator (nothing of this machine's environment but PATH).
    pub fn r2gitops(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_r2gitops"));
        self.configure(&mut cmd, args);
        cmd
    }

    /// The same, started through `sh` with `ulimit -n limit`: at most `limit` open files.
    pub fn r2gitops_nofile(&self, limit: u32, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_r2gitops"));
        self.configure(&mut cmd, args);
        cmd
    }

    /// The real binary with `args` and the same environment, but no `-f` (for commands
    /// that take no desired-state file, such as `import`).
    pub fn r2gitops_without_file(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_r2gitops"));
        cmd.args(args);
        self.environment(&mut cmd);
        cmd
    }

    fn configure(&self, cmd: &mut Command, args: &[&str]) {
        cmd.args(args).arg("-f").arg(self.file());
        self.environment(cmd);
    }

    fn environment(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CLOUDFLARE_API_BASE_URL", self.emu.api_url())
            .env("CLOUDFLARE_API_TOKEN", self.emu.admin_token())
            .env("CLOUDFLARE_ACCOUNT_ID", self.emu.account_id())
            .env("R2GITOPS_S3_ENDPOINTS", self.s3_pairs().join(","))
            .env("RUST_LOG", "info");
    }
}

// ---- a running `r2gitops watch` ----

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A `watch` process whose stderr is collected (and echoed with a `daemon:` prefix), with
/// the addresses it logged at start. Killed when dropped.
pub struct Watch {
    pub child: std::process::Child,
    log: Arc<Mutex<String>>,
    /// `--listen`'s bound address; empty when the process exited before listening.
    pub addr: String,
    /// `--status-listen`'s bound address, when given.
    pub status_addr: Option<String>,
}

impl Watch {
    /// Start `cmd` (an `r2gitops watch` command) and wait for its "watching" line (or its
    /// exit: then `addr` is empty and `wait_exit` tells the code).
    pub fn start(mut cmd: Command) -> Watch {
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("daemon: {line}");
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.contains("watching"))
                .and_then(|l| l.split(&format!(" {name}=")).nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_string)
        };
        let start = Instant::now();
        loop {
            let text = log.lock().unwrap().clone();
            if let Some(addr) = field(&text, "listen") {
                let status_addr = field(&text, "status_listen");
                return Watch {
                    child,
                    log,
                    addr,
                    status_addr,
                };
            }
            if child.try_wait().unwrap().is_some() {
                // Let the reader thread catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Watch {
                    child,
                    log,
                    addr: String::new(),
                    status_addr: None,
                };
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no watching line"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `start`, for a daemon that must come up: panics if it exits before listening.
    pub fn spawn(cmd: Command) -> Watch {
        let w = Watch::start(cmd);
        assert!(
            !w.addr.is_empty(),
            "watch exited before listening:\n{}",
            w.log()
        );
        w
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `/proc/<pid>/status` field in kB (`VmRSS`, `VmHWM`), Linux only.
    pub fn proc_kb(&self, field: &str) -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// GET `path` on `--listen`.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path, &[])
    }

    /// The number in the sample line of `/metrics` that starts with `prefix`.
    pub fn metric(&self, prefix: &str) -> f64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no metric {prefix} in:\n{text}"))
    }

    /// Successful passes so far.
    pub fn successes(&self) -> f64 {
        self.metric("r2gitops_passes_total{result=\"success\"}")
    }

    /// Wait for the process to end; its exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return status.code();
            }
            assert!(
                start.elapsed() < limit,
                "still running after {limit:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare HTTP/1.0 GET with extra header lines: status and body (status 0 when the server
/// closed the connection without an answer).
pub fn http_get(addr: &str, path: &str, headers: &[&str]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut text = String::new();
    if s.read_to_string(&mut text).is_err() || text.len() < 12 {
        return (0, text);
    }
    let status = text[9..12].parse().unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

/// Poll `check` until it holds or `limit` passes; returns the time it took.
pub async fn until<F, Fut>(limit: Duration, what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A random value shaped like a Cloudflare API token (40 characters of [A-Za-z0-9_-]), for
/// tests that prove a token never leaks.
pub fn cloudflare_like_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    (0..40)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}
