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
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_policy_inside_the_checkout_of_the_file_is_refused_unless_the_operator_allows_it() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        let file = repo.join("team-a/r2gitops.yaml");
        write(&file, "version: 1\n");
        let beside = repo.join("team-a/policy.yaml");
        let elsewhere_in_repo = repo.join("policies/policy.yaml");
        let outside = root.path().join("etc/policy.yaml");
        for p in [&beside, &elsewhere_in_repo, &outside] {
            write(p, "version: 1\n");
        }
        for p in [&beside, &elsewhere_in_repo] {
            let e = load(p, Some(&file), false).unwrap_err();
            assert!(matches!(e, PolicyError::InRepository { .. }), "{e}");
            assert!(load(p, Some(&file), true).is_ok());
        }
        assert!(load(&outside, Some(&file), false).is_ok());
        // Without a checkout, the file's own directory tree is the repository.
        std::fs::remove_dir(repo.join(".git")).unwrap();
        assert!(load(&elsewhere_in_repo, Some(&file), false).is_ok());
        assert!(load(&beside, Some(&file), false).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_resolved_once_and_where_it_leads_is_checked() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("repo");
        let file = repo.join("r2gitops.yaml");
        write(&file, "version: 1\n");
        write(&repo.join("policy.yaml"), "version: 1\n");
        let etc = root.path().join("etc");
        write(&etc.join("..data/policy.yaml"), "version: 1\n");
        // A ConfigMap mount: the file is a link to ..data/, itself a link.
        std::os::unix::fs::symlink(etc.join("..data/policy.yaml"), etc.join("policy.yaml"))
            .unwrap();
        assert!(load(&etc.join("policy.yaml"), Some(&file), false).is_ok());
        // Out of the repository, pointing in: refused.
        std::os::unix::fs::symlink(repo.join("policy.yaml"), etc.join("in.yaml")).unwrap();
        let e = load(&etc.join("in.yaml"), Some(&file), false).unwrap_err();
        assert!(matches!(e, PolicyError::InRepository { .. }), "{e}");
        // In the repository, pointing out: refused too (a committer can retarget it).
        std::os::unix::fs::symlink(etc.join("policy.yaml"), repo.join("out.yaml")).unwrap();
        let e = load(&repo.join("out.yaml"), Some(&file), false).unwrap_err();
        assert!(matches!(e, PolicyError::InRepository { .. }), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_directory_is_not_read() {
        let root = tempfile::tempdir().unwrap();
        let fifo = root.path().join("policy.fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = load(&fifo, None, false).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Read { source, .. } if source.to_string().contains("FIFO")),
            "{e:?}"
        );
        assert!(load(root.path(), None, false).is_err());
        let e = load(&root.path().join("none.yaml"), None, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read the policy {}",
                root.path().join("none.yaml").display()
            )
        );
    }

    #[test]
    fn a_broken_policy_names_its_own_file_and_line() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path().join("policy.yaml");
        write(&p, "version: 1\ntokens:\n  acess: [object-read]\n");
        let PolicyError::Invalid(d) = load(&p, None, false).unwrap_err() else {
            panic!("invalid")
        };
        assert_eq!(d.0[0].file, p.display().to_string());
        assert_eq!((d.0[0].line, d.0[0].column), (3, 3));
        assert_eq!(d.0[0].path, "tokens.acess");
    }
}
