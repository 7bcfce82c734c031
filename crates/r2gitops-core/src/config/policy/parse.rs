//! A policy file's bytes to a `Policy`: the same two stages as the desired-state file (the
//! typed serde pass, and on failure the located tree against the policy's schema, so that
//! every unknown key and wrong type is reported at once), then the values: durations,
//! globs, recipients and zones, each problem with its line and column. Pure: `load` reads.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::raw::{self, RawPolicy};
use super::{Policy, Set, glob};
use crate::config::diagnostic::{Capped, Diagnostic, Diagnostics};
use crate::config::parse_duration;
use crate::config::raw::Sp;
use crate::config::shape::{self, clip};
use crate::config::validate::{self, Violation, hostname_problem};
use crate::config::yaml::{self, sanitize};

/// Parse a policy. `file` is how the operator named it (diagnostics and messages cite it).
pub fn parse(bytes: &[u8], file: &str) -> Result<Policy, Diagnostics> {
    let one = |e: yaml::ParseError| {
        Diagnostics::one(Diagnostic {
            file: file.to_string(),
            line: e.line,
            column: e.column,
            path: String::new(),
            message: e.message,
            hint: e.hint,
        })
    };
    let text = yaml::decode(bytes).map_err(one)?;
    const EMPTY: &str = "a policy that bounds nothing is `version: 1` alone; an empty file is refused, as a truncated one would be";
    let parsed = serde_saphyr::from_str_with_options::<Option<RawPolicy>>(text, yaml::options());
    let raw: RawPolicy = match parsed {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            return Err(Diagnostics::one(Diagnostic {
                file: file.to_string(),
                line: 1,
                column: 1,
                path: String::new(),
                message: "the file is empty".into(),
                hint: Some(EMPTY.into()),
            }));
        }
        Err(e) => {
            return Err(shape::diagnose(text, file, e, raw::json_schema(), EMPTY));
        }
    };
    let mut c = Capped::default();
    let mut policy = values(&mut c, &raw);
    if !c.is_empty() {
        let (list, omitted) = c.into_parts();
        return Err(Diagnostics::sorted(
            list.into_iter()
                .map(|v: Violation| Diagnostic {
                    file: file.to_string(),
                    line: v.line,
                    column: v.column,
                    path: v.path,
                    message: v.message,
                    hint: v.hint,
                })
                .collect(),
            omitted,
        ));
    }
    policy.file = file.to_string();
    policy.sha256 = hex::encode(Sha256::digest(bytes));
    Ok(policy)
}

fn problem<T>(
    c: &mut Capped<Violation>,
    at: &Sp<T>,
    path: &str,
    message: String,
    hint: Option<&str>,
) {
    c.push(Violation {
        line: at.line,
        column: at.column,
        path: path.to_string(),
        message,
        hint: hint.map(str::to_string),
    });
}

fn set<T, U>(sp: &Sp<T>, value: U) -> Set<U> {
    Set {
        value,
        line: sp.line,
        column: sp.column,
    }
}

/// A duration bound: `90d`, `12h`, `15m`; more than zero.
fn duration(
    c: &mut Capped<Violation>,
    raw: Option<&Sp<String>>,
    path: &str,
) -> Option<Set<Duration>> {
    let raw = raw?;
    match parse_duration(raw.value.trim()) {
        Some(d) if !d.is_zero() => Some(set(raw, d)),
        Some(_) => {
            problem(c, raw, path, format!("{path} must be more than 0"), None);
            None
        }
        None => {
            problem(
                c,
                raw,
                path,
                format!("'{}' is not a duration", sanitize(&clip(&raw.value))),
                Some("a number and a unit: s, m, h or d (90d, 12h, 15m)"),
            );
            None
        }
    }
}

/// `true` of a flag that bounds when it is `want`, as a `Set<()>`.
fn flag(raw: Option<&Sp<bool>>, want: bool) -> Option<Set<()>> {
    raw.filter(|b| b.value == want).map(|b| set(b, ()))
}

