//! Stage two: the raw document to the typed `Desired`, collecting every rule violation.
//!
//! Pure: no I/O, no clock, no environment. What `load` must read from disk (the
//! recipients file, symlinks under the output directory) arrives as `Facts`. Paths stay as
//! written in the file; `load` resolves them against the file's directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::diagnostic::Capped;
use super::model::*;
use super::raw::*;
use super::shape::{clip, did_you_mean};
use super::yaml::sanitize;

/// Cloudflare refuses token names longer than this.
pub const MAX_TOKEN_NAME: usize = 120;
pub const DEFAULT_PREFIX: &str = "r2gitops:";
pub const DEFAULT_OUTPUT_DIR: &str = "secrets";
pub const STATE_FILE_NAME: &str = ".r2gitops-state.json";
pub const DEFAULT_MAX_DELETIONS: u32 = 10;
pub const MIN_ROTATION: Duration = Duration::from_secs(3600);
/// The secrets writer's temp-file marker (`secrets::write::TEMP_MARKER`; `config` may not
/// import `secrets`): an output named like that would be deleted as a leftover.
pub const WRITER_TEMP_MARKER: &str = ".r2gitops-tmp-";
/// The inventory lock is `<state_file>.lock` (`lock::lock_path`; `config` may not import it).
pub const LOCK_SUFFIX: &str = ".lock";

/// What `load` gathered from disk for the rules that need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// `settings.recipients_file`: its text, or why it was not read.
    pub recipients_file: Option<Result<String, Unread>>,
    /// Output files (as written in the file) whose path crosses a symlink that leads out of
    /// the output directory, with where it leads.
    pub escaping_symlinks: BTreeMap<String, String>,
    /// The time of loading, for warnings about what has already passed; `None` gives none.
    pub now: Option<OffsetDateTime>,
    /// The operator set `--output-dir` (or R2GITOPS_OUTPUT_DIR): outputs and the inventory
    /// live there, and the file may not move the inventory elsewhere.
    pub output_dir_pinned: bool,
}

/// Why `load` did not read `settings.recipients_file`.
#[derive(Debug, Clone, PartialEq)]
pub enum Unread {
    /// A symlink on the way leads out of the file's directory (`'LINK' -> TARGET`).
    Escapes(String),
    /// The read failed; the reason quotes nothing of the file.
    Failed(String),
}

/// A rule violation before the file name is attached. Ordered by position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

struct Collector {
    list: Capped<Violation>,
    /// Whether a problem was reported under `settings.recipients*` (a later rule stays
    /// silent then); kept apart because `list` may have dropped it.
    recipients_problem: bool,
    warnings: Vec<Violation>,
}

impl Collector {
    fn warn<T>(
        &mut self,
        sp: &Sp<T>,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.warnings.push(Violation {
            line: sp.line,
            column: sp.column,
            path: path.into(),
            message: message.into(),
            hint: Some(hint.into()),
        });
    }

    fn at<T>(&mut self, sp: &Sp<T>, path: impl Into<String>, message: impl Into<String>) {
        self.push(sp.line, sp.column, path, message, None);
    }

    fn hint<T>(
        &mut self,
        sp: &Sp<T>,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(sp.line, sp.column, path, message, Some(hint.into()));
    }

    fn push(
        &mut self,
        line: usize,
        column: usize,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let path = path.into();
        self.recipients_problem |= path.starts_with("settings.recipients");
        self.list.push(Violation {
            line,
            column,
            path,
            message: message.into(),
            hint,
        });
    }
}

/// Validate `raw` into the model; `source` is the file as the user named it. The
/// violations are capped (`Capped`): the first ones by position, and a count.
pub fn validate(raw: &RawDoc, facts: &Facts, source: &Path) -> Result<Desired, Capped<Violation>> {
    let mut c = Collector {
        list: Capped::default(),
        recipients_problem: false,
        warnings: Vec::new(),
    };

    if raw.version.value != 1 {
        c.hint(
            &raw.version,
            "version",
            format!("unsupported version {}", raw.version.value),
            "this release of r2gitops reads version: 1",
        );
    }

    let account_id = raw.account_id.as_ref().map(|a| {
        check_account_id(&mut c, a);
        a.value.clone()
    });

    let (settings, default_recipients) = settings(&mut c, raw.settings.as_ref(), facts);
    let buckets = buckets(&mut c, raw.buckets.as_deref().unwrap_or_default());
    let tokens = tokens(
        &mut c,
        raw.tokens.as_deref().unwrap_or_default(),
        &buckets,
        &settings,
        &default_recipients,
        facts,
    );

    if settings.prune && buckets.is_empty() && tokens.is_empty() {
        let prune = raw
            .settings
            .as_ref()
            .and_then(|s| s.value.prune.as_ref())
            .map_or((1, 1), |p| (p.line, p.column));
        c.push(
            prune.0,
            prune.1,
            "settings.prune",
            "refusing to plan the deletion of everything: prune is on and the file declares no bucket and no token",
            Some("declare what should exist, or set prune: false".into()),
        );
    }

    if c.list.is_empty() {
        Ok(Desired {
            source: source.to_path_buf(),
            account_id,
            settings,
            buckets,
            tokens,
            warnings: c
                .warnings
                .into_iter()
                .map(|v| super::Diagnostic {
                    file: String::new(),
                    line: v.line,
                    column: v.column,
                    path: v.path,
                    message: v.message,
                    hint: v.hint,
                })
                .collect(),
        })
    } else {
        Err(c.list)
    }
}

