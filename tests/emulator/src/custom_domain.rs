//! A bucket's custom domains (https://developers.cloudflare.com/r2/buckets/public-buckets/,
//! shapes as in cloudflare-python
//! 5.9 `r2.buckets.domains.custom`): `…/r2/buckets/{name}/domains/custom` GET (the list, with
//! status) and POST, `…/domains/custom/{domain}` GET, PUT (a patch: an absent field keeps its
//! value) and DELETE, in the namespace `cf-r2-jurisdiction` names.
//!
//! - A hostname is attached to one bucket in the whole account: a second POST of it answers
//!   409 (terraform-provider-cloudflare #6837), code 10080 (the live code is not documented;
//!   10080 is the emulator's).
//! - The zone must exist in this account with a full setup, and hold the hostname: otherwise
//!   400, code 10082, "zone_id incorrect" (the vague message Terraform users report for
//!   partial zones, docs PR #22011).
//! - POST creates a proxied record in the zone and DELETE removes it; a new domain's status
//!   is ownership `pending`, ssl `initializing` (`Emulator::set_domain_status` moves it on).
//! - At most 50 per bucket. An unknown domain answers 404, code 10053 (distilled's
//!   DomainNotFound).
//! - Behind switches (`lag`, `Behaviour`): a degraded GET (status `unknown` / `unknown`, no
//!   `minTLS`, `zoneName` or `ciphers`: Terraform PR #7046), and a hostname that stays "in
//!   use" (409) for a while after its removal (alchemy `Bucket.ts`).

use serde_json::{Map, Value, json};

use std::time::Instant;

use crate::World;
use crate::api::{Reply, bad_request, err, no_bucket, ok};
use crate::behaviour::Behaviour;
use axum::http::{Method, StatusCode};

pub const MAX_DOMAINS: usize = 50;
const MIN_TLS: [&str; 4] = ["1.0", "1.1", "1.2", "1.3"];

/// One custom domain as stored.
#[derive(Debug, Clone)]
pub struct Domain {
    pub domain: String,
    pub zone_id: String,
    pub zone_name: String,
    pub enabled: bool,
    pub min_tls: Option<String>,
    pub ciphers: Option<Vec<String>>,
    pub ownership: String,
    pub ssl: String,
}

impl Domain {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "domain": self.domain,
            "enabled": self.enabled,
            "status": {"ownership": self.ownership, "ssl": self.ssl},
            "zoneId": self.zone_id,
            "zoneName": self.zone_name,
        });
        if let Some(t) = &self.min_tls {
            v["minTLS"] = json!(t);
        }
        if let Some(c) = &self.ciphers {
            v["ciphers"] = json!(c);
        }
        v
    }

    /// As a GET shows it when Cloudflare's certificate backend is unreachable (Terraform PR
    /// #7046): both statuses `unknown`, and `minTLS`, `zoneName` and `ciphers` left out.
    fn degraded_json(&self) -> Value {
        json!({
            "domain": self.domain,
            "enabled": self.enabled,
            "status": {"ownership": "unknown", "ssl": "unknown"},
            "zoneId": self.zone_id,
        })
    }

    /// A GET's answer: degraded when the switch says so.
    fn shown(&self, behaviour: &Behaviour) -> Value {
        if behaviour.degraded_domains {
            self.degraded_json()
        } else {
            self.to_json()
        }
    }

    fn answer(&self, with_zone: bool) -> Value {
        let mut v = json!({"domain": self.domain, "enabled": self.enabled});
        if with_zone {
            v["zoneId"] = json!(self.zone_id);
        }
        if let Some(t) = &self.min_tls {
            v["minTLS"] = json!(t);
        }
        if let Some(c) = &self.ciphers {
            v["ciphers"] = json!(c);
        }
        v
    }
}

fn unknown(domain: &str) -> Reply {
    err(
        StatusCode::NOT_FOUND,
        10053,
        &format!("The custom domain {domain} does not exist on this bucket."),
    )
}

fn body(bytes: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_request("Malformed JSON in request body")),
    }
}

fn min_tls(m: &Map<String, Value>) -> Result<Option<String>, Reply> {
    match m.get("minTLS") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) if MIN_TLS.contains(&t.as_str()) => Ok(Some(t.clone())),
        Some(_) => Err(bad_request("minTLS must be one of 1.0, 1.1, 1.2, 1.3")),
    }
}

fn ciphers(m: &Map<String, Value>) -> Result<Option<Vec<String>>, Reply> {
    match m.get("ciphers") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| c.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| bad_request("ciphers must be strings")),
        Some(_) => Err(bad_request("ciphers must be a list")),
    }
}

