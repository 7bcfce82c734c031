//! The output check's second place to look: an output missing from `output_dir` whose
//! inventory record the publish branch still holds, byte for byte. A replica that takes
//! over with an empty disk (a new pod, another node) must not roll or rotate a token only
//! because its own disk lacks the file: the branch is where the outputs live beyond one
//! disk.
//!
//! One fetch of the branch per pass (none when the tracking ref is already at the remote's
//! tip, and none at all while every output is on disk), then local reads of the blobs. A
//! blob counts only when its SHA-256 is the inventory's record of what the writer wrote and
//! it is ciphertext (`encrypted`): the branch is writable by others, and SHA-256 is what
//! makes a blob on it the very file the writer recorded. Anything else (a tampered blob, a
//! deleted one, no branch) is not found, and the caller's output check rolls as it would
//! without publishing. Writes nothing but what a fetch writes into the clone (objects, and
//! the tracking ref `refs/r2gitops/publish/BRANCH`); the caller decides whether to restore
//! what it found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::{GitAuth, GitError, Item, MAX_FILE_BYTES, PublishError, git, items, tracking_ref};
use crate::config::{Desired, PublishSpec};
use crate::inventory::Inventory;

/// The branch could not be read: the remote is unreachable, refuses the credentials, or
/// the clone is not one. Every output it should have vouched for is unknown, not missing.
#[derive(Debug, thiserror::Error)]
#[error("the publish branch '{branch}' could not be read from {remote}")]
pub struct BranchUnreadable {
    pub branch: String,
    /// The clone's `origin` URL (any `user:password@` redacted), or the clone's path.
    pub remote: String,
    #[source]
    pub source: PublishError,
}

impl BranchUnreadable {
    /// One line for a plan: what could not be read, and git's first word on why (its
    /// stderr, not the command line).
    pub fn line(&self) -> String {
        let why = match &self.source {
            PublishError::Git(GitError::Failed { stderr, .. }) if !stderr.is_empty() => {
                stderr.clone()
            }
            other => crate::error::error_chain(other),
        };
        let why = why.lines().next().unwrap_or_default().trim();
        format!("{self} ({why})")
    }
}

/// The outputs a pass will look for on the branch, with what the inventory recorded of
/// each: made without I/O, so that the blocking read needs neither the desired state nor
/// the inventory.
pub struct Wanted {
    spec: PublishSpec,
    items: Vec<Item>,
}

/// Of the outputs in `missing` (paths relative to `output_dir`), those to look for: the
/// inventory has a record of each at that path. `None` without publishing, or when there
/// is none.
pub fn wanted(
    desired: &Desired,
    inventory: &Inventory,
    missing: &BTreeSet<PathBuf>,
) -> Option<Wanted> {
    let spec = desired.settings.publish.as_ref()?;
    let items: Vec<Item> = items(desired, spec, inventory)
        .into_iter()
        .filter(|i| missing.contains(&i.rel))
        .collect();
    (!items.is_empty()).then(|| Wanted {
        spec: spec.clone(),
        items,
    })
}

