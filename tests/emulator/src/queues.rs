//! A minimal queue directory: `GET /accounts/{id}/queues`, paged by
//! `page`/`per_page` with `result_info` (`page`, `per_page`, `count`, `total_count`,
//! `total_pages`: the mq OpenAPI's `queues-list`), each queue with `queue_id` and
//! `queue_name`. Seeded by `--queue NAME` or `Emulator::add_queue`. Listing needs Queues
//! Read or Queues Write (or Workers Scripts Read/Write, as the spec's `x-api-token-group`
//! says); anyone else is refused 403 / 10000.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::World;
use crate::api::{Reply, bad_request, err, ok};
use axum::http::{Method, StatusCode};

pub const QUEUES_READ: &str = "51be10a1ad6b4d4ea5bbd7e4e0c5f3c8";
pub const QUEUES_WRITE: &str = "5e8e2e6c4a4c4c8e9d7f3a2b1c0d9e8f";

#[derive(Debug, Clone)]
pub struct Queue {
    pub id: String,
    pub name: String,
}

impl Queue {
    /// The id is derived from the name, so that it is stable across restarts.
    pub fn new(name: &str) -> Queue {
        let id = hex::encode(Sha256::digest(format!("queue/{name}")));
        Queue {
            id: id[..32].to_string(),
            name: name.to_string(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "queue_id": self.id,
            "queue_name": self.name,
            "created_on": "2026-01-01T00:00:00.000000Z",
            "modified_on": "2026-01-01T00:00:00.000000Z",
            "producers": [],
            "producers_total_count": 0,
            "consumers": [],
            "consumers_total_count": 0,
            "settings": {"delivery_delay": 0, "message_retention_period": 345600},
        })
    }
}

pub(crate) fn route(
    world: &World,
    may_read: bool,
    method: &Method,
    tail: &[&str],
    query: &BTreeMap<String, String>,
) -> Reply {
    if *method != Method::GET {
        return err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed");
    }
    if !may_read {
        return err(StatusCode::FORBIDDEN, 10000, "Authentication error");
    }
    match tail {
        [] => {
            let per_page: usize = match query.get("per_page").map(|p| p.parse::<usize>()) {
                None => 20,
                Some(Ok(n)) if (1..=1000).contains(&n) => n,
                _ => return bad_request("per_page must be between 1 and 1000"),
            };
            let page: usize = match query.get("page").map(|p| p.parse::<usize>()) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n,
                _ => return bad_request("page must be a positive number"),
            };
            let shown: Vec<Value> = world
                .queues
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(Queue::to_json)
                .collect();
            let mut r = ok(json!(shown));
            r.1["result_info"] = json!({
                "page": page, "per_page": per_page, "count": shown.len(),
                "total_count": world.queues.len(),
                "total_pages": world.queues.len().div_ceil(per_page),
            });
            r
        }
        [id] => match world.queues.iter().find(|q| q.id == *id) {
            Some(q) => ok(q.to_json()),
            None => err(StatusCode::NOT_FOUND, 11000, "Queue does not exist"),
        },
        _ => err(StatusCode::NOT_FOUND, 7003, "No route for that URI"),
    }
}