/// Route `domains/custom[/{domain}]` (`rest` is what follows `custom`) of bucket `(j, name)`.
pub(crate) fn route(
    account: &str,
    behaviour: &Behaviour,
    world: &mut World,
    key: (String, String),
    method: &Method,
    rest: &[&str],
    bytes: &[u8],
) -> Reply {
    if !world.buckets.contains_key(&key) {
        return no_bucket();
    }
    match (method.clone(), rest) {
        (Method::GET, []) => {
            let b = &world.buckets[&key];
            ok(
                json!({"domains": b.config.custom_domains.iter().map(|d| d.shown(behaviour)).collect::<Vec<_>>()}),
            )
        }
        (Method::POST, []) => add(account, behaviour, world, &key, bytes),
        (Method::GET, [domain]) => {
            let d = domain.to_ascii_lowercase();
            match world.buckets[&key]
                .config
                .custom_domains
                .iter()
                .find(|x| x.domain == d)
            {
                Some(x) => ok(x.shown(behaviour)),
                None => unknown(&d),
            }
        }
        (Method::PUT, [domain]) => {
            let d = domain.to_ascii_lowercase();
            let m = match body(bytes) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let (tls, ciphers) = match (min_tls(&m), ciphers(&m)) {
                (Ok(t), Ok(c)) => (t, c),
                (Err(r), _) | (_, Err(r)) => return r,
            };
            let enabled = match m.get("enabled") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(e)) => Some(*e),
                Some(_) => return bad_request("enabled must be a boolean"),
            };
            let b = world.buckets.get_mut(&key).expect("checked above");
            match b.config.custom_domains.iter_mut().find(|x| x.domain == d) {
                Some(x) => {
                    if let Some(e) = enabled {
                        x.enabled = e;
                    }
                    // "If not set, defaults to previous value."
                    if tls.is_some() {
                        x.min_tls = tls;
                    }
                    if ciphers.is_some() {
                        x.ciphers = ciphers;
                    }
                    ok(x.answer(false))
                }
                None => unknown(&d),
            }
        }
        (Method::DELETE, [domain]) => {
            let d = domain.to_ascii_lowercase();
            let b = world.buckets.get_mut(&key).expect("checked above");
            let Some(at) = b.config.custom_domains.iter().position(|x| x.domain == d) else {
                return unknown(&d);
            };
            let gone = b.config.custom_domains.remove(at);
            if let Some(z) = world.zones.iter_mut().find(|z| z.id == gone.zone_id) {
                z.records.remove(&gone.domain);
            }
            world.released.insert(gone.domain.clone(), Instant::now());
            ok(json!({"domain": gone.domain}))
        }
        _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
    }
}

fn add(
    account: &str,
    behaviour: &Behaviour,
    world: &mut World,
    key: &(String, String),
    bytes: &[u8],
) -> Reply {
    let m = match body(bytes) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (Some(domain), Some(zone_id), Some(enabled)) = (
        m.get("domain").and_then(Value::as_str),
        m.get("zoneId").and_then(Value::as_str),
        m.get("enabled").and_then(Value::as_bool),
    ) else {
        return bad_request("domain, zoneId and enabled are required");
    };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let (tls, ciphers) = match (min_tls(&m), ciphers(&m)) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let attached = world
        .buckets
        .values()
        .any(|b| b.config.custom_domains.iter().any(|x| x.domain == domain));
    if attached {
        return err(
            StatusCode::CONFLICT,
            10080,
            &format!("The custom domain {domain} already exists."),
        );
    }
    let removed = world.released.get(&domain).copied();
    if crate::lag::still_in_use(behaviour, removed, Instant::now()) {
        return crate::lag::in_use(&domain);
    }
    let zone_ok = world.zones.iter().find(|z| {
        z.id == zone_id
            && z.account == account
            && !z.partial
            && (domain == z.name || domain.ends_with(&format!(".{}", z.name)))
    });
    let Some(zone) = zone_ok else {
        return err(StatusCode::BAD_REQUEST, 10082, "zone_id incorrect");
    };
    let zone_name = zone.name.clone();
    if world.buckets[key].config.custom_domains.len() >= MAX_DOMAINS {
        return bad_request("a bucket has at most 50 custom domains");
    }
    let d = Domain {
        domain: domain.clone(),
        zone_id: zone_id.to_string(),
        zone_name,
        enabled,
        min_tls: tls,
        ciphers,
        ownership: "pending".into(),
        ssl: "initializing".into(),
    };
    let answer = d.answer(true);
    if let Some(z) = world.zones.iter_mut().find(|z| z.id == zone_id) {
        z.records.insert(domain);
    }
    world
        .buckets
        .get_mut(key)
        .expect("checked by route")
        .config
        .custom_domains
        .push(d);
    ok(answer)
}
