//! The output directory: its mode, the fsync of each parent, and a committed file that tries to
//! move it.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use common::Sandbox;
use common::output::text;
use sha2::{Digest, Sha256};

use crate::common;
use crate::{ONE_TOKEN, run};

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
