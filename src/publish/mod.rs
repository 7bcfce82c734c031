//! Publishing: after a pass, commit the outputs that differ from the publish branch to a
//! local clone and push it, so that Flux applies the SOPS-encrypted Secrets (the loop
//! Flux's image-automation-controller closes for image tags).
//!
//! Level-triggered like a pass: every declared output with an inventory record is compared
//! with the branch (fetched first), and whatever differs goes into one commit whose message
//! lists the tokens and why each changed (plan lines: never a value). A second pass with
//! nothing changed makes no commit; a publish that failed is caught up by the next pass; a
//! push rejected because someone pushed meanwhile is rebuilt on the new tip and retried, a
//! bounded number of times. A branch that does not exist yet starts as a root commit that
//! holds only the published files.
//!
//! Guarantees: only encrypted files are ever committed (the bytes must match the
//! inventory's record of what the writer wrote, and look like age or SOPS ciphertext: a
//! SOPS file whose every value under `data`/`stringData` is `ENC[...]`); nothing is written
//! into the clone's work tree (blobs, a private index and `commit-tree`, so no symlink in
//! the clone can be followed and no checkout is disturbed); never the repository and branch
//! the daemon itself watches; never a force push. The credentials are the operator's
//! (`git`). Must not read or log a secret: it handles ciphertext only.
//!
//! Today a rotation is a roll: the new Secret is published in the same pass that writes it,
//! right after the outputs. Rotation with overlap retires the old key in a later pass, so
//! the Secret is on the branch before that (the seam: `after_pass`).
//!
//! The branch is also where the outputs live beyond one disk: an output missing from
//! `output_dir` that the branch holds as the inventory records it is not missing
//! (`recover`), so that a second replica taking over with an empty disk rolls nothing.

mod args;
mod ciphertext;
pub mod git;
pub mod recover;
mod repository;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{Desired, OutputFormat, PublishSpec};
use crate::inventory::Inventory;
use crate::inventory::OutputRecord;
use crate::plan::{Plan, PublishPreview, Step};

pub use args::PublishArgs;
pub use ciphertext::encrypted;
use ciphertext::read_output;
pub use git::{GitAuth, GitError};
use repository::{check_not_watched, git_dir};

/// Pushes tried before a publish gives up (each after a fresh fetch).
pub const MAX_PUSH_ATTEMPTS: usize = 5;

/// A published file is an output: far below this.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("publish repository '{path}' is not a git clone with a .git directory of its own")]
    NotAClone { path: PathBuf },
    #[error("{0}")]
    Watched(String),
    #[error(
        "refusing to publish '{path}': it does not look encrypted ({why}); nothing was committed"
    )]
    NotEncrypted { path: PathBuf, why: &'static str },
    #[error("reading output '{path}'")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the push to {branch} was rejected {attempts} times (others kept pushing); the next pass tries again"
    )]
    Contended { branch: String, attempts: usize },
    #[error(transparent)]
    Git(#[from] GitError),
}

/// What a publish did: the commit pushed and how many files it changed, or nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    Commit { commit: String, files: usize },
    Unchanged,
}

/// One output that belongs on the branch.
struct Item {
    /// Declared token or temporary credential name.
    owner: String,
    /// Relative to `output_dir`.
    rel: PathBuf,
    /// In the repository (prefix joined, `/`-separated).
    path: String,
    format: OutputFormat,
    record: OutputRecord,
}

/// The outputs that belong on the branch: every declared one the inventory vouches for.
fn items(desired: &Desired, spec: &PublishSpec, inventory: &Inventory) -> Vec<Item> {
    let tokens = desired.tokens.iter().filter_map(|t| {
        let record = inventory.tokens.get(&t.name)?.output.clone()?;
        Some((t.name.clone(), &t.output, record))
    });
    let temporary = desired.temporary_credentials.iter().filter_map(|t| {
        let record = inventory.temporary.get(&t.name)?.output.clone()?;
        Some((t.name.clone(), &t.output, record))
    });
    tokens
        .chain(temporary)
        .filter(|(_, output, record)| record.path == output.file)
        .map(|(owner, output, record)| Item {
            path: repo_path(&spec.prefix, &output.file),
            owner,
            rel: output.file.clone(),
            format: output.format,
            record,
        })
        .collect()
}

