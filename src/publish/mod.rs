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

pub mod git;
pub mod recover;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{Desired, OutputFormat, PublishSpec};
use crate::inventory::Inventory;
use crate::inventory::OutputRecord;
use crate::plan::{Plan, PublishPreview, Step};

pub use git::{GitAuth, GitError};

/// Pushes tried before a publish gives up (each after a fresh fetch).
pub const MAX_PUSH_ATTEMPTS: usize = 5;

/// A published file is an output: far below this.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The operator's publishing flags: where (pins the file cannot override) and with which
/// credentials. `reconcile`, `watch` and `adopt` take them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PublishArgs {
    /// Publish to this local clone (pushed to its `origin`) instead of the file's
    /// `settings.publish.repository`, which may then name nothing outside the file's tree.
    #[arg(long, env = "R2GITOPS_PUBLISH_REPOSITORY", value_name = "PATH")]
    pub publish_repository: Option<PathBuf>,
    /// Publish to this branch instead of the file's `settings.publish.branch`.
    #[arg(long, env = "R2GITOPS_PUBLISH_BRANCH", value_name = "BRANCH", value_parser = parse_branch)]
    pub publish_branch: Option<String>,
    /// Every published path is under this directory of the repository (the file's
    /// `settings.publish.prefix` goes below it).
    #[arg(long, env = "R2GITOPS_PUBLISH_PREFIX", value_name = "DIR", value_parser = parse_prefix)]
    pub publish_prefix: Option<String>,
    /// The SSH private key git pushes with (`GIT_SSH_COMMAND`); else the operator's own
    /// git and SSH configuration.
    #[arg(long, env = "R2GITOPS_PUBLISH_SSH_KEY", value_name = "PATH")]
    pub publish_ssh_key: Option<PathBuf>,
    /// A git credential helper for HTTPS remotes (replaces every configured one), e.g.
    /// `store --file /run/secrets/git-credentials`.
    #[arg(
        long,
        env = "R2GITOPS_PUBLISH_CREDENTIAL_HELPER",
        value_name = "HELPER"
    )]
    pub publish_credential_helper: Option<String>,
}

fn parse_branch(s: &str) -> Result<String, String> {
    match crate::config::validate::branch_problem(s) {
        None => Ok(s.to_string()),
        Some(why) => Err(format!("branch '{s}' {why}")),
    }
}

fn parse_prefix(s: &str) -> Result<String, String> {
    match crate::config::validate::prefix_problem(s) {
        None => Ok(s.to_string()),
        Some(why) => Err(format!("prefix '{s}' {why}")),
    }
}

impl PublishArgs {
    pub fn pins(&self) -> crate::config::validate::PublishPins {
        crate::config::validate::PublishPins {
            repository: self.publish_repository.clone(),
            branch: self.publish_branch.clone(),
            prefix: self.publish_prefix.clone(),
        }
    }

    pub fn auth(&self) -> GitAuth {
        GitAuth {
            ssh_key: self.publish_ssh_key.clone(),
            credential_helper: self.publish_credential_helper.clone(),
        }
    }
}

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

/// The output's bytes as the writer wrote them (the inventory's SHA-256), checked to be
/// ciphertext. `None` when the file is gone or changed since (the next pass rolls it).
fn read_output(output_dir: &Path, item: &Item) -> Result<Option<Vec<u8>>, PublishError> {
    let read_err = |source| PublishError::Read {
        path: item.rel.clone(),
        source,
    };
    let Some(path) = crate::secrets::write::existing_output(output_dir, &item.rel)
        .map_err(|e| read_err(std::io::Error::other(crate::error::error_chain(&e))))?
    else {
        return Ok(None);
    };
    let bytes =
        crate::safe_fs::read_bounded(&path, MAX_FILE_BYTES, crate::safe_fs::Last::NoSymlink)
            .map_err(read_err)?;
    if hex::encode(Sha256::digest(&bytes)) != item.record.ciphertext_sha256 {
        tracing::warn!(file = %item.rel.display(), "not published: the output changed since it was written (the next pass rolls it)");
        return Ok(None);
    }
    if let Err(why) = encrypted(item.format, &bytes) {
        return Err(PublishError::NotEncrypted {
            path: item.rel.clone(),
            why,
        });
    }
    Ok(Some(bytes))
}

