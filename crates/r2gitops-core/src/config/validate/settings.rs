//! `settings:` and the recipients it names: prefix, prune, output directory, state file,
//! recipients and the recipients file. What a committer names on disk (the recipients file,
//! and the output directory and state file unless the operator pinned them) is confined to
//! the file's directory tree; the recipients file is never quoted.

use super::*;

pub(super) fn settings(
    c: &mut Collector,
    raw: Option<&Sp<RawSettings>>,
    facts: &Facts,
) -> (Settings, Vec<String>) {
    let empty = unset();
    let s = raw.map_or(&empty, |s| &s.value);
    let token_name_prefix = token_name_prefix(c, s.token_name_prefix.as_ref());
    let output_dir = output_dir(c, s.output_dir.as_ref(), facts);
    let state_file = state_file(c, s.state_file.as_ref(), &output_dir, facts);
    let recipients = recipients(c, s, facts);
    let config_resync = config_resync(c, s.config_resync.as_ref());
    warn_adopt_by_roll(c, s.adopt_by_roll.as_ref());
    let settings = Settings {
        token_name_prefix,
        prune: s.prune.as_ref().is_some_and(|p| p.value),
        max_deletions: s
            .max_deletions
            .as_ref()
            .map_or(DEFAULT_MAX_DELETIONS, |m| m.value),
        output_dir,
        state_file,
        suspend: s.suspend.as_ref().is_some_and(|p| p.value),
        recipients_file: s
            .recipients_file
            .as_ref()
            .filter(|f| !f.value.trim().is_empty())
            .map(|f| PathBuf::from(&f.value)),
        config_resync,
        publish: super::publish::publish(c, s.publish.as_ref(), facts),
        rotation_overlap: s
            .rotation_overlap
            .as_ref()
            .and_then(|r| rotation::overlap(c, r, "settings.rotation_overlap")),
        readiness_timeout: rotation::bounded(
            c,
            s.readiness_timeout.as_ref(),
            "settings.readiness_timeout",
            rotation::DEFAULT_READINESS_TIMEOUT,
            (
                rotation::MIN_READINESS_TIMEOUT,
                Some(rotation::MAX_READINESS_TIMEOUT),
            ),
            "a new token usually passes its probe within seconds; the default is 60s, and a pass waits this long at most",
        ),
        token_watch: rotation::bounded(
            c,
            s.token_watch.as_ref(),
            "settings.token_watch",
            rotation::DEFAULT_TOKEN_WATCH,
            (rotation::MIN_TOKEN_WATCH, None),
            "each poll lists every token page; 15s is the shortest, the default is 1m",
        ),
    };
    (settings, recipients)
}

/// A file without `settings:`: every setting at its default.
fn unset() -> RawSettings {
    RawSettings {
        token_name_prefix: None,
        prune: None,
        max_deletions: None,
        output_dir: None,
        state_file: None,
        recipients: None,
        recipients_file: None,
        suspend: None,
        adopt_by_roll: None,
        config_resync: None,
        publish: None,
        rotation_overlap: None,
        readiness_timeout: None,
        token_watch: None,
    }
}

fn token_name_prefix(c: &mut Collector, prefix: Option<&Sp<String>>) -> String {
    match prefix {
        Some(p) if p.value.trim().is_empty() => {
            c.hint(
                p,
                "settings.token_name_prefix",
                "token name prefix must not be empty",
                "the prefix marks the tokens r2gitops owns; without it prune could touch tokens it does not manage",
            );
            p.value.clone()
        }
        Some(p) => {
            if p.value.chars().any(char::is_control) {
                c.at(
                    p,
                    "settings.token_name_prefix",
                    "token name prefix must not contain control characters",
                );
            }
            p.value.clone()
        }
        None => DEFAULT_PREFIX.to_string(),
    }
}

fn output_dir(c: &mut Collector, dir: Option<&Sp<String>>, facts: &Facts) -> PathBuf {
    match dir {
        Some(d) if d.value.trim().is_empty() => {
            c.at(
                d,
                "settings.output_dir",
                "output directory must not be empty",
            );
            PathBuf::from(DEFAULT_OUTPUT_DIR)
        }
        // Pinned: the operator's directory replaces this one, which is never written.
        Some(d) if !facts.output_dir_pinned => {
            if confined(c, d, "settings.output_dir", "output directory", facts) {
                PathBuf::from(&d.value)
            } else {
                PathBuf::from(DEFAULT_OUTPUT_DIR)
            }
        }
        Some(d) => PathBuf::from(&d.value),
        None => PathBuf::from(DEFAULT_OUTPUT_DIR),
    }
}

