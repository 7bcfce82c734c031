//! `load`: the only I/O of `config`. Reads the file (bounded, a regular file only), parses it
//! (and on a structural error checks its shape against the schema to report every such
//! problem), reads what the rules need from disk (the recipients file, confined to the
//! file's directory; symlinks under the output directory), runs the pure validation, and
//! resolves paths against the file's directory.
//!
//! Must not reach the network or the environment: `validate` runs offline in any CI. Must
//! not read a file a committer names outside the file's own directory tree, nor let the
//! file place outputs or the inventory outside it unless the operator pinned them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::cost::OperatorLimits;
use super::diagnostic::{Diagnostic, Diagnostics};
use super::model::Desired;
use super::raw::{self, RawDoc};
use super::shape;
use super::validate::{self, DEFAULT_OUTPUT_DIR, Facts, Unread};
use super::yaml;
use crate::safe_fs::{self, Last};

/// A recipients file is a short list of public keys; more than this is a mistake.
const MAX_RECIPIENTS_FILE_BYTES: u64 = 1024 * 1024;

/// Read and validate the desired-state file at `path`. Every problem is reported at once.
pub fn load(path: &Path) -> Result<Desired, Diagnostics> {
    load_with_output_dir(path, None)
}

/// `load`, with `--output-dir` replacing `settings.output_dir` (and a default state file
/// following it) before the output paths are checked: the symlinks that matter are the
/// ones under the directory that will be written.
pub fn load_with_output_dir(
    path: &Path,
    output_dir: Option<&Path>,
) -> Result<Desired, Diagnostics> {
    load_with(path, output_dir, OperatorLimits::default())
}

/// `load_with_output_dir`, with the bounds the operator set on the command line.
pub fn load_with(
    path: &Path,
    output_dir: Option<&Path>,
    limits: OperatorLimits,
) -> Result<Desired, Diagnostics> {
    load_with_pins(
        path,
        output_dir,
        limits,
        &validate::PublishPins::default(),
        None,
    )
}

/// `load_with`, with what the operator pinned of publishing (`--publish-repository`,
/// `--publish-branch`, `--publish-prefix`), and the operator's policy (`--policy`), read
/// by the caller: its path is never the file's to name.
pub fn load_with_pins(
    path: &Path,
    output_dir: Option<&Path>,
    limits: OperatorLimits,
    pins: &validate::PublishPins,
    policy: Option<&super::policy::Enforced>,
) -> Result<Desired, Diagnostics> {
    let file = path.display().to_string();
    let bytes = read_file(path).map_err(|e| {
        single(
            &file,
            0,
            0,
            "",
            format!("cannot read the file: {e}"),
            Some("pass the desired-state file with -f/--file".into()),
        )
    })?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut desired = load_bytes_under(&bytes, &file, &base_dir, policy, &|raw| {
        let mut facts = Facts {
            limits,
            publish_pins: pins.clone(),
            ..gather_facts(raw, &base_dir, output_dir)
        };
        if pins.repository.is_some() {
            // The operator's clone replaces the file's: its path is not the file's to check.
            facts
                .escaping_settings
                .remove("settings.publish.repository");
        }
        facts
    })?;
    desired.source = path.to_path_buf();
    desired.settings.output_dir = base_dir.join(&desired.settings.output_dir);
    desired.settings.state_file = base_dir.join(&desired.settings.state_file);
    desired.settings.recipients_file = desired
        .settings
        .recipients_file
        .as_ref()
        .map(|f| base_dir.join(f));
    if let Some(publish) = &mut desired.settings.publish
        && pins.repository.is_none()
    {
        publish.repository = base_dir.join(&publish.repository);
    }
    if let Some(dir) = output_dir {
        desired.override_output_dir(dir.to_path_buf());
    }
    Ok(desired)
}

/// The desired-state file's bytes: at most `MAX_FILE_BYTES + 1` of them (`yaml::decode`
/// refuses more), from a regular file only (a FIFO would hang the read, `/dev/zero` would
/// never end). A symlink is followed: git-sync publishes checkouts by swapping one. The
/// daemon hashes the file with this same read.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    safe_fs::read_bounded(path, yaml::MAX_FILE_BYTES as u64, Last::MayBeSymlink)
}

