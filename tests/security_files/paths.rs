//! Paths that lead elsewhere: a symlink at the lock path, a symlinked output subdirectory, a
//! FIFO at an output path, an inventory path out of the output directory.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::time::Duration;

use common::Sandbox;
use common::output::text;
use sha2::{Digest, Sha256};

use crate::common;
use crate::{ONE_TOKEN, creates_and_rolls, mkfifo, run, run_within};

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
