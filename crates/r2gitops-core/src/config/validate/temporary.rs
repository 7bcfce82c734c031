//! `temporary_credentials:`: the parent is a declared token that covers the
//! bucket and the access asked for, the TTL is within Cloudflare's bounds, `refresh_before`
//! is less than the TTL (default ttl/3), prefixes and objects are non-empty paths without a
//! leading `/`, and each has its own `output` (checked as a token's, in `output`).
//!
//! The renewal cadence is bounded (`config::cost`): ttl at least the operator's
//! `--min-temporary-ttl` (15m by default), `ttl - refresh_before` at least a third of it,
//! and at most `MAX_TEMPORARY_CREDENTIALS` in a file.

use super::*;
use crate::config::cost::{MAX_TEMPORARY_CREDENTIALS, OperatorLimits};
use crate::config::model::temporary::{
    MAX_TEMPORARY_TTL, MIN_TEMPORARY_TTL, access_covers, short_duration,
};
use crate::config::raw::temporary::{KeyPath, RawTemporary};
use crate::config::{TemporaryScope, TemporarySpec};

#[allow(clippy::too_many_arguments)]
pub(super) fn temporary_credentials(
    c: &mut Collector,
    raw: &[Sp<RawTemporary>],
    raw_tokens: &[Sp<RawToken>],
    tokens: &[TokenSpec],
    buckets: &[BucketSpec],
    settings: &Settings,
    default_recipients: &[String],
    facts: &Facts,
) -> Vec<TemporarySpec> {
    let by_bucket: HashMap<&str, &BucketSpec> =
        buckets.iter().map(|b| (b.name.as_str(), b)).collect();
    let mut parents: HashMap<&str, &TokenSpec> = HashMap::new();
    for t in tokens {
        parents.entry(t.name.as_str()).or_insert(t);
    }
    let mut files = token_output_files(raw_tokens);
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    too_many(c, raw);

    for (i, t) in raw.iter().enumerate() {
        let here = format!("temporary_credentials[{i}]");
        let t = &t.value;
        let name = &t.name;
        check_name(c, name, &format!("{here}.name"), &mut names);

        let access: Access = t.access.value.into();
        let parent = parents.get(t.parent.value.as_str()).copied();
        if parent.is_none() {
            unknown_parent(c, &t.parent, &here, &parents);
        }
        let bucket = &t.bucket;
        let declared = by_bucket.get(bucket.value.as_str()).copied();
        parent_reaches(c, t, &here, parent, declared, access);
        let jurisdiction = declared
            .map(|b| b.jurisdiction)
            .or(parent.map(|p| p.jurisdiction))
            .unwrap_or(Jurisdiction::Default);

        let prefixes = key_paths(c, t.prefixes.as_ref(), &here, "prefixes", "prefix");
        let objects = key_paths(c, t.objects.as_ref(), &here, "objects", "object");

        let ttl = ttl(c, &t.ttl, &format!("{here}.ttl"), &facts.limits);
        let refresh_before = refresh_before(
            c,
            t.refresh_before.as_ref(),
            ttl,
            &t.ttl,
            &format!("{here}.refresh_before"),
            &facts.limits,
        );

        let mut spec_output = output(
            c,
            &t.output,
            &here,
            &name.value,
            settings,
            default_recipients,
            facts,
            &mut files,
        );
        no_api_token(c, t, &here);
        spec_output.include_api_token = false;

        out.push(TemporarySpec {
            name: name.value.clone(),
            parent: t.parent.value.clone(),
            jurisdiction,
            scope: TemporaryScope {
                bucket: bucket.value.clone(),
                access,
                prefixes,
                objects,
                ttl: ttl.unwrap_or(MIN_TEMPORARY_TTL),
            },
            refresh_before: refresh_before.unwrap_or_default(),
            output: spec_output,
        });
    }
    out
}

/// The tokens' output files, each with where it is declared: a token's output file and a
/// temporary credential's may not be the same file.
fn token_output_files(raw_tokens: &[Sp<RawToken>]) -> HashMap<PathBuf, (usize, usize)> {
    let mut files: HashMap<PathBuf, (usize, usize)> = HashMap::new();
    for t in raw_tokens {
        let f = &t.value.output.value.file;
        if output_file_problem(&f.value).is_none() {
            files
                .entry(normalize(Path::new(&f.value)))
                .or_insert((f.line, f.column));
        }
    }
    files
}

/// At most `MAX_TEMPORARY_CREDENTIALS`: said once, at the first one over.
fn too_many(c: &mut Collector, raw: &[Sp<RawTemporary>]) {
    if let Some(first_over) = raw.get(MAX_TEMPORARY_CREDENTIALS) {
        c.hint(
            &first_over.value.name,
            format!("temporary_credentials[{MAX_TEMPORARY_CREDENTIALS}]"),
            format!(
                "{} temporary credentials; a file may declare at most {MAX_TEMPORARY_CREDENTIALS}",
                raw.len()
            ),
            "each is issued anew on its own schedule, one API call each time, from the same Cloudflare budget as everything else; give several consumers one credential with more prefixes",
        );
    }
}

