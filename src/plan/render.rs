//! How a plan is shown: terraform-like text, versioned JSON for tools, Markdown for CI job
//! summaries. Pure. A plan holds no secret, so nothing here can print one.
//!
//! Names in a plan come from Cloudflare too (a token's name, a rule's id, a domain's status)
//! and may hold anything. Text and Markdown pass every line through `escape` where they are
//! assembled (`text`, `markdown`), never per call site: a newline in a name cannot end a line
//! and fake another, and a backtick cannot close a Markdown code span. JSON needs no more
//! than serde's escaping.

use std::borrow::Cow;

use serde_json::{Value, json};

pub use crate::config::yaml::is_hidden;

use super::{Plan, RollReason, Step, Summary, timestamp};
use crate::config::model::temporary::short_duration;
use crate::plan::ConfigWrite;

/// Version of the JSON document; bumped only on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// `s` as a line of a text or Markdown plan may show it: control characters, line and
/// paragraph separators and bidirectional formatting characters as `\n`, `\u{202e}`…
/// (what `char::escape_default` writes), and a backtick as `\u{60}` (a backslash does not
/// escape inside a Markdown code span: only another character keeps it closed). Everything
/// else, and so every line r2gitops itself writes, is unchanged.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '`' || is_hidden(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '`' {
            out.extend(c.escape_unicode());
        } else if is_hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line per change, as `terraform plan` would show it (without the leading indent).
