//! A bucket's event notification rules (issue 15; R2-CONFIG-NOTES §5; shapes as in
//! cloudflare-python 5.9 `r2.buckets.event_notifications` and wrangler's
//! `r2/helpers/notification.ts`), under `/accounts/{id}/event_notifications/r2/{bucket}`:
//!
//! - GET `/configuration`: `{bucketName, queues: [{queueId, queueName, rules}]}`, queues with
//!   rules only; a rule has `ruleId`, `createdAt`, `actions`, and `prefix`, `suffix`,
//!   `description` when set.
//! - GET `/configuration/queues/{queue_id}`: that queue's rules; 404 (code 11015, the
//!   emulator's) when it has none, as Terraform's read expects.
//! - PUT `/configuration/queues/{queue_id}` `{rules}` ADDS rules, as the live API does
//!   (terraform-provider-cloudflare #6007). A rule that overlaps one the queue holds (a shared
//!   action, one prefix starting the other and one suffix ending the other: cloudflare-docs
//!   #17949 / PR #19130) is refused 409; two overlapping rules in one body 400; both code 11014
//!   (`invalid_r2_event_notification_configuration`, seen live on workers-sdk #6748). An
//!   unknown queue is 404, code 11000. At most 100 rules per bucket.
//! - DELETE `/configuration/queues/{queue_id}`: every rule of the queue, or with
//!   `{ruleIds: [...]}` only those.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::World;
use crate::api::{Reply, bad_request, err, no_bucket, ok};
use crate::state::{random_hex, rfc3339};
use axum::http::{Method, StatusCode};

pub const MAX_RULES: usize = 100;
pub const ACTIONS: [&str; 5] = [
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "CompleteMultipartUpload",
    "LifecycleDeletion",
];

/// One rule as stored.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub created_at: OffsetDateTime,
    pub actions: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub description: Option<String>,
}

impl Rule {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "ruleId": self.id,
            "createdAt": rfc3339(self.created_at),
            "actions": self.actions,
        });
        for (k, f) in [
            ("prefix", &self.prefix),
            ("suffix", &self.suffix),
            ("description", &self.description),
        ] {
            if let Some(x) = f {
                v[k] = json!(x);
            }
        }
        v
    }

    /// Whether one object and action could fire both rules.
    pub fn overlaps(&self, other: &Rule) -> bool {
        let shared = self.actions.iter().any(|a| other.actions.contains(a));
        let (p1, p2) = (
            self.prefix.as_deref().unwrap_or(""),
            other.prefix.as_deref().unwrap_or(""),
        );
        let (s1, s2) = (
            self.suffix.as_deref().unwrap_or(""),
            other.suffix.as_deref().unwrap_or(""),
        );
        shared
            && (p1.starts_with(p2) || p2.starts_with(p1))
            && (s1.ends_with(s2) || s2.ends_with(s1))
    }
}

fn conflict(status: StatusCode, message: &str) -> Reply {
    err(
        status,
        11014,
        &format!("workers.api.error.invalid_r2_event_notification_configuration: {message}"),
    )
}

fn rule(v: &Value, rng: &mut impl rand::Rng) -> Result<Rule, String> {
    let actions: Vec<String> = v
        .get("actions")
        .and_then(Value::as_array)
        .ok_or("actions is required")?
        .iter()
        .map(|a| {
            a.as_str()
                .map(str::to_string)
                .ok_or("actions must be strings")
        })
        .collect::<Result<_, _>>()?;
    if actions.is_empty() {
        return Err("actions must not be empty".into());
    }
    if let Some(a) = actions.iter().find(|a| !ACTIONS.contains(&a.as_str())) {
        return Err(format!("'{a}' is not an R2 action"));
    }
    let mut unique = actions.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != actions.len() {
        return Err("actions must be unique".into());
    }
    let text = |k: &str| -> Result<Option<String>, String> {
        match v.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{k} must be a string")),
        }
    };
    Ok(Rule {
        id: random_hex(rng, 16),
        created_at: OffsetDateTime::now_utc(),
        actions,
        prefix: text("prefix")?,
        suffix: text("suffix")?,
        description: text("description")?,
    })
}