/// Not empty, no control characters, and declared once (`names`: each first line).
fn check_name<'a>(
    c: &mut Collector,
    name: &'a Sp<String>,
    name_path: &str,
    names: &mut HashMap<&'a str, usize>,
) {
    if name.value.trim().is_empty() {
        c.at(
            name,
            name_path,
            "temporary credential name must not be empty",
        );
    } else if name.value.chars().any(char::is_control) {
        c.at(
            name,
            name_path,
            "temporary credential name must not contain control characters",
        );
    }
    if let Some(first) = names.get(name.value.as_str()) {
        c.hint(
            name,
            name_path,
            format!(
                "temporary credential '{}' is declared twice",
                sanitize(&clip(&name.value))
            ),
            format!("first declared on line {first}"),
        );
    } else {
        names.insert(&name.value, name.line);
    }
}

/// A parent that names no declared token, with the nearest name if one is close.
fn unknown_parent(
    c: &mut Collector,
    parent: &Sp<String>,
    here: &str,
    parents: &HashMap<&str, &TokenSpec>,
) {
    let hint = match did_you_mean(&parent.value, parents.keys().copied()) {
        Some(s) => {
            format!("did you mean '{s}'? the parent must be a token declared under tokens:")
        }
        None => "the parent must be a token declared under tokens:".to_string(),
    };
    c.hint(
        parent,
        format!("{here}.parent"),
        format!("unknown parent token '{}'", sanitize(&clip(&parent.value))),
        hint,
    );
}

/// The bucket is a valid name the parent covers, and the access no more than it grants.
fn parent_reaches(
    c: &mut Collector,
    t: &RawTemporary,
    here: &str,
    parent: Option<&TokenSpec>,
    declared: Option<&BucketSpec>,
    access: Access,
) {
    let bucket = &t.bucket;
    let bucket_path = format!("{here}.bucket");
    if let Some((message, hint)) = bucket_name_problem(&bucket.value) {
        c.hint(bucket, &bucket_path, message, hint);
    } else if let Some(p) = parent {
        parent_covers_bucket(c, p, bucket, declared, &bucket_path, &t.parent);
    }
    if let Some(p) = parent
        && !access_covers(p.access, access)
    {
        c.hint(
            &t.access,
            format!("{here}.access"),
            format!(
                "{} is more than the parent token '{}' grants ({})",
                access.as_str(),
                sanitize(&clip(&p.name)),
                p.access.as_str()
            ),
            "a temporary credential cannot exceed its parent: ask for less, or raise the parent's access",
        );
    }
}

/// A temporary credential's output never carries an API token: it has none.
fn no_api_token(c: &mut Collector, t: &RawTemporary, here: &str) {
    if let Some(flag) = &t.output.value.include_api_token
        && flag.value
    {
        c.hint(
            flag,
            format!("{here}.output.include_api_token"),
            "a temporary credential has no Cloudflare API token to include",
            "remove include_api_token; the parent token's own output can carry it",
        );
    }
}

/// The parent's policy must reach the bucket: named buckets list it; `["*"]` and admin
/// tokens reach every bucket of the account.
fn parent_covers_bucket(
    c: &mut Collector,
    parent: &TokenSpec,
    bucket: &Sp<String>,
    declared: Option<&BucketSpec>,
    path: &str,
    parent_sp: &Sp<String>,
) {
    let TokenScope::Buckets(names) = &parent.scope else {
        return;
    };
    if names.contains(&bucket.value) {
        return;
    }
    let hint = if declared.is_some() {
        format!(
            "add '{}' to the buckets of token '{}' (line {}), or pick one of its buckets",
            sanitize(&clip(&bucket.value)),
            sanitize(&clip(&parent.name)),
            parent_sp.line
        )
    } else {
        "a temporary credential reaches only a bucket its parent covers; declare the bucket and add it to the parent's buckets".to_string()
    };
    c.hint(
        bucket,
        path,
        format!(
            "the parent token '{}' does not cover bucket '{}' (it covers: {})",
            sanitize(&clip(&parent.name)),
            sanitize(&clip(&bucket.value)),
            names.join(", ")
        ),
        hint,
    );
}