fn state_file(
    c: &mut Collector,
    file: Option<&Sp<String>>,
    output_dir: &Path,
    facts: &Facts,
) -> PathBuf {
    match file {
        Some(f) if f.value.trim().is_empty() => {
            c.at(f, "settings.state_file", "state file must not be empty");
            output_dir.join(STATE_FILE_NAME)
        }
        Some(f) if facts.output_dir_pinned => {
            // Whoever can commit controls the file; the operator who pinned the output
            // directory decided where r2gitops writes. The inventory (and its lock) stay
            // there, so a committed path cannot make the daemon write elsewhere.
            c.hint(
                f,
                "settings.state_file",
                "state_file cannot be set while the operator pins the output directory (--output-dir or R2GITOPS_OUTPUT_DIR): the inventory lives there",
                "remove state_file from the file",
            );
            output_dir.join(STATE_FILE_NAME)
        }
        Some(f) if confined(c, f, "settings.state_file", "state file", facts) => {
            PathBuf::from(&f.value)
        }
        Some(_) => output_dir.join(STATE_FILE_NAME),
        None => output_dir.join(STATE_FILE_NAME),
    }
}

/// `settings.recipients`, then those of `settings.recipients_file`, each once.
fn recipients(c: &mut Collector, s: &RawSettings, facts: &Facts) -> Vec<String> {
    let mut recipients = Vec::new();
    for (i, r) in s.recipients.iter().flatten().enumerate() {
        let path = format!("settings.recipients[{i}]");
        if check_recipient(c, r, &path) {
            recipients.push(r.value.0.trim().to_string());
        }
    }
    if let Some(file) = &s.recipients_file {
        recipients_file(c, file, facts, &mut recipients);
    }
    dedup_keep_order(&mut recipients);
    recipients
}

fn config_resync(c: &mut Collector, resync: Option<&Sp<String>>) -> Duration {
    resync.map_or(DEFAULT_CONFIG_RESYNC, |r| {
        match parse_duration(r.value.trim()) {
            Some(d) if d >= MIN_CONFIG_RESYNC => d,
            Some(_) => {
                c.hint(
                    r,
                    "settings.config_resync",
                    format!("config_resync {} is shorter than 1m", sanitize(&clip(&r.value))),
                    "re-reading bucket configuration costs one API call per block and bucket; the default is 1h",
                );
                DEFAULT_CONFIG_RESYNC
            }
            None => {
                c.hint(
                    r,
                    "settings.config_resync",
                    format!("'{}' is not a duration", sanitize(&clip(&r.value))),
                    "a number and a unit: s, m, h or d (e.g. 1h)",
                );
                DEFAULT_CONFIG_RESYNC
            }
        }
    })
}

fn warn_adopt_by_roll(c: &mut Collector, adopt_by_roll: Option<&Sp<bool>>) {
    if let Some(a) = adopt_by_roll {
        // A warning, not an error: ignoring it fails safe (the adopt stays blocked, and the
        // plan says how to allow it), while an error would stop every other change of a
        // file that was valid until now, for a key that can no longer do anything.
        c.warn(
            a,
            "settings.adopt_by_roll",
            "settings.adopt_by_roll is ignored: only the operator can allow adopting a token by rolling it",
            "remove it; an operator who accepts the roll runs `reconcile --allow-adopt-roll` (or `watch --allow-adopt-roll`), or hands over the value with `r2gitops adopt NAME --value-from-stdin`",
        );
    }
}

/// Where `settings.recipients_file` must be: inside the directory of the desired-state
/// file. Says why a path is not, `None` when its shape is fine (`load` checks symlinks).
pub fn recipients_file_problem(file: &str) -> Option<&'static str> {
    inside_problem(file)
}

/// Why a path a committer wrote does not stay inside the directory of the desired-state
/// file (`None`: its shape does; `load` checks the symlinks on the way).
pub fn inside_problem(file: &str) -> Option<&'static str> {
    let p = Path::new(file);
    if file.chars().any(char::is_control) {
        Some("contains a control character")
    } else if p.has_root() || file.starts_with('\\') {
        Some("is an absolute path")
    } else if p.components().any(|c| matches!(c, Component::ParentDir)) {
        Some("contains '..'")
    } else {
        None
    }
}

/// Without `--output-dir`, whoever commits the file would otherwise choose where r2gitops
/// writes: an absolute `output_dir` replaced a `.bashrc` with ciphertext and made its
/// directory 0700. The operator's pin may point anywhere; the file may not.
pub(super) const WRITES_INSIDE: &str = "without --output-dir, outputs and the inventory stay in the directory of this file or below it (a relative path without '..', no symlink leading out); the operator can place them anywhere with --output-dir (or R2GITOPS_OUTPUT_DIR)";

