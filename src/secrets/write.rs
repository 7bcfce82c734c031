//! The atomic write of one output file under `output_dir`, and the sweep of temp files an
//! interrupted write left behind.
//!
//! Owns the on-disk guarantees: a reader (or a crash) sees the old file or the new one,
//! never a partial one; files are 0600 from the moment they exist, directories this code
//! creates are 0700; nothing is written through a symlink or outside `output_dir`. It is
//! only ever handed ciphertext, and must not log file contents.
//!
//! `output_dir` itself is the operator's choice and may be (or sit under) a symlink, e.g. a
//! mounted volume; every component *below* it is checked.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::SecretsError;

/// Called with the temp file's path after it is written and fsynced, before the rename.
pub type BeforeRenameHook = dyn Fn(&Path) -> io::Result<()> + Send + Sync;

/// Marks our temp files: `.<file>.r2gitops-tmp-<16 hex>`.
pub const TEMP_MARKER: &str = ".r2gitops-tmp-";

/// The temp file name for `file_name`, unique per attempt.
pub fn temp_name(file_name: &str) -> String {
    format!(".{file_name}{TEMP_MARKER}{:016x}", rand::random::<u64>())
}

/// Whether `name` is one of our temp files (and so safe to delete on sight).
pub fn is_temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some(at) = rest.rfind(TEMP_MARKER) else {
        return false;
    };
    let suffix = &rest[at + TEMP_MARKER.len()..];
    at > 0 && suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The plain relative components of `rel`, or why it cannot be an output path.
pub fn checked_components(rel: &Path) -> Result<Vec<&str>, SecretsError> {
    let outside = || SecretsError::PathOutside {
        path: rel.to_path_buf(),
    };
    // `./a.age` is the same file as `a.age` (config accepts both); anything else but a
    // plain name could leave output_dir.
    let parts = rel
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(s) => s.to_str().ok_or_else(outside),
            _ => Err(outside()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if parts.is_empty() {
        return Err(outside());
    }
    Ok(parts)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SecretsError + '_ {
    move |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn private_dir() -> DirBuilder {
    let mut b = DirBuilder::new();
    b.mode(0o700);
    b
}

/// Whether `dir`, a component below `output_dir`, exists as a real directory; a symlink or
/// anything else in its place is an error. Creates nothing.
fn plain_dir_exists(dir: &Path) -> Result<bool, SecretsError> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(SecretsError::Symlink {
            path: dir.to_path_buf(),
        }),
        Ok(m) if m.is_dir() => Ok(true),
        Ok(m) => Err(SecretsError::NotA {
            path: dir.to_path_buf(),
            expected: "directory",
            found: crate::safe_fs::kind_of(&m),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// Whether the output file `target` exists as a regular file; a symlink, FIFO, device or
/// directory in its place is an error (the writer never replaces one).
fn plain_file_exists(target: &Path) -> Result<bool, SecretsError> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => Err(SecretsError::Symlink {
            path: target.to_path_buf(),
        }),
        Ok(m) if !m.is_file() => Err(SecretsError::NotA {
            path: target.to_path_buf(),
            expected: "regular file",
            found: crate::safe_fs::kind_of(&m),
        }),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(target)(e)),
    }
}

/// The path of the output `rel` under `output_dir` if it exists, checked by the writer's
/// rules at every component (plain relative path, no symlink, directories then a regular
/// file) without creating or following anything. `None` when it, or a directory on the
/// way, does not exist yet. The planner's facts come from here, so that what the writer
/// would refuse shows as blocked rather than as a missing file rolled every pass.
pub fn existing_output(output_dir: &Path, rel: &Path) -> Result<Option<PathBuf>, SecretsError> {
    let parts = checked_components(rel)?;
    let (file_name, dirs) = parts.split_last().expect("checked non-empty");
    let mut dir = output_dir.to_path_buf();
    for d in dirs {
        dir.push(d);
        if !plain_dir_exists(&dir)? {
            return Ok(None);
        }
    }
    let target = dir.join(file_name);
    Ok(plain_file_exists(&target)?.then_some(target))
}

/// Make sure `dir` is a real directory (not a symlink) below `output_dir`, creating it 0700.
fn ensure_plain_dir(dir: &Path) -> Result<(), SecretsError> {
    match plain_dir_exists(dir) {
        Ok(true) => Ok(()),
        Ok(false) => match private_dir().create(dir) {
            // A new directory survives a crash only once its parent's entry is on disk.
            Ok(()) => sync_dir(dir.parent().unwrap_or(dir)),
            // Someone else made it meanwhile: check what they made.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match fs::symlink_metadata(dir) {
                Ok(m) if m.is_dir() && !m.file_type().is_symlink() => Ok(()),
                _ => Err(SecretsError::Symlink {
                    path: dir.to_path_buf(),
                }),
            },
            Err(e) => Err(io_err(dir)(e)),
        },
        Err(e) => Err(e),
    }
}

