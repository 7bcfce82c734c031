//! One step in words: its line (`+ create bucket media (default)`), the lines under it
//! (the restrictions of a new key, the default lifecycle rule a PUT removes) and the phrases
//! both the text and the JSON reuse (why a token rotates, what a configuration write
//! changes). Pure.

use std::path::Path;
use std::time::Duration;

use crate::config::model::temporary::short_duration;
use crate::config::{Access, LocationHint, Owner, StorageClass, TemporaryScope};
use crate::plan::{BucketRef, ConfigWrite, IssueReason, QueueWrite, RollReason, Step, timestamp};

/// One line per change, as `terraform plan` would show it (without the leading indent).
pub fn step_line(step: &Step) -> String {
    match step {
        Step::CreateBucket {
            bucket,
            location_hint,
            storage_class,
            ..
        } => create_bucket_line(bucket, location_hint.as_ref(), storage_class),
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
        } => notifications_line(bucket, write, changes),
        Step::CreateToken {
            token,
            owner,
            buckets,
            output,
            access,
            ..
        } => create_token_line(token, owner, access, buckets, output),
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
        } => rotate_line(token, old_id, reason, *overlap, *revoke_old, *rotate_every),
        Step::RetireToken { token, id, .. } => {
            format!(
                "- retire token {token} {} (overlap ended)",
                crate::plan::id8(id)
            )
        }
        Step::IssueTemporary {
            name,
            scope,
            reason,
            ..
        } => issue_line(name, scope, reason),
    }
}

/// `+ create bucket NAME (jurisdiction, location hint, storage class)`, the last two only
/// when set.
fn create_bucket_line(
    bucket: &BucketRef,
    location_hint: Option<&LocationHint>,
    storage_class: &StorageClass,
) -> String {
    let mut attrs = vec![bucket.jurisdiction.as_str().to_string()];
    if let Some(l) = location_hint {
        attrs.push(l.as_str().to_string());
    }
    if *storage_class != StorageClass::Standard {
        attrs.push(storage_class.as_str().to_string());
    }
    format!("+ create bucket {} ({})", bucket.name, attrs.join(", "))
}

fn notifications_line(bucket: &BucketRef, write: &QueueWrite, changes: &[String]) -> String {
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

/// `+ create token NAME (access on buckets, user-owned) -> output file`.
fn create_token_line(
    token: &str,
    owner: &Owner,
    access: &Access,
    buckets: &[BucketRef],
    output: &Path,
) -> String {
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
    let owner = if *owner == Owner::User {
        ", user-owned"
    } else {
        ""
    };
    format!(
        "+ create token {token} ({access}{on}{owner}) -> {}",
        output.display()
    )
}

/// `± rotate token NAME: why; new key issued, old key …` and when the old key goes.
fn rotate_line(
    token: &str,
    old_id: &str,
    reason: &RollReason,
    overlap: Duration,
    revoke_old: bool,
    rotate_every: Option<Duration>,
) -> String {
    let why = rotate_reason(reason, rotate_every);
    let old = crate::plan::id8(old_id);
    if revoke_old {
        format!(
            "± rotate token {token}: {why}; new key issued, old key {old} deleted once the new output is written (--revoke-old)"
        )
    } else {
        format!(
            "± rotate token {token}: {why}; new key issued, old key {old} retired after {} overlap",
            short_duration(overlap)
        )
    }
}

fn issue_line(name: &str, scope: &TemporaryScope, reason: &IssueReason) -> String {
    let line = format!(
        "+ issue temporary {name} ({})",
        crate::plan::temporary::scope_clause(scope)
    );
    // The line of a first issue is the issue's own; every other says why.
    match reason {
        IssueReason::Unrecorded => line,
        r => format!("{line}: {}", r.describe()),
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
