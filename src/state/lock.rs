//! One writer per inventory: an exclusive advisory lock (flock) held for the life of an
//! applying `reconcile` or a `watch` daemon. A second one fails at once, naming the holder.
//!
//! The lock is taken on `<state_file>.lock`, not on the state file itself: the inventory is
//! replaced by rename on every save, which would leave a lock on the old inode behind.
//!
//! The lock file sits where a committer may have put something first: it is
//! opened without following a symlink and must be a regular file; a file r2gitops did not
//! create is never truncated or written. Only a file that already looks like one of ours
//! (owned by us, one link, holding nothing but a pid) gets the new holder's pid.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

/// A pid and a newline; anything longer was not written by r2gitops.
const MAX_LOCK_BYTES: u64 = 32;

const NOT_OURS: &str =
    "a file r2gitops did not make (another owner, more than one link, or other contents)";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another r2gitops{} holds the inventory lock '{path}'; only one reconcile or watch may manage an inventory at a time",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Held { path: PathBuf, pid: Option<u32> },
    #[error(
        "the inventory lock '{path}' is {what}; nothing was written to it\n  hint: remove it: r2gitops creates its lock file itself, and never follows a symlink or writes into a file it did not make there"
    )]
    Foreign { path: PathBuf, what: &'static str },
    #[error("cannot open the inventory lock '{path}'")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Held until dropped (the kernel also drops it when the process dies).
#[derive(Debug)]
pub struct InventoryLock {
    _file: File,
    pub path: PathBuf,
}

pub fn lock_path(state_file: &Path) -> PathBuf {
    let mut name = state_file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    state_file.with_file_name(name)
}

/// Take the lock for `state_file`, creating its directory (0700) if needed.
pub fn acquire(state_file: &Path) -> Result<InventoryLock, LockError> {
    let path = lock_path(state_file);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::secrets::write::ensure_output_dir(dir)
            .map_err(|e| io(io::Error::other(crate::error::error_chain(&e))))?;
    }
    let (mut file, created) = open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = (&mut file).take(MAX_LOCK_BYTES).read_to_string(&mut text);
            return Err(LockError::Held {
                pid: text.trim().parse().ok(),
                path,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    // The holder's pid, for the message a second instance prints; only into a file we made
    // now or one a previous r2gitops left (checked under the lock, so no r2gitops races us).
    if created || ours(&mut file).map_err(io)? {
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
    } else {
        return Err(LockError::Foreign {
            path,
            what: NOT_OURS,
        });
    }
    Ok(InventoryLock { _file: file, path })
}

/// Open the lock file: create it (`O_EXCL`, 0600) or open the existing one, never through a
/// symlink (`O_NOFOLLOW`) and never blocking on a FIFO (`O_NONBLOCK`). Returns whether it
/// was created now.
fn open(path: &Path) -> Result<(File, bool), LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    let foreign = |what| LockError::Foreign {
        path: path.to_path_buf(),
        what,
    };
    let base = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(0o600);
    let (fd, created) = match rustix::fs::open(path, base | OFlags::CREATE | OFlags::EXCL, mode) {
        Ok(fd) => (fd, true),
        Err(rustix::io::Errno::EXIST) => {
            // Name what is in the way before opening it: opening a device has effects.
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.is_file() => {}
                Ok(m) => return Err(foreign(crate::safe_fs::kind_of(&m))),
                Err(e) => return Err(io(e)),
            }
            match rustix::fs::open(path, base, Mode::empty()) {
                Ok(fd) => (fd, false),
                Err(rustix::io::Errno::LOOP) => return Err(foreign("a symlink")),
                Err(e) => return Err(io(e.into())),
            }
        }
        Err(e) => return Err(io(e.into())),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(foreign(crate::safe_fs::kind_of(&meta)));
    }
    Ok((file, created))
}

/// Whether an existing lock file is one an earlier r2gitops made: owned by this user, a
/// single link (not a hard link to something else), and empty or holding only a pid.
fn ours(file: &mut File) -> io::Result<bool> {
    let meta = file.metadata()?;
    if meta.uid() != rustix::process::geteuid().as_raw()
        || meta.nlink() != 1
        || meta.len() > MAX_LOCK_BYTES
    {
        return Ok(false);
    }
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    if file.take(MAX_LOCK_BYTES).read_to_string(&mut text).is_err() {
        return Ok(false);
    }
    let text = text.trim();
    Ok(text.is_empty() || text.parse::<u32>().is_ok())
}

#[cfg(test)]
mod tests {
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

    /// Issue 12: a committed symlink at the lock path had its target truncated.
    #[test]
    fn nothing_in_the_way_of_the_lock_is_followed_truncated_or_written() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim.txt");
        let state = dir.path().join(".r2gitops-state.json");
        let lock = lock_path(&state);
        let fifo = |p: &Path| {
            rustix::fs::mkfifoat(rustix::fs::CWD, p, Mode::from_raw_mode(0o600)).unwrap()
        };
        type Setup<'a> = Box<dyn Fn(&Path) + 'a>;
        let cases: [(&str, Setup<'_>, &str); 5] = [
            (
                "symlink to a file outside",
                Box::new(|l| std::os::unix::fs::symlink(&victim, l).unwrap()),
                "is a symlink",
            ),
            (
                "dangling symlink",
                Box::new(|l| {
                    std::os::unix::fs::symlink(outside.path().join("new.txt"), l).unwrap()
                }),
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
}