pub fn step_line(step: &Step) -> String {
    match step {
        Step::CreateBucket {
            bucket,
            location_hint,
            storage_class,
            ..
        } => {
            let mut attrs = vec![bucket.jurisdiction.as_str().to_string()];
            if let Some(l) = location_hint {
                attrs.push(l.as_str().to_string());
            }
            if *storage_class != crate::config::StorageClass::Standard {
                attrs.push(storage_class.as_str().to_string());
            }
            format!("+ create bucket {} ({})", bucket.name, attrs.join(", "))
        }
        Step::UpdateBucket { bucket, from, to } => format!(
            "~ update bucket {}: storage class {} -> {}",
            bucket.name,
            from.as_str(),
            to.as_str()
        ),
        Step::DeleteBucket { bucket } => format!(
            "- delete bucket {} ({}): no longer declared (prune, not protected)",
            bucket.name,
            bucket.jurisdiction.as_str()
        ),
        Step::ConfigureBucket { bucket, .. } => {
            format!("~ update bucket {}: {}", bucket.name, config_change(step))
        }
        Step::ConfigureDomain {
            bucket, changes, ..
        } => format!(
            "~ update bucket {}: custom_domains {}",
            bucket.name,
            changes.join(" ")
        ),
        Step::ConfigureNotifications {
            bucket,
            write,
            changes,
        } => {
            let mut line = format!(
                "~ update bucket {}: notifications {} {}",
                bucket.name,
                write.queue_name,
                changes.join(" ")
            );
            if write.rules.is_empty() {
                line.push_str(" (every rule of the queue removed)");
            } else if write.clear_first {
                line.push_str(&format!(
                    " (its rules deleted, then {} put)",
                    rule_count(write.rules.len())
                ));
            }
            line
        }
        Step::CreateToken {
            token,
            owner,
            buckets,
            output,
            access,
            ..
        } => {
            let on = if buckets.is_empty() {
                String::new()
            } else {
                format!(
                    " on {}",
                    buckets
                        .iter()
                        .map(|b| b.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let access = access.as_str();
            let owner = if *owner == crate::config::Owner::User {
                ", user-owned"
            } else {
                ""
            };
            format!(
                "+ create token {token} ({access}{on}{owner}) -> {}",
                output.display()
            )
        }
        Step::UpdateToken {
            token,
            changes,
            fallback,
            ..
        } => {
            let mut line = format!("~ update token {token}: {}", changes.join(", "));
            if let Some(f) = fallback {
                line.push_str(&format!(" ({})", f.fallback_clause()));
            }
            line
        }
        Step::ReplaceToken { token, reason, .. } => {
            format!("± replace token {token}: {}", reason.describe())
        }
        Step::RollToken {
            token,
            id,
            reason: reason @ RollReason::Adopted,
            ..
        } => format!("↻ adopt token {token} ({id}): {}", reason.describe()),
        Step::RollToken { token, reason, .. } => {
            format!("↻ roll token {token}: {}", reason.describe())
        }
        Step::DeleteToken {
            token, id, reason, ..
        } => format!("- delete token {token} ({id}): {}", reason.describe()),
        Step::RotateToken {
            token,
            old_id,
            reason,
            overlap,
            revoke_old,
            rotate_every,
            ..
        } => {
            let why = rotate_reason(reason, *rotate_every);
            let old = super::id8(old_id);
            if *revoke_old {
                format!(
                    "± rotate token {token}: {why}; new key issued, old key {old} deleted once the new output is written (--revoke-old)"
                )
            } else {
                format!(
                    "± rotate token {token}: {why}; new key issued, old key {old} retired after {} overlap",
                    short_duration(*overlap)
                )
            }
        }
        Step::RetireToken { token, id, .. } => {
            format!("- retire token {token} {} (overlap ended)", super::id8(id))
        }
        Step::IssueTemporary {
            name,
            scope,
            reason,
            ..
        } => {
            let line = format!(
                "+ issue temporary {name} ({})",
                super::temporary::scope_clause(scope)
            );
            // The line of a first issue is the issue's own; every other says why.
            match reason {
                super::IssueReason::Unrecorded => line,
                r => format!("{line}: {}", r.describe()),
            }
        }
    }
}

/// Why a token is rotated, in the words of a rotation: its old value keeps working, so the
/// roll's warnings ("any secret in use stops working") do not apply.
pub fn rotate_reason(reason: &RollReason, rotate_every: Option<std::time::Duration>) -> String {
    match (reason, rotate_every) {
        (RollReason::Rotation { .. }, Some(every)) => {
            format!("rotate_every {} elapsed", short_duration(every))
        }
        (RollReason::OutputUnrecorded, _) => {
            "no record of its output (a new or lost inventory, or an interrupted write)".into()
        }
        (RollReason::Adopted, _) => "adopted without its value".into(),
        (r, _) => r.describe(),
    }
}

/// What a `ConfigureBucket` step changes, after `update bucket NAME: `:
/// `cors +web -legacy`, `lifecycle expire-tmp 7d→3d`, `lock contracts 365d→30d ! loosens
/// retention`, `public_dev_url false→true (bucket becomes public at https://….r2.dev)`.
pub fn config_change(step: &Step) -> String {
    let Step::ConfigureBucket {
        write,
        changes,
        loosens,
        removes_default_rule,
        public_url,
        ..
    } = step
    else {
        return String::new();
    };
    let mut line = write.kind().key().to_string();
    if !changes.is_empty() {
        line.push(' ');
        line.push_str(&changes.join(" "));
    } else if *removes_default_rule {
        line.push_str(" without Cloudflare's default rule");
    }
    let turns_public = matches!(write, ConfigWrite::Put(v) if v.makes_public());
    if turns_public {
        match public_url {
            Some(url) => line.push_str(&format!(" (bucket becomes public at {url})")),
            None => line.push_str(" (bucket becomes public at its r2.dev address)"),
        }
    }
    if !loosens.is_empty() {
        line.push_str(" ! loosens retention");
    }
    line
}

fn rule_count(n: usize) -> String {
    if n == 1 {
        "1 rule".into()
    } else {
        format!("{n} rules")
    }
}

/// What a plan and `/status` say of a degraded domain answer (TF #7046).
pub const DEGRADED_ANSWER: &str = "degraded answer: Cloudflare's certificate backend did not answer, so min_tls and the zone name are unknown and not compared";

/// A custom domain's status line (`· custom domain assets.example.com (bucket media):
/// ownership pending, ssl initializing`): information, shown while it is not active.
pub fn domain_line(d: &super::DomainInfo) -> String {
    let disabled = if d.enabled { "" } else { ", disabled" };
    let degraded = if d.status.degraded() {
        format!(" ({DEGRADED_ANSWER})")
    } else {
        String::new()
    };
    format!(
        "· custom domain {} (bucket {}): ownership {}, ssl {}{disabled}{degraded}",
        d.domain, d.bucket.name, d.status.ownership, d.status.ssl
    )
}

/// A custom domain's status as JSON (the plan's `custom_domains`, the daemon's `/status`);
/// a degraded answer carries `"degraded": true` and a `note` saying so.
pub fn domain_json(d: &super::DomainInfo) -> Value {
    let mut v = json!({
        "bucket": d.bucket.name,
        "jurisdiction": d.bucket.jurisdiction.as_str(),
        "domain": d.domain,
        "enabled": d.enabled,
        "ownership": d.status.ownership,
        "ssl": d.status.ssl,
    });
    if d.status.degraded() {
        v["degraded"] = json!(true);
        v["note"] = json!(DEGRADED_ANSWER);
    }
    v
}

/// Lines under a step's line that say more than fits on it: the default lifecycle rule a
/// PUT removes; the restrictions of a token about to be created (a reviewer must see
/// everything it will be allowed to do).
pub fn step_details(step: &Step) -> Vec<String> {
    match step {
        Step::ConfigureBucket {
            removes_default_rule: true,
            ..
        } => vec![format!(
            "- lifecycle rule \"{}\" (Cloudflare's default)",
            crate::config::DEFAULT_LIFECYCLE_RULE_ID
        )],
        Step::CreateToken {
            request,
            rotate_every,
            ..
        }
        | Step::ReplaceToken {
            request,
            rotate_every,
            ..
        }
        | Step::RotateToken {
            request,
            rotate_every,
            ..
        } => restriction_lines(request, *rotate_every),
        _ => Vec::new(),
    }
}

/// A new token's restrictions, one per line, under the file's key names.
fn restriction_lines(
    request: &crate::observed::TokenRequest,
    rotate_every: Option<std::time::Duration>,
) -> Vec<String> {
    let nets = |n: &[ipnet::IpNet]| {
        n.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = Vec::new();
    if !request.condition.allow.is_empty() {
        lines.push(format!("ip allow: {}", nets(&request.condition.allow)));
    }
    if !request.condition.deny.is_empty() {
        lines.push(format!("ip deny: {}", nets(&request.condition.deny)));
    }
    if let Some(t) = request.not_before {
        lines.push(format!("not_before: {}", timestamp(t)));
    }
    if let Some(t) = request.expires_on {
        lines.push(format!("expires_on: {}", timestamp(t)));
    }
    if let Some(every) = rotate_every {
        lines.push(format!(
            "rotate_every: {}",
            crate::config::model::temporary::short_duration(every)
        ));
    }
    lines
}

/// The same restrictions as JSON members of a create or replace.
fn restriction_json(
    v: &mut Value,
    request: &crate::observed::TokenRequest,
    rotate_every: Option<std::time::Duration>,
) {
    let nets = |n: &[ipnet::IpNet]| n.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    v["ip"] = json!({
        "allow": nets(&request.condition.allow),
        "deny": nets(&request.condition.deny),
    });
    v["not_before"] = json!(request.not_before.map(timestamp));
    v["expires_on"] = json!(request.expires_on.map(timestamp));
    v["rotate_every_seconds"] = json!(rotate_every.map(|d| d.as_secs()));
}

/// A rotated token's old key in its overlap:
/// `= token reader: old key 1a2b3c4d retires at 2026-12-01T12:00:00Z (in 20m)`.
pub fn retiring_line(r: &super::RetiringKey) -> String {
    format!(
        "= token {}: old key {} retires at {} (in {})",
        r.token,
        super::id8(&r.id),
        timestamp(r.retire_at),
        crate::config::model::temporary::human_duration(r.remaining)
    )
}

/// A retiring key as JSON (the plan's `retiring`, the daemon's `/status`).
pub fn retiring_json(r: &super::RetiringKey) -> Value {
    json!({
        "token": r.token,
        "id": r.id,
        "retire_at": timestamp(r.retire_at),
        "retires_in_seconds": r.remaining.as_secs(),
        "line": retiring_line(r),
    })
}

/// A token's next scheduled rotation as JSON (the plan's `rotations`, the daemon's
/// `/status`).
pub fn rotation_json(r: &super::NextRotation) -> Value {
    json!({
        "token": r.token,
        "id": r.id,
        "rotate_every_seconds": r.every.as_secs(),
        "next_rotation": timestamp(r.due),
    })
}

fn summary_line(s: &Summary) -> String {
    let mut tail = Vec::new();
    if s.blocked > 0 {
        tail.push(format!("{} blocked", s.blocked));
    }
    if s.orphans > 0 {
        tail.push(format!(
            "{} orphan{}",
            s.orphans,
            if s.orphans == 1 { "" } else { "s" }
        ));
    }
    tail.push(format!("{} unchanged", s.unchanged));
    if s.create + s.update + s.roll + s.replace + s.rotate + s.retire + s.delete + s.issue == 0 {
        if s.blocked > 0 {
            // Nothing to apply, yet the file and Cloudflare differ: never "in sync".
            return format!(
                "No changes can be applied, but Cloudflare does not match the file: {}.",
                tail.join(", ")
            );
        }
        return format!("No changes. {}.", tail.join(", "));
    }
    // "to replace" appears only when there is one, so that the common line keeps its form.
    let replace = if s.replace > 0 {
        format!(" {} to replace,", s.replace)
    } else {
        String::new()
    };
    let rotate = if s.rotate > 0 {
        format!(" {} to rotate,", s.rotate)
    } else {
        String::new()
    };
    let retire = if s.retire > 0 {
        format!(" {} to retire,", s.retire)
    } else {
        String::new()
    };
    let issue = if s.issue > 0 {
        format!(" {} to issue,", s.issue)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to create, {} to update, {} to roll,{replace}{rotate}{issue}{retire} {} to delete; {}.",
        s.create,
        s.update,
        s.roll,
        s.delete,
        tail.join(", ")
    )
}

/// Every line of the plan body, without header: changes, blocked, orphans, unchanged.
fn body_lines(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for step in &plan.steps {
        lines.push(step_line(step));
        lines.extend(step_details(step).into_iter().map(|d| format!("  {d}")));
    }
    if let Some(p) = plan.publish.as_ref().filter(|p| p.files > 0) {
        lines.push(p.line());
    }
    for b in &plan.blocked {
        lines.push(format!(
            "! blocked {} {}: {}",
            b.kind.as_str(),
            b.name,
            b.reason
        ));
    }
    for o in &plan.orphans {
        lines.push(format!(
            "? orphan {} {} ({}): {}",
            o.kind.as_str(),
            o.name,
            o.detail,
            o.reason
        ));
    }
    if let Some(line) = elsewhere_line(&plan.elsewhere) {
        lines.push(line);
    }
    lines.extend(plan.temporary.iter().map(super::temporary::kept_line));
    // Cloudflare's progress with a domain is information, not drift: shown until it is
    // active (every one is in the JSON).
    lines.extend(
        plan.domains
            .iter()
            .filter(|d| !d.status.active())
            .map(domain_line),
    );
    lines.extend(plan.retiring.iter().map(retiring_line));
    // Kept temporary credentials have their own lines above; the rest are counted.
    let others = plan.unchanged.saturating_sub(plan.temporary.len());
    if others > 0 {
        lines.push(format!("= {others} unchanged"));
    }
    lines
}

/// One line for the tokens managed elsewhere: seen, never touched (their ids are in the
/// JSON). `· 2 tokens managed elsewhere (…), never touched: r2gitops:a, r2gitops:b`.
pub fn elsewhere_line(elsewhere: &[super::Orphan]) -> Option<String> {
    const SHOWN: usize = 5;
    let (first, rest) = match elsewhere.len() {
        0 => return None,
        n => (&elsewhere[..n.min(SHOWN)], n.saturating_sub(SHOWN)),
    };
    let mut names: Vec<String> = first.iter().map(|o| o.name.clone()).collect();
    if rest > 0 {
        names.push(format!("and {rest} more"));
    }
    Some(format!(
        "· {} managed elsewhere (named with the prefix, but neither declared here nor in this file's inventory: another file's, or a lost inventory's), never touched: {}",
        if elsewhere.len() == 1 {
            "1 token".to_string()
        } else {
            format!("{} tokens", elsewhere.len())
        },
        names.join(", ")
    ))
}

fn notes(plan: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    if plan.skip_outputs {
        notes.push(
            "Output files were not examined (--skip-outputs): rolls and temporary credentials are not planned."
                .to_string(),
        );
    }
    if let Some(r) = &plan.refused {
        notes.push(format!("Refused: {r}."));
    }
    notes
}

/// The plan as text. `title` names the file and account, e.g. `r2gitops.yaml`.
pub fn text(plan: &Plan, title: &str) -> String {
    let mut out = escape(&format!(
        "r2gitops plan for {title} (account {}):",
        plan.account_id
    ))
    .into_owned();
    out.push('\n');
    for l in body_lines(plan) {
        out.push_str("  ");
        out.push_str(&escape(&l));
        out.push('\n');
    }
    out.push_str(&summary_line(&plan.summary()));
    out.push('\n');
    out.push_str(&format!("Plan id: {}\n", super::id::plan_id(plan)));
    for n in notes(plan) {
        out.push_str(&escape(&n));
        out.push('\n');
    }
    out
}

/// The plan as Markdown, for CI job summaries (`$GITHUB_STEP_SUMMARY`).
pub fn markdown(plan: &Plan, title: &str) -> String {
    let mut out = format!(
        "### r2gitops plan: `{}`\n\n**{}**\n\nPlan id: `{}`\n\n",
        escape(title),
        summary_line(&plan.summary()),
        super::id::plan_id(plan)
    );
    for n in notes(plan) {
        out.push_str(&format!("> {}\n\n", escape(&n)));
    }
    if !plan.blocked.is_empty() {
        // A CI job summary must not bury what keeps Cloudflare from matching the file.
        out.push_str(&format!(
            "> [!WARNING]\n> {} blocked: Cloudflare cannot be brought to match the file until this is resolved.\n",
            plan.blocked.len()
        ));
        for b in &plan.blocked {
            out.push_str(&format!(
                "> - **{} `{}`**: {}\n",
                b.kind.as_str(),
                escape(&b.name),
                escape(&b.reason)
            ));
        }
        out.push('\n');
    }
    let lines = body_lines(plan);
    if !lines.is_empty() {
        out.push_str("```diff\n");
        for l in lines {
            out.push_str(&escape(&l));
            out.push('\n');
        }
        out.push_str("```\n");
    }
    out
}

/// The plan as JSON (documented in README, versioned by `format_version`).
pub fn json(plan: &Plan, file: &str) -> Value {
    let s = plan.summary();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "file": file,
        "plan_id": super::id::plan_id(plan),
        "account_id": plan.account_id,
        "refused": plan.refused,
        "skip_outputs": plan.skip_outputs,
        "summary": {
            "create": s.create, "update": s.update, "roll": s.roll, "replace": s.replace,
            "rotate": s.rotate, "retire": s.retire, "delete": s.delete, "issue": s.issue,
            "blocked": s.blocked, "orphans": s.orphans, "unchanged": s.unchanged,
        },
        "changes": plan.steps.iter().map(step_json).collect::<Vec<_>>(),
        "blocked": plan.blocked.iter().map(|b| json!({
            "kind": b.kind.as_str(), "name": b.name, "reason": b.reason,
        })).collect::<Vec<_>>(),
        "orphans": plan.orphans.iter().map(|o| json!({
            "kind": o.kind.as_str(), "name": o.name, "detail": o.detail, "reason": o.reason,
        })).collect::<Vec<_>>(),
        "elsewhere": plan.elsewhere.iter().map(|o| json!({
            "kind": o.kind.as_str(), "name": o.name, "id": o.detail, "reason": o.reason,
        })).collect::<Vec<_>>(),
        "custom_domains": plan.domains.iter().map(domain_json).collect::<Vec<_>>(),
        "rotations": plan.rotations.iter().map(rotation_json).collect::<Vec<_>>(),
        "retiring": plan.retiring.iter().map(retiring_json).collect::<Vec<_>>(),
        "publish": plan.publish.as_ref().map(|p| json!({
            "files": p.files, "branch": p.branch, "repository": p.repository, "line": p.line(),
        })),
        "temporary": plan.temporary.iter().map(|k| json!({
            "name": k.name,
            "line": super::temporary::kept_line(k),
            "expires_at": timestamp(k.expires_at),
            "expires_in_seconds": k.expires_in.as_secs(),
            "renew_at": timestamp(k.renew_at),
        })).collect::<Vec<_>>(),
    })
}

pub fn step_json(step: &Step) -> Value {
    let mut v = json!({
        "action": step.action(),
        "kind": step.kind().as_str(),
        "name": step.object_name(),
        "line": step_line(step),
    });
    bucket_fields(&mut v, step);
    token_fields(&mut v, step);
    v
}

/// The fields of a bucket step (create, update, delete, configure).
fn bucket_fields(v: &mut Value, step: &Step) {
    match step {
        Step::CreateBucket {
            bucket,
            location_hint,
            storage_class,
            ..
        } => {
            v["jurisdiction"] = json!(bucket.jurisdiction.as_str());
            v["location_hint"] = json!(location_hint.map(|l| l.as_str()));
            v["storage_class"] = json!(storage_class.as_str());
        }
        Step::UpdateBucket { bucket, from, to } => {
            v["jurisdiction"] = json!(bucket.jurisdiction.as_str());
            v["changes"] = json!([format!(
                "storage class {} -> {}",
                from.as_str(),
                to.as_str()
            )]);
        }
        Step::DeleteBucket { bucket } => {
            v["jurisdiction"] = json!(bucket.jurisdiction.as_str());
            v["reason"] = json!("pruned");
        }
        Step::ConfigureBucket {
            bucket,
            write,
            changes,
            loosens,
            removes_default_rule,
            public_url,
        } => {
            v["jurisdiction"] = json!(bucket.jurisdiction.as_str());
            v["config"] = json!(write.kind().key());
            v["method"] = json!(write.method());
            v["changes"] = json!(changes);
            v["loosens_retention"] = json!(loosens);
            v["removes_default_rule"] = json!(removes_default_rule);
            v["public_url"] = json!(public_url);
            v["details"] = json!(step_details(step));
        }
        Step::ConfigureDomain {
            bucket,
            domain,
            writes,
            changes,
        } => {
            v["jurisdiction"] = json!(bucket.jurisdiction.as_str());
            v["config"] = json!("custom_domains");
            v["domain"] = json!(domain);
            v["methods"] = json!(writes.iter().map(|w| w.method()).collect::<Vec<_>>());
            v["changes"] = json!(changes);
            v["deletion"] = json!(step.deletion_weight() > 0);
        }
        Step::ConfigureNotifications {
            bucket,
            write,
            changes,
        } => {
            let mut methods = Vec::new();
            if write.clear_first {
                methods.push("DELETE");
            }
            if !write.rules.is_empty() {
                methods.push("PUT");
            }
            v["jurisdiction"] = json!(bucket.jurisdiction.as_str());
            v["config"] = json!("notifications");
            v["queue"] = json!(write.queue_name);
            v["queue_id"] = json!(write.queue_id);
            v["methods"] = json!(methods);
            v["rules"] = json!(write.rules.iter().map(|r| r.label()).collect::<Vec<_>>());
            v["changes"] = json!(changes);
            v["deletion"] = json!(step.deletion_weight() > 0);
        }
        _ => {}
    }
}

/// The fields of a token step and of a temporary credential's issue.
fn token_fields(v: &mut Value, step: &Step) {
    match step {
        Step::CreateToken {
            owner,
            output,
            access,
            buckets,
            request,
            rotate_every,
            ..
        } => {
            v["owner"] = json!(owner.as_str());
            v["output"] = json!(output.display().to_string());
            v["access"] = json!(access.as_str());
            v["buckets"] = json!(buckets.iter().map(|b| &b.name).collect::<Vec<_>>());
            restriction_json(v, request, *rotate_every);
        }
        Step::UpdateToken {
            id,
            owner,
            changes,
            fallback,
            ..
        } => {
            v["id"] = json!(id);
            v["owner"] = json!(owner.as_str());
            v["changes"] = json!(changes);
            v["fallback"] = json!(fallback.map(|f| f.kind()));
        }
        Step::ReplaceToken {
            old_id,
            owner,
            output,
            reason,
            access,
            buckets,
            request,
            rotate_every,
            ..
        } => {
            v["id"] = json!(old_id);
            v["owner"] = json!(owner.as_str());
            v["output"] = json!(output.display().to_string());
            v["reason"] = json!(reason.kind());
            v["detail"] = json!(reason.describe());
            v["access"] = json!(access.as_str());
            v["buckets"] = json!(buckets.iter().map(|b| &b.name).collect::<Vec<_>>());
            restriction_json(v, request, *rotate_every);
        }
        Step::RollToken {
            id, owner, reason, ..
        } => {
            v["id"] = json!(id);
            v["owner"] = json!(owner.as_str());
            v["reason"] = json!(reason.kind());
            v["detail"] = json!(reason.describe());
        }
        Step::RotateToken {
            old_id,
            owner,
            output,
            reason,
            access,
            buckets,
            request,
            overlap,
            revoke_old,
            rotate_every,
            ..
        } => {
            v["id"] = json!(old_id);
            v["owner"] = json!(owner.as_str());
            v["output"] = json!(output.display().to_string());
            v["reason"] = json!(reason.kind());
            v["detail"] = json!(rotate_reason(reason, *rotate_every));
            v["access"] = json!(access.as_str());
            v["buckets"] = json!(buckets.iter().map(|b| &b.name).collect::<Vec<_>>());
            v["overlap_seconds"] = json!(if *revoke_old { 0 } else { overlap.as_secs() });
            v["revoke_old"] = json!(revoke_old);
            restriction_json(v, request, *rotate_every);
        }
        Step::RetireToken {
            name,
            id,
            owner,
            retire_at,
            ..
        } => {
            v["id"] = json!(id);
            v["owner"] = json!(owner.as_str());
            v["cloudflare_name"] = json!(name);
            v["retire_at"] = json!(timestamp(*retire_at));
            v["reason"] = json!("overlap_ended");
        }
        Step::DeleteToken {
            name,
            id,
            owner,
            reason,
            ..
        } => {
            v["id"] = json!(id);
            v["owner"] = json!(owner.as_str());
            v["cloudflare_name"] = json!(name);
            v["reason"] = json!(match reason {
                super::DeleteReason::Pruned { .. } => "pruned",
                super::DeleteReason::Duplicate { .. } => "duplicate",
            });
            v["detail"] = json!(reason.describe());
            if let super::DeleteReason::Pruned { output: Some(f) } = reason {
                v["output"] = json!(f.display().to_string());
            }
        }
        Step::IssueTemporary {
            parent,
            scope,
            jurisdiction,
            output,
            reason,
            ..
        } => {
            v["parent"] = json!(parent);
            v["bucket"] = json!(scope.bucket);
            v["jurisdiction"] = json!(jurisdiction.as_str());
            v["access"] = json!(scope.access.as_str());
            v["prefixes"] = json!(scope.prefixes);
            v["objects"] = json!(scope.objects);
            v["ttl_seconds"] = json!(scope.ttl.as_secs());
            v["output"] = json!(output.display().to_string());
            v["reason"] = json!(reason.kind());
            v["detail"] = json!(reason.describe());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Blocked, Kind};

    fn plan() -> Plan {
        Plan {
            account_id: "acct".into(),
            steps: Vec::new(),
            blocked: vec![Blocked {
                kind: Kind::Bucket,
                name: "archive".into(),
                reason: "location is create-only (have enam, want weur)".into(),
            }],
            orphans: Vec::new(),
            elsewhere: Vec::new(),
            unchanged: 3,
            bookkeeping: Vec::new(),
            refused: None,
            skip_outputs: false,
            temporary: Vec::new(),
            domains: Vec::new(),
            rotations: Vec::new(),
            retiring: Vec::new(),
            publish: None,
        }
    }

    #[test]
    fn a_plan_with_only_blocked_items_never_reads_as_in_sync() {
        let p = plan();
        assert!(p.differs() && !p.has_changes());
        let text = text(&p, "r2gitops.yaml");
        assert!(
            text.contains("\nNo changes can be applied, but Cloudflare does not match the file: 1 blocked, 3 unchanged.\nPlan id: "),
            "{text}"
        );
        let md = markdown(&p, "r2gitops.yaml");
        assert!(
            md.contains("> [!WARNING]\n> 1 blocked: Cloudflare cannot be brought to match the file until this is resolved.\n> - **bucket `archive`**: location is create-only (have enam, want weur)\n"),
            "{md}"
        );
        let mut synced = plan();
        synced.blocked.clear();
        assert!(!synced.differs());
        assert!(text_of(&synced).contains("\nNo changes. 3 unchanged.\nPlan id: "));
        assert!(!markdown(&synced, "f").contains("WARNING"));
    }

    #[test]
    fn text_markdown_and_json_carry_the_plan_id() {
        let p = plan();
        let id = crate::plan::id::plan_id(&p);
        let text = text_of(&p);
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("Plan id: "))
                .collect::<Vec<_>>(),
            [format!("Plan id: {id}")],
            "{text}"
        );
        let md = markdown(&p, "f");
        assert!(
            md.starts_with(&format!(
                "### r2gitops plan: `f`\n\n**No changes can be applied, but Cloudflare does not match the file: 1 blocked, 3 unchanged.**\n\nPlan id: `{id}`\n\n"
            )),
            "{md}"
        );
        assert_eq!(json(&p, "f")["plan_id"], serde_json::json!(id));
    }

    fn text_of(p: &Plan) -> String {
        text(p, "f")
    }

    #[test]
    fn escaping_leaves_plain_text_alone_and_shows_what_could_break_a_line() {
        let cases = [
            ("uploader", "uploader"),
            ("name 'a' -> 'r2gitops:b'", "name 'a' -> 'r2gitops:b'"),
            ("caf\u{e9} \u{1f600}", "caf\u{e9} \u{1f600}"),
            ("a\nb", "a\\nb"),
            ("a\r\nb", "a\\r\\nb"),
            ("tab\there", "tab\\there"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            (
                "nel\u{85}ls\u{2028}ps\u{2029}",
                "nel\\u{85}ls\\u{2028}ps\\u{2029}",
            ),
            ("\u{202e}txt.exe", "\\u{202e}txt.exe"),
            ("`code`", "\\u{60}code\\u{60}"),
            ("```", "\\u{60}\\u{60}\\u{60}"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape(raw), shown, "{raw:?}");
        }
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_name_from_cloudflare_cannot_fake_a_plan_line_or_close_a_code_span() {
        let fake =
            "x\n  - delete bucket prod-data (default): no longer declared (prune, not protected)";
        let mut p = plan();
        p.blocked[0].name = "arch`ive\n> - **bucket `prod`**: fine".into();
        p.orphans.push(crate::plan::Orphan {
            kind: Kind::Token,
            name: fake.into(),
            detail: "0123".into(),
            reason: "no longer declared; prune is off, so it is kept".into(),
        });
        p.steps.push(Step::UpdateToken {
            token: "uploader".into(),
            id: "0123".into(),
            owner: crate::config::Owner::Account,
            request: crate::observed::TokenRequest {
                name: "r2gitops:uploader".into(),
                policies: Vec::new(),
                not_before: None,
                expires_on: None,
                condition: Default::default(),
                status: None,
            },
            changes: vec![format!("name '{fake}' -> 'r2gitops:uploader'")],
            buckets: Vec::new(),
            fallback: None,
        });
        let text = text(&p, "r2gitops.yaml");
        let md = markdown(&p, "r2gitops.yaml");
        for out in [&text, &md] {
            assert!(
                !out.lines().any(|l| l.trim_start().starts_with("- delete")),
                "a line was faked:\n{out}"
            );
            assert!(out.contains("x\\n  - delete bucket prod-data"), "{out}");
        }
        // Markdown: one line per item, and the only backticks are the renderer's own.
        let blocked: Vec<&str> = md.lines().filter(|l| l.starts_with("> - **")).collect();
        assert_eq!(
            blocked,
            [
                "> - **bucket `arch\\u{60}ive\\n> - **bucket \\u{60}prod\\u{60}**: fine`**: location is create-only (have enam, want weur)"
            ]
        );
        assert_eq!(
            md.matches("```").count(),
            2,
            "one fence, opened and closed: {md}"
        );
    }

    fn create(ip: (&[&str], &[&str]), times: (bool, bool), every: Option<u64>) -> Step {
        use crate::config::{Access, IpRules, Jurisdiction, Owner};
        use time::macros::datetime;
        let nets = |n: &[&str]| n.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>();
        Step::CreateToken {
            token: "reader".into(),
            owner: Owner::Account,
            access: Access::ObjectRead,
            request: crate::observed::TokenRequest {
                name: "r2gitops:reader".into(),
                policies: Vec::new(),
                not_before: times.0.then_some(datetime!(2026-12-01 00:00 UTC)),
                expires_on: times.1.then_some(datetime!(2027-06-01 12:00 UTC)),
                condition: IpRules {
                    allow: nets(ip.0),
                    deny: nets(ip.1),
                },
                status: None,
            },
            buckets: vec![crate::plan::BucketRef {
                jurisdiction: Jurisdiction::Default,
                name: "media".into(),
            }],
            output: "reader.env.age".into(),
            rotate_every: every.map(std::time::Duration::from_secs),
        }
    }

    #[test]
    fn a_new_tokens_restrictions_are_shown_in_text_markdown_and_json() {
        let line = "+ create token reader (object-read on media) -> reader.env.age";
        let cases: [(Step, &[&str]); 4] = [
            (create((&[], &[]), (false, false), None), &[]),
            (
                create(
                    (&["10.0.0.0/8", "192.168.0.0/16"], &[]),
                    (false, false),
                    None,
                ),
                &["ip allow: 10.0.0.0/8, 192.168.0.0/16"],
            ),
            (
                create((&[], &["10.1.0.0/16"]), (true, false), None),
                &["ip deny: 10.1.0.0/16", "not_before: 2026-12-01T00:00:00Z"],
            ),
            (
                create(
                    (&["10.0.0.0/8"], &["10.1.0.0/16"]),
                    (true, true),
                    Some(90 * 86_400),
                ),
                &[
                    "ip allow: 10.0.0.0/8",
                    "ip deny: 10.1.0.0/16",
                    "not_before: 2026-12-01T00:00:00Z",
                    "expires_on: 2027-06-01T12:00:00Z",
                    "rotate_every: 90d",
                ],
            ),
        ];
        for (step, want) in cases {
            let mut p = plan();
            p.blocked.clear();
            p.steps = vec![step];
            let under: String = want.iter().map(|l| format!("    {l}\n")).collect();
            let t = text_of(&p);
            assert!(
                t.contains(&format!("  {line}\n{under}  = 3 unchanged")),
                "{t}"
            );
            let md = markdown(&p, "f");
            let under: String = want.iter().map(|l| format!("  {l}\n")).collect();
            assert!(
                md.contains(&format!("```diff\n{line}\n{under}= 3 unchanged")),
                "{md}"
            );
            let v = json(&p, "f");
            let c = &v["changes"][0];
            assert_eq!(
                (c["access"].as_str(), &c["buckets"]),
                (Some("object-read"), &serde_json::json!(["media"]))
            );
            let has = |prefix: &str| want.iter().find_map(|l| l.strip_prefix(prefix));
            let listed = |key: &str| {
                c["ip"][key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            assert_eq!(listed("allow"), has("ip allow: ").unwrap_or(""), "{c}");
            assert_eq!(listed("deny"), has("ip deny: ").unwrap_or(""), "{c}");
            assert_eq!(c["not_before"].as_str(), has("not_before: "), "{c}");
            assert_eq!(c["expires_on"].as_str(), has("expires_on: "), "{c}");
            assert_eq!(
                c["rotate_every_seconds"].as_u64(),
                has("rotate_every: ").map(|_| 90 * 86_400),
                "{c}"
            );
        }
    }

    #[test]
    fn the_next_rotation_of_a_kept_token_is_in_the_json() {
        let mut p = plan();
        p.rotations = vec![crate::plan::NextRotation {
            token: "ci".into(),
            id: "3f2a".into(),
            every: std::time::Duration::from_secs(30 * 86_400),
            due: time::macros::datetime!(2027-01-15 08:00 UTC),
        }];
        assert_eq!(
            json(&p, "f")["rotations"],
            serde_json::json!([{
                "token": "ci", "id": "3f2a", "rotate_every_seconds": 2_592_000,
                "next_rotation": "2027-01-15T08:00:00Z",
            }])
        );
    }
}