/// Whether `bytes` are ciphertext of `format`: an age file (binary or armored), or a SOPS
/// document whose every value under `data`/`stringData` is encrypted and that has a MAC.
pub fn encrypted(format: OutputFormat, bytes: &[u8]) -> Result<(), &'static str> {
    if format != OutputFormat::KubernetesSops {
        return if bytes.starts_with(b"age-encryption.org/v1\n")
            || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
        {
            Ok(())
        } else {
            Err("no age header")
        };
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    let doc: serde_json::Value = serde_saphyr::from_str(text).map_err(|_| "not YAML")?;
    let sops = doc.get("sops").ok_or("no sops block")?;
    let enc = |v: &serde_json::Value| v.as_str().is_some_and(|s| s.starts_with("ENC[AES256_GCM,"));
    if !sops.get("mac").is_some_and(enc) {
        return Err("no encrypted MAC");
    }
    if sops
        .get("age")
        .and_then(|a| a.as_array())
        .is_none_or(|a| a.is_empty())
    {
        return Err("no age recipient");
    }
    for key in ["data", "stringData"] {
        if let Some(values) = doc.get(key) {
            let values = values
                .as_object()
                .ok_or("a data block that is not a mapping")?;
            if !values
                .values()
                .all(|v| enc(v) || v.as_str().is_some_and(str::is_empty))
            {
                return Err("a value in the clear");
            }
        }
    }
    Ok(())
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

/// The clone's git directory, refusing anything but a clone of its own: `<repo>/.git` a
/// directory (or a worktree's `.git` file), never a symlink, and never a bare layout.
fn git_dir(repo: &Path, auth: &GitAuth) -> Result<PathBuf, PublishError> {
    let not = || PublishError::NotAClone {
        path: repo.to_path_buf(),
    };
    match std::fs::symlink_metadata(repo.join(".git")) {
        Ok(m) if !m.file_type().is_symlink() && (m.is_dir() || m.is_file()) => {}
        _ => return Err(not()),
    }
    let g = git::Git {
        dir: repo,
        auth,
        env: Vec::new(),
    };
    let dir = g
        .ok(&["rev-parse", "--absolute-git-dir"], None)
        .map_err(|_| not())?;
    Ok(PathBuf::from(dir))
}

/// The remote URL git pushes to, made comparable: a local path resolved, `.git` and a
/// trailing `/` dropped, lower case host part left alone.
fn normalized_url(url: &str, relative_to: &Path) -> String {
    let u = url.trim().trim_end_matches('/');
    let u = u.strip_suffix(".git").unwrap_or(u);
    if u.contains("://") || (u.contains(':') && !u.starts_with('/') && !u.starts_with('.')) {
        return u.to_string();
    }
    let p = lexical(&relative_to.join(u.strip_prefix("file://").unwrap_or(u)));
    let p = p
        .canonicalize()
        .or_else(|_| PathBuf::from(format!("{}.git", p.display())).canonicalize())
        .unwrap_or(p);
    let s = p.display().to_string();
    s.strip_suffix(".git").unwrap_or(&s).to_string()
}

/// `a/b/../c` as `a/c`, without touching the disk.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Refuse the repository and branch the daemon itself watches: the checkout holding the
/// desired-state file, if it is one. Same repository: the same clone, or a remote URL it
/// shares. Its branch: the one checked out, its upstream, or any branch whose tip contains
/// the checked-out commit (a git-sync checkout is detached).
fn check_not_watched(
    desired: &Desired,
    spec: &PublishSpec,
    auth: &GitAuth,
) -> Result<(), PublishError> {
    let file_dir = match desired.source.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let watched = git::Git {
        dir: &file_dir,
        auth,
        env: Vec::new(),
    };
    let Ok(top) = watched.ok(&["rev-parse", "--show-toplevel"], None) else {
        return Ok(()); // not in a git checkout: nothing is watched through git
    };
    let top = PathBuf::from(top);
    let publish = git::Git {
        dir: &spec.repository,
        auth,
        env: Vec::new(),
    };
    let publish_top = publish
        .ok(&["rev-parse", "--show-toplevel"], None)
        .map(PathBuf::from)
        .ok();
    let urls = |g: &git::Git<'_>, base: &Path| -> BTreeSet<String> {
        g.ok(&["config", "--get-regexp", r"^remote\..*\.url$"], None)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(_, u)| normalized_url(u, base)))
            .collect()
    };
    let watched_urls = urls(&watched, &top);
    let origin = publish
        .ok(&["remote", "get-url", "origin"], None)
        .map(|u| normalized_url(&u, &spec.repository))
        .unwrap_or_default();
    let top_id = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let same_repo = publish_top.as_deref().map(top_id) == Some(top_id(&top))
        || watched_urls.contains(&origin)
        || origin == normalized_url(&top.display().to_string(), Path::new("/"));
    if !same_repo {
        return Ok(());
    }
    let mut branches = BTreeSet::new();
    if let Ok(b) = watched.ok(&["symbolic-ref", "--short", "-q", "HEAD"], None) {
        branches.insert(b);
    }
    if let Ok(u) = watched.ok(
        &[
            "rev-parse",
            "--abbrev-ref",
            "--symbolic-full-name",
            "@{upstream}",
        ],
        None,
    ) && let Some((_, b)) = u.split_once('/')
    {
        branches.insert(b.to_string());
    }
    let containing = watched
        .ok(
            &[
                "for-each-ref",
                "--contains",
                "HEAD",
                "--format=%(refname)",
                "refs/heads",
                "refs/remotes",
            ],
            None,
        )
        .unwrap_or_default();
    for r in containing.lines() {
        if let Some(b) = r.strip_prefix("refs/heads/") {
            branches.insert(b.to_string());
        } else if let Some(rest) = r.strip_prefix("refs/remotes/")
            && let Some((_, b)) = rest.split_once('/')
        {
            branches.insert(b.to_string());
        }
    }
    if !branches.contains(&spec.branch) {
        return Ok(());
    }
    let at = if spec.branch_line == 0 {
        "--publish-branch".to_string()
    } else {
        format!(
            "{}:{}:{}: settings.publish.branch",
            desired.source.display(),
            spec.branch_line,
            spec.branch_column
        )
    };
    Err(PublishError::Watched(format!(
        "{at}: '{}' is the branch of the repository this daemon watches ({}); publishing there would loop, and would push past review\n  hint: publish to a branch of its own (e.g. r2gitops-outputs), or another repository",
        crate::config::yaml::sanitize(&spec.branch),
        top.display()
    )))
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
