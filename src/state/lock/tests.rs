use super::*;

#[test]
fn a_second_lock_on_the_same_inventory_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("out/.r2gitops-state.json");
    let first = acquire(&state).unwrap();
    assert_eq!(first.path, dir.path().join("out/.r2gitops-state.json.lock"));
    match acquire(&state) {
        Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("second lock: {other:?}"),
    }
    drop(first);
    acquire(&state).expect("free again once the holder is gone");
}

/// Config refuses outputs named like the lock (it cannot import us): same suffix.
#[test]
fn config_reserves_the_name_the_lock_uses() {
    let state = Path::new("out/inv.json");
    let mut want = state.as_os_str().to_os_string();
    want.push(crate::config::validate::LOCK_SUFFIX);
    assert_eq!(lock_path(state), PathBuf::from(want));
}

#[test]
fn a_lock_file_left_by_an_earlier_run_is_reused_and_gets_the_new_pid() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".r2gitops-state.json");
    std::fs::write(lock_path(&state), "4242\n").unwrap();
    let lock = acquire(&state).unwrap();
    assert_eq!(
        std::fs::read_to_string(&lock.path).unwrap(),
        format!("{}\n", std::process::id())
    );
}

/// A committed symlink at the lock path once had its target truncated.
#[test]
fn nothing_in_the_way_of_the_lock_is_followed_truncated_or_written() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    let state = dir.path().join(".r2gitops-state.json");
    let lock = lock_path(&state);
    let fifo =
        |p: &Path| rustix::fs::mkfifoat(rustix::fs::CWD, p, Mode::from_raw_mode(0o600)).unwrap();
    type Setup<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: [(&str, Setup<'_>, &str); 5] = [
        (
            "symlink to a file outside",
            Box::new(|l| std::os::unix::fs::symlink(&victim, l).unwrap()),
            "is a symlink",
        ),
        (
            "dangling symlink",
            Box::new(|l| std::os::unix::fs::symlink(outside.path().join("new.txt"), l).unwrap()),
            "is a symlink",
        ),
        (
            "a file with other contents",
            Box::new(|l| std::fs::write(l, "precious data\n").unwrap()),
            "did not make",
        ),
        (
            "a hard link to a file outside",
            Box::new(|l| std::fs::hard_link(&victim, l).unwrap()),
            "did not make",
        ),
        ("a FIFO", Box::new(move |l| fifo(l)), "is a FIFO"),
    ];
    for (what, setup, want) in cases {
        std::fs::write(&victim, "12\n").unwrap();
        let _ = std::fs::remove_file(&lock);
        setup(&lock);
        let before = std::fs::symlink_metadata(&lock).unwrap();
        let err = acquire(&state).expect_err(what).to_string();
        assert!(err.contains(want), "{what}: {err}");
        assert!(err.contains("nothing was written"), "{what}: {err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "12\n", "{what}");
        assert!(!outside.path().join("new.txt").exists(), "{what}");
        let after = std::fs::symlink_metadata(&lock).unwrap();
        assert_eq!(
            (after.ino(), after.len(), after.file_type()),
            (before.ino(), before.len(), before.file_type()),
            "{what}"
        );
    }
}