fn values(c: &mut Capped<Violation>, raw: &RawPolicy) -> Policy {
    if let Some(v) = &raw.version
        && v.value != 1
    {
        problem(
            c,
            v,
            "version",
            format!("unsupported version {}", v.value),
            Some("this release of r2gitops reads policy version: 1"),
        );
    }
    let mut policy = Policy::default();
    if let Some(t) = &raw.tokens {
        let t = &t.value;
        policy.access = t.access.as_ref().map(|list| {
            let mut levels: Vec<crate::config::Access> = Vec::new();
            for a in &list.value {
                let a = a.value.into();
                if !levels.contains(&a) {
                    levels.push(a);
                }
            }
            set(list, levels)
        });
        policy.max_validity = duration(c, t.max_validity.as_ref(), "tokens.max_validity");
        policy.max_rotate_every =
            duration(c, t.max_rotate_every.as_ref(), "tokens.max_rotate_every");
        if let Some(every) = &policy.max_rotate_every
            && every.value < validate::MIN_ROTATION
        {
            let raw = t.max_rotate_every.as_ref().expect("parsed from it");
            problem(
                c,
                raw,
                "tokens.max_rotate_every",
                format!(
                    "max_rotate_every {} is below the shortest rotate_every a file can declare (1h): no token could pass",
                    sanitize(&clip(raw.value.trim()))
                ),
                None,
            );
        }
        policy.require_ip_rules = flag(t.require_ip_rules.as_ref(), true);
    }
    if let Some(r) = &raw.recipients
        && let Some(list) = &r.value.allow
    {
        let mut keys = Vec::new();
        for (i, key) in list.value.iter().enumerate() {
            let path = format!("recipients.allow[{i}]");
            let text = key.value.trim();
            match validate::parse_recipient(text) {
                Ok(()) => keys.push(text.to_string()),
                Err((message, hint)) => c.push(Violation {
                    line: key.line,
                    column: key.column,
                    path,
                    message,
                    hint,
                }),
            }
        }
        policy.recipients = Some(set(list, keys));
    }
    if let Some(b) = &raw.buckets {
        let b = &b.value;
        policy.bucket_names = b.names.as_ref().map(|list| {
            let mut globs = Vec::new();
            for (i, g) in list.value.iter().enumerate() {
                match glob::problem(&g.value) {
                    None => globs.push(g.value.clone()),
                    Some(why) => problem(c, g, &format!("buckets.names[{i}]"), why, None),
                }
            }
            set(list, globs)
        });
        policy.no_public_dev_url = flag(b.public_dev_url.as_ref(), false);
        policy.custom_domain_zones = b.custom_domain_zones.as_ref().map(|list| {
            let mut zones = Vec::new();
            for (i, z) in list.value.iter().enumerate() {
                let path = format!("buckets.custom_domain_zones[{i}]");
                let text = z.value.trim();
                let id = text.len() == 32
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if id {
                    zones.push(text.to_string());
                } else if hostname_problem(text).is_none() {
                    zones.push(validate::canonical_domain(text));
                } else {
                    problem(
                        c,
                        z,
                        &path,
                        format!(
                            "'{}' is neither a zone name nor a zone id",
                            sanitize(&clip(&z.value))
                        ),
                        Some("write the zone's name (example.com) or its 32-hex id, lowercase, as files name zones"),
                    );
                }
            }
            set(list, zones)
        });
        policy.no_bucket_deletes = flag(b.delete.as_ref(), false);
    }
    if let Some(t) = &raw.temporary_credentials {
        let t = &t.value;
        policy.temporary_max = t.max.as_ref().map(|m| set(m, m.value));
        policy.temporary_min_ttl = duration(c, t.min_ttl.as_ref(), "temporary_credentials.min_ttl");
    }
    if let Some(a) = &raw.api {
        policy.max_calls_per_hour = a.value.max_calls_per_hour.as_ref().map(|m| set(m, m.value));
    }
    policy
}
