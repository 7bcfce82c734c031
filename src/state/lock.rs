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
mod tests;
