//! Reading the operator's policy file: the only I/O of `policy`. The path is the
//! operator's (`--policy`, R2GITOPS_POLICY), never anything the desired-state file names.
//!
//! A symlink on the way is resolved once (a Kubernetes ConfigMap mount is a chain of them)
//! and the resolved file is opened without following links, bounded, and only if it is a
//! regular file (a FIFO would hang the read). A policy inside the repository it judges is
//! one its committers could rewrite: refused unless the operator says `--policy-in-repo`.
//! The repository is the git checkout the desired-state file lives in (the nearest
//! directory above it holding `.git`), else the file's own directory tree; the path as
//! named and the file it resolves to are both checked.

use std::path::{Path, PathBuf};

use super::Policy;
use crate::config::Diagnostics;
use crate::safe_fs::{self, Last};

/// A policy is a page of bounds; more than this is a mistake.
pub const MAX_POLICY_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the policy {path} is inside the repository it judges ({root}): its committers could change it\n  hint: keep the policy where only the operator writes, or pass --policy-in-repo if the repository's own review is meant to guard it"
    )]
    InRepository { path: String, root: String },
    #[error("the policy is not valid:\n{0}")]
    Invalid(Diagnostics),
}

/// Read and parse the policy at `path`. `desired_file`: the desired-state file it will
/// judge, whose repository the policy may not be in unless `in_repo` (`--policy-in-repo`).
pub fn load(
    path: &Path,
    desired_file: Option<&Path>,
    in_repo: bool,
) -> Result<Policy, PolicyError> {
    let shown = path.display().to_string();
    let read = |source| PolicyError::Read {
        path: shown.clone(),
        source,
    };
    let resolved = path.canonicalize().map_err(read)?;
    if let Some(file) = desired_file
        && !in_repo
        && let Some(root) = repository(file)
    {
        // As named (its directory resolved) and as resolved: a link in the repository that
        // points out is the committers' to retarget, and a link out that points in is theirs
        // to rewrite.
        let named = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .canonicalize()
            .map(|dir| dir.join(path.file_name().unwrap_or_default()))
            .unwrap_or_else(|_| resolved.clone());
        if named.starts_with(&root) || resolved.starts_with(&root) {
            return Err(PolicyError::InRepository {
                path: shown,
                root: root.display().to_string(),
            });
        }
    }
    let bytes =
        safe_fs::read_bounded(&resolved, MAX_POLICY_BYTES, Last::NoSymlink).map_err(read)?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(read(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_POLICY_BYTES} bytes"),
        )));
    }
    super::parse(&bytes, &shown).map_err(PolicyError::Invalid)
}

/// The repository a desired-state file lives in, resolved: the nearest directory at or
/// above the file's (resolved) directory that holds `.git`, else that directory. `None`
/// when the file cannot be resolved (the load of the file reports that).
pub fn repository(desired_file: &Path) -> Option<PathBuf> {
    let file = desired_file.canonicalize().ok()?;
    let dir = file.parent()?.to_path_buf();
    let checkout = dir
        .ancestors()
        .find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok())
        .map(Path::to_path_buf);
    Some(checkout.unwrap_or(dir))
}

#[cfg(test)]
mod tests;
