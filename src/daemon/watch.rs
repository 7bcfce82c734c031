//! Noticing that the desired-state file changed. The *directories* are watched, not the
//! file: editors save by writing a new file and renaming it over the old one, and git-sync
//! publishes a new checkout by swapping a symlink, both of which a watch on the file itself
//! would miss. Any event only schedules a look: after `debounce` of quiet the file is read
//! and hashed, and only a changed hash triggers a pass (so the daemon's own writes, or
//! unrelated files, never do).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// The directories to watch for `file`: its parent, and for every ancestor that is a
/// symlink, the directory holding that symlink (where a swap shows up).
pub fn watch_dirs(file: &Path) -> Vec<PathBuf> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut dirs = vec![parent.clone()];
    let mut here = parent.as_path();
    loop {
        if std::fs::symlink_metadata(here).is_ok_and(|m| m.file_type().is_symlink()) {
            let holder = match here.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dirs.contains(&holder) {
                dirs.push(holder);
            }
        }
        match here.parent() {
            Some(p) if !p.as_os_str().is_empty() => here = p,
            _ => break,
        }
    }
    dirs
}

/// SHA-256 of the file's bytes (`None` when it cannot be read): its revision. Read exactly
/// as loading reads it (bounded, regular files only): a symlink to `/dev/zero` once made
/// this read grow without limit.
pub fn revision(file: &Path) -> Option<String> {
    crate::config::load::read_file(file)
        .ok()
        .map(|b| hex::encode(Sha256::digest(&b)))
}

/// What a loaded desired state depends on: the file and, when it names one, its recipients
/// file (a missing recipients file counts as a state too). `None` when the file cannot be
/// read.
pub fn inputs_revision(file: &Path, recipients_file: Option<&Path>) -> Option<String> {
    let mut hash = Sha256::new();
    hash.update(crate::config::load::read_file(file).ok()?);
    if let Some(r) = recipients_file {
        match crate::config::load::read_file(r) {
            Ok(bytes) => {
                hash.update(b"\0recipients\0");
                hash.update(bytes);
            }
            Err(_) => hash.update(b"\0no recipients file\0"),
        }
    }
    Some(hex::encode(hash.finalize()))
}

/// Whether an event may mean the file changed. Opening and reading a file raises access
/// events, and reading the file is exactly what the check does: following them made an idle
/// daemon re-read and re-hash its file twice a second, forever.
pub fn relevant(event: &notify::Event) -> bool {
    !event.kind.is_access()
}

fn arm(file: &Path, tx: mpsc::UnboundedSender<()>) -> Option<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| relevant(&e)) {
            let _ = tx.send(());
        }
    })
    .map_err(
        |e| tracing::warn!(error = %e, "cannot start the file watcher; relying on the interval"),
    )
    .ok()?;
    for dir in watch_dirs(file) {
        if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch a directory");
        }
    }
    Some(watcher)
}

/// Watch `file` until the process ends, calling `changed` after each debounced change of
/// its contents. Re-arms the watches after every change, so that directories replaced by a
/// symlink swap are followed.
pub async fn run(file: PathBuf, debounce: Duration, changed: impl Fn() + Send + 'static) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watcher = arm(&file, tx.clone());
    let mut seen = {
        let f = file.clone();
        tokio::task::spawn_blocking(move || revision(&f))
            .await
            .ok()
            .flatten()
    };
    while rx.recv().await.is_some() {
        // Quiet period: every further event restarts it.
        loop {
            match tokio::time::timeout(debounce, rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let f = file.clone();
        let now = tokio::task::spawn_blocking(move || revision(&f))
            .await
            .ok()
            .flatten();
        if now != seen {
            seen = now;
            tracing::debug!(file = %file.display(), "the desired-state file changed");
            changed();
            drop(watcher.take());
            watcher = arm(&file, tx.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RenameMode};

    #[test]
    fn reading_the_file_is_not_a_change_but_writes_renames_and_creates_are() {
        let cases = [
            (EventKind::Access(AccessKind::Open(AccessMode::Read)), false),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                false,
            ),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                false,
            ),
            (EventKind::Modify(ModifyKind::Name(RenameMode::To)), true),
            (EventKind::Modify(ModifyKind::Any), true),
            (EventKind::Create(CreateKind::File), true),
            (EventKind::Remove(notify::event::RemoveKind::File), true),
            (EventKind::Any, true),
        ];
        for (kind, want) in cases {
            assert_eq!(relevant(&notify::Event::new(kind)), want, "{kind:?}");
        }
    }

    #[test]
    fn a_symlinked_checkout_is_watched_where_the_link_is_swapped() {
        let root = tempfile::tempdir().unwrap();
        let worktree = root.path().join(".worktrees/abc");
        std::fs::create_dir_all(&worktree).unwrap();
        std::os::unix::fs::symlink(&worktree, root.path().join("repo")).unwrap();
        let file = root.path().join("repo/r2gitops.yaml");
        assert_eq!(
            watch_dirs(&file),
            [root.path().join("repo"), root.path().to_path_buf()]
        );
        let plain = root.path().join(".worktrees/abc/r2gitops.yaml");
        assert_eq!(watch_dirs(&plain), [worktree]);
        assert_eq!(watch_dirs(Path::new("r2gitops.yaml")), [PathBuf::from(".")]);
    }
}