impl Wanted {
    /// The paths looked for.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.items.iter().map(|i| &i.rel)
    }

    /// Those of the wanted outputs that the branch holds exactly as the inventory records
    /// them, with their bytes. Blocking: call from `spawn_blocking`.
    pub fn read(self, auth: &GitAuth) -> Result<BTreeMap<PathBuf, Vec<u8>>, BranchUnreadable> {
        let spec = &self.spec;
        let plain = git::Git {
            dir: &spec.repository,
            auth,
            env: Vec::new(),
        };
        let unreadable = |source: PublishError| BranchUnreadable {
            branch: spec.branch.clone(),
            remote: plain
                .ok(&["remote", "get-url", "origin"], None)
                .map(|u| git::redact(&u))
                .unwrap_or_else(|_| spec.repository.display().to_string()),
            source,
        };
        super::git_dir(&spec.repository, auth).map_err(unreadable)?;
        let tracking = tracking_ref(&spec.branch);
        let Some(tip) = fetch(&plain, &spec.branch, &tracking).map_err(|e| unreadable(e.into()))?
        else {
            return Ok(BTreeMap::new());
        };
        let mut found = BTreeMap::new();
        for item in self.items {
            let file = item.rel.display().to_string();
            let Ok(blob) = plain.ok(
                &[
                    "rev-parse",
                    "-q",
                    "--verify",
                    &format!("{tip}:{}", item.path),
                ],
                None,
            ) else {
                tracing::info!(file, branch = %spec.branch, "missing here and not on the publish branch");
                continue;
            };
            let size = plain
                .ok(&["cat-file", "-s", &blob], None)
                .map_err(|e| unreadable(e.into()))?;
            if size.parse::<u64>().map_or(true, |n| n > MAX_FILE_BYTES) {
                tracing::warn!(file, branch = %spec.branch, "the publish branch holds something else at this output's path (too large to be it)");
                continue;
            }
            let bytes = plain
                .bytes(&["cat-file", "blob", &blob])
                .map_err(|e| unreadable(e.into()))?;
            if hex::encode(Sha256::digest(&bytes)) != item.record.ciphertext_sha256 {
                tracing::warn!(file, branch = %spec.branch, "the publish branch holds another file than the one last written at this output's path");
                continue;
            }
            if let Err(why) = super::encrypted(item.format, &bytes) {
                tracing::warn!(file, branch = %spec.branch, why, "the publish branch's file does not look encrypted; not used");
                continue;
            }
            found.insert(item.rel, bytes);
        }
        Ok(found)
    }
}

/// The remote branch's tip in `tracking`, fetched only when the tracking ref is not at it
/// already; `None` when the remote has no such branch (nothing was published yet).
fn fetch(plain: &git::Git<'_>, branch: &str, tracking: &str) -> Result<Option<String>, GitError> {
    let branch_ref = format!("refs/heads/{branch}");
    let remote = plain.run(&["ls-remote", "--exit-code", "origin", &branch_ref], None)?;
    let tip = match remote.code {
        Some(0) => remote
            .stdout
            .lines()
            .find_map(|l| {
                l.split_once('\t')
                    .filter(|(_, r)| *r == branch_ref)
                    .map(|(id, _)| id.to_string())
            })
            .unwrap_or_default(),
        // `--exit-code`: 2 means the remote has no such branch.
        Some(2) => return Ok(None),
        _ => {
            return Err(GitError::Failed {
                command: format!("ls-remote origin {branch_ref}"),
                status: remote.code.map_or("killed".into(), |c| format!("exit {c}")),
                stderr: remote.stderr.trim().to_string(),
            });
        }
    };
    let have = plain.ok(
        &[
            "rev-parse",
            "-q",
            "--verify",
            &format!("{tracking}^{{commit}}"),
        ],
        None,
    );
    if have.as_deref().ok() != Some(tip.as_str()) {
        plain.ok(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "origin",
                &format!("+{branch_ref}:{tracking}"),
            ],
            None,
        )?;
    }
    Ok(Some(plain.ok(
        &["rev-parse", "--verify", &format!("{tracking}^{{commit}}")],
        None,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_branch_reads_as_one_line_naming_the_remote_and_gits_first_word() {
        let e = BranchUnreadable {
            branch: "r2gitops-outputs".into(),
            remote: "ssh://git@example.com/fleet.git".into(),
            source: PublishError::Git(GitError::Failed {
                command: "ls-remote origin refs/heads/r2gitops-outputs".into(),
                status: "exit 128".into(),
                stderr: "fatal: Could not read from remote repository.\n\nPlease make sure…".into(),
            }),
        };
        assert_eq!(
            e.line(),
            "the publish branch 'r2gitops-outputs' could not be read from ssh://git@example.com/fleet.git (fatal: Could not read from remote repository.)"
        );
        let e = BranchUnreadable {
            source: PublishError::NotAClone {
                path: "/work/fleet".into(),
            },
            ..e
        };
        assert_eq!(
            e.line(),
            "the publish branch 'r2gitops-outputs' could not be read from ssh://git@example.com/fleet.git (publish repository '/work/fleet' is not a git clone with a .git directory of its own)"
        );
    }
}