/// `settings.output_dir` or `settings.state_file` when the operator has not pinned the
/// output directory: inside the file's directory tree. False (reported) when not.
fn confined(c: &mut Collector, value: &Sp<String>, path: &str, what: &str, facts: &Facts) -> bool {
    let name = sanitize(&clip(&value.value));
    if let Some(why) = inside_problem(&value.value) {
        c.hint(value, path, format!("{what} '{name}' {why}"), WRITES_INSIDE);
        return false;
    }
    if let Some(link) = facts.escaping_settings.get(path) {
        c.hint(
            value,
            path,
            format!(
                "{what} '{name}' leads out of the directory of this file through the symlink {}",
                sanitize(link)
            ),
            WRITES_INSIDE,
        );
        return false;
    }
    true
}

pub(super) const RECIPIENTS_FILE_INSIDE: &str = "the recipients file must sit in the directory of this file or below it (a relative path without '..', no symlink leading out); r2gitops reads nothing else a committer names";

/// `settings.recipients_file`: its recipients join the defaults. A committer names the file
/// and it may hold anything (the daemon's API token), so no message quotes a
/// line of it: only the line number and what kind of key was expected.
pub(super) fn recipients_file(
    c: &mut Collector,
    file: &Sp<String>,
    facts: &Facts,
    recipients: &mut Vec<String>,
) {
    const PATH: &str = "settings.recipients_file";
    let name = sanitize(&clip(&file.value));
    if let Some(why) = recipients_file_problem(&file.value) {
        c.hint(
            file,
            PATH,
            format!("recipients file '{name}' {why}"),
            RECIPIENTS_FILE_INSIDE,
        );
        return;
    }
    match &facts.recipients_file {
        Some(Ok(text)) => {
            let mut found = false;
            let mut bad = false;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match classify_recipient(line) {
                    Ok(()) => {
                        found = true;
                        recipients.push(line.to_string());
                    }
                    Err(problem) => {
                        bad = true;
                        let (message, hint) = problem.unquoted();
                        c.push(
                            file.line,
                            file.column,
                            PATH,
                            format!("{name} line {}: {message}", n + 1),
                            hint,
                        );
                    }
                }
            }
            if !found && !bad {
                c.at(file, PATH, format!("'{name}' holds no recipient"));
            }
        }
        Some(Err(Unread::Escapes(link))) => c.hint(
            file,
            PATH,
            format!(
                "'{name}' leads out of the directory of this file through the symlink {}",
                sanitize(link)
            ),
            RECIPIENTS_FILE_INSIDE,
        ),
        Some(Err(Unread::Failed(why))) => c.hint(
            file,
            PATH,
            format!("cannot read '{name}': {why}"),
            "the path is relative to the directory of this file",
        ),
        None => c.at(file, PATH, format!("'{name}' was not read")),
    }
}

/// Check one recipient where it is written; true when it parses.
/// What `r2gitops import` writes where the recipients go: valid YAML, refused by
/// validation until someone puts real public keys there.
pub const RECIPIENT_PLACEHOLDER: &str = "REPLACE-ME-with-age1-public-keys";

pub(super) fn check_recipient(c: &mut Collector, r: &Sp<Recipient>, path: &str) -> bool {
    if r.value.0.trim() == RECIPIENT_PLACEHOLDER {
        c.push(
            r.line,
            r.column,
            path,
            "the recipients are still the placeholder `r2gitops import` wrote",
            Some("put the public keys of who may decrypt the credential files here: age X25519 keys (`age-keygen -y KEYFILE` prints one, age1...) or ssh-ed25519 / ssh-rsa keys".into()),
        );
        return false;
    }
    match parse_recipient(r.value.0.trim()) {
        Ok(()) => true,
        Err((message, hint)) => {
            c.push(r.line, r.column, path, message, hint);
            false
        }
    }
}

/// An age X25519 recipient or an SSH ed25519/rsa public key, as written in the desired-state
/// file: the message quotes it (clipped), unless it looks like a private key.
pub fn parse_recipient(text: &str) -> Result<(), (String, Option<String>)> {
    classify_recipient(text).map_err(|problem| problem.quoted(text))
}

/// Why a text is not a recipient r2gitops can encrypt to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BadRecipient {
    PrivateKey,
    AgePlugin { plugin: String },
    Age,
    SshType { kind: String },
    RsaTooSmall,
    RsaTooLarge,
    Ssh,
    NotAKey,
}

