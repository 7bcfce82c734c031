//! The desired-state file as an attack surface, through the real binary against the
//! emulator: whoever can commit to the file (and to what it names) cannot make r2gitops print
//! a secret, run out of memory, hang, or write or delete outside `output_dir`. Each test is
//! named after the behaviour and failed before its fix.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::output::text;
use common::{Sandbox, Watch};
use sha2::{Digest, Sha256};

const ONE_TOKEN: &str = r#"version: 1
settings:
  recipients: ["{recipient}"]
buckets: [{ name: media }]
tokens:
  - { name: t, access: object-read, buckets: [media], output: { file: t.env.age, format: env } }
"#;

/// Run a prepared command off the async runtime (the emulator lives on it).
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Run with a time limit: a hang is a failure, not a stuck test run.
async fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
    match tokio::time::timeout(limit, waiter).await {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("still running after {limit:?}: it hangs");
        }
    }
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
}

/// Token creations and rolls the emulator has seen.
fn creates_and_rolls(s: &Sandbox) -> (u64, u64) {
    let stats = s.emu.stats();
    let n = |route: &str| stats.by_route.get(route).copied().unwrap_or(0);
    (
        n("POST /accounts/:id/tokens"),
        n("PUT /accounts/:id/tokens/:token_id/value"),
    )
}

async fn until<F: Fn() -> bool>(limit: Duration, what: &str, check: F) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- the token leak through settings.recipients_file ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipients_file_naming_a_token_never_prints_it_in_validate_the_log_or_status() {
    let s = Sandbox::new().await;
    let token = common::cloudflare_like_token();
    let outside = tempfile::tempdir().unwrap();
    let token_file = outside.path().join("api-token");
    fs::write(&token_file, format!("{token}\n")).unwrap();
    fs::set_permissions(&token_file, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(s.dir.path().join("copied.txt"), format!("{token}\n")).unwrap();
    symlink(outside.path(), s.dir.path().join("keys")).unwrap();
    let yaml = |file: &str| {
        ONE_TOKEN.replace(
            "  recipients: [\"{recipient}\"]\n",
            &format!("  recipients_file: {file}\n"),
        )
    };
    let absolute = token_file.display().to_string();
    let cases = [
        (absolute.as_str(), "is an absolute path"),
        (
            "copied.txt",
            "copied.txt line 1: not an age or SSH public key (text not shown)",
        ),
        (
            "keys/api-token",
            "leads out of the directory of this file through the symlink 'keys' -> ",
        ),
    ];
    for (file, want) in cases {
        s.write(&yaml(file));
        for format in ["text", "json"] {
            let out = run(s.r2gitops(&["validate", "--output", format])).await;
            let shown = text(&out);
            assert_eq!(out.status.code(), Some(1), "{file} {format}: {shown}");
            assert!(shown.contains(want), "{file} {format}: {shown}");
            assert!(!shown.contains(&token), "{file} {format}: the token leaked");
        }
    }

    // The reported reproduction: the daemon's own --api-token-file, then a copy in the tree.
    s.write(&yaml(&absolute));
    let mut cmd = s.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--debounce",
        "100ms",
        "--api-token-file",
        &absolute,
    ]);
    cmd.env_remove("CLOUDFLARE_API_TOKEN")
        .env("RUST_LOG", "trace");
    let d = Watch::spawn(cmd);
    for (file, want) in [cases[0], cases[1]] {
        s.write(&yaml(file));
        until(Duration::from_secs(10), "config_errors", || {
            d.get("/status").1.contains(want)
        })
        .await;
        let status = d.get("/status").1;
        assert!(!status.contains(&token), "/status leaked the token");
        let log = d.log();
        assert!(
            log.lines().any(|l| l.contains("WARN") && l.contains(want)),
            "{log}"
        );
        assert!(!log.contains(&token), "the log leaked the token");
    }
}

// ---- one bad file cannot run the daemon out of memory ----