/// Parse and validate file contents. `facts` reads what the rules need from disk (tests and
/// the benchmark pass a closure that reads nothing). Paths in the result are as written.
pub fn load_bytes(
    bytes: &[u8],
    file: &str,
    source: &Path,
    facts: &dyn Fn(&RawDoc) -> Facts,
) -> Result<Desired, Diagnostics> {
    load_bytes_under(bytes, file, source, None, facts)
}

/// `load_bytes`, then, once the file is otherwise valid, the operator's policy: its
/// violations are the file's diagnostics (`Diagnostics::is_policy`), and a file that
/// passes carries the policy for the plan.
pub fn load_bytes_under(
    bytes: &[u8],
    file: &str,
    source: &Path,
    policy: Option<&super::policy::Enforced>,
    facts: &dyn Fn(&RawDoc) -> Facts,
) -> Result<Desired, Diagnostics> {
    let parse_error = |e: yaml::ParseError| single(file, e.line, e.column, "", e.message, e.hint);
    let text = yaml::decode(bytes).map_err(parse_error)?;
    // The typed pass alone decides a well-formed file (the common case, parsed once). Only
    // when it fails does the located tree get built, so that every structural problem is
    // reported at once rather than serde's first.
    let raw: RawDoc = match serde_saphyr::from_str_with_options(text, yaml::options()) {
        Ok(raw) => raw,
        Err(typed_error) => return Err(structural_problems(text, file, typed_error)),
    };
    let facts = facts(&raw);
    let result = validate::validate(&raw, &facts, source).map(|mut desired| {
        for w in &mut desired.warnings {
            w.file = file.to_string();
        }
        desired
    });
    let Some(enforced) = policy else {
        return result.map_err(|capped| diagnostics(file, capped));
    };
    let mut desired = result.map_err(|capped| diagnostics(file, capped))?;
    let cx = super::policy::check::Context {
        recipients_file: facts
            .recipients_file
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .map(String::as_str),
        now: facts.now,
        interval: enforced.interval,
    };
    let found = super::policy::check(&enforced.policy, &raw, &desired, cx);
    if !found.is_empty() {
        return Err(diagnostics(file, found).by_policy());
    }
    desired.policy = Some(enforced.policy.clone());
    Ok(desired)
}

/// Violations (of the rules, or of the policy) as the file's diagnostics.
fn diagnostics(file: &str, capped: super::diagnostic::Capped<validate::Violation>) -> Diagnostics {
    let (list, omitted) = capped.into_parts();
    Diagnostics::sorted(
        list.into_iter()
            .map(|v| Diagnostic {
                file: file.to_string(),
                line: v.line,
                column: v.column,
                path: v.path,
                message: v.message,
                hint: v.hint,
            })
            .collect(),
        omitted,
    )
}

/// Every structural problem of a file the typed pass refused.
fn structural_problems(text: &str, file: &str, typed_error: serde_saphyr::Error) -> Diagnostics {
    shape::diagnose(
        text,
        file,
        typed_error,
        raw::json_schema(),
        "start from examples/quickstart.yaml; a file needs at least `version: 1`",
    )
}

fn single(
    file: &str,
    line: usize,
    column: usize,
    path: &str,
    message: String,
    hint: Option<String>,
) -> Diagnostics {
    Diagnostics::one(Diagnostic {
        file: file.to_string(),
        line,
        column,
        path: path.to_string(),
        message,
        hint,
    })
}