fn check_account_id(c: &mut Collector, a: &Sp<String>) {
    let v = &a.value;
    if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        if v.bytes().any(|b| b.is_ascii_uppercase()) {
            c.hint(
                a,
                "account_id",
                "account id must be lowercase hex",
                format!("write '{}'", v.to_lowercase()),
            );
        }
    } else {
        c.hint(
            a,
            "account_id",
            format!("'{}' is not an account id (32 lowercase hex characters)", sanitize(&clip(v))),
            "copy it from the Cloudflare dashboard URL, or leave it out and set CLOUDFLARE_ACCOUNT_ID",
        );
    }
}

fn settings(
    c: &mut Collector,
    raw: Option<&Sp<RawSettings>>,
    facts: &Facts,
) -> (Settings, Vec<String>) {
    let empty = RawSettings {
        token_name_prefix: None,
        prune: None,
        max_deletions: None,
        output_dir: None,
        state_file: None,
        recipients: None,
        recipients_file: None,
        suspend: None,
    };
    let s = raw.map_or(&empty, |s| &s.value);

    let token_name_prefix = match &s.token_name_prefix {
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
    };

    let output_dir = match &s.output_dir {
        Some(d) if d.value.trim().is_empty() => {
            c.at(
                d,
                "settings.output_dir",
                "output directory must not be empty",
            );
            PathBuf::from(DEFAULT_OUTPUT_DIR)
        }
        Some(d) => PathBuf::from(&d.value),
        None => PathBuf::from(DEFAULT_OUTPUT_DIR),
    };
    let state_file = match &s.state_file {
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
        Some(f) => PathBuf::from(&f.value),
        None => output_dir.join(STATE_FILE_NAME),
    };

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
    };
    (settings, recipients)
}

fn buckets(c: &mut Collector, raw: &[Sp<RawBucket>]) -> Vec<BucketSpec> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, b) in raw.iter().enumerate() {
        let b = &b.value;
        let path = format!("buckets[{i}].name");
        if let Some((message, hint)) = bucket_name_problem(&b.name.value) {
            c.push(b.name.line, b.name.column, &path, message, Some(hint));
        }
        if let Some(first) = seen.insert(&b.name.value, b.name.line) {
            // Keep pointing later duplicates at the first declaration.
            seen.insert(&b.name.value, first);
            c.hint(
                &b.name,
                &path,
                format!("bucket '{}' is declared twice", sanitize(&b.name.value)),
                format!("first declared on line {first}"),
            );
        }
        out.push(BucketSpec {
            name: b.name.value.clone(),
            jurisdiction: b
                .jurisdiction
                .as_ref()
                .map_or(Jurisdiction::Default, |j| j.value.into()),
            location_hint: b.location_hint.as_ref().map(|l| l.value.into()),
            storage_class: b
                .storage_class
                .as_ref()
                .map_or(StorageClass::Standard, |s| s.value.into()),
            protect: b.protect.as_ref().is_none_or(|p| p.value),
        });
    }
    out
}

/// A valid bucket name close to `name`, or `None`: lower case, `_` and `.` (and any
/// other character R2 refuses) become `-`, repeated and outer `-` go. Only ever a name that
/// itself validates: a hint must never suggest another invalid value.
pub fn suggest_bucket_name(name: &str) -> Option<String> {
    let mut out = String::new();
    for ch in name.chars() {
        let ch = ch.to_ascii_lowercase();
        let ch = if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            ch
        } else {
            '-'
        };
        if !(ch == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(ch);
        }
    }
    let out = out.trim_end_matches('-').to_string();
    (out != name && bucket_name_problem(&out).is_none()).then_some(out)
}

