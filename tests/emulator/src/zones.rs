//! A minimal zone directory: `GET /zones` (filters `name`, `account.id`, paged by
//! `page`/`per_page`) and `GET /zones/{id}`, each zone with an id, a `type` of full or
//! partial, and the account it belongs to. Seeded by `--zone NAME[:partial][@ACCOUNT]` or
//! `Emulator::add_zone`. Each zone keeps the DNS records custom domains created in it.
//!
//! Who may look: the admin token, or a token with Zone Read (or Zone Write) on zones of the
//! account; anyone else is refused 403 / 10000 (10000 is the code Cloudflare uses for a
//! token lacking a permission). Whether the live list refuses or answers empty is not
//! documented: the client handles both.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::{Reply, bad_request, err, ok};
use crate::{Inner, World};
use axum::http::StatusCode;

pub const ZONE_READ: &str = "c8fed203ed3043cba015a93ad1616f1f";
pub const ZONE_WRITE: &str = "e6d2666161e84845a636613608cee8d5";

/// How a zone is seeded: `example.com`, `cname.example:partial`, `theirs.example@<account>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSeed {
    pub name: String,
    pub partial: bool,
    /// `None`: the emulator's own account.
    pub account: Option<String>,
}

impl ZoneSeed {
    pub fn parse(s: &str) -> Result<ZoneSeed, String> {
        let (rest, account) = match s.split_once('@') {
            Some((r, a)) if a.len() == 32 && a.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (r, Some(a.to_ascii_lowercase()))
            }
            Some(_) => return Err(format!("--zone '{s}': the account after @ is 32 hex")),
            None => (s, None),
        };
        let (name, partial) = match rest.split_once(':') {
            Some((n, "partial")) => (n, true),
            Some((n, "full")) => (n, false),
            Some(_) => return Err(format!("--zone '{s}': the type after : is full or partial")),
            None => (rest, false),
        };
        if name.is_empty() || !name.contains('.') {
            return Err(format!(
                "--zone '{s}': expected a zone name like example.com"
            ));
        }
        Ok(ZoneSeed {
            name: name.to_ascii_lowercase(),
            partial,
            account,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub partial: bool,
    pub account: String,
    /// Hostnames with a proxied record made for a custom domain.
    pub records: BTreeSet<String>,
}

impl Zone {
    /// The id is derived from the name, so that it is stable across restarts.
    pub fn new(seed: &ZoneSeed, own_account: &str) -> Zone {
        let id = hex::encode(Sha256::digest(format!("zone/{}", seed.name)));
        Zone {
            id: id[..32].to_string(),
            name: seed.name.clone(),
            partial: seed.partial,
            account: seed
                .account
                .clone()
                .unwrap_or_else(|| own_account.to_string()),
            records: BTreeSet::new(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "status": "active",
            "paused": false,
            "type": if self.partial { "partial" } else { "full" },
            "account": {"id": self.account, "name": format!("Account {}", &self.account[..6])},
            "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "created_on": "2026-01-01T00:00:00Z",
            "modified_on": "2026-01-01T00:00:00Z",
            "development_mode": 0,
            "meta": {},
            "owner": {},
            "plan": {},
            "original_name_servers": null,
            "original_registrar": null,
            "original_dnshost": null,
        })
    }
}

/// `GET /zones` and `GET /zones/{id}`.
pub(crate) fn route(
    inner: &Inner,
    world: &World,
    may_read: bool,
    method: &axum::http::Method,
    tail: &[&str],
    query: &BTreeMap<String, String>,
) -> Reply {
    if *method != axum::http::Method::GET {
        return err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed");
    }
    if !may_read {
        return err(StatusCode::FORBIDDEN, 10000, "Authentication error");
    }
    let _ = inner;
    match tail {
        [] => {
            let name = query.get("name").map(|n| n.to_ascii_lowercase());
            let account = query.get("account.id").or_else(|| query.get("account[id]"));
            let per_page: usize = match query.get("per_page").map(|p| p.parse::<usize>()) {
                None => 20,
                Some(Ok(n)) if (5..=1000).contains(&n) => n,
                _ => return bad_request("per_page must be between 5 and 1000"),
            };
            let page: usize = match query.get("page").map(|p| p.parse::<usize>()) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n,
                _ => return bad_request("page must be a positive number"),
            };
            let all: Vec<&Zone> = world
                .zones
                .iter()
                .filter(|z| name.as_ref().is_none_or(|n| z.name == *n))
                .filter(|z| account.is_none_or(|a| z.account == *a))
                .collect();
            let shown: Vec<Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|z| z.to_json())
                .collect();
            let mut r = ok(json!(shown));
            r.1["result_info"] = json!({
                "page": page, "per_page": per_page, "count": shown.len(),
                "total_count": all.len(), "total_pages": all.len().div_ceil(per_page),
            });
            r
        }
        [id] => match world.zones.iter().find(|z| z.id == *id) {
            Some(z) => ok(z.to_json()),
            None => err(
                StatusCode::NOT_FOUND,
                7003,
                "Could not route to /zones/..., perhaps your object identifier is invalid?",
            ),
        },
        _ => err(StatusCode::NOT_FOUND, 7003, "No route for that URI"),
    }
}