/// Make sure `output_dir` is a directory only this user can enter. A missing one is created
/// 0700 with its missing ancestors, each made durable by an fsync of its parent. An existing
/// one open to the group or others is set to 0700 with a warning when it is ours, and
/// refused when it is not: another user's directory could be emptied or watched by them
///. The state file's directory, which holds the inventory and the lock, goes
/// through here too.
pub fn ensure_output_dir(output_dir: &Path) -> Result<(), SecretsError> {
    match fs::metadata(output_dir) {
        Ok(m) if m.is_dir() => make_private(output_dir, &m),
        Ok(m) => Err(SecretsError::NotA {
            path: output_dir.to_path_buf(),
            expected: "directory",
            found: crate::safe_fs::kind_of(&m),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_dirs_synced(output_dir),
        Err(e) => Err(io_err(output_dir)(e)),
    }
}

/// Take group and other access away from an existing directory of ours; refuse someone
/// else's, or a sticky one, that is open to others.
fn make_private(dir: &Path, meta: &fs::Metadata) -> Result<(), SecretsError> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let me = rustix::process::geteuid().as_raw();
    // A sticky directory (/tmp) is shared by design: never made private, even when ours.
    if meta.uid() != me || mode & 0o1000 != 0 {
        return Err(SecretsError::SharedDir {
            path: dir.to_path_buf(),
            mode,
            owner: meta.uid(),
            me,
        });
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
    tracing::warn!(
        dir = %dir.display(),
        was = format!("{mode:04o}"),
        "the output directory was open to other users; its mode is now 0700"
    );
    Ok(())
}

/// Create `dir` and its missing ancestors, 0700, top down; each new entry is durable only
/// once its parent directory is fsynced.
fn create_dirs_synced(dir: &Path) -> Result<(), SecretsError> {
    let mut missing = Vec::new();
    let mut here = dir;
    loop {
        match fs::metadata(here) {
            Ok(m) if m.is_dir() => break,
            Ok(m) => {
                return Err(SecretsError::NotA {
                    path: here.to_path_buf(),
                    expected: "directory",
                    found: crate::safe_fs::kind_of(&m),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(here),
            Err(e) => return Err(io_err(here)(e)),
        }
        match here.parent() {
            Some(p) if !p.as_os_str().is_empty() => here = p,
            _ => break,
        }
    }
    for new in missing.into_iter().rev() {
        match private_dir().create(new) {
            Ok(()) => {}
            // Made meanwhile by someone else (another run creating the same tree).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && new.is_dir() => continue,
            Err(e) => return Err(io_err(new)(e)),
        }
        sync_dir(match new.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        })?;
    }
    Ok(())
}

/// Atomically replace `output_dir/rel` with `bytes`: temp file (0600, `O_EXCL`) in the same
/// directory, fsync, rename over the target, fsync the directory.
pub fn write_atomic(
    output_dir: &Path,
    rel: &Path,
    bytes: &[u8],
    hook: Option<&BeforeRenameHook>,
) -> Result<(), SecretsError> {
    let parts = checked_components(rel)?;
    let (file_name, dirs) = parts.split_last().expect("checked non-empty");
    ensure_output_dir(output_dir)?;
    let mut dir = output_dir.to_path_buf();
    for d in dirs {
        dir.push(d);
        ensure_plain_dir(&dir)?;
    }
    let target = dir.join(file_name);
    plain_file_exists(&target)?;

    let temp = dir.join(temp_name(file_name));
    // create_new = O_CREAT|O_EXCL: never opens an existing file and never follows a symlink.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io_err(&temp))?;
    let result = (|| {
        // The umask can only have removed bits; make it exactly 0600 regardless.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        if let Some(hook) = hook {
            hook(&temp)?;
        }
        fs::rename(&temp, &target)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(io_err(&target)(e));
    }
    // The rename is durable only once the directory entry is.
    sync_dir(&dir)
}

fn sync_dir(dir: &Path) -> Result<(), SecretsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Delete our temp files anywhere under `output_dir` (never following symlinks). Returns
/// how many were removed; a missing `output_dir` has none.
pub fn cleanup_temp_files(output_dir: &Path) -> Result<usize, SecretsError> {
    if !output_dir.exists() {
        return Ok(0);
    }
    let mut removed = 0;
    let mut stack: Vec<PathBuf> = vec![output_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io_err(&path))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && is_temp_name(&entry.file_name().to_string_lossy()) {
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&path)(e)),
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
