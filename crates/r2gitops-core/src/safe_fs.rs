//! Opening a file that someone other than the operator may have put in the way: a FIFO that
//! would block the open or the read forever, a device that never ends (`/dev/zero`), a
//! symlink planted where a file is expected, a file far larger than it should be. Every read
//! of a path a committer can influence (the desired-state file, the recipients file, output
//! files, the lock, the inventory) goes through here.
//!
//! Owns the open flags and the regular-file check. Must not decide which paths are allowed
//! (`config` and `secrets` do) and must not log.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// Whether the last component of the path may be a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last {
    /// Follow it (the desired-state file: git-sync publishes checkouts by swapping links).
    MayBeSymlink,
    /// Refuse it (`O_NOFOLLOW`): anything r2gitops writes, or reads from a tree a committer
    /// controls.
    NoSymlink,
}

/// Why a path is not a regular file, in words for a message ("a FIFO").
pub fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_symlink() {
        "a symlink"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn not_regular(meta: &Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({})", kind_of(meta)),
    )
}

/// Open `path` read-only, refusing anything but a regular file. The type is checked before
/// the open (opening some devices has effects of its own) and again on the open file (the
/// path may have been swapped in between); the open itself never blocks on a FIFO
/// (`O_NONBLOCK`) and, with `Last::NoSymlink`, never follows a link (`O_NOFOLLOW`).
pub fn open_regular(path: &Path, last: Last) -> io::Result<File> {
    let before = match last {
        Last::MayBeSymlink => std::fs::metadata(path)?,
        Last::NoSymlink => std::fs::symlink_metadata(path)?,
    };
    if !before.is_file() {
        return Err(not_regular(&before));
    }
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    if last == Last::NoSymlink {
        flags |= OFlags::NOFOLLOW;
    }
    let file = File::from(rustix::fs::open(path, flags, Mode::empty())?);
    let after = file.metadata()?;
    if !after.is_file() {
        return Err(not_regular(&after));
    }
    if (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the file was replaced while it was opened",
        ));
    }
    Ok(file)
}

/// The first `limit + 1` bytes of the regular file at `path`: a caller that gets more than
/// `limit` knows the file is too large without ever having read it whole.
pub fn read_bounded(path: &Path, limit: u64, last: Last) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(path, last)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn only_regular_files_open_and_a_fifo_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "abc").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o600)).unwrap();

        let start = Instant::now();
        type Want = Result<&'static [u8], &'static str>;
        let cases: [(&Path, Last, Want); 8] = [
            (&file, Last::NoSymlink, Ok(b"abc")),
            (&file, Last::MayBeSymlink, Ok(b"abc")),
            (&link, Last::MayBeSymlink, Ok(b"abc")),
            (
                &link,
                Last::NoSymlink,
                Err("not a regular file (a symlink)"),
            ),
            (
                &fifo,
                Last::MayBeSymlink,
                Err("not a regular file (a FIFO)"),
            ),
            (&fifo, Last::NoSymlink, Err("not a regular file (a FIFO)")),
            (
                Path::new("/dev/zero"),
                Last::MayBeSymlink,
                Err("not a regular file (a character device)"),
            ),
            (
                dir.path(),
                Last::NoSymlink,
                Err("not a regular file (a directory)"),
            ),
        ];
        for (path, last, want) in cases {
            let got = read_bounded(path, 10, last).map_err(|e| e.to_string());
            match want {
                Ok(bytes) => assert_eq!(got.as_deref(), Ok(bytes), "{}", path.display()),
                Err(msg) => assert_eq!(got, Err(msg.to_string()), "{}", path.display()),
            }
        }
        assert!(start.elapsed() < Duration::from_secs(5), "an open blocked");
    }

    #[test]
    fn a_read_stops_one_byte_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big");
        std::fs::write(&file, vec![b'x'; 100]).unwrap();
        assert_eq!(read_bounded(&file, 10, Last::NoSymlink).unwrap().len(), 11);
        assert_eq!(
            read_bounded(&file, 100, Last::NoSymlink).unwrap().len(),
            100
        );
    }
}