/// Why `name` is not a valid R2 bucket name, with a hint; `None` when it is.
pub fn bucket_name_problem(name: &str) -> Option<(String, String)> {
    let shown = sanitize(&clip(name));
    let rule = "R2 bucket names are 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit";
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        return Some((
            format!("bucket name '{shown}' is {len} characters long; R2 allows 3 to 63"),
            rule.into(),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|ch| !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || *ch == '-'))
    {
        let hint = match suggest_bucket_name(name) {
            Some(s) => format!("{rule}; try '{s}'"),
            None => rule.into(),
        };
        return Some((
            format!(
                "bucket name '{shown}' contains '{}'",
                sanitize(&bad.to_string())
            ),
            hint,
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some((
            format!("bucket name '{shown}' must start and end with a letter or digit"),
            rule.into(),
        ));
    }
    None
}

fn tokens(
    c: &mut Collector,
    raw: &[Sp<RawToken>],
    buckets: &[BucketSpec],
    settings: &Settings,
    default_recipients: &[String],
    facts: &Facts,
) -> Vec<TokenSpec> {
    let by_name: HashMap<&str, &BucketSpec> =
        buckets.iter().map(|b| (b.name.as_str(), b)).collect();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut files: HashMap<PathBuf, (usize, usize)> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());

    for (i, t) in raw.iter().enumerate() {
        let here = format!("tokens[{i}]");
        let t = &t.value;

        // Name: non-empty, unique, and the prefixed name fits Cloudflare's limit.
        let name = &t.name;
        let name_path = format!("{here}.name");
        if name.value.trim().is_empty() {
            c.at(name, &name_path, "token name must not be empty");
        } else if name.value.chars().any(char::is_control) {
            c.at(
                name,
                &name_path,
                "token name must not contain control characters",
            );
        }
        let full = settings.token_name_prefix.chars().count() + name.value.chars().count();
        if full > MAX_TOKEN_NAME {
            c.hint(
                name,
                &name_path,
                format!(
                    "token name is too long: '{}' + '{}' is {full} characters; Cloudflare allows {MAX_TOKEN_NAME}",
                    sanitize(&clip(&settings.token_name_prefix)),
                    sanitize(&clip(&name.value))
                ),
                "shorten the name or settings.token_name_prefix",
            );
        }
        if let Some(first) = names.get(name.value.as_str()) {
            c.hint(
                name,
                &name_path,
                format!("token '{}' is declared twice", sanitize(&clip(&name.value))),
                format!("first declared on line {first}"),
            );
        } else {
            names.insert(&name.value, name.line);
        }

        let access: Access = t.access.value.into();
        let (scope, bucket_jurisdiction) = scope(c, t, access, &by_name, &here);

        // A token's own jurisdiction only makes sense where no bucket decides it.
        let jurisdiction = match (&t.jurisdiction, &scope) {
            (Some(j), TokenScope::Buckets(_)) => {
                c.hint(
                    j,
                    format!("{here}.jurisdiction"),
                    "jurisdiction is only allowed on admin-* tokens and on buckets: [\"*\"]",
                    "a token for named buckets takes its jurisdiction from them; remove this line",
                );
                bucket_jurisdiction.unwrap_or(Jurisdiction::Default)
            }
            (Some(j), _) => j.value.into(),
            (None, _) => bucket_jurisdiction.unwrap_or(Jurisdiction::Default),
        };

        let not_before = timestamp(c, t.not_before.as_ref(), &format!("{here}.not_before"));
        let expires_on = timestamp(c, t.expires_on.as_ref(), &format!("{here}.expires_on"));
        if let (Some(nb), Some(exp), Some(exp_sp)) = (not_before, expires_on, &t.expires_on)
            && nb >= exp
        {
            c.at(
                exp_sp,
                format!("{here}.expires_on"),
                "expires_on must be later than not_before",
            );
        }
        if let (Some(now), Some(exp), Some(exp_sp)) = (facts.now, expires_on, &t.expires_on)
            && exp <= now
        {
            c.warn(
                exp_sp,
                format!("{here}.expires_on"),
                format!(
                    "the declared expiry has passed ({}): the token is blocked and nothing is sent for it",
                    exp.format(&Rfc3339).unwrap_or_default()
                ),
                "declare a later expires_on, or remove the token",
            );
        }

        let ip = ip_rules(c, t.ip.as_ref(), &here);
        let rotate_every = t
            .rotate_every
            .as_ref()
            .and_then(|r| rotation(c, r, &format!("{here}.rotate_every")));
        let output = output(
            c,
            &t.output,
            &here,
            settings,
            default_recipients,
            facts,
            &mut files,
        );

        out.push(TokenSpec {
            name: name.value.clone(),
            owner: t.owner.as_ref().map_or(Owner::Account, |o| o.value.into()),
            access,
            scope,
            jurisdiction,
            not_before,
            expires_on,
            ip,
            rotate_every,
            output,
        });
    }
    out
}

/// The token's scope and, for named buckets, their common jurisdiction.
fn scope(
    c: &mut Collector,
    t: &RawToken,
    access: Access,
    by_name: &HashMap<&str, &BucketSpec>,
    here: &str,
) -> (TokenScope, Option<Jurisdiction>) {
    let path = format!("{here}.buckets");
    if access.is_admin() {
        if let Some(b) = &t.buckets {
            c.hint(
                b,
                &path,
                format!(
                    "{} tokens cover the whole account and take no buckets",
                    access.as_str()
                ),
                "remove buckets, or use object-read / object-read-write for named buckets",
            );
        }
        return (TokenScope::Account, None);
    }
    let Some(list) = &t.buckets else {
        c.hint(
            &t.access,
            &path,
            format!("{} tokens need buckets", access.as_str()),
            "add buckets: [name, ...] (declared buckets) or buckets: [\"*\"] for every bucket",
        );
        return (TokenScope::Buckets(Vec::new()), None);
    };
    if list.value.is_empty() {
        c.hint(
            list,
            &path,
            "buckets is empty",
            "list at least one declared bucket, or \"*\" for every bucket",
        );
        return (TokenScope::Buckets(Vec::new()), None);
    }
    if list.value.iter().any(|b| b.value.0 == "*") {
        if list.value.len() > 1 {
            c.hint(
                list,
                &path,
                "\"*\" must be the only entry",
                "\"*\" already covers every bucket; remove the other names",
            );
        }
        return (TokenScope::AllBuckets, None);
    }

    let mut names = Vec::new();
    let mut seen = BTreeSet::new();
    let mut by_jurisdiction: BTreeMap<Jurisdiction, Vec<&str>> = BTreeMap::new();
    for (j, entry) in list.value.iter().enumerate() {
        let name = entry.value.0.as_str();
        let entry_path = format!("{path}[{j}]");
        if !seen.insert(name) {
            c.at(
                entry,
                &entry_path,
                format!("bucket '{}' is listed twice", sanitize(&clip(name))),
            );
            continue;
        }
        match by_name.get(name) {
            Some(b) => {
                by_jurisdiction
                    .entry(b.jurisdiction)
                    .or_default()
                    .push(name);
                names.push(name.to_string());
            }
            None => {
                // Only names that are themselves valid are worth suggesting; an invalid
                // declared name whose fix is this reference is named as such.
                let valid = by_name
                    .keys()
                    .copied()
                    .filter(|n| bucket_name_problem(n).is_none());
                let fixed_by = by_name
                    .keys()
                    .find(|n| suggest_bucket_name(n).as_deref() == Some(name));
                let hint = match (fixed_by, did_you_mean(name, valid)) {
                    (Some(declared), _) => format!(
                        "the bucket declared as '{}' has an invalid name; renaming it to '{name}' makes this reference valid",
                        sanitize(&clip(declared))
                    ),
                    (None, Some(s)) => format!(
                        "did you mean '{s}'? a token may only name buckets declared under buckets:"
                    ),
                    (None, None) => {
                        "a token may only name buckets declared under buckets:".to_string()
                    }
                };
                c.hint(
                    entry,
                    &entry_path,
                    format!("unknown bucket '{}'", sanitize(&clip(name))),
                    hint,
                );
            }
        }
    }
    if by_jurisdiction.len() > 1 {
        let groups: Vec<String> = by_jurisdiction
            .iter()
            .map(|(j, names)| format!("{} ({})", j.as_str(), names.join(", ")))
            .collect();
        c.hint(
            list,
            &path,
            format!("buckets span several jurisdictions: {}", groups.join(", ")),
            "S3 credentials reach one jurisdiction's endpoint; declare one token per jurisdiction",
        );
    }
    names.sort();
    let jurisdiction = by_jurisdiction.keys().next().copied();
    (TokenScope::Buckets(names), jurisdiction)
}

fn timestamp(c: &mut Collector, raw: Option<&Sp<String>>, path: &str) -> Option<OffsetDateTime> {
    let raw = raw?;
    match OffsetDateTime::parse(raw.value.trim(), &Rfc3339) {
        Ok(t) => Some(t),
        Err(_) => {
            c.hint(
                raw,
                path,
                format!(
                    "'{}' is not an RFC 3339 timestamp",
                    sanitize(&clip(&raw.value))
                ),
                "write it like 2026-12-01T00:00:00Z",
            );
            None
        }
    }
}

fn ip_rules(c: &mut Collector, raw: Option<&Sp<RawIp>>, here: &str) -> IpRules {
    let Some(raw) = raw else {
        return IpRules::default();
    };
    let mut parse_list = |list: &Option<Vec<Sp<String>>>, field: &str| -> Vec<IpNet> {
        let mut nets = Vec::new();
        for (i, entry) in list.iter().flatten().enumerate() {
            let path = format!("{here}.ip.{field}[{i}]");
            let text = entry.value.trim();
            let parsed = IpNet::from_str(text).or_else(|_| IpAddr::from_str(text).map(IpNet::from));
            match parsed {
                Ok(net) if net.trunc() != net => c.hint(
                    entry,
                    &path,
                    format!("'{text}' has host bits set"),
                    format!("did you mean '{}'?", net.trunc()),
                ),
                Ok(net) => nets.push(net),
                Err(_) => c.hint(
                    entry,
                    &path,
                    format!("'{}' is not a CIDR", sanitize(&clip(text))),
                    "write an IPv4 or IPv6 network such as 203.0.113.0/24 or 2001:db8::/32",
                ),
            }
        }
        nets.sort();
        nets.dedup();
        nets
    };
    let allow = parse_list(&raw.value.allow, "allow");
    let deny = parse_list(&raw.value.deny, "deny");
    IpRules { allow, deny }
}

fn rotation(c: &mut Collector, raw: &Sp<String>, path: &str) -> Option<Duration> {
    match parse_duration(raw.value.trim()) {
        Some(d) if d < MIN_ROTATION => {
            c.hint(
                raw,
                path,
                format!(
                    "rotate_every '{}' is shorter than 1h",
                    sanitize(&clip(&raw.value))
                ),
                "rotating more often than hourly only churns credentials; use 1h or more",
            );
            None
        }
        Some(d) => Some(d),
        None => {
            c.hint(
                raw,
                path,
                format!("'{}' is not a duration", sanitize(&clip(&raw.value))),
                "a whole number and a unit: s, m, h or d (e.g. 12h, 90d)",
            );
            None
        }
    }
}

/// `90d`, `12h`, `30m`, `3600s`; `None` for anything else or an overflow.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        'd' => n.checked_mul(86_400),
        _ => None,
    }?;
    Some(Duration::from_secs(secs))
}

