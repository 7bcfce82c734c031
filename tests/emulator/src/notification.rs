//! A bucket's event notification rules
//! (https://developers.cloudflare.com/r2/buckets/event-notifications/, and the live codes
//! alchemy-run/distilled records; shapes as in
//! cloudflare-python 5.9 `r2.buckets.event_notifications` and wrangler's
//! `r2/helpers/notification.ts`), under `/accounts/{id}/event_notifications/r2/{bucket}`:
//!
//! - GET `/configuration`: `{bucketName, queues: [{queueId, queueName, rules}]}`, queues with
//!   rules only; a rule has `ruleId`, `createdAt`, `actions`, and `prefix`, `suffix`,
//!   `description` when set. With `no_rules_404`, a bucket without rules is 404 / 11015.
//! - GET `/configuration/queues/{queue_id}`: that queue's rules; 404 when it has none
//!   (11015 when the bucket has none at all, else 11011) or is unknown (11000).
//! - PUT `/configuration/queues/{queue_id}` `{rules}` ADDS rules, as the live API does
//!   (terraform-provider-cloudflare #6007). A rule that overlaps one the queue holds (a shared
//!   action, one prefix starting the other and one suffix ending the other: cloudflare-docs
//!   #17949 / PR #19130; any action with `overlap_by_keys`) is refused 409, code 11020; two
//!   overlapping rules in one body 400, code 11014. An unknown queue is 404, code 11000. At
//!   most 100 rules per bucket.
//! - DELETE `/configuration/queues/{queue_id}`: every rule of the queue, or with
//!   `{ruleIds: [...]}` only those; an unknown queue is 404 / 11000.
//!
//! `dashed_queue_ids` names queues in both GETs as dashed UUIDs; `generated_descriptions`
//! stores a description of the server's own for a rule sent without one.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::World;
use crate::api::{Reply, bad_request, err, no_bucket, ok};
use crate::behaviour::Behaviour;
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

    /// Whether one object and action could fire both rules; with `by_keys`, whether one
    /// object could match both, whatever their actions.
    pub fn overlaps(&self, other: &Rule, by_keys: bool) -> bool {
        let shared = by_keys || self.actions.iter().any(|a| other.actions.contains(a));
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

/// 409 / 11020 for a rule overlapping one held (distilled's code); 400 / 11014 for an
/// invalid body (seen live on workers-sdk #6748).
fn conflict(status: StatusCode, message: &str) -> Reply {
    let code = if status == StatusCode::CONFLICT {
        11020
    } else {
        11014
    };
    err(
        status,
        code,
        &format!("workers.api.error.invalid_r2_event_notification_configuration: {message}"),
    )
}

/// A 32-hex queue id as a dashed UUID (8-4-4-4-12).
pub fn dashed(id: &str) -> String {
    if id.len() != 32 {
        return id.to_string();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
}

/// The emulator's own description for a rule sent without one (Cloudflare's text is not
/// published): its actions and the keys it covers.
fn generated_description(r: &Rule) -> String {
    format!(
        "{} on {}*{}",
        r.actions.join(", "),
        r.prefix.as_deref().unwrap_or(""),
        r.suffix.as_deref().unwrap_or("")
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
    behaviour: &Behaviour,
    rng: &mut impl rand::Rng,
    key: (String, String),
    method: &Method,
    rest: &[&str],
    bytes: &[u8],
) -> Reply {
    if !world.buckets.contains_key(&key) {
        return no_bucket();
    }
    match (method.clone(), rest) {
        (Method::GET, []) => get_configuration(world, behaviour, &key),
        (Method::GET, ["queues", id]) => get_queue(world, behaviour, &key, id),
        (Method::PUT, ["queues", id]) => add_rules(world, behaviour, rng, &key, id, bytes),
        (Method::DELETE, ["queues", id]) => delete_rules(world, behaviour, &key, id, bytes),
        _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
    }
}

fn queue_name(world: &World, id: &str) -> Option<String> {
    world
        .queues
        .iter()
        .find(|q| q.id == id)
        .map(|q| q.name.clone())
}

fn no_queue() -> Reply {
    err(StatusCode::NOT_FOUND, 11000, "Queue does not exist")
}

fn bucket_has_none(world: &World, key: &(String, String)) -> bool {
    world.buckets[key]
        .config
        .notifications
        .values()
        .all(Vec::is_empty)
}

/// The 404 for "no rules": 11015 when the bucket has none at all, else 11011.
fn none_here(world: &World, key: &(String, String)) -> Reply {
    if bucket_has_none(world, key) {
        err(
            StatusCode::NOT_FOUND,
            11015,
            "There is no event notification configuration for this bucket.",
        )
    } else {
        err(
            StatusCode::NOT_FOUND,
            11011,
            "There is no event notification configuration for this bucket and queue.",
        )
    }
}

/// One queue as both GETs show it, its id dashed under `dashed_queue_ids`.
fn queue_json(world: &World, behaviour: &Behaviour, id: &str, rules: &[Rule]) -> Value {
    let shown_id = if behaviour.dashed_queue_ids {
        dashed(id)
    } else {
        id.to_string()
    };
    json!({
        "queueId": shown_id,
        "queueName": queue_name(world, id),
        "rules": rules.iter().map(Rule::to_json).collect::<Vec<_>>(),
    })
}

/// GET `configuration`: every queue that holds rules.
fn get_configuration(world: &World, behaviour: &Behaviour, key: &(String, String)) -> Reply {
    if behaviour.no_rules_404 && bucket_has_none(world, key) {
        return none_here(world, key);
    }
    let queues: Vec<Value> = world.buckets[key]
        .config
        .notifications
        .iter()
        .filter(|(_, rules)| !rules.is_empty())
        .map(|(id, rules)| queue_json(world, behaviour, id, rules))
        .collect();
    ok(json!({"bucketName": key.1, "queues": queues}))
}

/// GET `configuration/queues/{id}`: 404 when the queue holds no rules.
fn get_queue(world: &World, behaviour: &Behaviour, key: &(String, String), id: &str) -> Reply {
    if queue_name(world, id).is_none() {
        return no_queue();
    }
    match world.buckets[key].config.notifications.get(id) {
        Some(rules) if !rules.is_empty() => ok(queue_json(world, behaviour, id, rules)),
        _ => none_here(world, key),
    }
}

/// PUT `configuration/queues/{id}`: adds the body's rules to the queue's, refusing overlaps
/// within the body (400) and with what the queue holds (409).
fn add_rules(
    world: &mut World,
    behaviour: &Behaviour,
    rng: &mut impl rand::Rng,
    key: &(String, String),
    id: &str,
    bytes: &[u8],
) -> Reply {
    if queue_name(world, id).is_none() {
        return no_queue();
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
            Ok(mut r) => {
                if behaviour.generated_descriptions && r.description.is_none() {
                    r.description = Some(generated_description(&r));
                }
                new.push(r)
            }
            Err(why) => return bad_request(&format!("rules[{i}]: {why}")),
        }
    }
    let by_keys = behaviour.overlap_by_keys;
    for (i, a) in new.iter().enumerate() {
        if let Some(j) = new[..i].iter().position(|b| a.overlaps(b, by_keys)) {
            return conflict(
                StatusCode::BAD_REQUEST,
                &format!("rules[{i}] overlaps rules[{j}]"),
            );
        }
    }
    let b = world.buckets.get_mut(key).expect("checked by route");
    let held = b.config.notifications.entry(id.to_string()).or_default();
    if let Some(r) = new
        .iter()
        .find(|n| held.iter().any(|h| h.overlaps(n, by_keys)))
    {
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
        .get_mut(id)
        .expect("made above")
        .extend(new);
    ok(json!({}))
}

/// DELETE `configuration/queues/{id}`: every rule of the queue, or only the body's `ruleIds`.
fn delete_rules(
    world: &mut World,
    behaviour: &Behaviour,
    key: &(String, String),
    id: &str,
    bytes: &[u8],
) -> Reply {
    if queue_name(world, id).is_none() {
        return no_queue();
    }
    let holds = world.buckets[key]
        .config
        .notifications
        .get(id)
        .is_some_and(|r| !r.is_empty());
    if behaviour.no_rules_404 && !holds {
        return none_here(world, key);
    }
    let ids: Option<Vec<String>> = serde_json::from_slice::<Map<String, Value>>(bytes)
        .ok()
        .and_then(|m| m.get("ruleIds").and_then(Value::as_array).cloned())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        });
    let b = world.buckets.get_mut(key).expect("checked by route");
    let held = b.config.notifications.entry(id.to_string()).or_default();
    match ids {
        None => held.clear(),
        Some(ids) => held.retain(|r| !ids.contains(&r.id)),
    }
    if held.is_empty() {
        b.config.notifications.remove(id);
    }
    ok(json!({}))
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
        assert!(r(&["PutObject"], "", "").overlaps(&r(&["PutObject"], "a/", ""), false));
        assert!(!r(&["PutObject"], "a/", "").overlaps(&r(&["CopyObject"], "a/", ""), false));
        assert!(!r(&["PutObject"], "a/", "").overlaps(&r(&["PutObject"], "b/", ""), false));
        assert!(!r(&["PutObject"], "", ".png").overlaps(&r(&["PutObject"], "", ".jpg"), false));
        assert!(r(&["PutObject"], "a/", ".jpg").overlaps(&r(&["PutObject"], "", "x.jpg"), false));
    }

    #[test]
    fn by_keys_disjoint_actions_on_overlapping_keys_clash_and_disjoint_keys_never_do() {
        // alchemy: "rejects rule sets whose prefix/suffix key ranges overlap, even when their
        // actions are disjoint".
        assert!(r(&["PutObject"], "a/", "").overlaps(&r(&["DeleteObject"], "", ""), true));
        assert!(r(&["PutObject"], "a/", ".jpg").overlaps(&r(&["DeleteObject"], "a/", ""), true));
        assert!(!r(&["PutObject"], "a/", "").overlaps(&r(&["DeleteObject"], "b/", ""), true));
        assert!(!r(&["PutObject"], "", ".png").overlaps(&r(&["PutObject"], "", ".jpg"), true));
    }

    #[test]
    fn a_queue_id_is_dashed_as_a_uuid() {
        assert_eq!(
            dashed("9af9271153ee4b1ca0b5000000000001"),
            "9af92711-53ee-4b1c-a0b5-000000000001"
        );
        assert_eq!(dashed("short"), "short");
    }
}
