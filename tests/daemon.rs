//! `r2gitops watch` as a real process against the emulator: file edits converge within 2 s,
//! an empty or broken file deletes nothing and makes `/readyz` 503 until a valid file
//! returns, out-of-band drift is corrected within one interval, SIGTERM mid-pass exits 0
//! with every created token's output written, a second daemon on the same inventory is
//! refused, `/metrics` parses with Prometheus' own Python parser, and `suspend` applies
//! nothing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cf_emulator::Faults;
use r2gitops::cloudflare::{ReadApi, WriteApi};
use r2gitops::config::{Jurisdiction, Owner, StorageClass};

struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
    addr: String,
}

impl Daemon {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
    }

    /// Wait for the process to end; its exit code and how long it took.
    async fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), start.elapsed());
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

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare HTTP/1.0 GET: status and body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

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

    fn spawn(&self, extra: &[&str]) -> Daemon {
        let mut child = self
            .r2gitops(&["watch", "--listen", "127.0.0.1:0", "--debounce", "100ms"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
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
        let start = Instant::now();
        let addr = loop {
            let text = log.lock().unwrap().clone();
            if let Some(rest) = text.split("listen=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
            if let Some(status) = child.try_wait().unwrap() {
                return Daemon {
                    child,
                    log,
                    addr: format!("exited {status}"),
                };
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no listen line");
            std::thread::sleep(Duration::from_millis(10));
        };
        Daemon { child, log, addr }
    }

    async fn bucket_names(&self, j: Jurisdiction) -> Vec<String> {
        common::admin_client(&self.emu)
            .await
            .list_buckets(j)
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.name)
            .collect()
    }
}

/// Poll `check` until it holds or `limit` passes; returns the time it took.
async fn until<F, Fut>(limit: Duration, what: &str, check: F) -> Duration
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

const BASE: &str = r#"version: 1
settings: { recipients: ["{recipient}"], prune: true }
buckets:
  - { name: media, protect: false }
tokens:
  - { name: uploader, access: object-read-write, buckets: [media], output: { file: uploader.env.age, format: env } }
"#;

async fn ready(d: &Daemon) {
    until(Duration::from_secs(10), "ready", || async {
        d.get("/readyz").0 == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_converges_within_two_seconds_and_bad_files_delete_nothing() {
    let w = World::new().await;
    w.write(BASE);
    let d = w.spawn(&["--interval", "10m"]);
    ready(&d).await;
    assert_eq!(w.bucket_names(Jurisdiction::Default).await, ["media"]);

    w.write(&BASE.replace(
        "  - { name: media, protect: false }\n",
        "  - { name: media, protect: false }\n  - { name: logs, jurisdiction: eu }\n",
    ));
    let took = until(Duration::from_secs(2), "the edit converges", || async {
        w.bucket_names(Jurisdiction::Eu).await == ["logs"]
    })
    .await;
    eprintln!("converged {took:?} after the write");

    // Empty, then broken: never a deletion, and not ready.
    w.emu.reset_stats();
    w.write("");
    until(
        Duration::from_secs(5),
        "not ready on an empty file",
        || async { d.get("/readyz").0 == 503 },
    )
    .await;
    w.write("version: 1\nbuckets: [ {name: media\n");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, body) = d.get("/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("not valid"), "{body}");
    let status: serde_json::Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(status["config_valid"], false);
    assert!(
        status["config_errors"][0]
            .as_str()
            .unwrap()
            .contains("r2gitops.yaml:"),
        "{status}"
    );
    assert_eq!(w.emu.stats().mutating, 0, "an invalid file deletes nothing");
    assert_eq!(w.bucket_names(Jurisdiction::Default).await, ["media"]);

    w.write(BASE);
    until(Duration::from_secs(5), "ready again", || async {
        d.get("/readyz").0 == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_deletion_is_corrected_within_one_interval() {
    let w = World::new().await;
    w.write(BASE);
    let d = w.spawn(&["--interval", "1s"]);
    ready(&d).await;
    let admin = common::admin_client(&w.emu).await.into_writer();
    for t in admin.list_tokens(Owner::Account).await.unwrap() {
        if t.name == "r2gitops:uploader" {
            admin.delete_token(Owner::Account, &t.id).await.unwrap();
        }
    }
    // The bucket must be empty to be deleted out of band; it is (nothing was written).
    admin
        .delete_bucket(Jurisdiction::Default, "media")
        .await
        .unwrap();
    let took = until(
        Duration::from_millis(1100 + 1000),
        "the bucket comes back",
        || async { w.bucket_names(Jurisdiction::Default).await == ["media"] },
    )
    .await;
    eprintln!("restored after {took:?} (interval 1s +/-10%)");
    until(Duration::from_secs(2), "the token comes back", || async {
        admin
            .list_tokens(Owner::Account)
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "r2gitops:uploader")
    })
    .await;
    // Re-created token: new value, new file, readable by the recipient.
    until(Duration::from_secs(2), "ready after the fix", || async {
        d.get("/readyz").0 == 200
    })
    .await;
    let plain = common::age_decrypt(&w.identity, &w.dir.path().join("secrets/uploader.env.age"));
    assert!(common::env_vars(&plain).contains_key("AWS_SECRET_ACCESS_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_pass_exits_zero_with_every_created_token_written() {
    let w = World::new().await;
    let mut yaml = String::from(
        "version: 1\nsettings: { recipients: [\"{recipient}\"] }\nbuckets: [{ name: media }]\ntokens:\n",
    );
    for i in 0..20 {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, access: object-read, buckets: [media], output: {{ file: t{i}.env.age, format: env }} }}\n"
        ));
    }
    w.write(&yaml);
    // Slow answers, so that the signal lands while token creates are in flight.
    w.emu.set_faults(Faults {
        latency_ms: 150,
        ..Default::default()
    });
    let mut d = w.spawn(&["--interval", "10m", "--concurrency", "2"]);
    until(Duration::from_secs(10), "token creates started", || async {
        w.emu
            .stats()
            .by_route
            .get("POST /accounts/:id/tokens")
            .copied()
            .unwrap_or(0)
            >= 2
    })
    .await;
    d.signal("-TERM");
    let (code, took) = d.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "{}", d.log());
    eprintln!("exited {took:?} after SIGTERM");

    w.emu.set_faults(Faults::default());
    let tokens: Vec<String> = common::admin_client(&w.emu)
        .await
        .list_tokens(Owner::Account)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|t| t.name.strip_prefix("r2gitops:").map(String::from))
        .collect();
    assert!(!tokens.is_empty(), "some creates ran");
    assert!(tokens.len() < 20, "the stop prevented the rest");
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(w.dir.path().join("secrets/.r2gitops-state.json")).unwrap(),
    )
    .unwrap();
    for name in &tokens {
        assert!(
            state["tokens"][name]["output"].is_object(),
            "{name} has no recorded output"
        );
        let plain = common::age_decrypt(
            &w.identity,
            &w.dir.path().join(format!("secrets/{name}.env.age")),
        );
        assert!(common::env_vars(&plain).contains_key("AWS_ACCESS_KEY_ID"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_inventory_refuses_to_start() {
    let w = World::new().await;
    w.write(BASE);
    let first = w.spawn(&[]);
    ready(&first).await;
    let mut second = w.spawn(&[]);
    let (code, _) = second.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(code, Some(1));
    let log = second.log();
    assert!(
        log.contains(&format!("another r2gitops (pid {})", first.child.id())),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_sighup_starts_a_pass() {
    let w = World::new().await;
    w.write(BASE);
    let d = w.spawn(&["--interval", "10m"]);
    ready(&d).await;
    let passes = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("r2gitops_passes_total{result=\"success\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap()
    };
    let before = passes(&d.get("/metrics").1);
    d.signal("-HUP");
    until(Duration::from_secs(5), "SIGHUP pass", || async {
        passes(&d.get("/metrics").1) > before
    })
    .await;

    let (code, text) = d.get("/metrics");
    assert_eq!(code, 200);
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
for name in ["r2gitops_passes", "r2gitops_pass_duration_seconds", "r2gitops_last_success_timestamp_seconds",
             "r2gitops_planned_changes", "r2gitops_api_requests", "r2gitops_rate_limit_pauses",
             "r2gitops_managed_buckets", "r2gitops_managed_tokens", "r2gitops_config_valid"]:
    assert name in families, name
assert families["r2gitops_pass_duration_seconds"].type == "histogram"
tokens = [s.value for s in families["r2gitops_managed_tokens"].samples]
print("ok", len(families), int(tokens[0]))
"#;
    let mut child = Command::new(common::python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "prometheus_client rejected:\n{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with(" 1\n"),
        "one managed token: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_reports_drift_and_applies_nothing() {
    let w = World::new().await;
    w.write(&BASE.replace("prune: true", "prune: true, suspend: true"));
    let admin = common::admin_client(&w.emu).await.into_writer();
    admin
        .create_bucket(
            Jurisdiction::Default,
            "unrelated",
            None,
            StorageClass::Standard,
        )
        .await
        .unwrap();
    w.emu.reset_stats();
    let d = w.spawn(&["--interval", "10m"]);
    ready(&d).await;
    let status: serde_json::Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(status["suspended"], true);
    assert_eq!(status["last_pass"]["result"], "suspended");
    assert_eq!(status["last_pass"]["summary"]["create"], 2, "{status}");
    assert_eq!(w.emu.stats().mutating, 0);
    assert_eq!(w.bucket_names(Jurisdiction::Default).await, ["unrelated"]);
}

/// A quiet pass does not parse the file again, but a change to its recipients file alone
/// (the desired-state file untouched) is still seen: the output is re-issued for the new
/// recipient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_recipients_file_is_picked_up_without_touching_the_file() {
    let w = World::new().await;
    std::fs::write(w.dir.path().join("keys.txt"), format!("{}\n", w.recipient)).unwrap();
    w.write(&BASE.replace(
        r#"recipients: ["{recipient}"]"#,
        r#"recipients_file: keys.txt"#,
    ));
    let d = w.spawn(&["--interval", "1s"]);
    ready(&d).await;
    let out = w.dir.path().join("secrets/uploader.env.age");
    common::age_decrypt(&w.identity, &out);

    let (other, other_recipient) = common::age_keygen(w.dir.path(), "second");
    std::fs::write(
        w.dir.path().join("keys.txt"),
        format!("{other_recipient}\n"),
    )
    .unwrap();
    until(
        Duration::from_secs(5),
        "the output is re-issued for the new recipient",
        || async {
            std::process::Command::new("age")
                .args(["-d", "-i"])
                .arg(&other)
                .arg(&out)
                .output()
                .is_ok_and(|o| o.status.success())
        },
    )
    .await;
}

/// Readiness follows the file the daemon last read, not the last one that parsed: a broken
/// file put back byte for byte (by an editor's rename, by `git checkout`, or by a partial
/// write that is then completed) makes `/readyz` 200 again within two ticks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_returns_when_a_broken_file_is_restored_to_the_same_bytes() {
    let w = World::new().await;
    let good = BASE.replace("{recipient}", &w.recipient);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(w.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    w.write(&good);
    git(&["init", "-q"]);
    git(&["add", "r2gitops.yaml"]);
    git(&["commit", "-q", "-m", "good"]);

    let tick = Duration::from_secs(3);
    let d = w.spawn(&["--interval", "3s"]);
    ready(&d).await;
    let not_ready = || async {
        until(
            Duration::from_secs(10),
            "not ready on a broken file",
            || async { d.get("/readyz").0 == 503 },
        )
        .await;
    };
    let ready_within_two_ticks = |how: &'static str| {
        let d = &d;
        async move {
            let took = until(2 * tick, how, || async { d.get("/readyz").0 == 200 }).await;
            eprintln!("{how}: ready {took:?} after the restore");
        }
    };

    // An empty file, then the identical good bytes renamed over it (as an editor saves).
    w.write("");
    not_ready().await;
    w.write(&good);
    ready_within_two_ticks("restored by rename").await;

    // Broken again, then `git checkout` of the committed file.
    w.write("version: 1\nbuckets: [ {name: media\n");
    not_ready().await;
    git(&["checkout", "--", "r2gitops.yaml"]);
    ready_within_two_ticks("restored by git checkout").await;

    // A partial write in place, seen on its own, then the rest of the same bytes.
    let file = w.file();
    let half = good.find("protect").unwrap() + 3;
    std::fs::write(&file, &good[..half]).unwrap();
    not_ready().await;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    f.write_all(&good.as_bytes()[half..]).unwrap();
    drop(f);
    ready_within_two_ticks("a partial write completed").await;

    let status: serde_json::Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(status["config_valid"], true, "{status}");
    assert_eq!(status["config_errors"], serde_json::json!([]), "{status}");
}
