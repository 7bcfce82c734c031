//! A token's `output:`: the file (relative, inside `output_dir`, no reserved name), the
//! format, the recipients it is encrypted to, and the Secret a kubernetes format renders.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) fn output(
    c: &mut Collector,
    raw: &Sp<RawOutput>,
    here: &str,
    name: &str,
    settings: &Settings,
    default_recipients: &[String],
    facts: &Facts,
    files: &mut HashMap<PathBuf, (usize, usize)>,
) -> OutputSpec {
    let o = &raw.value;
    let path = format!("{here}.output.file");
    let file = o.file.value.clone();
    match output_file_problem(&file) {
        Some((message, hint)) => c.push(o.file.line, o.file.column, &path, message, Some(hint)),
        None => {
            let normal = normalize(Path::new(&file));
            if let Some(target) = facts.escaping_symlinks.get(&file) {
                c.hint(
                    &o.file,
                    &path,
                    format!(
                        "'{}' leads out of the output directory through the symlink {}",
                        sanitize(&file),
                        sanitize(target)
                    ),
                    "r2gitops never follows symlinks out of output_dir; remove the link or pick another file",
                );
            }
            let state_rel = settings.state_file.strip_prefix(&settings.output_dir).ok();
            let lock_rel = state_rel.map(|s| {
                let mut lock = normalize(s).into_os_string();
                lock.push(LOCK_SUFFIX);
                PathBuf::from(lock)
            });
            if state_rel.is_some_and(|s| normalize(s) == normal) {
                c.at(
                    &o.file,
                    &path,
                    format!("'{}' is the state file", sanitize(&file)),
                );
            } else if lock_rel.is_some_and(|l| l == normal) {
                c.hint(
                    &o.file,
                    &path,
                    format!("'{}' is the inventory lock file", sanitize(&file)),
                    "r2gitops locks the inventory with this file, and a credential written over it would let a second writer in; pick another name",
                );
            } else if let Some((message, hint)) = reserved_name_problem(&normal) {
                c.hint(&o.file, &path, message, hint);
            }
            if let Some((line, _)) = files.get(&normal) {
                c.hint(
                    &o.file,
                    &path,
                    format!("output file '{}' is used twice", sanitize(&clip(&file))),
                    format!("first used on line {line}; each token needs its own file"),
                );
            } else {
                files.insert(normal, (o.file.line, o.file.column));
            }
        }
    }

    let recipients = match &o.recipients {
        Some(own) => {
            let mut list = Vec::new();
            for (i, r) in own.value.iter().enumerate() {
                let p = format!("{here}.output.recipients[{i}]");
                if check_recipient(c, r, &p) {
                    list.push(r.value.0.trim().to_string());
                }
            }
            if own.value.is_empty() {
                c.hint(
                    own,
                    format!("{here}.output.recipients"),
                    "recipients is empty: nobody could decrypt this file",
                    "list at least one age or SSH public key, or remove the line to use settings.recipients",
                );
            }
            dedup_keep_order(&mut list);
            list
        }
        None => {
            if default_recipients.is_empty() && !c.recipients_problem {
                c.hint(
                    &o.file,
                    format!("{here}.output"),
                    "this token has no recipient: nobody could decrypt its file",
                    "set settings.recipients, settings.recipients_file, or output.recipients",
                );
            }
            default_recipients.to_vec()
        }
    };

    OutputSpec {
        file: PathBuf::from(file),
        format: o.format.value.into(),
        recipients,
        armor: o.armor.as_ref().is_some_and(|b| b.value),
        include_api_token: o.include_api_token.as_ref().is_some_and(|b| b.value),
        verify: o.verify.as_ref().is_some_and(|b| b.value),
        kubernetes: super::kubernetes::kubernetes(c, raw, here, name),
    }
}

/// Why an output file name could escape or misuse the output directory; `None` when safe.
pub fn output_file_problem(file: &str) -> Option<(String, String)> {
    let shown = sanitize(&clip(file));
    let p = Path::new(file);
    let inside = "output files are relative to settings.output_dir and stay inside it";
    if file.trim().is_empty() {
        return Some(("output file must not be empty".into(), inside.into()));
    }
    if file.chars().any(char::is_control) {
        return Some((
            format!("output file '{shown}' contains a control character"),
            inside.into(),
        ));
    }
    if p.is_absolute() || file.starts_with('/') || file.starts_with('\\') {
        return Some((
            format!("output file '{shown}' is an absolute path"),
            inside.into(),
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Some((
            format!("output file '{shown}' contains '..'"),
            inside.into(),
        ));
    }
    if p.components()
        .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
    {
        return Some((
            format!("output file '{shown}' is an absolute path"),
            inside.into(),
        ));
    }
    if file.contains(WRITER_TEMP_MARKER) {
        return Some((
            format!("output file '{shown}' is named like an r2gitops temp file"),
            format!(
                "names containing '{WRITER_TEMP_MARKER}' are swept as leftovers of interrupted writes; pick another name"
            ),
        ));
    }
    if file.ends_with('/') || normalize(p).as_os_str().is_empty() {
        return Some((
            format!("output file '{shown}' names a directory, not a file"),
            inside.into(),
        ));
    }
    None
}

/// An output named like r2gitops' own files: renaming a credential file over the state file
/// or its lock (in any directory, since `state_file` may move) would break the inventory or
/// let a second writer in. Temp-file names are refused by `output_file_problem`.
pub(super) fn reserved_name_problem(normal: &Path) -> Option<(String, String)> {
    let name = normal.file_name()?.to_str()?;
    let lock = format!("{STATE_FILE_NAME}{LOCK_SUFFIX}");
    let what = if name == STATE_FILE_NAME {
        "the state file"
    } else if name == lock {
        "the inventory lock file"
    } else {
        return None;
    };
    Some((
        format!(
            "output file '{}' is named like {what}",
            sanitize(&clip(&normal.display().to_string()))
        ),
        format!(
            "'{STATE_FILE_NAME}' and '{lock}' are the names of r2gitops' inventory and its lock, wherever the state file is; pick another name"
        ),
    ))
}

/// `./a//b` and `a/b` are the same file.
pub(super) fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}
