//! `notifications:`, the bucket's event notification rules, per queue
//! (`GET …/event_notifications/r2/{bucket}/configuration`). A keyed set with lookups: read
//! and cached like the other kinds, but planned queue by queue after the queue list
//! (`plan::diff::notification`) and written one queue at a time (`plan::QueueWrite`). The
//! values are `observed::notification`'s.

use serde_json::Value;

use super::rules::rule_summary;
use super::{SubResource, Written};
use crate::config::yaml::quoted;
use crate::config::{BucketConfig, NotificationAction};
use crate::observed::notification::{self, NotificationRule, QueueId, QueueRules, as_events};

pub struct Notifications;

impl SubResource for Notifications {
    type Value = Vec<QueueRules>;
    const KEY: &'static str = "notifications";
    const LABEL: &'static str = "event notification rules";
    const WRITTEN: Written = Written::ItemByItem;

    /// Under another prefix than the bucket's other sub-resources.
    fn api_path(bucket: &str) -> String {
        format!("event_notifications/r2/{bucket}/configuration")
    }

    fn new_bucket() -> Self::Value {
        Vec::new()
    }

    fn cleared() -> Self::Value {
        Vec::new()
    }

    fn declared(config: &BucketConfig) -> Option<Self::Value> {
        config.notifications.as_deref().map(QueueRules::declared)
    }

    fn matches(a: &Self::Value, b: &Self::Value) -> bool {
        notification::same_set(a, b)
    }

    /// No queue holds a rule.
    fn is_empty(v: &Self::Value) -> bool {
        v.iter().all(|q| q.rules.is_empty())
    }

    fn summary(v: &Self::Value) -> String {
        rule_summary(
            v.iter()
                .flat_map(|q| q.rules.iter().map(|r| r.label()))
                .collect(),
        )
    }

    /// One entry per rule, by queue name, as `events:` where its actions are exactly event
    /// types, else as `actions:`.
    fn import_lines(v: &Self::Value) -> Result<Vec<String>, String> {
        let mut l = Vec::new();
        for q in v {
            for r in &q.rules {
                let actions = r
                    .actions
                    .iter()
                    .map(|a| {
                        NotificationAction::parse(a).ok_or_else(|| {
                            format!(
                                "a rule of queue {} names action {}, which r2gitops does not know",
                                quoted(q.label()),
                                quoted(a)
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                l.push(format!("  - queue: {}", quoted(q.label())));
                l.push(match as_events(&actions) {
                    Some(events) => format!(
                        "    events: [{}]",
                        events
                            .iter()
                            .map(|e| e.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => format!(
                        "    actions: [{}]",
                        actions
                            .iter()
                            .map(|a| a.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
                for (key, value) in [
                    ("prefix", &r.prefix),
                    ("suffix", &r.suffix),
                    ("description", &r.description),
                ] {
                    if !value.is_empty() {
                        l.push(format!("    {key}: {}", quoted(value)));
                    }
                }
            }
        }
        if l.is_empty() {
            return Ok(vec![format!("{}: []", Self::KEY)]);
        }
        l.insert(0, format!("{}:", Self::KEY));
        Ok(l)
    }

    /// `{bucketName, queues: [{queueId, queueName, rules: [...]}]}`; `null` lists are empty.
    fn decode(result: &Value) -> Result<Self::Value, String> {
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
                        Some(Value::Array(r)) => r
                            .iter()
                            .map(NotificationRule::decode)
                            .collect::<Result<_, _>>()?,
                        Some(_) => return Err("'rules' is not a list".to_string()),
                    },
                })
            })
            .collect()
    }
}
