//! `settings.publish`: the git branch changed outputs are committed to, and what publishing
//! asks of the outputs. A committer names the clone only inside the file's directory tree
//! (the rules that confine `output_dir`, `state_file` and `recipients_file`), unless the
//! operator pins it (`--publish-repository`, `--publish-branch`): pinned, the file's
//! `repository` and `branch` are replaced, and its `prefix` only adds a directory under the
//! operator's `--publish-prefix`. Published paths keep their format's suffix (`.sops.yaml`,
//! `.age`) and never reach a `.git` directory.

use super::*;

/// What the operator pinned on the command line (never the file's to choose).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishPins {
    /// `--publish-repository`: any path (the operator's); publishing is on with it alone.
    pub repository: Option<PathBuf>,
    /// `--publish-branch`.
    pub branch: Option<String>,
    /// `--publish-prefix`: the directory every published path is under.
    pub prefix: Option<String>,
}

pub(super) const PUBLISH_INSIDE: &str = "without --publish-repository, the clone r2gitops publishes to sits in the directory of this file or below it (a relative path without '..', no symlink leading out); the operator can name any clone with --publish-repository";

pub(super) fn publish(
    c: &mut Collector,
    raw: Option<&Sp<RawPublish>>,
    facts: &Facts,
) -> Option<PublishSpec> {
    let pins = &facts.publish_pins;
    if raw.is_none() && pins.repository.is_none() {
        return None;
    }
    let (line, column) = raw.map_or((0, 0), |r| (r.line, r.column));
    let p = raw.map(|r| &r.value);
    let mut ok = true;

    let repository = match (&pins.repository, p.and_then(|p| p.repository.as_ref())) {
        // Pinned: the operator's clone replaces the file's, which is never touched.
        (Some(pinned), _) => pinned.clone(),
        (None, Some(r)) => {
            let name = sanitize(&clip(&r.value));
            let path = "settings.publish.repository";
            if r.value.trim().is_empty() {
                ok = false;
                c.at(r, path, "publish repository must not be empty");
            } else if let Some(why) = inside_problem(&r.value) {
                ok = false;
                c.hint(
                    r,
                    path,
                    format!("publish repository '{name}' {why}"),
                    PUBLISH_INSIDE,
                );
            } else if let Some(link) = facts.escaping_settings.get(path) {
                ok = false;
                c.hint(
                    r,
                    path,
                    format!(
                        "publish repository '{name}' leads out of the directory of this file through the symlink {}",
                        sanitize(link)
                    ),
                    PUBLISH_INSIDE,
                );
            }
            PathBuf::from(&r.value)
        }
        (None, None) => {
            ok = false;
            c.push(
                line,
                column,
                "settings.publish",
                "settings.publish names no repository",
                Some("set repository: to a local clone (relative to this file), or have the operator pass --publish-repository".into()),
            );
            PathBuf::new()
        }
    };

    let file_branch = p.and_then(|p| p.branch.as_ref());
    let (branch, branch_line, branch_column) = match (&pins.branch, file_branch) {
        (Some(b), _) => (b.clone(), 0, 0),
        (None, Some(b)) => {
            if let Some(why) = branch_problem(&b.value) {
                ok = false;
                c.hint(
                    b,
                    "settings.publish.branch",
                    format!("branch '{}' {why}", sanitize(&clip(&b.value))),
                    "a branch name as `git check-ref-format --branch` accepts it, e.g. r2gitops-outputs",
                );
            }
            (b.value.clone(), b.line, b.column)
        }
        (None, None) => {
            ok = false;
            c.push(
                line,
                column,
                "settings.publish",
                "settings.publish names no branch",
                Some("set branch: (e.g. r2gitops-outputs), or have the operator pass --publish-branch".into()),
            );
            (String::new(), line, column)
        }
    };

    let (author_name, author_email) = match p.and_then(|p| p.author.as_ref()) {
        None => (
            DEFAULT_PUBLISH_AUTHOR.0.to_string(),
            DEFAULT_PUBLISH_AUTHOR.1.to_string(),
        ),
        Some(a) => match parse_author(&a.value) {
            Some(pair) => pair,
            None => {
                ok = false;
                c.hint(
                    a,
                    "settings.publish.author",
                    format!("author '{}' is not `Name <email>`", sanitize(&clip(&a.value))),
                    "e.g. \"r2gitops <r2gitops@localhost>\" (no control character, one <email> at the end)",
                );
                (String::new(), String::new())
            }
        },
    };

    let mut prefix = PathBuf::new();
    if let Some(op) = &pins.prefix {
        prefix.push(op);
    }
    if let Some(pre) = p.and_then(|p| p.prefix.as_ref()) {
        match prefix_problem(&pre.value) {
            Some(why) => {
                ok = false;
                c.hint(
                    pre,
                    "settings.publish.prefix",
                    format!("publish prefix '{}' {why}", sanitize(&clip(&pre.value))),
                    "a directory inside the repository: relative, without '..' and without .git",
                );
            }
            None => prefix.push(normalize(Path::new(&pre.value))),
        }
    }

    ok.then_some(PublishSpec {
        repository,
        branch,
        author_name,
        author_email,
        prefix,
        line,
        column,
        branch_line,
        branch_column,
    })
}

