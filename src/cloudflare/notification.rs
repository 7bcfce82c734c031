//! Event notifications and the queue list over HTTP (https://developers.cloudflare.com/r2/buckets/event-notifications/; shapes as
//! in cloudflare-python 5.9 `r2.buckets.event_notifications` and `queues.list`, and wrangler's
//! `r2/helpers/notification.ts`). A queue's rules are replaced by a DELETE of all of them and
//! one PUT of the whole list: Cloudflare's PUT adds rules and refuses one that overlaps a rule
//! it holds (TF #6007, fixed the same way in #6419). Every call carries
//! `cf-r2-jurisdiction`. A refused queue list becomes one error naming Queues Read.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::cloudflare::client::{Call, Client, WriteClient, bucket_label, jurisdiction_header};
use crate::cloudflare::error::ApiError;
use crate::cloudflare::limits::Pages;
use crate::config::Jurisdiction;
use crate::observed::bucket_config::ConfigKind;
use crate::observed::notification::{NotificationRule, Queue, QueueId, QueueRules};
use crate::plan::QueueWrite;

/// What a refused queue list names.
pub const QUEUES_READ: &str = "Queues Read";

impl Client {
    /// Every queue of the account (`GET /accounts/{id}/queues`, paged by `page`). No
    /// `per_page` is sent: the spec declares none, and the answer's `result_info` says
    /// whether more pages follow.
    pub async fn queues(&self) -> Result<Vec<Queue>, ApiError> {
        let op = "list the account's queues".to_string();
        let mut out = Vec::new();
        let mut pages = Pages::new(&op);
        loop {
            let page = pages.start()?;
            let path = format!("/accounts/{}/queues", self.account_id());
            let mut call = Call::page(op.clone(), Method::GET, path);
            call.query.push(("page", page.to_string()));
            let env = self
                .send(call)
                .await
                .map_err(|e| e.lacking(QUEUES_READ, "notifications"))?;
            let items = env.result.as_array().cloned().unwrap_or_default();
            let n = items.len();
            for q in &items {
                let id = q.get("queue_id").and_then(Value::as_str);
                let name = q.get("queue_name").and_then(Value::as_str);
                match (id, name) {
                    (Some(id), Some(name)) => out.push(Queue {
                        id: QueueId::new(id),
                        name: name.to_string(),
                    }),
                    _ => {
                        return Err(ApiError::transport(
                            &op,
                            "unexpected answer shape: a queue without queue_id or queue_name",
                        ));
                    }
                }
            }
            let info = env.result_info.unwrap_or(Value::Null);
            let num = |k: &str| info.get(k).and_then(Value::as_u64);
            let done = match (num("total_pages"), num("total_count"), num("per_page")) {
                (Some(total_pages), _, _) => u64::from(page) >= total_pages,
                (None, Some(total), _) => out.len() as u64 >= total,
                (None, None, Some(per)) => (n as u64) < per,
                // No paging information: a single page, as the SDKs read it.
                (None, None, None) => true,
            };
            if done || n == 0 {
                break;
            }
        }
        Ok(out)
    }
}

/// A bucket without any notification rule answers 404, code 11015 (a queue without rules,
/// 11011: distilled's codes, alchemy's live tests) rather than an empty list; a 404 that
/// names neither a missing bucket nor a missing route is read so.
pub fn no_rules(e: &ApiError) -> bool {
    e.status == Some(404) && !e.is_bucket_missing() && !e.is_code(7003) && !e.is_code(7000)
}