fn repo_path(prefix: &Path, rel: &Path) -> String {
    prefix
        .join(rel)
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Why each output changed in this pass, from the plan's lines (which hold no value), by
/// declared name: `~ roll token media-reader: rotate_every elapsed (…)`.
pub fn reasons(plan: &Plan) -> BTreeMap<String, String> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::CreateToken { token, .. }
            | Step::RollToken { token, .. }
            | Step::ReplaceToken { token, .. }
            | Step::RotateToken { token, .. } => Some((token.clone(), s)),
            Step::IssueTemporary { name, .. } => Some((name.clone(), s)),
            _ => None,
        })
        .map(|(name, s)| (name, crate::plan::render::step_line(s)))
        .collect()
}

/// The local ref the last fetched tip of the branch is kept under (never the operator's).
fn tracking_ref(branch: &str) -> String {
    format!("refs/r2gitops/publish/{branch}")
}

/// After a pass: publish what differs. `reasons` name why outputs changed this pass.
/// Blocking: call from `spawn_blocking`.
pub fn after_pass(
    desired: &Desired,
    inventory: &Inventory,
    reasons: &BTreeMap<String, String>,
    auth: &GitAuth,
) -> Result<Published, PublishError> {
    let Some(spec) = &desired.settings.publish else {
        return Ok(Published::Unchanged);
    };
    let git_dir = git_dir(&spec.repository, auth)?;
    check_not_watched(desired, spec, auth)?;
    let mut files = Vec::new();
    for item in items(desired, spec, inventory) {
        if let Some(bytes) = read_output(&desired.settings.output_dir, &item)? {
            files.push((item, bytes));
        }
    }
    let index = git_dir.join(format!("r2gitops-publish-{}.index", std::process::id()));
    let result = publish_files(spec, auth, &index, &files, reasons);
    let _ = std::fs::remove_file(&index);
    result
}

fn publish_files(
    spec: &PublishSpec,
    auth: &GitAuth,
    index: &Path,
    files: &[(Item, Vec<u8>)],
    reasons: &BTreeMap<String, String>,
) -> Result<Published, PublishError> {
    let plain = git::Git {
        dir: &spec.repository,
        auth,
        env: Vec::new(),
    };
    let staged = git::Git {
        dir: &spec.repository,
        auth,
        env: vec![("GIT_INDEX_FILE", OsString::from(index))],
    };
    let author = vec![
        ("GIT_INDEX_FILE", OsString::from(index)),
        ("GIT_AUTHOR_NAME", OsString::from(&spec.author_name)),
        ("GIT_AUTHOR_EMAIL", OsString::from(&spec.author_email)),
        ("GIT_COMMITTER_NAME", OsString::from(&spec.author_name)),
        ("GIT_COMMITTER_EMAIL", OsString::from(&spec.author_email)),
    ];
    let committer = git::Git {
        dir: &spec.repository,
        auth,
        env: author,
    };
    let branch_ref = format!("refs/heads/{}", spec.branch);
    let tracking = tracking_ref(&spec.branch);
    // The blobs once: they do not change between attempts.
    let mut blobs = Vec::with_capacity(files.len());
    for (item, bytes) in files {
        let blob = plain.ok(
            &["hash-object", "-w", "--no-filters", "--stdin"],
            Some(bytes),
        )?;
        blobs.push((item, blob));
    }
    for _attempt in 0..MAX_PUSH_ATTEMPTS {
        let remote = plain.run(&["ls-remote", "--exit-code", "origin", &branch_ref], None)?;
        let base = match remote.code {
            Some(0) => {
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
                Some(plain.ok(
                    &["rev-parse", "--verify", &format!("{tracking}^{{commit}}")],
                    None,
                )?)
            }
            // `--exit-code`: 2 means the remote has no such branch (yet).
            Some(2) => None,
            _ => {
                return Err(GitError::Failed {
                    command: format!("ls-remote origin {branch_ref}"),
                    status: remote.code.map_or("killed".into(), |c| format!("exit {c}")),
                    stderr: remote.stderr.trim().to_string(),
                }
                .into());
            }
        };
        match &base {
            Some(b) => staged.ok(&["read-tree", b], None)?,
            None => staged.ok(&["read-tree", "--empty"], None)?,
        };
        let mut info = String::new();
        for (item, blob) in &blobs {
            info.push_str(&format!("100644 {blob}\t{}\n", item.path));
        }
        staged.ok(
            &["update-index", "--add", "--index-info"],
            Some(info.as_bytes()),
        )?;
        let tree = staged.ok(&["write-tree"], None)?;
        let changed: BTreeSet<String> = match &base {
            Some(b) => staged
                .ok(
                    &["diff-index", "--cached", "--name-only", "--no-renames", b],
                    None,
                )?
                .lines()
                .map(str::to_string)
                .collect(),
            None => blobs.iter().map(|(i, _)| i.path.clone()).collect(),
        };
        if changed.is_empty() {
            return Ok(Published::Unchanged);
        }
        let message = commit_message(&blobs, &changed, reasons);
        let mut args = vec!["commit-tree", tree.as_str()];
        if let Some(b) = &base {
            args.extend(["-p", b.as_str()]);
        }
        args.extend(["-F", "-"]);
        let commit = committer.ok(&args, Some(message.as_bytes()))?;
        let push = plain.run(
            &[
                "push",
                "--porcelain",
                "--quiet",
                "origin",
                &format!("{commit}:{branch_ref}"),
            ],
            None,
        )?;
        if push.ok() {
            plain.ok(&["update-ref", &tracking, &commit], None)?;
            return Ok(Published::Commit {
                commit,
                files: changed.len(),
            });
        }
        // Porcelain marks a rejected ref with `!`: someone pushed first. Anything else
        // (no access, no network) is not fixed by trying again now.
        let rejected = push
            .stdout
            .lines()
            .any(|l| l.starts_with('!') && l.contains(&branch_ref));
        if !rejected {
            return Err(GitError::Failed {
                command: format!("push origin {branch_ref}"),
                status: push.code.map_or("killed".into(), |c| format!("exit {c}")),
                stderr: push.stderr.trim().to_string(),
            }
            .into());
        }
        tracing::info!(branch = %spec.branch, "the push was rejected (the branch moved); fetching and trying again");
    }
    Err(PublishError::Contended {
        branch: spec.branch.clone(),
        attempts: MAX_PUSH_ATTEMPTS,
    })
}