/// With publishing on: every output's path keeps its format's suffix and reaches no `.git`
/// directory. Located at each `output.file`.
pub(super) fn published_outputs(c: &mut Collector, raw: &RawDoc) {
    let tokens = raw
        .tokens
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| (format!("tokens[{i}]"), &t.value.output));
    let temporary = raw
        .temporary_credentials
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| (format!("temporary_credentials[{i}]"), &t.value.output));
    for (here, output) in tokens.chain(temporary) {
        let file = &output.value.file;
        if output_file_problem(&file.value).is_some() {
            continue; // reported where the output is checked
        }
        let format: OutputFormat = output.value.format.value.into();
        let path = format!("{here}.output.file");
        let shown = sanitize(&clip(&file.value));
        if has_dot_git(Path::new(&file.value)) {
            c.hint(
                file,
                &path,
                format!("output file '{shown}' would be published inside a .git directory"),
                "outputs are committed to the publish branch: pick a path without a .git component",
            );
        } else if !file.value.ends_with(format.published_suffix()) {
            c.hint(
                file,
                &path,
                format!(
                    "output file '{shown}' is published, and a published {} file must end in {}",
                    format.as_str(),
                    format.published_suffix()
                ),
                "published paths keep their format's suffix, so nothing in the repository looks like a plaintext file",
            );
        }
    }
}

/// Why a branch name is not one git accepts under `refs/heads/` (`git check-ref-format`).
pub fn branch_problem(b: &str) -> Option<&'static str> {
    if b.is_empty() {
        return Some("is empty");
    }
    if b.chars().any(|ch| ch.is_control() || ch == ' ') {
        return Some("contains a space or a control character");
    }
    if b.chars().any(|ch| "~^:?*[\\".contains(ch)) {
        return Some("contains one of ~ ^ : ? * [ \\");
    }
    if b.starts_with('-') || b == "@" || b.contains("@{") || b.contains("..") {
        return Some("is not a valid branch name");
    }
    if b.starts_with('/') || b.ends_with('/') || b.ends_with('.') || b.contains("//") {
        return Some("is not a valid branch name");
    }
    if b.split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return Some("has a part that starts with '.' or ends with .lock");
    }
    None
}

/// `Name <email>`, trimmed; `None` when it is not that shape.
pub fn parse_author(text: &str) -> Option<(String, String)> {
    let t = text.trim();
    if t.chars().any(char::is_control) {
        return None;
    }
    let rest = t.strip_suffix('>')?;
    let (name, email) = rest.rsplit_once('<')?;
    let (name, email) = (name.trim(), email.trim());
    let bad = |s: &str| s.is_empty() || s.contains('<') || s.contains('>');
    if bad(name) || bad(email) {
        return None;
    }
    Some((name.to_string(), email.to_string()))
}

/// Why a path prefix does not stay inside the repository's work tree.
pub fn prefix_problem(p: &str) -> Option<&'static str> {
    if p.trim().is_empty() {
        return Some("is empty");
    }
    if let Some(why) = inside_problem(p) {
        return Some(why);
    }
    if has_dot_git(Path::new(p)) {
        return Some("has a .git component");
    }
    None
}

/// Whether any component is `.git` (in any case: case-insensitive file systems and git's
/// own path checks treat `.GIT` as `.git`).
pub fn has_dot_git(p: &Path) -> bool {
    p.components().any(|c| {
        matches!(c, Component::Normal(n) if n.to_str().is_some_and(|s| s.eq_ignore_ascii_case(".git")))
    })
}