/// Sorted, deduplicated paths; `None` in the file is an empty list (no restriction).
fn key_paths(
    c: &mut Collector,
    raw: Option<&Sp<Vec<Sp<KeyPath>>>>,
    here: &str,
    field: &str,
    what: &str,
) -> Vec<String> {
    let Some(list) = raw else {
        return Vec::new();
    };
    let path = format!("{here}.{field}");
    if list.value.is_empty() {
        c.hint(
            list,
            &path,
            format!("{field} is empty"),
            "list at least one, or remove the line: without prefixes and objects the credential covers the whole bucket",
        );
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (j, entry) in list.value.iter().enumerate() {
        let p = &entry.value.0;
        let entry_path = format!("{path}[{j}]");
        let shown = sanitize(&clip(p));
        if p.is_empty() {
            c.hint(
                entry,
                &entry_path,
                format!("{what} must not be empty"),
                "an empty prefix is the whole bucket; remove the entry (and the list) for that",
            );
        } else if p.starts_with('/') {
            c.hint(
                entry,
                &entry_path,
                format!("{what} '{shown}' starts with '/'"),
                format!(
                    "object keys have no leading slash: write '{}'",
                    sanitize(&clip(p.trim_start_matches('/')))
                ),
            );
        } else if p.chars().any(char::is_control) {
            c.at(
                entry,
                &entry_path,
                format!("{what} '{shown}' contains a control character"),
            );
        } else if !seen.insert(p.as_str()) {
            c.at(
                entry,
                &entry_path,
                format!("{what} '{shown}' is listed twice"),
            );
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out
}

/// How the operator lowers the cadence bounds (never the file).
const LOWER_WITH_FLAG: &str =
    "the operator of the daemon may allow less with --min-temporary-ttl (at least 1m)";

fn ttl(
    c: &mut Collector,
    raw: &Sp<String>,
    path: &str,
    limits: &OperatorLimits,
) -> Option<Duration> {
    let shown = sanitize(&clip(&raw.value));
    match parse_duration(raw.value.trim()) {
        None => {
            c.hint(
                raw,
                path,
                format!("'{shown}' is not a duration"),
                "a whole number and a unit: s, m, h or d (e.g. 12h, 7d)",
            );
            None
        }
        Some(d) if d > MAX_TEMPORARY_TTL => {
            c.hint(
                raw,
                path,
                format!("ttl '{shown}' is longer than 7d"),
                "Cloudflare issues temporary credentials for at most 7 days (ttlSeconds 604800)",
            );
            None
        }
        Some(d) if d < limits.min_temporary_ttl.max(MIN_TEMPORARY_TTL) => {
            let min = short_duration(limits.min_temporary_ttl.max(MIN_TEMPORARY_TTL));
            let hint = if limits.min_temporary_ttl > MIN_TEMPORARY_TTL {
                format!(
                    "each renewal is an API call from the Cloudflare budget every other client of the account's user shares; {LOWER_WITH_FLAG}"
                )
            } else {
                "a credential renewed every few seconds only churns its file; use 1m or more".into()
            };
            c.hint(
                raw,
                path,
                format!("ttl '{shown}' is shorter than {min}"),
                hint,
            );
            None
        }
        Some(d) => Some(d),
    }
}

fn refresh_before(
    c: &mut Collector,
    raw: Option<&Sp<String>>,
    ttl: Option<Duration>,
    ttl_sp: &Sp<String>,
    path: &str,
    limits: &OperatorLimits,
) -> Option<Duration> {
    let Some(raw) = raw else {
        return ttl.map(|t| Duration::from_secs(t.as_secs() / 3));
    };
    let shown = sanitize(&clip(&raw.value));
    let d = match parse_duration(raw.value.trim()) {
        Some(d) => d,
        None => {
            c.hint(
                raw,
                path,
                format!("'{shown}' is not a duration"),
                "a whole number and a unit: s, m, h or d (e.g. 4h); the default is ttl/3",
            );
            return None;
        }
    };
    if d.is_zero() {
        c.hint(
            raw,
            path,
            "refresh_before must be more than 0",
            "with 0 the credential would be renewed only once it has expired; the default is ttl/3",
        );
        return None;
    }
    let ttl = ttl?;
    if d >= ttl {
        c.hint(
            raw,
            path,
            format!(
                "refresh_before '{shown}' is not less than ttl '{}'",
                sanitize(&clip(&ttl_sp.value))
            ),
            format!(
                "renewal happens refresh_before ahead of expiry, so it must leave part of the ttl: e.g. {} (ttl/3, the default)",
                short_duration(Duration::from_secs(ttl.as_secs() / 3))
            ),
        );
        return None;
    }
    // 60 credentials with ttl 1m and refresh_before 59s drove 3-4 times Cloudflare's limit.
    let every = ttl - d;
    let min = limits.min_renewal_interval();
    if every < min {
        c.hint(
            raw,
            path,
            format!(
                "refresh_before '{shown}' renews every {} (ttl {} - refresh_before), more often than every {}",
                short_duration(every),
                sanitize(&clip(&ttl_sp.value)),
                short_duration(min)
            ),
            format!(
                "each renewal is an API call; use at most {} (or leave it out: ttl/3), or a longer ttl; {LOWER_WITH_FLAG}",
                short_duration(ttl - min)
            ),
        );
        return None;
    }
    Some(d)
}

#[cfg(test)]
mod tests;
