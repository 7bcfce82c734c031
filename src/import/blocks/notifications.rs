//! `notifications:` from a bucket's event notification rules: one entry per rule, by queue
//! name, as `events:` where its actions are exactly event types, else as `actions:`.

use super::quoted;
use crate::config::NotificationAction;
use crate::observed::notification::{QueueRules, as_events};

pub(super) fn lines(queues: &[QueueRules]) -> Result<Vec<String>, String> {
    let mut l = Vec::new();
    for q in queues {
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
        return Ok(vec!["notifications: []".to_string()]);
    }
    l.insert(0, "notifications:".to_string());
    Ok(l)
}
