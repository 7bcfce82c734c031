//! The JSON Cloudflare speaks, and its conversion to and from the plain `observed` types.
//! Pure: no I/O. Conversion canonicalises what Cloudflare may reorder (policies, permission
//! groups, CIDRs) so that comparing observed with desired is a plain `==`.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cloudflare::error::CfError;
use crate::config::{IpRules, Jurisdiction, LocationHint, Owner, StorageClass};
use crate::observed::{
    Effect, ObservedBucket, ObservedToken, Policy, ResourceValue, TokenRequest, TokenStatus,
};
use crate::secret::TokenValue;

/// The envelope of every answer (https://developers.cloudflare.com/fundamentals/api/).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<WireError>,
    #[serde(default)]
    pub result: Value,
    #[serde(default)]
    pub result_info: Option<Value>,
}

/// Only whether an answer succeeded and its errors: `result` is skipped by the parser
/// without being copied (it may hold a secret).
#[derive(Debug, Deserialize)]
pub struct Outcome {
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// The envelope of an answer whose `result` holds a secret, decoded straight into `T`.
#[derive(Deserialize)]
pub struct SecretEnvelope<T> {
    pub result: T,
}

/// The result of a token create: the value (shown once) and the token.
#[derive(Deserialize)]
pub struct WireCreated {
    pub value: TokenValue,
    #[serde(flatten)]
    pub token: WireToken,
}

#[derive(Debug, Deserialize)]
pub struct WireError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

impl From<WireError> for CfError {
    fn from(e: WireError) -> Self {
        CfError {
            code: e.code,
            message: e.message,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireBucket {
    pub name: String,
    #[serde(default)]
    pub creation_date: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub storage_class: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireBucketList {
    #[serde(default)]
    pub buckets: Vec<WireBucket>,
}

#[derive(Debug, Deserialize)]
pub struct WireGroupRef {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct WirePolicy {
    pub effect: String,
    #[serde(default)]
    pub resources: Map<String, Value>,
    #[serde(default)]
    pub permission_groups: Vec<WireGroupRef>,
}

#[derive(Debug, Deserialize)]
pub struct WireToken {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub issued_on: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
    #[serde(default)]
    pub not_before: Option<String>,
    #[serde(default)]
    pub expires_on: Option<String>,
    #[serde(default)]
    pub policies: Vec<WirePolicy>,
    #[serde(default)]
    pub condition: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct WireGroup {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireVerify {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub expires_on: Option<String>,
}

fn timestamp(s: &Option<String>) -> Option<OffsetDateTime> {
    s.as_deref()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

pub fn bucket(w: WireBucket, jurisdiction: Jurisdiction) -> ObservedBucket {
    ObservedBucket {
        name: w.name,
        jurisdiction,
        location: w.location.as_deref().and_then(LocationHint::parse),
        storage_class: w
            .storage_class
            .as_deref()
            .and_then(StorageClass::parse)
            .unwrap_or_default(),
        creation_date: w.creation_date,
    }
}

pub fn status(s: &str) -> TokenStatus {
    TokenStatus::parse(s)
}

pub fn token(w: WireToken, owner: Owner) -> ObservedToken {
    let mut policies: Vec<Policy> = w.policies.into_iter().map(policy).collect();
    policies.sort();
    ObservedToken {
        status: status(&w.status),
        issued_on: timestamp(&w.issued_on),
        modified_on: timestamp(&w.modified_on),
        not_before: timestamp(&w.not_before),
        expires_on: timestamp(&w.expires_on),
        condition: condition(w.condition.as_ref()),
        policies,
        id: w.id.to_ascii_lowercase(),
        name: w.name,
        owner,
    }
}

fn policy(w: WirePolicy) -> Policy {
    Policy {
        effect: if w.effect.eq_ignore_ascii_case("deny") {
            Effect::Deny
        } else {
            Effect::Allow
        },
        permission_groups: w
            .permission_groups
            .into_iter()
            .map(|g| g.id.to_ascii_lowercase())
            .collect(),
        resources: w
            .resources
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Object(m) => ResourceValue::Map(
                        m.into_iter()
                            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                            .collect(),
                    ),
                    Value::String(s) => ResourceValue::Str(s),
                    other => ResourceValue::Str(other.to_string()),
                };
                (k, value)
            })
            .collect(),
    }
}

/// The key under which a token's IP condition travels. The 2025-2026 SDKs and Terraform v5
/// write `request_ip` and a GET returns it; the 2024 spec and one docs page show
/// `request.ip` (cloudflare-python dropped its `alias="request.ip"` in 2024-12). Which one the live API keeps on a write is unconfirmed, so
/// the client reads both and verifies every write (see `client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKey {
    RequestIp,
    RequestDotIp,
}

impl ConditionKey {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKey::RequestIp => "request_ip",
            ConditionKey::RequestDotIp => "request.ip",
        }
    }

    pub fn other(self) -> Self {
        match self {
            ConditionKey::RequestIp => ConditionKey::RequestDotIp,
            ConditionKey::RequestDotIp => ConditionKey::RequestIp,
        }
    }
}

/// `condition.request_ip` (2025/2026 SDKs, what a GET returns) or `condition."request.ip"`
/// (docs, spec 2024).
fn condition(c: Option<&Value>) -> IpRules {
    let Some(ip) = c.and_then(|c| c.get("request_ip").or_else(|| c.get("request.ip"))) else {
        return IpRules::default();
    };
    let nets = |key: &str| -> Vec<IpNet> {
        let set: BTreeSet<IpNet> = ip
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .ok()
            })
            .map(|n| n.trunc())
            .collect();
        set.into_iter().collect()
    };
    IpRules {
        allow: nets("in"),
        deny: nets("not_in"),
    }
}

/// RFC 3339 in UTC with `Z`, to the second: the form Cloudflare's docs ask for (a time
/// declared with another offset is the same instant).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The JSON body of a token create or update, with the IP condition under `key`.
pub fn token_body(req: &TokenRequest, key: ConditionKey) -> Value {
    let policies: Vec<Value> = req
        .policies
        .iter()
        .map(|p| {
            let resources: Map<String, Value> = p
                .resources
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        ResourceValue::Str(s) => json!(s),
                        ResourceValue::Map(m) => json!(m),
                    };
                    (k.clone(), v)
                })
                .collect();
            json!({
                "effect": p.effect.as_str(),
                "resources": resources,
                "permission_groups": p.permission_groups.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut body = json!({ "name": req.name, "policies": policies });
    if let Some(t) = req.not_before {
        body["not_before"] = json!(rfc3339(t));
    }
    if let Some(t) = req.expires_on {
        body["expires_on"] = json!(rfc3339(t));
    }
    if !req.condition.is_empty() {
        let mut ip = Map::new();
        if !req.condition.allow.is_empty() {
            ip.insert(
                "in".into(),
                json!(
                    req.condition
                        .allow
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                ),
            );
        }
        if !req.condition.deny.is_empty() {
            ip.insert(
                "not_in".into(),
                json!(
                    req.condition
                        .deny
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                ),
            );
        }
        body["condition"] = json!({ key.as_str(): ip });
    }
    if let Some(s) = &req.status {
        body["status"] = json!(s.as_str());
    }
    body
}

/// Group ids by exact name, keeping only groups whose scopes include `scope`.
pub fn group_ids(
    groups: Vec<WireGroup>,
    scope_of: impl Fn(&str) -> Option<&'static str>,
) -> BTreeMap<String, String> {
    groups
        .into_iter()
        .filter(|g| scope_of(&g.name).is_some_and(|s| g.scopes.iter().any(|x| x == s)))
        .map(|g| (g.name, g.id.to_ascii_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests;