#[allow(clippy::too_many_arguments)]
fn output(
    c: &mut Collector,
    raw: &Sp<RawOutput>,
    here: &str,
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
/// let a second writer in (issue 12). Temp-file names are refused by `output_file_problem`.
fn reserved_name_problem(normal: &Path) -> Option<(String, String)> {
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
fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// Where `settings.recipients_file` must be: inside the directory of the desired-state
/// file. Says why a path is not, `None` when its shape is fine (`load` checks symlinks).
pub fn recipients_file_problem(file: &str) -> Option<&'static str> {
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

const RECIPIENTS_FILE_INSIDE: &str = "the recipients file must sit in the directory of this file or below it (a relative path without '..', no symlink leading out); r2gitops reads nothing else a committer names";

/// `settings.recipients_file`: its recipients join the defaults. A committer names the file
/// and it may hold anything (the daemon's API token, issue 12), so no message quotes a
/// line of it: only the line number and what kind of key was expected.
fn recipients_file(
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
fn check_recipient(c: &mut Collector, r: &Sp<Recipient>, path: &str) -> bool {
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
enum BadRecipient {
    PrivateKey,
    AgePlugin { plugin: String },
    Age,
    SshType { kind: String },
    RsaTooSmall,
    RsaTooLarge,
    Ssh,
    NotAKey,
}

fn classify_recipient(text: &str) -> Result<(), BadRecipient> {
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

fn dedup_keep_order(list: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    list.retain(|r| seen.insert(r.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real keys made with age-keygen and ssh-keygen for these tests; private halves discarded.
    const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";
    const AGE2: &str = "age1ea6ha4cng0drxeunfdc2h0vrpzxcgdndq24a6v8c9ynurn2ym5rs96qllw";

    fn doc(yaml: &str) -> RawDoc {
        serde_saphyr::from_str_with_options(yaml, super::super::yaml::options())
            .expect("raw parses")
    }

    fn run(yaml: &str) -> Result<Desired, Vec<String>> {
        run_with(yaml, &Facts::default())
    }

    fn run_with(yaml: &str, facts: &Facts) -> Result<Desired, Vec<String>> {
        validate(&doc(yaml), facts, Path::new("r2gitops.yaml")).map_err(|list| {
            list.into_parts()
                .0
                .into_iter()
                .map(|v| format!("{}:{}: {}: {}", v.line, v.column, v.path, v.message))
                .collect()
        })
    }

    fn base(extra_settings: &str, buckets: &str, tokens: &str) -> String {
        format!(
            "version: 1\nsettings:\n  recipients: [{AGE}]\n{extra_settings}buckets:\n{buckets}tokens:\n{tokens}"
        )
    }

    const B: &str = "  - name: media\n  - name: logs\n  - name: eu-data\n    jurisdiction: eu\n";

    fn token(body: &str) -> String {
        format!("  - name: t\n    output: {{file: t.age, format: env}}\n{body}")
    }

    #[test]
    fn a_pinned_output_dir_keeps_the_inventory_in_it() {
        let yaml = base(
            "  state_file: /etc/cron.d/x\n",
            B,
            &token("    access: admin-read\n"),
        );
        assert!(run(&yaml).is_ok(), "not pinned: the file decides");
        let pinned = Facts {
            output_dir_pinned: true,
            ..Facts::default()
        };
        assert_eq!(
            run_with(&yaml, &pinned).unwrap_err(),
            [
                "4:15: settings.state_file: state_file cannot be set while the operator pins the output directory (--output-dir or R2GITOPS_OUTPUT_DIR): the inventory lives there"
            ]
        );
    }

    #[test]
    fn suggested_bucket_names_are_valid_or_absent() {
        for (name, want) in [
            ("App_Assets", Some("app-assets")),
            ("Media", Some("media")),
            ("my.bucket", Some("my-bucket")),
            ("__Logs__2026__", Some("logs-2026")),
            ("a b", Some("a-b")),
            ("ab", None),
            ("__x__", None),
            ("media", None),
        ] {
            assert_eq!(suggest_bucket_name(name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn a_declared_expiry_that_has_passed_is_a_located_warning_not_an_error() {
        let yaml = base(
            "",
            B,
            &token(
                "    access: admin-read
    expires_on: 2026-01-01T00:00:00Z
",
            ),
        );
        let at = |now| Facts {
            now: Some(now),
            ..Facts::default()
        };
        let d = run_with(&yaml, &at(time::macros::datetime!(2026-06-01 00:00 UTC))).unwrap();
        let w: Vec<String> = d.warnings.iter().map(|w| w.located_message()).collect();
        assert_eq!(
            w,
            [
                "13:17: tokens[0].expires_on: the declared expiry has passed (2026-01-01T00:00:00Z): the token is blocked and nothing is sent for it"
            ]
        );
        assert_eq!(
            d.warnings[0].hint.as_deref(),
            Some("declare a later expires_on, or remove the token")
        );
        let d = run_with(&yaml, &at(time::macros::datetime!(2025-06-01 00:00 UTC))).unwrap();
        assert!(d.warnings.is_empty(), "not yet passed");
        assert!(
            run(&yaml).unwrap().warnings.is_empty(),
            "no clock, no warning"
        );
    }

    #[test]
    fn a_valid_file_becomes_the_model_with_defaults() {
        let d = run(&base(
            "",
            B,
            &token("    access: object-read\n    buckets: [media, logs]\n"),
        ))
        .unwrap();
        assert_eq!(d.settings.token_name_prefix, "r2gitops:");
        assert_eq!(d.settings.max_deletions, 10);
        assert_eq!(d.settings.output_dir, PathBuf::from("secrets"));
        assert_eq!(
            d.settings.state_file,
            PathBuf::from("secrets/.r2gitops-state.json")
        );
        assert!(!d.settings.prune && !d.settings.suspend);
        assert_eq!(d.buckets.len(), 3);
        assert!(d.buckets[0].protect);
        assert_eq!(d.buckets[2].jurisdiction, Jurisdiction::Eu);
        let t = &d.tokens[0];
        assert_eq!(
            t.scope,
            TokenScope::Buckets(vec!["logs".into(), "media".into()])
        );
        assert_eq!(t.jurisdiction, Jurisdiction::Default);
        assert_eq!(t.owner, Owner::Account);
        assert_eq!(t.output.recipients, vec![AGE.to_string()]);
        assert!(!t.output.armor && !t.output.include_api_token && !t.output.verify);
    }

    #[test]
    fn token_jurisdiction_comes_from_its_buckets_or_its_own_field() {
        let d = run(&base(
            "",
            B,
            &token("    access: object-read\n    buckets: [eu-data]\n"),
        ))
        .unwrap();
        assert_eq!(d.tokens[0].jurisdiction, Jurisdiction::Eu);
        let d = run(&base(
            "",
            B,
            &token("    access: admin-read\n    jurisdiction: fedramp\n"),
        ))
        .unwrap();
        assert_eq!(
            (d.tokens[0].scope.clone(), d.tokens[0].jurisdiction),
            (TokenScope::Account, Jurisdiction::Fedramp)
        );
        let d = run(&base(
            "",
            B,
            &token("    access: object-read-write\n    buckets: ['*']\n    jurisdiction: eu\n"),
        ))
        .unwrap();
        assert_eq!(
            (d.tokens[0].scope.clone(), d.tokens[0].jurisdiction),
            (TokenScope::AllBuckets, Jurisdiction::Eu)
        );
    }

    #[test]
    fn output_recipients_replace_the_defaults_and_recipients_file_adds_to_them() {
        let facts = Facts {
            recipients_file: Some(Ok(format!("# ops\n\n{AGE2}\n{AGE}\n"))),
            ..Facts::default()
        };
        let yaml = base(
            "  recipients_file: keys/ops.txt\n",
            B,
            &token("    access: admin-read\n"),
        );
        let d = run_with(&yaml, &facts).unwrap();
        assert_eq!(
            d.tokens[0].output.recipients,
            vec![AGE.to_string(), AGE2.to_string()]
        );
        let own = token(&format!("    access: admin-read\n    output: {{file: t.age, format: env, recipients: [{AGE2}]}}\n"))
            .replace("    output: {file: t.age, format: env}\n", "");
        let d = run_with(&base("  recipients_file: keys/ops.txt\n", B, &own), &facts).unwrap();
        assert_eq!(d.tokens[0].output.recipients, vec![AGE2.to_string()]);
    }

    #[test]
    fn rules_are_reported_with_position_path_and_message() {
        let admin = "    access: admin-read\n";
        let cases: Vec<(String, &str)> = vec![
            (
                base("", B, &token(admin)).replace("version: 1", "version: 2"),
                "1:10: version: unsupported version 2",
            ),
            (
                format!("account_id: ABC\n{}", base("", B, &token(admin))),
                "1:13: account_id: 'ABC' is not an account id (32 lowercase hex characters)",
            ),
            (
                base("", "  - name: ab\n", &token(admin)),
                "5:11: buckets[0].name: bucket name 'ab' is 2 characters long; R2 allows 3 to 63",
            ),
            (
                base("", "  - name: Media\n", &token(admin)),
                "5:11: buckets[0].name: bucket name 'Media' contains 'M'",
            ),
            (
                base("", "  - name: -media\n", &token(admin)),
                "5:11: buckets[0].name: bucket name '-media' must start and end with a letter or digit",
            ),
            (
                base("", "  - name: media\n  - name: media\n", &token(admin)),
                "6:11: buckets[1].name: bucket 'media' is declared twice",
            ),
            (
                base(
                    "",
                    B,
                    &format!("{}{}", token(admin), token(admin).replace("t.age", "u.age")),
                ),
                "13:11: tokens[1].name: token 'tokens' is declared twice"
                    .replace("'tokens'", "'t'")
                    .leak(),
            ),
            (
                base("", B, &token(admin).replace("name: t", "name: ' '")),
                "10:11: tokens[0].name: token name must not be empty",
            ),
            (
                base(
                    "",
                    B,
                    &token(admin).replace("name: t", &format!("name: {}", "x".repeat(112))),
                ),
                "10:11: tokens[0].name: token name is too long: 'r2gitops:' + 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is 121 characters; Cloudflare allows 120",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: object-read\n    buckets: [medai]\n"),
                ),
                "13:15: tokens[0].buckets[0]: unknown bucket 'medai'",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: object-read\n    buckets: [media, eu-data]\n"),
                ),
                "13:14: tokens[0].buckets: buckets span several jurisdictions: default (media), eu (eu-data)",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: admin-read\n    buckets: [media]\n"),
                ),
                "13:14: tokens[0].buckets: admin-read tokens cover the whole account and take no buckets",
            ),
            (
                base("", B, &token("    access: object-read\n")),
                "12:13: tokens[0].buckets: object-read tokens need buckets",
            ),
            (
                base("", B, &token("    access: object-read\n    buckets: []\n")),
                "13:14: tokens[0].buckets: buckets is empty",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: object-read\n    buckets: ['*', media]\n"),
                ),
                "13:14: tokens[0].buckets: \"*\" must be the only entry",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: object-read\n    buckets: [media, media]\n"),
                ),
                "13:22: tokens[0].buckets[1]: bucket 'media' is listed twice",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: object-read\n    buckets: [media]\n    jurisdiction: eu\n"),
                ),
                "14:19: tokens[0].jurisdiction: jurisdiction is only allowed on admin-* tokens and on buckets: [\"*\"]",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: admin-read\n    ip: {allow: [203.0.113.0/33]}\n"),
                ),
                "13:18: tokens[0].ip.allow[0]: '203.0.113.0/33' is not a CIDR",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: admin-read\n    ip: {deny: ['2001:db8::1/32']}\n"),
                ),
                "13:17: tokens[0].ip.deny[0]: '2001:db8::1/32' has host bits set",
            ),
            (
                base(
                    "",
                    B,
                    &token(
                        "    access: admin-read\n    not_before: 2027-01-01T00:00:00Z\n    expires_on: 2026-01-01T00:00:00Z\n",
                    ),
                ),
                "14:17: tokens[0].expires_on: expires_on must be later than not_before",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: admin-read\n    not_before: tomorrow\n"),
                ),
                "13:17: tokens[0].not_before: 'tomorrow' is not an RFC 3339 timestamp",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: admin-read\n    rotate_every: 30m\n"),
                ),
                "13:19: tokens[0].rotate_every: rotate_every '30m' is shorter than 1h",
            ),
            (
                base(
                    "",
                    B,
                    &token("    access: admin-read\n    rotate_every: 3 days\n"),
                ),
                "13:19: tokens[0].rotate_every: '3 days' is not a duration",
            ),
            (
                base("", B, &token(admin)).replace(&format!("recipients: [{AGE}]"), "prune: false"),
                "11:20: tokens[0].output: this token has no recipient: nobody could decrypt its file",
            ),
            (
                base("", B, &token(admin)).replace(AGE, "age1notakey"),
                "3:16: settings.recipients[0]: 'age1notakey' is not a valid age X25519 recipient",
            ),
            (
                base("", B, &token(admin)).replace(AGE, "'ssh-dss AAAAB3NzaC1kc3MAAACBAP'"),
                "3:16: settings.recipients[0]: SSH key type 'ssh-dss' is not supported",
            ),
            (
                base("", B, &token(admin)).replace(AGE, "AGE-SECRET-KEY-1QQQQ"),
                "3:16: settings.recipients[0]: this is a private key, not a recipient (value not shown)",
            ),
            (
                base("", B, &token(admin).replace("t.age", "../t.age")),
                "11:20: tokens[0].output.file: output file '../t.age' contains '..'",
            ),
            (
                base("", B, &token(admin).replace("t.age", "/etc/t.age")),
                "11:20: tokens[0].output.file: output file '/etc/t.age' is an absolute path",
            ),
            (
                base(
                    "",
                    B,
                    &token(admin).replace("t.age", ".r2gitops-state.json"),
                ),
                "11:20: tokens[0].output.file: '.r2gitops-state.json' is the state file",
            ),
            (
                base(
                    "",
                    B,
                    &token(admin).replace("t.age", ".r2gitops-state.json.lock"),
                ),
                "11:20: tokens[0].output.file: '.r2gitops-state.json.lock' is the inventory lock file",
            ),
            (
                base(
                    "  state_file: secrets/inv.json\n",
                    B,
                    &token(admin).replace("t.age", "./inv.json.lock"),
                ),
                "12:20: tokens[0].output.file: './inv.json.lock' is the inventory lock file",
            ),
            (
                base(
                    "  state_file: elsewhere/inv.json\n",
                    B,
                    &token(admin).replace("t.age", "team/.r2gitops-state.json"),
                ),
                "12:20: tokens[0].output.file: output file 'team/.r2gitops-state.json' is named like the state file",
            ),
            (
                base(
                    "",
                    B,
                    &token(admin).replace("t.age", "team/.r2gitops-state.json.lock"),
                ),
                "11:20: tokens[0].output.file: output file 'team/.r2gitops-state.json.lock' is named like the inventory lock file",
            ),
            (
                base(
                    "",
                    B,
                    &token(admin).replace("t.age", "team/.t.age.r2gitops-tmp-0123456789abcdef"),
                ),
                "11:20: tokens[0].output.file: output file 'team/.t.age.r2gitops-tmp-0123456789abcdef' is named like an r2gitops temp file",
            ),
            (
                base(
                    "",
                    B,
                    &format!(
                        "{}{}",
                        token(admin),
                        token(admin)
                            .replace("name: t", "name: u")
                            .replace("t.age", "./t.age")
                    ),
                ),
                "14:20: tokens[1].output.file: output file './t.age' is used twice",
            ),
            (
                base("  prune: true\n", "", "").replace("buckets:\ntokens:\n", ""),
                "4:10: settings.prune: refusing to plan the deletion of everything: prune is on and the file declares no bucket and no token",
            ),
            (
                base("  token_name_prefix: ''\n", B, &token(admin)),
                "4:22: settings.token_name_prefix: token name prefix must not be empty",
            ),
        ];
        let mut failures = Vec::new();
        for (yaml, want) in cases {
            let got = run(&yaml).expect_err(want);
            if !got.iter().any(|g| g == want) {
                failures.push(format!("want {want}\n got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn recipients_file_problems_name_the_file_and_line() {
        let yaml = base(
            "  recipients_file: keys/ops.txt\n",
            B,
            &token("    access: admin-read\n"),
        );
        let cases = [
            (
                Some(Err(Unread::Failed(
                    "No such file or directory (os error 2)".to_string(),
                ))),
                "4:20: settings.recipients_file: cannot read 'keys/ops.txt': No such file or directory (os error 2)",
            ),
            (
                Some(Err(Unread::Escapes("'keys' -> /run/secrets".to_string()))),
                "4:20: settings.recipients_file: 'keys/ops.txt' leads out of the directory of this file through the symlink 'keys' -> /run/secrets",
            ),
            (
                Some(Ok(format!("{AGE}\nnot-a-key\n"))),
                "4:20: settings.recipients_file: keys/ops.txt line 2: not an age or SSH public key (text not shown)",
            ),
            (
                Some(Ok("# only a comment\n".into())),
                "4:20: settings.recipients_file: 'keys/ops.txt' holds no recipient",
            ),
        ];
        for (file, want) in cases {
            let facts = Facts {
                recipients_file: file,
                ..Facts::default()
            };
            let got = run_with(&yaml, &facts).expect_err(want);
            assert_eq!(got, vec![want.to_string()]);
        }
    }

    /// Issue 12: `recipients_file` pointed at the daemon's API token file printed the token.
    #[test]
    fn no_line_of_a_recipients_file_is_ever_quoted() {
        let token_like = "Zq3vX9kLm2Np8Rt5Wy7Bc4Df6Gh1Jk0Lm3Np5Qr7St";
        let lines = [
            token_like.to_string(),
            format!("age1{token_like}"),
            format!("age1plugin1{token_like}"),
            format!("ssh-{token_like} AAAA"),
            format!("ssh-ed25519 {token_like}"),
            format!("AGE-SECRET-KEY-1{token_like}"),
            format!("ecdsa-{token_like}"),
        ];
        let yaml = base(
            "  recipients_file: keys/ops.txt\n",
            B,
            &token("    access: admin-read\n"),
        );
        for line in lines {
            let facts = Facts {
                recipients_file: Some(Ok(format!("# keys\n{line}\n"))),
                ..Facts::default()
            };
            let got = run_with(&yaml, &facts).expect_err(&line);
            assert_eq!(got.len(), 1, "{got:?}");
            assert!(got[0].contains("keys/ops.txt line 2: "), "{got:?}");
            assert!(got[0].ends_with(" (text not shown)"), "{got:?}");
            // Not the value, nor any 8 characters of it.
            for window in token_like.as_bytes().windows(8) {
                let piece = std::str::from_utf8(window).unwrap();
                assert!(!got[0].contains(piece), "{piece} quoted in {got:?}");
            }
        }
    }

    #[test]
    fn a_recipients_file_outside_the_files_directory_is_refused_unread() {
        let cases = [
            (
                "/run/secrets/cloudflare/token",
                "recipients file '/run/secrets/cloudflare/token' is an absolute path",
            ),
            ("../../token", "recipients file '../../token' contains '..'"),
            (
                "keys/../../token",
                "recipients file 'keys/../../token' contains '..'",
            ),
        ];
        for (path, want) in cases {
            let yaml = base(
                &format!("  recipients_file: {path}\n"),
                B,
                &token("    access: admin-read\n"),
            );
            // `load` gathers nothing for such a path; a text here would be ignored.
            let facts = Facts {
                recipients_file: Some(Ok(AGE.to_string())),
                ..Facts::default()
            };
            let got = run_with(&yaml, &facts).expect_err(path);
            assert_eq!(
                got,
                [format!("4:20: settings.recipients_file: {want}")],
                "{path}"
            );
        }
    }

    #[test]
    fn an_output_through_an_escaping_symlink_is_refused() {
        let facts = Facts {
            escaping_symlinks: BTreeMap::from([(
                "link/t.age".to_string(),
                "'link' -> /etc".to_string(),
            )]),
            ..Facts::default()
        };
        let yaml = base(
            "",
            B,
            &token("    access: admin-read\n").replace("t.age", "link/t.age"),
        );
        let got = run_with(&yaml, &facts).unwrap_err();
        assert_eq!(
            got,
            [
                "11:20: tokens[0].output.file: 'link/t.age' leads out of the output directory through the symlink 'link' -> /etc"
            ]
        );
    }

    #[test]
    fn several_problems_are_all_reported() {
        let yaml = base(
            "",
            "  - name: A\n  - name: b\n",
            &token("    access: object-read\n    buckets: [c]\n    rotate_every: 1s\n"),
        );
        let got = run(&yaml).unwrap_err();
        assert_eq!(got.len(), 4, "{got:#?}");
    }

    #[test]
    fn durations_parse_units_and_refuse_garbage_and_overflow() {
        let cases = [
            ("90d", Some(90 * 86_400)),
            ("1h", Some(3600)),
            ("30m", Some(1800)),
            ("7200s", Some(7200)),
            ("1.5h", None),
            ("h", None),
            ("10", None),
            ("-1h", None),
            ("99999999999999999999d", None),
            ("213503982334601d", Some(213503982334601 * 86_400)),
            ("213503982334602d", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).map(|d| d.as_secs()), want, "{text}");
        }
    }

    #[test]
    fn bucket_names_follow_r2_rules() {
        for ok in ["abc", "a-b", "0ab", &"a".repeat(63)] {
            assert_eq!(bucket_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "a_b",
            "ab-",
            "-ab",
            "a.b",
            "ABC",
            "ábc",
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn recipients_accept_age_and_ssh_keys_and_never_echo_private_keys() {
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJir+V9+nE/+H/UqYAOe+xgp1oRlczIIbCNuWaZ66sCD ops@example";
        assert_eq!(parse_recipient(AGE), Ok(()));
        assert_eq!(parse_recipient(ed), Ok(()));
        let secret = "AGE-SECRET-KEY-1NOTAREALKEYNOTAREALKEYNOTAREALKEY";
        let (message, _) = parse_recipient(secret).unwrap_err();
        assert!(!message.contains("NOTAREAL"), "{message}");
        assert!(
            parse_recipient("age1yubikey1qwerty")
                .unwrap_err()
                .0
                .contains("plugin")
        );
        assert!(parse_recipient("ssh-ed25519 AAAA").is_err());
    }

    #[test]
    fn output_files_stay_inside_the_output_directory() {
        for ok in ["a.age", "team/a.age", "./a.age", "a..b.age"] {
            assert_eq!(output_file_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "../a",
            "a/../../b",
            "/abs",
            "dir/",
            ".",
            "a\u{7}b",
            ".a.age.r2gitops-tmp-0123456789abcdef",
        ] {
            assert!(output_file_problem(bad).is_some(), "{bad:?}");
        }
    }
}