/// What the pure rules need from disk, read relative to the file's directory; output paths
/// are checked under `output_dir` when given (`--output-dir`), else under the file's own.
pub fn gather_facts(raw: &RawDoc, base_dir: &Path, output_dir: Option<&Path>) -> Facts {
    let settings = raw.settings.as_ref().map(|s| &s.value);
    let recipients_file = settings
        .and_then(|s| s.recipients_file.as_ref())
        .filter(|f| !f.value.trim().is_empty())
        .filter(|f| validate::recipients_file_problem(&f.value).is_none())
        .map(|f| read_recipients_file(base_dir, Path::new(&f.value)));
    let output_dir_pinned = output_dir.is_some();
    let output_dir = match output_dir {
        Some(dir) => dir.to_path_buf(),
        None => base_dir.join(
            settings
                .and_then(|s| s.output_dir.as_ref())
                .map_or(DEFAULT_OUTPUT_DIR, |d| d.value.as_str()),
        ),
    };
    let mut escaping_symlinks = BTreeMap::new();
    let temporary = raw.temporary_credentials.iter().flatten();
    let outputs = raw
        .tokens
        .iter()
        .flatten()
        .map(|t| &t.value.output.value.file.value)
        .chain(temporary.map(|t| &t.value.output.value.file.value));
    for file in outputs {
        if validate::output_file_problem(file).is_some() {
            continue;
        }
        if let Some(link) = escaping_symlink(&output_dir, Path::new(file)) {
            escaping_symlinks.insert(file.clone(), link);
        }
    }
    // Unpinned, the output directory and the state file are the committer's to name: a
    // symlink on the way may not lead out of the file's directory (`validate` checks the
    // shape of the paths).
    let mut escaping_settings = BTreeMap::new();
    let unpinned = [
        (
            "settings.output_dir",
            settings.and_then(|s| s.output_dir.as_ref()),
        ),
        (
            "settings.state_file",
            settings.and_then(|s| s.state_file.as_ref()),
        ),
    ];
    let unpinned = unpinned.into_iter().filter(|_| !output_dir_pinned);
    // The publish clone is the committer's to name too, unless `--publish-repository` pins
    // it (`load_with_pins` then drops this fact).
    let publish = settings
        .and_then(|s| s.publish.as_ref())
        .and_then(|p| p.value.repository.as_ref());
    for (field, value) in unpinned.chain([("settings.publish.repository", publish)]) {
        let Some(value) = value.filter(|v| !v.value.trim().is_empty()) else {
            continue;
        };
        if validate::inside_problem(&value.value).is_some() {
            continue;
        }
        if let Some(link) = escaping_symlink(base_dir, Path::new(&value.value)) {
            escaping_settings.insert(field, link);
        }
    }
    Facts {
        recipients_file,
        escaping_symlinks,
        now: Some(time::OffsetDateTime::now_utc()),
        output_dir_pinned,
        escaping_settings,
        limits: OperatorLimits::default(),
        publish_pins: Default::default(),
    }
}

/// The recipients file at `rel` (relative, no `..`: `validate` checked) under `base_dir`,
/// if every symlink on the way stays inside `base_dir`. It is opened by its resolved path,
/// without following a link, and must be a regular file.
fn read_recipients_file(base_dir: &Path, rel: &Path) -> Result<String, Unread> {
    let failed = |e: std::io::Error| Unread::Failed(e.to_string());
    if let Some(link) = escaping_symlink(base_dir, rel) {
        return Err(Unread::Escapes(link));
    }
    let root = base_dir.canonicalize().map_err(failed)?;
    let resolved = base_dir.join(rel).canonicalize().map_err(failed)?;
    if !resolved.starts_with(&root) {
        // Only a path swapped since the walk above gets here.
        return Err(Unread::Escapes(format!("'{}'", rel.display())));
    }
    let bytes = safe_fs::read_bounded(&resolved, MAX_RECIPIENTS_FILE_BYTES, Last::NoSymlink)
        .map_err(failed)?;
    if bytes.len() as u64 > MAX_RECIPIENTS_FILE_BYTES {
        return Err(Unread::Failed(format!(
            "larger than {MAX_RECIPIENTS_FILE_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| Unread::Failed("not valid UTF-8".into()))
}

/// The first symlink on the way from `output_dir` to `rel` that resolves outside
/// `output_dir` (a dangling link counts: its target cannot be proven inside), as
/// `'LINK' -> TARGET` with the link relative to `output_dir` and its target as written.
/// Components that do not exist yet end the walk: nothing beyond them can be a link.
pub fn escaping_symlink(output_dir: &Path, rel: &Path) -> Option<String> {
    let root = output_dir.canonicalize().ok()?;
    let mut current = output_dir.to_path_buf();
    let mut walked = PathBuf::new();
    for component in rel.components() {
        current.push(component);
        walked.push(component);
        let meta = fs::symlink_metadata(&current).ok()?;
        if meta.file_type().is_symlink() {
            let inside = current
                .canonicalize()
                .is_ok_and(|target| target.starts_with(&root));
            if !inside {
                let target = fs::read_link(&current).unwrap_or_default();
                return Some(format!("'{}' -> {}", walked.display(), target.display()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
