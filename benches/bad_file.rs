//! Peak memory for the worst file a committer can push: 4 MiB (the largest file
//! r2gitops reads) of buckets with two unknown fields each, 405,897 structural problems.
//! Measured on the release binary:
//! - `validate --output json`: peak RSS (VmHWM of `/proc/<pid>/status`, sampled every 2 ms
//!   until the process exits; a high-water mark, so only growth in its last 2 ms could be
//!   missed), and the size of its output;
//! - `watch` with that file: peak RSS after the file was loaded and `/status` served, the
//!   `/status` body and the log written meanwhile.
//!
//! Target for each peak: under 128 MiB, the memory limit of the shipped Kubernetes manifest
//! (`deploy/kubernetes/deployment.yaml`); the file alone makes a located YAML tree of about
//! 60 MB. Before the fix: validate 299 MB, the daemon 700 MB with a 57 MB `/status` body.
//!
//! Run: `cargo bench --bench bad_file`. A benchmark, not a test: a missed target prints
//! MISS; it exits non-zero only if a process fails in an unexpected way. Linux only.

#[path = "common/table.rs"]
mod table;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TARGET_MIB: f64 = 128.0;

fn four_mib_of_errors() -> String {
    let mut s = String::from("version: 1\nbuckets:\n");
    let item = "  - nme: a\n    storage_clas: x\n";
    while s.len() + item.len() <= 4 * 1024 * 1024 {
        s.push_str(item);
    }
    s
}

fn vm_kb(pid: u32, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn verdict(mib: f64) -> &'static str {
    if mib < TARGET_MIB { "PASS" } else { "MISS" }
}

fn r2gitops() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_r2gitops"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // Never reached: a file that does not load never leads to an API call.
        .env("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:9")
        .env("CLOUDFLARE_API_TOKEN", "bench-token-never-used")
        .env("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
        .env("RUST_LOG", "info");
    cmd
}

fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text.split_once("\r\n\r\n")?.1.to_string())
}

fn main() -> ExitCode {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r2gitops.yaml");
    std::fs::write(&file, four_mib_of_errors()).unwrap();
    println!(
        "bad_file: {} bytes of structural errors (release binary)\n",
        std::fs::metadata(&file).unwrap().len()
    );

    // validate
    let mut child = r2gitops()
        .args(["validate", "--output", "json", "-f"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let start = Instant::now();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kb) = vm_kb(pid, "VmHWM") {
            peak = peak.max(kb);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = start.elapsed();
    let out = reader.join().unwrap();
    let report: serde_json::Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("bad_file: FAILED: validate printed no JSON: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "  validate --output json   peak RSS {:>7.1} MiB  (target < {TARGET_MIB} MiB) {}",
        mib(peak),
        verdict(mib(peak))
    );
    table::row(
        "`validate --output json` of a 4 MiB file of structural errors",
        &format!("peak RSS {:.0} MiB", mib(peak)),
        &format!("< {TARGET_MIB} MiB"),
        Some(mib(peak) < TARGET_MIB),
        "cargo bench --bench bad_file",
    );
    println!(
        "                           output {} bytes, {} diagnostics + {} omitted, {:.2} s",
        out.len(),
        report["diagnostics"].as_array().map_or(0, Vec::len),
        report["diagnostics_omitted"],
        took.as_secs_f64()
    );

    // watch
    let mut child = r2gitops()
        .args(["watch", "--listen", "127.0.0.1:0", "-f"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
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
    let start = Instant::now();
    let body = loop {
        let text = log.lock().unwrap().clone();
        let addr = text
            .split("listen=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next());
        if let Some(body) = addr
            .and_then(|a| get(a, "/status"))
            .filter(|b| b.contains("\"config_valid\":false") && b.contains("config_errors"))
            .filter(|b| !b.contains("\"config_errors\":[]"))
        {
            break body;
        }
        if child.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            eprintln!("bad_file: FAILED: the daemon never reported the file:\n{text}");
            return ExitCode::FAILURE;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let loaded = start.elapsed();
    let hwm = vm_kb(pid, "VmHWM").unwrap_or(0);
    let rss = vm_kb(pid, "VmRSS").unwrap_or(0);
    let log_bytes = log.lock().unwrap().len();
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "  watch (file loaded, /status served)  peak RSS {:>7.1} MiB  (target < {TARGET_MIB} MiB) {}",
        mib(hwm),
        verdict(mib(hwm))
    );
    table::row(
        "daemon given that file: peak RSS once loaded and `/status` served",
        &format!("{:.0} MiB", mib(hwm)),
        &format!("< {TARGET_MIB} MiB"),
        Some(mib(hwm) < TARGET_MIB),
        "cargo bench --bench bad_file",
    );
    println!(
        "                           RSS now {:.1} MiB, /status {} bytes, log {} bytes, loaded in {:.2} s",
        mib(rss),
        body.len(),
        log_bytes,
        loaded.as_secs_f64()
    );
    ExitCode::SUCCESS
}
