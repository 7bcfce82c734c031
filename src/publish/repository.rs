//! Which repository a publish writes to: the clone's git directory, and the refusal of the\n//! repository and branch the daemon itself watches (compared as normalized URLs and paths).

use super::*;

/// The clone's git directory, refusing anything but a clone of its own: `<repo>/.git` a
/// directory (or a worktree's `.git` file), never a symlink, and never a bare layout.
pub(super) fn git_dir(repo: &Path, auth: &GitAuth) -> Result<PathBuf, PublishError> {
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
pub(super) fn normalized_url(url: &str, relative_to: &Path) -> String {
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
pub(super) fn lexical(p: &Path) -> PathBuf {
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
pub(super) fn check_not_watched(
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