pub(super) fn classify_recipient(text: &str) -> Result<(), BadRecipient> {
    if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-")
        || text.contains("PRIVATE KEY")
        || text.to_ascii_uppercase().starts_with("AGE-PLUGIN-")
    {
        return Err(BadRecipient::PrivateKey);
    }
    if let Some(rest) = text.strip_prefix("age1") {
        if age::x25519::Recipient::from_str(text).is_ok() {
            return Ok(());
        }
        return Err(match rest.split('1').next() {
            Some(plugin) if rest.contains('1') && !plugin.is_empty() => BadRecipient::AgePlugin {
                plugin: plugin.to_string(),
            },
            _ => BadRecipient::Age,
        });
    }
    if text.starts_with("ssh-") || text.starts_with("ecdsa-") || text.starts_with("sk-") {
        let kind = text.split_whitespace().next().unwrap_or_default();
        if kind != "ssh-ed25519" && kind != "ssh-rsa" {
            return Err(BadRecipient::SshType {
                kind: kind.to_string(),
            });
        }
        use age::ssh::ParseRecipientKeyError as E;
        return match age::ssh::Recipient::from_str(text) {
            Ok(_) => Ok(()),
            Err(E::RsaModulusTooSmall) => Err(BadRecipient::RsaTooSmall),
            Err(E::RsaModulusTooLarge) => Err(BadRecipient::RsaTooLarge),
            Err(E::Unsupported(kind)) => Err(BadRecipient::SshType { kind }),
            Err(_) => Err(BadRecipient::Ssh),
        };
    }
    Err(BadRecipient::NotAKey)
}

impl BadRecipient {
    fn hint(&self) -> Option<String> {
        Some(
            match self {
                BadRecipient::PrivateKey => "remove it from the file now and rotate it; use the public key (age-keygen -y, or the .pub file)",
                BadRecipient::AgePlugin { .. } => "use an X25519 (age-keygen) or SSH ed25519/rsa public key",
                BadRecipient::Age => "copy the public key age-keygen printed (age1 followed by 58 characters)",
                BadRecipient::SshType { .. } => "age encrypts to ssh-ed25519 and ssh-rsa keys only",
                BadRecipient::RsaTooSmall => "use ssh-ed25519 or an RSA key of 2048 bits or more",
                BadRecipient::RsaTooLarge => return None,
                BadRecipient::Ssh => "paste the whole line of the .pub file: type, base64 key, optional comment",
                BadRecipient::NotAKey => "expected age1... (age-keygen) or ssh-ed25519 / ssh-rsa public keys",
            }
            .into(),
        )
    }

    /// For a value of the desired-state file: names it (clipped and sanitized).
    fn quoted(&self, text: &str) -> (String, Option<String>) {
        let shown = sanitize(&clip(text));
        let message = match self {
            BadRecipient::PrivateKey => {
                "this is a private key, not a recipient (value not shown)".into()
            }
            BadRecipient::AgePlugin { plugin } => format!(
                "'{shown}' is an age plugin recipient ('{}'), which r2gitops does not support",
                sanitize(&clip(plugin))
            ),
            BadRecipient::Age => format!("'{shown}' is not a valid age X25519 recipient"),
            BadRecipient::SshType { kind } => {
                format!("SSH key type '{}' is not supported", sanitize(&clip(kind)))
            }
            BadRecipient::RsaTooSmall => "ssh-rsa key is shorter than 2048 bits".into(),
            BadRecipient::RsaTooLarge => {
                "ssh-rsa key is longer than age supports (16384 bits)".into()
            }
            BadRecipient::Ssh => format!("'{shown}' is not a valid SSH public key"),
            BadRecipient::NotAKey => format!("'{shown}' is not an age or SSH public key"),
        };
        (message, self.hint())
    }

    /// For a line of a recipients file: what kind of key was expected, never the text.
    fn unquoted(&self) -> (String, Option<String>) {
        let message = match self {
            BadRecipient::PrivateKey => "this is a private key, not a recipient",
            BadRecipient::AgePlugin { .. } => {
                "an age plugin recipient, which r2gitops does not support"
            }
            BadRecipient::Age => "not a valid age X25519 recipient",
            BadRecipient::SshType { .. } => {
                "an SSH key type r2gitops does not support (expected ssh-ed25519 or ssh-rsa)"
            }
            BadRecipient::RsaTooSmall => "ssh-rsa key is shorter than 2048 bits",
            BadRecipient::RsaTooLarge => "ssh-rsa key is longer than age supports (16384 bits)",
            BadRecipient::Ssh => "not a valid SSH public key",
            BadRecipient::NotAKey => "not an age or SSH public key",
        };
        (format!("{message} (text not shown)"), self.hint())
    }
}
