//! Event notifications and the queue list over HTTP (https://developers.cloudflare.com/r2/buckets/event-notifications/; shapes as
//! in cloudflare-python 5.9 `r2.buckets.event_notifications` and `queues.list`, and wrangler's
//! `r2/helpers/notification.ts`). A queue's rules are replaced by a DELETE of all of them and
//! one PUT of the whole list: Cloudflare's PUT adds rules and refuses one that overlaps a rule
//! it holds (TF #6007, fixed the same way in #6419). Every call carries
//! `cf-r2-jurisdiction`. A refused queue list becomes one error naming Queues Read.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cloudflare::client::{Call, Client, WriteClient, bucket_label, jurisdiction_header};
use crate::cloudflare::error::ApiError;
use crate::cloudflare::limits::Pages;
use crate::config::Jurisdiction;
use crate::observed::bucket_config::ConfigKind;
use crate::observed::notification::{NotificationRule, Queue, QueueId};
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
        call.body = Some(
            json!({"rules": write.rules.iter().map(NotificationRule::body).collect::<Vec<_>>()}),
        );
        call.headers.push(jurisdiction_header(jurisdiction));
        reader.send(call).await.map(|_| ())
    }
}
