//! The plan as versioned JSON for tools (`format_version`), and the JSON of its parts the
//! daemon's `/status` shares (custom domains, retiring keys, next rotations). No escaping
//! beyond serde's is needed.

use serde_json::{Value, json};

use super::JSON_FORMAT_VERSION;
use super::step::{rotate_reason, step_details, step_line};
use super::text::{DEGRADED_ANSWER, retiring_line};
use crate::plan::{Plan, Step, timestamp};

/// The plan as JSON (documented in README, versioned by `format_version`).
pub fn json(plan: &Plan, file: &str) -> Value {
    let s = plan.summary();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "file": file,
        "plan_id": crate::plan::id::plan_id(plan),
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
            "line": crate::plan::temporary::kept_line(k),
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
        Step::CreateToken { .. } => new_key_fields(v, step),
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
        Step::ReplaceToken { old_id, reason, .. } => {
            v["id"] = json!(old_id);
            v["reason"] = json!(reason.kind());
            v["detail"] = json!(reason.describe());
            new_key_fields(v, step);
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
            reason,
            overlap,
            revoke_old,
            rotate_every,
            ..
        } => {
            v["id"] = json!(old_id);
            v["reason"] = json!(reason.kind());
            v["detail"] = json!(rotate_reason(reason, *rotate_every));
            v["overlap_seconds"] = json!(if *revoke_old { 0 } else { overlap.as_secs() });
            v["revoke_old"] = json!(revoke_old);
            new_key_fields(v, step);
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
                crate::plan::DeleteReason::Pruned { .. } => "pruned",
                crate::plan::DeleteReason::Duplicate { .. } => "duplicate",
            });
            v["detail"] = json!(reason.describe());
            if let crate::plan::DeleteReason::Pruned { output: Some(f) } = reason {
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

/// What every step that issues a new key says of it (a create, a replace, a rotation):
/// who owns it, where its output goes, what it may do on which buckets, and its
/// restrictions, so that the three cannot drift apart.
fn new_key_fields(v: &mut Value, step: &Step) {
    let (Step::CreateToken {
        owner,
        output,
        access,
        buckets,
        request,
        rotate_every,
        ..
    }
    | Step::ReplaceToken {
        owner,
        output,
        access,
        buckets,
        request,
        rotate_every,
        ..
    }
    | Step::RotateToken {
        owner,
        output,
        access,
        buckets,
        request,
        rotate_every,
        ..
    }) = step
    else {
        return;
    };
    v["owner"] = json!(owner.as_str());
    v["output"] = json!(output.display().to_string());
    v["access"] = json!(access.as_str());
    v["buckets"] = json!(buckets.iter().map(|b| &b.name).collect::<Vec<_>>());
    restriction_json(v, request, *rotate_every);
}

/// A new key's restrictions as JSON members, under the file's key names.
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

/// A custom domain's status as JSON (the plan's `custom_domains`, the daemon's `/status`);
/// a degraded answer carries `"degraded": true` and a `note` saying so.
pub fn domain_json(d: &crate::plan::DomainInfo) -> Value {
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

/// A retiring key as JSON (the plan's `retiring`, the daemon's `/status`).
pub fn retiring_json(r: &crate::plan::RetiringKey) -> Value {
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
pub fn rotation_json(r: &crate::plan::NextRotation) -> Value {
    json!({
        "token": r.token,
        "id": r.id,
        "rotate_every_seconds": r.every.as_secs(),
        "next_rotation": timestamp(r.due),
    })
}
