//! The daemon's own attack surface, through the real binary against the emulator:
//! `/status` is not served to the pod network without its bearer token; a flood of idle
//! connections neither starves `/healthz` nor a pass of file descriptors; a core of the
//! daemon after a pass holds no managed secret; the API token file is re-read each pass (a
//! rotation needs no restart) and must hold one line; plain http to a remote API is refused.

mod common;

use std::time::Duration;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use common::{Sandbox, Watch, http_get, until};

const YAML: &str = r#"version: 1
settings: { recipients: ["{recipient}"] }
buckets:
  - { name: media }
tokens:
  - { name: uploader, access: object-read-write, buckets: [media], output: { file: uploader.env.age, format: env, include_api_token: true } }
  - { name: reader, access: object-read, buckets: [media], output: { file: reader.json.age, format: json } }
"#;

fn watch(sb: &Sandbox, extra: &[&str]) -> Watch {
    let mut args = vec!["watch", "--debounce", "100ms", "--interval", "10m"];
    if !extra.contains(&"--listen") {
        args.extend(["--listen", "127.0.0.1:0"]);
    }
    args.extend_from_slice(extra);
    Watch::start(sb.r2gitops(&args))
}

async fn ready(d: &Watch) {
    until(Duration::from_secs(15), "ready", || async {
        d.get("/readyz").0 == 200
    })
    .await;
}

/// Every secret the outputs hold, read back with the real `age` CLI: the managed token's
/// value (`include_api_token`) and the S3 secret of each output.
fn secrets_in_outputs(sb: &Sandbox) -> Vec<String> {
    let env = common::env_vars(&common::age_decrypt(
        &sb.identity,
        &sb.out().join("uploader.env.age"),
    ));
    let json: serde_json::Value = serde_json::from_slice(&common::age_decrypt(
        &sb.identity,
        &sb.out().join("reader.json.age"),
    ))
    .unwrap();
    let secrets = vec![
        env["CLOUDFLARE_API_TOKEN"].clone(),
        env["AWS_SECRET_ACCESS_KEY"].clone(),
        json["secret_access_key"].as_str().unwrap().to_string(),
    ];
    for s in &secrets {
        assert!(s.len() >= 32, "a real secret, not a placeholder");
    }
    secrets
}

/// How often each of `needles` occurs in `file`, by `grep -a -o -F` (fast on a core of
/// hundreds of megabytes, where a byte loop in a debug build is not).
fn grep_counts(file: &std::path::Path, needles: &[String]) -> Vec<usize> {
    let mut cmd = std::process::Command::new("grep");
    cmd.args(["-a", "-o", "-F"]);
    for n in needles {
        cmd.arg("-e").arg(n);
    }
    let out = cmd.arg(file).output().unwrap();
    assert!(out.status.code().unwrap_or(2) < 2, "grep failed");
    let text = String::from_utf8_lossy(&out.stdout);
    needles
        .iter()
        .map(|n| text.lines().filter(|l| l == n).count())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_of_the_daemon_after_a_pass_holds_no_managed_secret() {
    if std::process::Command::new("gcore")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED: gcore is not installed (apt package gdb; scripts/setup-test-tools.sh installs it)"
        );
        return;
    }
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let d = watch(&sb, &[]);
    ready(&d).await;
    let mut secrets = secrets_in_outputs(&sb);
    // A roll too: the rolled value reaches the writer through the other API answer.
    std::fs::remove_file(sb.out().join("uploader.env.age")).unwrap();
    let before = d.successes();
    d.signal("-HUP");
    until(Duration::from_secs(10), "the rolling pass", || async {
        d.successes() > before
    })
    .await;
    secrets.extend(secrets_in_outputs(&sb).into_iter().take(2));
    assert_ne!(secrets[0], secrets[3], "the token was rolled");

    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).unwrap();
    let core_line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core_line.split_whitespace().collect::<Vec<_>>()[4..6],
        ["0", "0"],
        "RLIMIT_CORE is 0: {core_line}"
    );

    // gcore runs as root here, which PR_SET_DUMPABLE 0 does not stop: the core shows what
    // the process really holds.
    let core_base = sb.dir.path().join("core");
    let out = std::process::Command::new("gcore")
        .arg("-o")
        .arg(&core_base)
        .arg(d.pid().to_string())
        .output()
        .unwrap();
    let core_file = sb.dir.path().join(format!("core.{}", d.pid()));
    assert!(
        out.status.success() && core_file.exists(),
        "gcore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&core_file).unwrap().len();
    secrets.push(sb.emu.admin_token().to_string());
    let mut found = grep_counts(&core_file, &secrets);
    std::fs::remove_file(&core_file).unwrap();
    let own_token = found.pop().unwrap();
    eprintln!(
        "core of {} MB; copies of [value, s3 secret (env), s3 secret (json), rolled value, rolled s3 secret]: {found:?}; of the daemon's own token: {own_token}",
        size / 1_000_000
    );
    // Sanity: the grep finds what is there (the daemon's own API token is live in memory).
    assert!(
        own_token > 0,
        "the grep must find a secret the daemon holds on purpose"
    );
    assert!(
        found.iter().all(|&n| n == 0),
        "managed secrets left in the daemon's memory: {found:?}"
    );
}

