//! Failover of two `r2gitops watch` replicas sharing `--state r2://…` (TTL 3 s, so a poll
//! every second): the seconds from SIGKILL of the leader to the standby's first converged
//! pass, over 10 trials (median and max). Goal: at most TTL + 2 s.
//!
//! Run: `cargo bench --bench failover` (`R2GITOPS_BENCH_QUICK=1`: 3 trials). A benchmark, not
//! a test: a missed goal is printed as MISSED; it exits non-zero only if a takeover never
//! happens or a takeover changes anything in Cloudflare.

#[path = "common/table.rs"]
mod table;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cf_emulator::{Emulator, EmulatorConfig};
use r2gitops::cloudflare::{Client, ClientConfig, WriteApi};
use r2gitops::config::{Jurisdiction, Owner, StorageClass};
use r2gitops::observed::{Effect, Policy, ResourceValue};
use r2gitops::secret::TokenValue;

const TTL_SECS: u64 = 3;
const STATE: &str = "r2://state/bench/inventory.json";

struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn addr(&self) -> Option<String> {
        let log = self.log.lock().unwrap().clone();
        log.lines()
            .find(|l| l.contains("watching"))?
            .split(" listen=")
            .nth(1)?
            .split_whitespace()
            .next()
            .map(str::to_string)
    }

    fn metric(&self, name: &str) -> Option<f64> {
        let addr = self.addr()?;
        let mut s = TcpStream::connect(addr).ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.lines()
            .find(|l| l.starts_with(name))?
            .rsplit(' ')
            .next()?
            .parse()
            .ok()
    }
}

fn spawn(emu: &Emulator, dir: &Path, out: &Path, key: &(String, String)) -> Daemon {
    let s3: Vec<String> = emu
        .s3_urls()
        .iter()
        .map(|(j, url)| format!("{j}={url}"))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_r2gitops"))
        .arg("watch")
        .arg("-f")
        .arg(dir.join("r2gitops.yaml"))
        .arg("--output-dir")
        .arg(out)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1h",
            "--state",
            STATE,
        ])
        .args(["--lease-ttl", &format!("{TTL_SECS}s")])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CLOUDFLARE_API_BASE_URL", emu.api_url())
        .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .env("R2GITOPS_S3_ENDPOINTS", s3.join(","))
        .env("AWS_ACCESS_KEY_ID", &key.0)
        .env("AWS_SECRET_ACCESS_KEY", &key.1)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn r2gitops watch");
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    Daemon { child, log }
}

fn wait(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A `state` bucket and an S3 key (read-write on it alone).
async fn state_key(emu: &Emulator) -> (String, String) {
    let client = Client::connect(ClientConfig {
        api_url: emu.api_url().to_string(),
        api_token: TokenValue::new(emu.admin_token()),
        token_owner: Owner::Account,
        account_id: emu.account_id().to_string(),
        account_source: "the bench",
        budget: (1000, Duration::from_secs(300)),
        concurrency: 4,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        max_retries: 3,
    })
    .await
    .unwrap()
    .into_writer();
    client
        .create_bucket(Jurisdiction::Default, "state", None, StorageClass::Standard)
        .await
        .unwrap();
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_state",
                emu.account_id()
            ),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    let created = client
        .create_token(
            Owner::Account,
            &r2gitops::cloudflare::TokenRequest {
                name: "state-rw".into(),
                policies: vec![policy],
                not_before: None,
                expires_on: None,
                condition: Default::default(),
                status: None,
            },
        )
        .await
        .unwrap();
    let secret = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        created.value.expose().as_bytes(),
    ));
    (created.token.id, secret)
}

fn main() -> ExitCode {
    let trials = if std::env::var_os("R2GITOPS_BENCH_QUICK").is_some() {
        3
    } else {
        10
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig::default()))
        .unwrap();
    let key = rt.block_on(state_key(&emu));
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = {
        let out = Command::new("age-keygen").output().expect("age-keygen");
        let text = String::from_utf8(out.stdout).unwrap();
        let recipient = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("a public key")
            .to_string();
        (text, recipient)
    };
    drop(identity);
    let yaml = format!(
        "version: 1\nsettings:\n  recipients: [\"{recipient}\"]\nbuckets:\n  - name: media\ntokens:\n  - name: uploader\n    access: object-read-write\n    buckets: [media]\n    output: {{ file: uploader.env.age, format: env }}\n"
    );
    let shared = dir.path().join("shared");
    let mut times = Vec::new();
    let mut current: Option<Daemon> = None;
    for trial in 0..trials {
        let work = |name: String| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("r2gitops.yaml"), &yaml).unwrap();
            d
        };
        let leader = match current.take() {
            Some(l) => l,
            None => {
                let l = spawn(&emu, &work(format!("l{trial}")), &shared, &key);
                if !wait(Duration::from_secs(60), || {
                    l.metric("r2gitops_passes_total{result=\"success\"}") >= Some(1.0)
                }) {
                    eprintln!(
                        "the first leader never converged:\n{}",
                        l.log.lock().unwrap()
                    );
                    return ExitCode::FAILURE;
                }
                l
            }
        };
        let standby = spawn(&emu, &work(format!("s{trial}")), &shared, &key);
        if !wait(Duration::from_secs(30), || {
            standby.metric("r2gitops_passes_total{result=\"standby\"}") >= Some(1.0)
        }) {
            eprintln!("no standby:\n{}", standby.log.lock().unwrap());
            return ExitCode::FAILURE;
        }
        emu.reset_stats();
        let mut leader = leader;
        let killed = Instant::now();
        let _ = leader.child.kill();
        let _ = leader.child.wait();
        let took = wait(Duration::from_secs(60), || {
            standby.metric("r2gitops_leader ") == Some(1.0)
                && standby.metric("r2gitops_passes_total{result=\"success\"}") >= Some(1.0)
        });
        let t = killed.elapsed().as_secs_f64();
        if !took || emu.stats().mutating != 0 {
            eprintln!(
                "trial {trial}: takeover {took}, mutating calls {}:\n{}",
                emu.stats().mutating,
                standby.log.lock().unwrap()
            );
            return ExitCode::FAILURE;
        }
        eprintln!("trial {trial}: {t:.2} s");
        times.push(t);
        current = Some(standby);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    let goal = TTL_SECS as f64 + 2.0;
    table::row(
        &format!(
            "failover: SIGKILL of the leader to the standby's converged pass ({trials} trials, TTL {TTL_SECS} s)"
        ),
        &format!("median {median:.1} s, max {max:.1} s"),
        &format!("<= TTL + 2 s ({goal:.0} s)"),
        Some(max <= goal),
        "cargo bench --bench failover",
    );
    ExitCode::SUCCESS
}