/// Route `configuration[/queues/{queue_id}]` (`rest` follows `configuration`) of bucket
/// `key`.
pub(crate) fn route(
    world: &mut World,
    rng: &mut impl rand::Rng,
    key: (String, String),
    method: &Method,
    rest: &[&str],
    bytes: &[u8],
) -> Reply {
    if !world.buckets.contains_key(&key) {
        return no_bucket();
    }
    let queue_name = |world: &World, id: &str| {
        world
            .queues
            .iter()
            .find(|q| q.id == id)
            .map(|q| q.name.clone())
    };
    match (method.clone(), rest) {
        (Method::GET, []) => {
            let b = &world.buckets[&key];
            let queues: Vec<Value> = b
                .config
                .notifications
                .iter()
                .filter(|(_, rules)| !rules.is_empty())
                .map(|(id, rules)| {
                    json!({
                        "queueId": id,
                        "queueName": queue_name(world, id),
                        "rules": rules.iter().map(Rule::to_json).collect::<Vec<_>>(),
                    })
                })
                .collect();
            ok(json!({"bucketName": key.1, "queues": queues}))
        }
        (Method::GET, ["queues", id]) => match world.buckets[&key].config.notifications.get(*id) {
            Some(rules) if !rules.is_empty() => ok(json!({
                "queueId": id,
                "queueName": queue_name(world, id),
                "rules": rules.iter().map(Rule::to_json).collect::<Vec<_>>(),
            })),
            _ => err(
                StatusCode::NOT_FOUND,
                11015,
                "There is no event notification configuration for this bucket and queue.",
            ),
        },
        (Method::PUT, ["queues", id]) => {
            if queue_name(world, id).is_none() {
                return err(StatusCode::NOT_FOUND, 11000, "Queue does not exist");
            }
            let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
                return bad_request("Malformed JSON in request body");
            };
            let Some(list) = v.get("rules").and_then(Value::as_array) else {
                return bad_request("rules is required");
            };
            let mut new = Vec::new();
            for (i, r) in list.iter().enumerate() {
                match rule(r, rng) {
                    Ok(r) => new.push(r),
                    Err(why) => return bad_request(&format!("rules[{i}]: {why}")),
                }
            }
            for (i, a) in new.iter().enumerate() {
                if let Some(j) = new[..i].iter().position(|b| a.overlaps(b)) {
                    return conflict(
                        StatusCode::BAD_REQUEST,
                        &format!("rules[{i}] overlaps rules[{j}]"),
                    );
                }
            }
            let b = world.buckets.get_mut(&key).expect("checked above");
            let held = b.config.notifications.entry(id.to_string()).or_default();
            if let Some(r) = new.iter().find(|n| held.iter().any(|h| h.overlaps(n))) {
                return conflict(
                    StatusCode::CONFLICT,
                    &format!(
                        "a rule for actions {} overlaps a rule this queue already has",
                        r.actions.join(",")
                    ),
                );
            }
            let total: usize = b.config.notifications.values().map(Vec::len).sum();
            if total + new.len() > MAX_RULES {
                return bad_request("a bucket has at most 100 notification rules");
            }
            b.config
                .notifications
                .get_mut(*id)
                .expect("made above")
                .extend(new);
            ok(json!({}))
        }
        (Method::DELETE, ["queues", id]) => {
            let ids: Option<Vec<String>> = serde_json::from_slice::<Map<String, Value>>(bytes)
                .ok()
                .and_then(|m| m.get("ruleIds").and_then(Value::as_array).cloned())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                });
            let b = world.buckets.get_mut(&key).expect("checked above");
            let held = b.config.notifications.entry(id.to_string()).or_default();
            match ids {
                None => held.clear(),
                Some(ids) => held.retain(|r| !ids.contains(&r.id)),
            }
            if held.is_empty() {
                b.config.notifications.remove(*id);
            }
            ok(json!({}))
        }
        _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(actions: &[&str], prefix: &str, suffix: &str) -> Rule {
        Rule {
            id: String::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            actions: actions.iter().map(|a| a.to_string()).collect(),
            prefix: Some(prefix.to_string()).filter(|p| !p.is_empty()),
            suffix: Some(suffix.to_string()).filter(|s| !s.is_empty()),
            description: None,
        }
    }

    #[test]
    fn the_documented_example_overlaps_and_disjoint_keys_do_not() {
        // cloudflare-docs PR #19130: PutObject on everything and PutObject on `a/` overlap.
        assert!(r(&["PutObject"], "", "").overlaps(&r(&["PutObject"], "a/", "")));
        assert!(!r(&["PutObject"], "a/", "").overlaps(&r(&["CopyObject"], "a/", "")));
        assert!(!r(&["PutObject"], "a/", "").overlaps(&r(&["PutObject"], "b/", "")));
        assert!(!r(&["PutObject"], "", ".png").overlaps(&r(&["PutObject"], "", ".jpg")));
        assert!(r(&["PutObject"], "a/", ".jpg").overlaps(&r(&["PutObject"], "", "x.jpg")));
    }
}
