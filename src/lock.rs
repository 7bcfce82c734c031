//! One writer per inventory: an exclusive advisory lock (flock) held for the life of an
//! applying `reconcile` or a `watch` daemon. A second one fails at once, naming the holder.
//!
//! The lock is taken on `<state_file>.lock`, not on the state file itself: the inventory is
//! replaced by rename on every save, which would leave a lock on the old inode behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another r2gitops{} holds the inventory lock '{path}'; only one reconcile or watch may manage an inventory at a time",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Held { path: PathBuf, pid: Option<u32> },
    #[error("cannot open the inventory lock '{path}'")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
            .map_err(|e| io(std::io::Error::other(crate::apply::error_chain(&e))))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(LockError::Held {
                pid: text.trim().parse().ok(),
                path,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    // The holder's pid, for the message a second instance prints.
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(InventoryLock { _file: file, path })
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
}
