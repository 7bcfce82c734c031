//! A valid desired-state file against a `Policy`: every violation at once, each located
//! where the file declares the value (its raw document gives the positions; the validated
//! `Desired` gives what the declarations mean: effective recipients, scopes, the cost) and
//! naming where the policy sets the bound. Pure: `load` hands in the recipients file's text
//! and the time.
//!
//! It runs once the file is otherwise valid, as the rules run once its structure is right:
//! the rules need typed values, and so do these.

use std::time::Duration;

use time::OffsetDateTime;

use super::Policy;
use crate::config::diagnostic::Capped;
use crate::config::model::{Desired, TokenScope};
use crate::config::raw::{RawDoc, RawOutput, Sp};
use crate::config::shape::clip;
use crate::config::validate::Violation;
use crate::config::yaml::sanitize;

/// What the check needs beyond the file and the policy.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The text of `settings.recipients_file`, as validation read it.
    pub recipients_file: Option<&'a str>,
    /// When the file is checked (`expires_on` is bounded from here); `None` skips that.
    pub now: Option<OffsetDateTime>,
    /// The daemon's pass interval, for the projected cost.
    pub interval: Duration,
}

struct Found<'p> {
    policy: &'p Policy,
    list: Capped<Violation>,
}

impl Found<'_> {
    fn at<T>(&mut self, sp: &Sp<T>, path: impl Into<String>, message: String) {
        self.list.push(Violation {
            line: sp.line,
            column: sp.column,
            path: path.into(),
            message,
            hint: Some(format!(
                "{} is the operator's policy (--policy): this file cannot change it",
                self.policy.file
            )),
        });
    }

    /// The recipients of one output: its own are checked where they are written; without
    /// them it uses the defaults (true), checked once where those are written.
    fn output(&mut self, raw: &Sp<RawOutput>, here: &str) -> bool {
        let Some(own) = &raw.value.recipients else {
            return true;
        };
        for (k, r) in own.value.iter().enumerate() {
            if let Some(m) = self.policy.recipient(r.value.0.trim()) {
                self.at(r, format!("{here}.output.recipients[{k}]"), m);
            }
        }
        false
    }
}

/// Every way `desired` (validated from `raw`) steps outside `policy`, capped like the
/// rules' violations. Empty when it passes.
pub fn check(
    policy: &Policy,
    raw: &RawDoc,
    desired: &Desired,
    cx: Context<'_>,
) -> Capped<Violation> {
    let mut f = Found {
        policy,
        list: Capped::default(),
    };
    let mut defaults_used = false;

    let raw_buckets = raw.buckets.as_deref().unwrap_or_default();
    for (i, (rb, b)) in raw_buckets.iter().zip(&desired.buckets).enumerate() {
        let here = format!("buckets[{i}]");
        let v = &rb.value;
        if let Some(m) = policy.bucket_name(&b.name) {
            f.at(&v.name, format!("{here}.name"), m);
        }
        if let Some(p) = &v.public_dev_url
            && let Some(m) = policy.public_dev_url(p.value)
        {
            f.at(p, format!("{here}.public_dev_url"), m);
        }
        if let (Some(raw_list), Some(list)) = (&v.custom_domains, &b.config.custom_domains) {
            for (k, (rd, d)) in raw_list.value.iter().zip(list).enumerate() {
                if let Some(m) = policy.zone(&d.zone) {
                    f.at(
                        &rd.value.zone,
                        format!("{here}.custom_domains[{k}].zone"),
                        m,
                    );
                }
            }
        }
        if let Some(p) = &v.protect
            && let Some(m) = policy.protect(p.value)
        {
            f.at(p, format!("{here}.protect"), m);
        }
    }

    let raw_tokens = raw.tokens.as_deref().unwrap_or_default();
    for (i, (rt, t)) in raw_tokens.iter().zip(&desired.tokens).enumerate() {
        let here = format!("tokens[{i}]");
        let v = &rt.value;
        if let Some(m) = policy.access(t.access) {
            f.at(&v.access, format!("{here}.access"), m);
        }
        match &t.scope {
            TokenScope::Account => {
                if let Some(m) = policy.scope(t.access, &t.scope) {
                    f.at(&v.access, format!("{here}.access"), m);
                }
            }
            TokenScope::AllBuckets => {
                let mut entries = v.buckets.iter().flat_map(|l| l.value.iter().enumerate());
                if let Some((j, entry)) = entries.find(|(_, e)| e.value.0 == "*")
                    && let Some(m) = policy.scope(t.access, &t.scope)
                {
                    f.at(entry, format!("{here}.buckets[{j}]"), m);
                }
            }
            // Each is a declared bucket, checked where it is declared.
            TokenScope::Buckets(_) => {}
        }
        if let Some(m) = policy.expires_on(t.expires_on, cx.now) {
            match &v.expires_on {
                Some(e) => f.at(e, format!("{here}.expires_on"), m),
                None => f.at(rt, format!("{here}.expires_on"), m),
            }
        }
        if let Some(m) = policy.rotate_every(t.rotate_every) {
            match &v.rotate_every {
                Some(e) => f.at(e, format!("{here}.rotate_every"), m),
                None => f.at(rt, format!("{here}.rotate_every"), m),
            }
        }
        if let Some(m) = policy.ip(&t.ip) {
            match &v.ip {
                Some(ip) => f.at(ip, format!("{here}.ip.allow"), m),
                None => f.at(rt, format!("{here}.ip.allow"), m),
            }
        }
        defaults_used |= f.output(&v.output, &here);
    }

    let raw_temporary = raw.temporary_credentials.as_deref().unwrap_or_default();
    if let Some(m) = policy.temporary_count(raw_temporary.len())
        && let Some(max) = &policy.temporary_max
        && let Some(first_over) = raw_temporary.get(max.value as usize)
    {
        f.at(
            &first_over.value.name,
            format!("temporary_credentials[{}]", max.value),
            m,
        );
    }
    for (i, (rt, t)) in raw_temporary
        .iter()
        .zip(&desired.temporary_credentials)
        .enumerate()
    {
        let here = format!("temporary_credentials[{i}]");
        let v = &rt.value;
        if let Some(m) = policy.access(t.scope.access) {
            f.at(&v.access, format!("{here}.access"), m);
        }
        if let Some(m) = policy.bucket_name(&t.scope.bucket) {
            f.at(&v.bucket, format!("{here}.bucket"), m);
        }
        if let Some(m) = policy.ttl(t.scope.ttl) {
            f.at(&v.ttl, format!("{here}.ttl"), m);
        }
        defaults_used |= f.output(&v.output, &here);
    }

    let settings = raw.settings.as_ref().map(|s| &s.value);
    if defaults_used && let Some(s) = settings {
        for (k, r) in s.recipients.iter().flatten().enumerate() {
            if let Some(m) = policy.recipient(r.value.0.trim()) {
                f.at(r, format!("settings.recipients[{k}]"), m);
            }
        }
        if let (Some(file), Some(text)) = (&s.recipients_file, cx.recipients_file) {
            // A committer names this file and it may hold anything: its lines are counted,
            // never quoted (as validation words its problems).
            let name = sanitize(&clip(&file.value));
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Some(m) = policy.recipient_unquoted(line) {
                    f.at(
                        file,
                        "settings.recipients_file",
                        format!("{name} line {}: the recipient there {m}", n + 1),
                    );
                }
            }
        }
    }

    let cost = crate::config::cost::estimate(desired, cx.interval);
    if let Some(m) = policy.cost(&cost) {
        f.at(&raw.version, "", m);
    }
    f.list
}