/// One commit message: the tokens whose files changed and why, never a value.
fn commit_message(
    blobs: &[(&Item, String)],
    changed: &BTreeSet<String>,
    reasons: &BTreeMap<String, String>,
) -> String {
    let mut lines: Vec<String> = blobs
        .iter()
        .filter(|(i, _)| changed.contains(&i.path))
        .map(|(i, _)| {
            let why = reasons
                .get(&i.owner)
                .cloned()
                .unwrap_or_else(|| "not on the branch yet (or different there)".into());
            format!("- {}: {}", i.path, crate::plan::render::escape(&why))
        })
        .collect();
    lines.sort();
    let n = lines.len();
    format!(
        "r2gitops: publish {n} credential file{}\n\n{}\n\nEvery file is age- or SOPS-encrypted; no value is in this commit.\n",
        if n == 1 { "" } else { "s" },
        lines.join("\n")
    )
}

/// What a pass would publish, for the plan (`↗ publish 3 files to BRANCH (REPO)`): the
/// outputs this plan writes, and those whose file differs from the branch as last fetched
/// (all of them before the first fetch). Local reads only: no fetch, nothing written.
/// Blocking.
pub fn preview(
    desired: &Desired,
    inventory: &Inventory,
    plan: &Plan,
    auth: &GitAuth,
) -> Option<PublishPreview> {
    let spec = desired.settings.publish.as_ref()?;
    let written = reasons(plan);
    let plain = git::Git {
        dir: &spec.repository,
        auth,
        env: Vec::new(),
    };
    let tracking = tracking_ref(&spec.branch);
    let known = plain
        .ok(
            &[
                "rev-parse",
                "--verify",
                "-q",
                &format!("{tracking}^{{commit}}"),
            ],
            None,
        )
        .is_ok();
    let mut files = 0;
    let declared = desired.tokens.iter().map(|t| (&t.name, &t.output)).chain(
        desired
            .temporary_credentials
            .iter()
            .map(|t| (&t.name, &t.output)),
    );
    let recorded = items(desired, spec, inventory);
    for (name, output) in declared {
        if written.contains_key(name) {
            files += 1;
            continue;
        }
        let Some(item) = recorded
            .iter()
            .find(|i| &i.owner == name && i.rel == output.file)
        else {
            continue;
        };
        if !known {
            files += 1;
            continue;
        }
        let Ok(Some(bytes)) = read_output(&desired.settings.output_dir, item) else {
            continue;
        };
        let here = plain.ok(&["hash-object", "--no-filters", "--stdin"], Some(&bytes));
        let there = plain.ok(
            &[
                "rev-parse",
                "-q",
                "--verify",
                &format!("{tracking}:{}", item.path),
            ],
            None,
        );
        if here.ok() != there.ok() {
            files += 1;
        }
    }
    Some(PublishPreview {
        files,
        branch: spec.branch.clone(),
        repository: spec.repository.file_name().map_or_else(
            || spec.repository.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
    })
}

#[cfg(test)]
mod tests;