impl WriteClient {
    /// Replace one queue's rules on a bucket: DELETE them all (when it has some), then PUT the
    /// whole list (when there is one). The caller reads it back with `get_config`.
    pub async fn put_queue_rules(
        &self,
        jurisdiction: Jurisdiction,
        bucket: &str,
        write: &QueueWrite,
    ) -> Result<(), ApiError> {
        let reader = self.reader();
        let path = format!(
            "{}/queues/{}",
            reader.config_path(bucket, ConfigKind::Notifications),
            write.queue_id
        );
        let label = bucket_label(bucket, jurisdiction);
        if write.clear_first {
            let mut call = Call::new(
                format!(
                    "delete the notification rules of queue {} on {label}",
                    write.queue_name
                ),
                Method::DELETE,
                path.clone(),
            );
            call.headers.push(jurisdiction_header(jurisdiction));
            match reader.send(call).await {
                Ok(_) => {}
                // Already none: what the DELETE was for.
                Err(e) if no_rules(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if write.rules.is_empty() {
            return Ok(());
        }
        let mut call = Call::new(
            format!(
                "put {} notification rule(s) for queue {} on {label}",
                write.rules.len(),
                write.queue_name
            ),
            Method::PUT,
            path,
        );
        call.body = Some(json!({"rules": write.rules.iter().map(rule_body).collect::<Vec<_>>()}));
        call.headers.push(jurisdiction_header(jurisdiction));
        reader.send(call).await.map(|_| ())
    }
}

/// A rule as the PUT takes it: empty prefix, suffix and description are left out.
pub fn rule_body(r: &NotificationRule) -> Value {
    let mut m = Map::new();
    m.insert("actions".into(), json!(r.actions));
    for (k, v) in [
        ("prefix", &r.prefix),
        ("suffix", &r.suffix),
        ("description", &r.description),
    ] {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    }
    Value::Object(m)
}

fn rule(v: &Value) -> Result<NotificationRule, String> {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(NotificationRule {
        actions: v
            .get("actions")
            .and_then(Value::as_array)
            .ok_or("a rule without 'actions'")?
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        prefix: text("prefix"),
        suffix: text("suffix"),
        description: text("description"),
    })
}

/// `{bucketName, queues: [{queueId, queueName, rules: [...]}]}`; `null` lists are empty.
pub fn decode_config(result: &Value) -> Result<Vec<QueueRules>, String> {
    let queues = match result.get("queues") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("'queues' is not a list".into()),
    };
    queues
        .iter()
        .map(|q| {
            let text = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_string);
            Ok(QueueRules {
                // Dashed here, 32 hex in the queue list and the paths: one form.
                queue_id: text("queueId").as_deref().map(QueueId::new),
                queue_name: text("queueName"),
                rules: match q.get("rules") {
                    None | Some(Value::Null) => Default::default(),
                    Some(Value::Array(r)) => r.iter().map(rule).collect::<Result<_, _>>()?,
                    Some(_) => return Err("'rules' is not a list".to_string()),
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dashed_queue_id_decodes_to_the_32_hex_form_of_the_queue_list_and_the_paths() {
        let v = json!({"bucketName": "media", "queues": [
            {"queueId": "9af92711-53ee-4b1c-a0b5-c0ffee000001", "queueName": "uploads", "rules": [{"actions": ["PutObject"]}]}
        ]});
        let q = decode_config(&v).unwrap();
        assert_eq!(
            q[0].queue_id.as_ref().map(QueueId::as_str),
            Some("9af9271153ee4b1ca0b5c0ffee000001")
        );
    }

    #[test]
    fn a_configuration_decodes_to_rule_sets_and_a_rule_body_back() {
        let v = json!({"bucketName": "media", "queues": [
            {"queueId": "q1", "queueName": "uploads", "rules": [
                {"ruleId": "r1", "createdAt": "2026-01-01T00:00:00Z", "actions": ["PutObject", "CopyObject"], "prefix": "images/", "suffix": null},
                {"ruleId": "r2", "actions": ["DeleteObject"], "description": "gone"}
            ]},
            {"queueId": "q2", "queueName": "empty", "rules": null}
        ]});
        let q = decode_config(&v).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].rules.len(), 2);
        assert!(q[1].rules.is_empty());
        let first = q[0].rules.iter().find(|r| r.prefix == "images/").unwrap();
        assert_eq!(first.suffix, "", "null is empty");
        assert_eq!(
            rule_body(first),
            json!({"actions": ["CopyObject", "PutObject"], "prefix": "images/"})
        );
        assert_eq!(rule(&rule_body(first)).unwrap(), *first);
        assert_eq!(decode_config(&json!({"bucketName": "x"})).unwrap(), []);
        assert!(decode_config(&json!({"queues": [{"rules": [{"prefix": "a"}]}]})).is_err());
    }
}
