//! The client against a loopback server that is not Cloudflare: an answer far larger than
//! any Cloudflare sends is refused after reading no more than its limit (through the client
//! and through the binary, whose peak memory stays small); a list that hands out a cursor
//! twice, or never says it is done, ends with an error instead of looping or growing; a
//! bucket name R2 would refuse is dropped on the way in, with an escaped warning.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::loopback::{Answer, Loopback, ok};
use r2gitops::cloudflare::{Client, ClientConfig, ReadApi};
use r2gitops::config::{Jurisdiction, Owner};
use r2gitops::secret::TokenValue;
use serde_json::json;

const ACCT: &str = "0123456789abcdef0123456789abcdef";
const HUGE: u64 = 300 << 20;

fn config(api_url: &str) -> ClientConfig {
    ClientConfig {
        api_url: api_url.to_string(),
        api_token: TokenValue::new("t".repeat(40)),
        token_owner: Owner::Account,
        account_id: ACCT.to_string(),
        account_source: "the test",
        budget: (100_000, Duration::from_secs(300)),
        concurrency: 4,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(60),
        max_retries: 0,
    }
}

fn verified() -> Answer {
    Answer::Json(ok(json!({"id": "f".repeat(32), "status": "active"})))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_is_refused_after_reading_no_more_than_its_limit() {
    for announced in [false, true] {
        let server = Loopback::start(move |_| {
            if announced {
                Answer::Announced { bytes: HUGE }
            } else {
                Answer::Unbounded { bytes: HUGE }
            }
        })
        .await;
        let e = match Client::connect(config(&server.api_url)).await {
            Ok(_) => panic!("a 300 MB verify answer was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.starts_with("failed to verify the API token: the answer is larger than 4 MiB"),
            "{e}"
        );
        // What the server could still push into the sockets' buffers after the client hung
        // up is counted too.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let written = server.written();
        assert!(
            written < 48 << 20,
            "the server wrote {written} bytes before the client stopped reading (announced: {announced})"
        );
    }
}

/// The peak resident set of a child, polled from `/proc/<pid>/status` until it exits
/// (`VmHWM` only grows, so the last reading is the peak so far), in kB.
fn run_and_watch_peak(mut cmd: std::process::Command) -> (std::process::Output, u64) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let p = peak.clone();
    let poll = std::thread::spawn(move || {
        while let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                p.fetch_max(kb, std::sync::atomic::Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let out = child.wait_with_output().unwrap();
    poll.join().unwrap();
    (out, peak.load(std::sync::atomic::Ordering::SeqCst))
}

fn r2gitops(api_url: &str, dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_r2gitops"));
    cmd.args(args)
        .arg("-f")
        .arg(dir.join("r2gitops.yaml"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CLOUDFLARE_API_BASE_URL", api_url)
        .env("CLOUDFLARE_API_TOKEN", "t".repeat(40))
        .env("RUST_LOG", "warn");
    cmd
}

const FILE: &str =
    "version: 1\naccount_id: \"0123456789abcdef0123456789abcdef\"\nbuckets:\n  - name: media\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_refuses_a_300_mb_verify_answer_and_its_memory_stays_small() {
    let server = Loopback::start(|_| Answer::Unbounded { bytes: HUGE }).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r2gitops.yaml"), FILE).unwrap();
    let started = Instant::now();
    let cmd = r2gitops(&server.api_url, dir.path(), &["reconcile", "--dry-run"]);
    let (out, peak_kb) = tokio::task::spawn_blocking(move || run_and_watch_peak(cmd))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "reconcile against a 300 MB verify answer: exit {:?} after {:?}, peak RSS {} MB, {} MB sent",
        out.status.code(),
        started.elapsed(),
        peak_kb / 1024,
        server.written() >> 20
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failed to verify the API token: the answer is larger than 4 MiB"),
        "{stderr}"
    );
    // Before the limit the whole answer was held, twice over: 845 MB for this one.
    assert!(peak_kb < 100 * 1024, "peak RSS {peak_kb} kB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_list_that_hands_out_a_cursor_twice_is_refused() {
    let server = Loopback::start(|_| {
        let mut v = ok(json!({"buckets": [{"name": "media"}]}));
        v["result_info"] = json!({"cursor": "again", "per_page": 1000});
        Answer::Json(v)
    })
    .await;
    let client = Client::new(config(&server.api_url)).unwrap();
    let listed = tokio::time::timeout(
        Duration::from_secs(30),
        client.list_buckets(Jurisdiction::Default),
    )
    .await
    .expect("the list never ended");
    let e = listed.expect_err("a looping list was accepted").to_string();
    assert_eq!(
        e,
        "failed to list buckets (default): page 2 hands out cursor \"again\" again, which an earlier page gave; the list would never end"
    );
    assert_eq!(server.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_never_says_it_is_done_ends_with_an_error_after_1000_pages() {
    let server = Loopback::start(|r| {
        let page: u64 = r.query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
        if r.path.ends_with("/queues") {
            let mut v = ok(json!([{"queue_id": format!("{page:032x}"), "queue_name": format!("q{page}")}]));
            v["result_info"] = json!({"page": page, "per_page": 1});
            Answer::Json(v)
        } else {
            // 50 tokens a page and no total_count, forever.
            let tokens: Vec<_> = (0..50)
                .map(|i| json!({"id": format!("{:032x}", page * 100 + i), "name": "t", "status": "active"}))
                .collect();
            Answer::Json(ok(json!(tokens)))
        }
    })
    .await;
    let client = Client::new(config(&server.api_url)).unwrap();
    let tokens = tokio::time::timeout(Duration::from_secs(120), client.list_tokens(Owner::Account))
        .await
        .expect("the token list never ended");
    let e = tokens
        .expect_err("an endless token list was accepted")
        .to_string();
    assert!(
        e.starts_with("failed to list account tokens: the list goes on past 1000 pages"),
        "{e}"
    );
    assert_eq!(server.requests(), 1000);
    let queues = tokio::time::timeout(Duration::from_secs(120), client.queues())
        .await
        .expect("the queue list never ended");
    let e = match queues {
        Ok(q) => panic!("an endless queue list read as {} queues", q.len()),
        Err(e) => e.to_string(),
    };
    assert!(
        e.starts_with("failed to list the account's queues: the list goes on past 1000 pages"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_name_r2_would_refuse_is_dropped_on_the_way_in_with_an_escaped_warning() {
    let server = Loopback::start(|r| {
        if r.path.ends_with("/verify") {
            return verified();
        }
        Answer::Json(ok(json!({"buckets": [
            {"name": "media"},
            {"name": "prod\n  - delete bucket prod-data"},
            {"name": "UPPER"},
        ]})))
    })
    .await;
    let client = Client::new(config(&server.api_url)).unwrap();
    let names: Vec<String> = client
        .list_buckets(Jurisdiction::Default)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["media"]);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r2gitops.yaml"), FILE).unwrap();
    let out = r2gitops(
        &server.api_url,
        dir.path(),
        &["reconcile", "--dry-run", "--detailed-exitcode"],
    )
    .output()
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            r"Cloudflare listed a bucket whose name breaks R2's rule (bucket name 'prod\n  - delete bucket prod-data' contains '\n'); it is ignored"
        ),
        "{stderr}"
    );
    assert!(
        !stderr
            .lines()
            .chain(stdout.lines())
            .any(|l| l.trim_start().starts_with("- delete")),
        "{stdout}{stderr}"
    );
}
