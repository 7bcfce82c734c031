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
use super::model::temporary::short_duration;
use super::model::*;
use super::raw::*;
use super::shape::{clip, did_you_mean};
use super::yaml::sanitize;

mod bucket;
mod bucket_config;
mod cors;
mod custom_domain;
mod kubernetes;
mod lifecycle;
mod lock;
mod notification;
mod output;
mod publish;
mod rotation;
mod settings;
mod temporary;
mod token;

pub use self::bucket::{bucket_name_problem, suggest_bucket_name};
pub use self::bucket_config::MAX_RULES;
pub use self::cors::{MAX_CORS_AGE_SECS, origin_problem};
pub use self::custom_domain::{
    MAX_CUSTOM_DOMAINS, canonical as canonical_domain, hostname_problem,
};
pub use self::kubernetes::{dns_label_problem, dns_subdomain_problem, label_key_problem};
pub use self::notification::{MAX_NOTIFICATION_RULES, overlap};
pub use self::output::output_file_problem;
pub use self::publish::{PublishPins, branch_problem, has_dot_git, parse_author, prefix_problem};
pub use self::rotation::{
    DEFAULT_READINESS_TIMEOUT, DEFAULT_ROTATION_OVERLAP, DEFAULT_TOKEN_WATCH, MAX_ROTATION_OVERLAP,
    MIN_TOKEN_WATCH,
};
pub use self::settings::{
    RECIPIENT_PLACEHOLDER, inside_problem, parse_recipient, recipients_file_problem,
};
use self::{bucket::*, output::*, settings::*, token::*};
use super::model::parse_duration;
use super::model::{MIN_CONFIG_RESYNC, STATE_FILE_NAME};

/// Cloudflare refuses token names longer than this.
pub const MAX_TOKEN_NAME: usize = 120;

pub const DEFAULT_PREFIX: &str = "r2gitops:";

pub const DEFAULT_OUTPUT_DIR: &str = "secrets";

pub const DEFAULT_MAX_DELETIONS: u32 = 10;

pub const MIN_ROTATION: Duration = Duration::from_secs(3600);

/// The secrets writer's temp-file marker (`secrets::write::TEMP_MARKER`; `config` may not
/// import `secrets`): an output named like that would be deleted as a leftover.
pub const WRITER_TEMP_MARKER: &str = ".r2gitops-tmp-";

/// The inventory lock is `<state_file>.lock` (`state::lock::lock_path`; `config` may not import it).
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
    /// `settings.output_dir` and `settings.state_file` (by field path) whose path crosses a
    /// symlink leading out of the file's directory, with where it leads (`'LINK' -> TARGET`).
    pub escaping_settings: BTreeMap<&'static str, String>,
    /// What the operator allows on the command line (`--min-temporary-ttl`).
    pub limits: super::cost::OperatorLimits,
    /// `--publish-repository`, `--publish-branch`, `--publish-prefix`.
    pub publish_pins: PublishPins,
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
    let temporary_credentials = temporary::temporary_credentials(
        &mut c,
        raw.temporary_credentials.as_deref().unwrap_or_default(),
        raw.tokens.as_deref().unwrap_or_default(),
        &tokens,
        &buckets,
        &settings,
        &default_recipients,
        facts,
    );

    if settings.publish.is_some() {
        publish::published_outputs(&mut c, raw);
    }

    let mut settings = settings;
    resync_floor(&mut c, raw, &mut settings, &buckets);
    rotation::token_watch_floor(&mut c, raw, &mut settings, &tokens);

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
            temporary_credentials,
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
            adopt_rolls: AdoptRolls::Refused,
            rotate_now: Default::default(),
            policy: None,
        })
    } else {
        Err(c.list)
    }
}

/// `config_resync` is raised to what a quarter of Cloudflare's limit can pay for
/// (`cost::config_resync_floor`): 300 fully configured buckets re-read every minute used the
/// whole budget in seconds. A declared value that is raised gets a warning; the daemon runs
/// by the raised one.
fn resync_floor(c: &mut Collector, raw: &RawDoc, settings: &mut Settings, buckets: &[BucketSpec]) {
    use super::cost;
    let reads = cost::config_reads_per_resync(buckets);
    let floor = cost::config_resync_floor(reads);
    if settings.config_resync >= floor {
        return;
    }
    let declared = raw
        .settings
        .as_ref()
        .and_then(|s| s.value.config_resync.as_ref());
    if let Some(r) = declared {
        c.warn(
            r,
            "settings.config_resync",
            format!(
                "config_resync {} is raised to {}: re-reading {reads} configuration blocks, zones and queue lists more often would spend more than a quarter of Cloudflare's 1,200 calls per 5 minutes",
                sanitize(&clip(r.value.trim())),
                short_duration(floor)
            ),
            "the daemon re-reads at most this often; r2gitops still reads a block at once after writing it, and `reconcile` always reads everything",
        );
    }
    settings.config_resync = floor;
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

fn dedup_keep_order(list: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    list.retain(|r| seen.insert(r.clone()));
}

#[cfg(test)]
mod tests;