/// 4 MiB (the largest file r2gitops reads) of buckets with two unknown fields each.
fn four_mib_of_errors() -> (String, usize) {
    let mut s = String::from("version: 1\nbuckets:\n");
    let item = "  - nme: a\n    storage_clas: x\n";
    let mut items = 0;
    while s.len() + item.len() <= 4 * 1024 * 1024 {
        s.push_str(item);
        items += 1;
    }
    // Each item: missing 'name', unknown 'nme', unknown 'storage_clas'.
    (s, items * 3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4_mib_file_of_errors_keeps_the_first_100_and_counts_the_rest() {
    let s = Sandbox::new().await;
    let (yaml, problems) = four_mib_of_errors();
    s.write(&yaml);
    let more = problems - 100;

    let out = run(s.r2gitops(&["validate"])).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let located = stderr
        .lines()
        .filter(|l| l.contains("r2gitops.yaml:") && !l.ends_with("problems found"))
        .count();
    assert_eq!(located, 100, "{}", &stderr[..stderr.len().min(2000)]);
    assert!(
        stderr.contains(&format!(
            "\n... and {more} more problems (only the first 100 are shown)\n"
        )),
        "{}",
        &stderr[stderr.len().saturating_sub(500)..]
    );
    assert!(stderr.ends_with(&format!("r2gitops.yaml: {problems} problems found\n")));
    assert!(
        stderr.len() < 64 * 1024,
        "{} bytes of diagnostics",
        stderr.len()
    );

    let out = run(s.r2gitops(&["validate", "--output", "json"])).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["diagnostics"].as_array().unwrap().len(), 100);
    assert_eq!(report["diagnostics_omitted"], more);
    assert!(out.stdout.len() < 64 * 1024, "{} bytes", out.stdout.len());

    let d = Watch::spawn(s.r2gitops(&["watch", "--listen", "127.0.0.1:0"]));
    until(Duration::from_secs(60), "config_errors", || {
        d.get("/status").1.contains("more problems")
    })
    .await;
    let body = d.get("/status").1;
    assert!(body.len() < 64 * 1024, "/status is {} bytes", body.len());
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let errors = status["config_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 101);
    assert_eq!(
        errors[100],
        format!("... and {more} more problems (only the first 100 are shown)")
    );
    let log = d.log();
    assert!(log.len() < 256 * 1024, "{} bytes of log", log.len());
    assert!(log.contains(&format!("problems={problems}")), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desired_state_file_that_is_a_fifo_or_a_device_is_refused_without_reading_it() {
    let s = Sandbox::new().await;
    mkfifo(&s.file());
    let out = run_within(s.r2gitops(&["validate"]), Duration::from_secs(20)).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("cannot read the file: not a regular file (a FIFO)"),
        "{}",
        text(&out)
    );

    // The daemon hashes the file for its revision: through a link to /dev/zero that read
    // never ended.
    fs::remove_file(s.file()).unwrap();
    symlink("/dev/zero", s.file()).unwrap();
    let d = Watch::spawn(s.r2gitops(&["watch", "--listen", "127.0.0.1:0"]));
    until(
        Duration::from_secs(10),
        "the daemon reports the file",
        || {
            d.get("/status")
                .1
                .contains("not a regular file (a character device)")
        },
    )
    .await;
    let status: serde_json::Value = serde_json::from_str(&d.get("/status").1).unwrap();
    assert_eq!(status["config_valid"], false);
    assert!(status["file_revision"].is_null(), "{status}");
}

// ---- the lock file ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_at_the_lock_path_is_neither_followed_nor_truncated_and_the_run_fails() {
    let s = Sandbox::new().await;
    s.write(ONE_TOKEN);
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    fs::create_dir(s.out()).unwrap();
    fs::set_permissions(s.out(), fs::Permissions::from_mode(0o700)).unwrap();
    let lock = s.out().join(".r2gitops-state.json.lock");
    for target in [victim.clone(), outside.path().join("new.txt")] {
        fs::write(&victim, "precious\n").unwrap();
        let _ = fs::remove_file(&lock);
        symlink(&target, &lock).unwrap();
        let out = run(s.r2gitops(&["reconcile"])).await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains(&format!(
                "the inventory lock '{}' is a symlink; nothing was written to it",
                lock.display()
            )),
            "{}",
            text(&out)
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(!outside.path().join("new.txt").exists());
        assert!(
            fs::symlink_metadata(&lock)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    assert_eq!(s.emu.stats().mutating, 0, "nothing was applied");
}

// ---- directory symlinks ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_output_subdirectory_is_blocked_with_the_reason_and_never_rolled() {
    let s = Sandbox::new().await;
    s.write(&ONE_TOKEN.replace("file: t.env.age", "file: team/t.env.age"));
    fs::create_dir_all(s.out().join("real")).unwrap();
    symlink("real", s.out().join("team")).unwrap();
    let want = format!(
        "! blocked token t: output file team/t.env.age cannot be checked: refusing to write through symlink '{}'",
        s.out().join("team").display()
    );
    for pass in 1..=2 {
        let out = run(s.r2gitops(&["reconcile"])).await;
        assert!(text(&out).contains(&want), "pass {pass}: {}", text(&out));
    }
    assert_eq!(creates_and_rolls(&s), (0, 0), "no value minted for nowhere");
    assert_eq!(fs::read_dir(s.out().join("real")).unwrap().count(), 0);

    // With --output-dir, the symlinks checked are the ones under the directory written.
    let mounted = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), mounted.path().join("team")).unwrap();
    let dir = mounted.path().display().to_string();
    let out = run(s.r2gitops(&["reconcile", "--output-dir", &dir])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "tokens[0].output.file: 'team/t.env.age' leads out of the output directory through the symlink 'team' -> "
        ),
        "{}",
        text(&out)
    );
    assert_eq!(creates_and_rolls(&s), (0, 0));
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

// ---- a FIFO at an output path ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_at_an_output_path_is_blocked_and_the_plan_does_not_hang() {
    let s = Sandbox::new().await;
    s.write(ONE_TOKEN);
    let out = run(s.r2gitops(&["reconcile"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let file = s.out().join("t.env.age");
    fs::remove_file(&file).unwrap();
    mkfifo(&file);
    s.emu.reset_stats();
    for args in [&["reconcile", "--dry-run"][..], &["reconcile"][..]] {
        let out = run_within(s.r2gitops(args), Duration::from_secs(30)).await;
        assert!(
            text(&out).contains(&format!(
                "! blocked token t: output file t.env.age cannot be checked: '{}' is in the way: a FIFO, expected a regular file",
                file.display()
            )),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(creates_and_rolls(&s), (0, 0));
}

// ---- paths read from the inventory ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_path_leading_out_of_output_dir_is_refused_and_nothing_is_deleted() {
    let s = Sandbox::new().await;
    s.write(ONE_TOKEN);
    let out = run(s.r2gitops(&["reconcile"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The edit: the recorded output now names a file beside the checkout, with its hash,
    // so that a "moved output" roll would remove it as our own previous file.
    let victim = s.dir.path().join("victim.txt");
    fs::write(&victim, "not r2gitops' file\n").unwrap();
    let state = s.out().join(".r2gitops-state.json");
    let mut inv: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
    inv["tokens"]["t"]["output"]["path"] = "../victim.txt".into();
    inv["tokens"]["t"]["output"]["ciphertext_sha256"] =
        hex::encode(Sha256::digest(fs::read(&victim).unwrap())).into();
    fs::write(&state, serde_json::to_vec_pretty(&inv).unwrap()).unwrap();
    s.emu.reset_stats();

    let out = run(s.r2gitops(&["reconcile"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "the inventory '{}' is not valid (token 't': its output path is not a plain relative path inside output_dir); move it aside",
            state.display()
        )),
        "{}",
        text(&out)
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "not r2gitops' file\n");
    assert_eq!(creates_and_rolls(&s), (0, 0));
}

// ---- the output directory ----

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_dir_open_to_others_is_made_0700_with_a_warning_or_refused_if_not_ours() {
    let s = Sandbox::new().await;
    s.write(ONE_TOKEN);
    fs::create_dir(s.out()).unwrap();
    fs::set_permissions(s.out(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(s.r2gitops(&["reconcile"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mode(&s.out()), 0o700);
    assert!(
        text(&out).contains("the output directory was open to other users; its mode is now 0700"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("was=\"0755\"") || text(&out).contains("was=0755"));

    // Someone else's directory is not taken over. Only root can make one here.
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped the foreign-owner half: needs root to chown a directory");
        return;
    }
    let theirs = tempfile::tempdir().unwrap();
    let dir = theirs.path().join("shared");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o775)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let out = run(s.r2gitops(&["reconcile", "--output-dir", dir.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "the directory '{}' is open to other users (mode 0775, owner uid 65534, this process uid 0) and is not r2gitops' own",
            dir.display()
        )),
        "{}",
        text(&out)
    );
    assert_eq!(mode(&dir), 0o775);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

/// New directories are made durable: after each mkdir, the parent is fsynced. Seen with
/// strace (skipped where it is not installed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_directory_created_is_followed_by_an_fsync_of_its_parent() {
    let has_strace = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("strace").is_file()));
    if !has_strace {
        eprintln!("skipped: strace is not installed");
        return;
    }
    let s = Sandbox::new().await;
    s.write(&ONE_TOKEN.replace("file: t.env.age", "file: team/t.env.age"));
    let out_dir = s.dir.path().join("a/b/out");
    let trace = s.dir.path().join("trace.txt");
    let inner = s.r2gitops(&["reconcile", "--output-dir", out_dir.to_str().unwrap()]);
    let mut cmd = Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=mkdir,mkdirat,openat,open,fsync",
        "-o",
    ])
    .arg(&trace)
    .arg(inner.get_program())
    .args(inner.get_args())
    .env_clear()
    .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let log = fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let made = ["a", "a/b", "a/b/out", "a/b/out/team"];
    for rel in made {
        let dir = s.dir.path().join(rel);
        let parent = dir.parent().unwrap().display().to_string();
        let at = lines
            .iter()
            .position(|l| l.contains("mkdir") && l.contains(&format!("\"{}\"", dir.display())))
            .unwrap_or_else(|| panic!("no mkdir of {rel}:\n{log}"));
        // After the mkdir: the parent opened, then that descriptor fsynced before it is
        // reused by another open.
        let fd_of = |l: &str| l.rsplit("= ").next()?.trim().parse::<u32>().ok();
        let synced = (at..lines.len()).any(|j| {
            let Some(fd) = lines[j]
                .contains(&format!("\"{parent}\""))
                .then(|| fd_of(lines[j]))
                .flatten()
            else {
                return false;
            };
            lines[j + 1..]
                .iter()
                .take_while(|l| !(l.contains("open") && fd_of(l) == Some(fd)))
                .any(|l| l.contains(&format!("fsync({fd})")))
        });
        assert!(synced, "{rel}: parent not fsynced after mkdir:\n{log}");
        assert_eq!(mode(&dir), 0o700, "{rel}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_pinned_output_dir_a_committed_state_file_cannot_move_the_inventory_out() {
    let s = Sandbox::new().await;
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("planted.json");
    s.write(&ONE_TOKEN.replace(
        "settings:\n",
        &format!("settings:\n  state_file: {}\n", target.display()),
    ));
    let pinned = s.dir.path().join("pinned");
    let mut cmd = s.r2gitops(&["reconcile"]);
    cmd.arg("--output-dir").arg(&pinned);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("settings.state_file: state_file cannot be set while the operator pins the output directory"),
        "{}",
        text(&out)
    );
    assert!(!target.exists() && !Path::new(&format!("{}.lock", target.display())).exists());
    assert_eq!(s.emu.stats().total, 0, "refused before any call");
    // Without the pin the file decides, inside its own directory tree only.
    let out = run(s.r2gitops(&["reconcile", "--dry-run"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("settings.state_file: state file '"),
        "{}",
        text(&out)
    );
    s.write(&ONE_TOKEN.replace("settings:\n", "settings:\n  state_file: inv/state.json\n"));
    let out = run(s.r2gitops(&["reconcile"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(s.dir.path().join("inv/state.json").exists());
}

/// A snapshot of a directory tree: each entry's path, mode and content digest.
fn tree(dir: &Path) -> Vec<(String, u32, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        out.push((d.display().to_string(), mode(&d), String::new()));
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let digest = hex::encode(Sha256::digest(fs::read(&p).unwrap()));
                out.push((p.display().to_string(), mode(&p), digest));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_output_dir_outside_the_files_tree_is_refused_and_writes_nothing() {
    let s = Sandbox::new().await;
    // Someone's home: a dotfile in a directory others may read.
    let home = tempfile::tempdir().unwrap();
    fs::write(home.path().join(".bashrc"), "export PS1='$ '\n").unwrap();
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let outside = home.path().display().to_string();
    let link = s.dir.path().join("out-link");
    symlink(home.path(), &link).unwrap();
    let before = tree(home.path());
    let cases = [
        // (the settings lines, the field refused, the message's end)
        (
            format!("  output_dir: {outside}\n"),
            "settings.output_dir",
            "is an absolute path",
        ),
        (
            "  output_dir: ../elsewhere\n".to_string(),
            "settings.output_dir",
            "contains '..'",
        ),
        (
            "  output_dir: out-link\n".to_string(),
            "settings.output_dir",
            "leads out of the directory of this file through the symlink 'out-link'",
        ),
        (
            format!("  state_file: {outside}/.bashrc\n"),
            "settings.state_file",
            "is an absolute path",
        ),
        (
            "  state_file: out-link/.bashrc\n".to_string(),
            "settings.state_file",
            "leads out of the directory of this file through the symlink 'out-link'",
        ),
    ];
    for (settings, field, why) in &cases {
        // The bashrc is the output file too: the plan would replace it with ciphertext.
        s.write(
            &ONE_TOKEN
                .replace("settings:\n", &format!("settings:\n{settings}"))
                .replace("t.env.age", ".bashrc"),
        );
        for args in [
            &["validate"][..],
            &["reconcile"][..],
            &["reconcile", "--dry-run"][..],
        ] {
            let out = run(s.r2gitops(args)).await;
            let all = text(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?} {settings}: {all}");
            let line = all
                .lines()
                .find(|l| l.contains(&format!(": {field}: ")))
                .unwrap_or_else(|| panic!("{args:?} {settings}: no {field} error: {all}"));
            assert!(line.contains(why), "{args:?} {settings}: {line}");
            assert!(
                line.starts_with(&format!("{}:", s.file().display())),
                "located in the file: {line}"
            );
        }
        assert_eq!(
            tree(home.path()),
            before,
            "{settings}: the directory was touched"
        );
        assert!(!s.out().exists(), "{settings}: nothing is written anywhere");
    }
    assert_eq!(s.emu.stats().total, 0, "refused before any call");
    // The operator's --output-dir may point anywhere: the pin is theirs, not the file's.
    s.write(&ONE_TOKEN.replace(
        "settings:\n",
        &format!("settings:\n  output_dir: {outside}\n"),
    ));
    let pinned = s.dir.path().join("pinned");
    let mut cmd = s.r2gitops(&["reconcile"]);
    cmd.arg("--output-dir").arg(&pinned);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(pinned.join("t.env.age").exists());
    assert_eq!(tree(home.path()), before);
}