/// A token the daemon can run with (Account API Tokens Write + Workers R2 Storage Write on
/// the account), minted with the emulator's admin token: (id, value).
async fn daemon_token(sb: &Sandbox, name: &str) -> (String, String) {
    use r2gitops::cloudflare::WriteApi;
    use r2gitops::config::Owner;
    use r2gitops::observed::{Effect, Policy, ResourceValue};
    let admin = common::admin_client(&sb.emu).await.into_writer();
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: [
            "5bc3f8b21c554832afc660159ab75fa4".to_string(), // Account API Tokens Write
            "bf7481a1826f439697cb59a20b22293e".to_string(), // Workers R2 Storage Write
        ]
        .into(),
        resources: [(
            format!("com.cloudflare.api.account.{}", sb.emu.account_id()),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    let created = admin
        .create_token(Owner::Account, &common::token_request(name, policy))
        .await
        .unwrap();
    (created.token.id, created.value.expose().to_string())
}

/// Replace `path` atomically with `text`, mode 0600.
fn write_secret_file(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_api_token_file_is_used_by_the_next_pass_without_a_restart() {
    use r2gitops::cloudflare::WriteApi;
    use r2gitops::config::Owner;
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let (old_id, old_value) = daemon_token(&sb, "daemon-old").await;
    let (_, new_value) = daemon_token(&sb, "daemon-new").await;
    let token_file = sb.dir.path().join("api-token");
    write_secret_file(&token_file, &format!("{old_value}\n"));
    let mut cmd = sb.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "10m",
        "--api-token-file",
        token_file.to_str().unwrap(),
    ]);
    cmd.env_remove("CLOUDFLARE_API_TOKEN");
    let d = Watch::start(cmd);
    ready(&d).await;

    // Rotate: the new value goes into the file, the old token is revoked.
    write_secret_file(&token_file, &format!("{new_value}\n"));
    common::admin_client(&sb.emu)
        .await
        .into_writer()
        .delete_token(Owner::Account, &old_id)
        .await
        .unwrap();
    let before = d.successes();
    d.signal("-HUP");
    until(
        Duration::from_secs(10),
        "a successful pass with the new token",
        || async { d.successes() > before },
    )
    .await;
    assert_eq!(
        d.metric("r2gitops_passes_total{result=\"failure\"}"),
        0.0,
        "no pass ran with the revoked token:\n{}",
        d.log()
    );
    assert!(d.log().contains("the API token changed"), "{}", d.log());
    for v in [&old_value, &new_value] {
        assert!(!d.log().contains(v.as_str()), "a token value in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_file_of_two_lines_is_refused_at_start_and_one_others_can_read_is_warned() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let token_file = sb.dir.path().join("api-token");
    let admin = sb.emu.admin_token();
    write_secret_file(&token_file, &format!("{admin}\nsecond-line-text\n"));
    let args = [
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--api-token-file",
        token_file.to_str().unwrap(),
    ];
    let mut d = Watch::start(sb.r2gitops(&args));
    assert_eq!(d.wait_exit(Duration::from_secs(10)).await, Some(1));
    let log = d.log();
    assert!(log.contains("has 2 non-empty lines"), "{log}");
    assert!(log.contains(token_file.to_str().unwrap()), "{log}");
    assert!(
        !log.contains(admin) && !log.contains("second-line-text"),
        "{log}"
    );
    assert_eq!(sb.emu.stats().total, 0, "nothing was sent");

    // One line, but world-readable: it runs, with a warning naming the file.
    write_secret_file(&token_file, &format!("{admin}\n"));
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let d = Watch::start(sb.r2gitops(&args));
    ready(&d).await;
    let log = d.log();
    assert!(
        log.lines().any(|l| l.contains("WARN")
            && l.contains("readable by others")
            && l.contains("mode 0644")),
        "{log}"
    );
    assert!(!log.contains(admin), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_an_api_that_is_not_loopback_is_refused_unless_insecure_http() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    // 0.0.0.0 is not a loopback address, yet Linux delivers a connection to it locally:
    // the emulator answers there, and nothing leaves this machine.
    let port = sb
        .emu
        .api_url()
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let url = format!("http://0.0.0.0:{port}/client/v4");
    for cmd in [
        vec!["reconcile", "--dry-run", "--api-url", &url],
        vec!["watch", "--listen", "127.0.0.1:0", "--api-url", &url],
    ] {
        let out = sb.r2gitops(&cmd).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {stderr}");
        assert!(
            stderr.contains("plain http to '0.0.0.0'") && stderr.contains("--insecure-http"),
            "{stderr}"
        );
    }
    assert_eq!(sb.emu.stats().total, 0, "no request was sent in clear");

    let out = sb
        .r2gitops(&[
            "reconcile",
            "--dry-run",
            "--api-url",
            &url,
            "--insecure-http",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("sent in clear"), "a warning: {stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("create bucket media"),
        "the plan came from the emulator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_not_served_on_a_listener_facing_the_network_but_is_on_the_loopback_one() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    // A status listener facing the network without a token is refused at start.
    let mut refused = Watch::start(sb.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--status-listen",
        "0.0.0.0:0",
    ]));
    assert_eq!(refused.wait_exit(Duration::from_secs(10)).await, Some(1));
    assert!(
        refused.log().contains("--status-listen 0.0.0.0:0")
            && refused.log().contains("--status-token-file"),
        "{}",
        refused.log()
    );

    // The deployment's shape: probes and metrics on all addresses, /status on loopback.
    let d = watch(
        &sb,
        &["--listen", "0.0.0.0:0", "--status-listen", "127.0.0.1:0"],
    );
    let port = d.addr.rsplit(':').next().unwrap();
    let public = format!("127.0.0.1:{port}"); // the 0.0.0.0 listener, reached locally
    until(Duration::from_secs(15), "ready", || async {
        http_get(&public, "/readyz", &[]).0 == 200
    })
    .await;
    assert_eq!(http_get(&public, "/healthz", &[]).0, 200);
    let (code, metrics) = http_get(&public, "/metrics", &[]);
    assert_eq!(code, 200);
    let (code, body) = http_get(&public, "/status", &[]);
    assert_eq!(code, 404, "{body}");
    for name in ["uploader", "reader", "media", "r2gitops.yaml", "secrets"] {
        assert!(!body.contains(name), "{name} in the refusal: {body}");
        assert!(!metrics.contains(name), "{name} in /metrics");
    }

    let status_addr = d.status_addr.clone().expect("a status_listen address");
    let (code, body) = http_get(&status_addr, "/status", &[]);
    assert_eq!(code, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        status["last_pass"]["plan"].to_string().contains("uploader"),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_needs_the_bearer_token_of_the_status_token_file() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let token_file = sb.dir.path().join("status-token");
    write_secret_file(&token_file, "status-s3cret-0123456789\n");
    let d = watch(
        &sb,
        &[
            "--listen",
            "0.0.0.0:0",
            "--status-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let port = d.addr.rsplit(':').next().unwrap();
    let public = format!("127.0.0.1:{port}");
    until(Duration::from_secs(15), "ready", || async {
        http_get(&public, "/readyz", &[]).0 == 200
    })
    .await;
    for headers in [
        vec![],
        vec!["Authorization: Bearer wrong"],
        vec!["Authorization: Bearer status-s3cret-012345678"],
        vec!["Authorization: Basic status-s3cret-0123456789"],
    ] {
        let (code, body) = http_get(&public, "/status", &headers);
        assert_eq!(code, 401, "{headers:?}: {body}");
        assert!(!body.contains("uploader"), "{body}");
    }
    let (code, body) = http_get(
        &public,
        "/status",
        &["Authorization: Bearer status-s3cret-0123456789"],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("uploader"), "{body}");
    assert!(!d.log().contains("status-s3cret"), "the token in the log");
}

/// Seconds until the server closes `s` (reads EOF or a reset), at most `limit`.
fn closed_after(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue, // an answer; keep waiting for the close
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(start.elapsed());
            }
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_time_out_and_a_flood_of_them_starves_neither_healthz_nor_a_pass() {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    // 128 open files: enough for the daemon with the connection cap, far too few without.
    let d = Watch::start(sb.r2gitops_nofile(
        128,
        &["watch", "--listen", "127.0.0.1:0", "--interval", "10m"],
    ));
    ready(&d).await;

    // Header-read timeout: a silent connection, and a kept-alive one after its answer.
    let silent = TcpStream::connect(&d.addr).unwrap();
    let mut kept = TcpStream::connect(&d.addr).unwrap();
    write!(kept, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let timings = [silent, kept]
        .map(|s| std::thread::spawn(move || closed_after(s, Duration::from_secs(15))));
    let timings: Vec<Duration> = timings
        .into_iter()
        .map(|t| {
            t.join()
                .unwrap()
                .expect("the server closes an idle connection")
        })
        .collect();
    eprintln!("idle connections closed after {timings:?}");
    for t in &timings {
        assert!(
            (Duration::from_secs(4)..Duration::from_secs(8)).contains(t),
            "{t:?}"
        );
    }

    // The flood: 200 connections that never send a byte, held open throughout.
    let flood: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&d.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let (code, body) = http_get(&d.addr, "/healthz", &[]);
    assert_eq!((code, body.as_str()), (200, "ok\n"), "{}", d.log());
    eprintln!(
        "/healthz answered in {:?} during the flood",
        start.elapsed()
    );
    let fds = std::fs::read_dir(format!("/proc/{}/fd", d.pid()))
        .unwrap()
        .count();
    eprintln!("the daemon holds {fds} file descriptors during the flood");
    assert!(
        fds < 80,
        "{fds} open files: the connection cap does not hold"
    );
    // A pass that must open files and API connections: it rolls a token whose output is
    // gone and writes the new one.
    let output = sb.out().join("reader.json.age");
    std::fs::remove_file(&output).unwrap();
    let before = d.successes();
    d.signal("-HUP");
    until(
        Duration::from_secs(10),
        "a pass during the flood",
        || async { d.successes() > before },
    )
    .await;
    assert!(output.exists(), "the rolled output was written");
    assert_eq!(d.metric("r2gitops_passes_total{result=\"failure\"}"), 0.0);
    assert!(!d.log().contains("Too many open files"), "{}", d.log());
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_on_a_network_listener_names_no_id_path_or_token() {
    let sb = Sandbox::new().await;
    let with_temporary = format!(
        "{YAML}temporary_credentials:\n  - {{ name: partner-inbound, parent: uploader, bucket: media, access: object-read, ttl: 12h, output: {{ file: partner.env.age, format: env }} }}\n"
    );
    sb.write(&with_temporary);
    let d = watch(
        &sb,
        &["--listen", "0.0.0.0:0", "--status-listen", "127.0.0.1:0"],
    );
    let port = d.addr.rsplit(':').next().unwrap();
    let public = format!("127.0.0.1:{port}"); // the 0.0.0.0 listener, reached locally
    let local = d.status_addr.clone().expect("a status_listen address");
    until(Duration::from_secs(15), "ready", || async {
        http_get(&public, "/readyz", &[]).0 == 200
    })
    .await;

    // A pass that fails with an error naming the file's path, an id and the account.
    let unknown_id = "0123456789abcdef0123456789abcdef";
    sb.write(&with_temporary.replace(
        "{ name: reader, ",
        &format!("{{ name: reader, adopt: {unknown_id}, "),
    ));
    until(Duration::from_secs(15), "the pass fails", || async {
        http_get(&public, "/readyz", &[]).0 == 503
    })
    .await;
    let (_, body) = http_get(&public, "/readyz", &[]);
    assert_eq!(
        body, "not ready: the last pass failed\n",
        "a fixed reason class"
    );
    let (_, metrics) = http_get(&public, "/metrics", &[]);
    let mut names: Vec<String> = sb
        .emu
        .tokens()
        .into_iter()
        .flat_map(|t| [t.id, t.name])
        .filter(|n| n.len() >= 8)
        .collect();
    names.extend(
        [
            unknown_id,
            sb.emu.account_id(),
            sb.emu.admin_token(),
            &sb.dir.path().display().to_string(),
            "uploader",
            "reader",
            "partner-inbound",
            "media",
            "r2gitops.yaml",
        ]
        .map(str::to_string),
    );
    for name in &names {
        assert!(!body.contains(name.as_str()), "{name} in /readyz: {body}");
        assert!(
            !metrics.contains(name.as_str()),
            "{name} in /metrics:\n{metrics}"
        );
    }
    // Without names, the temporary credentials still show on the network listener.
    assert!(
        metrics.contains("r2gitops_temporary_credentials_renewal_failing 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("r2gitops_temporary_credential_soonest_expiry_seconds "),
        "{metrics}"
    );

    // The loopback listener, where /status is open, says why, and names the series.
    let (code, detail) = http_get(&local, "/readyz", &[]);
    assert_eq!(code, 503);
    assert!(
        detail.starts_with("not ready: the last pass failed: ") && detail.contains(unknown_id),
        "{detail}"
    );
    let (_, metrics) = http_get(&local, "/metrics", &[]);
    assert!(
        metrics.contains("r2gitops_temporary_credential_expiry_seconds{name=\"partner-inbound\"}"),
        "{metrics}"
    );
}
