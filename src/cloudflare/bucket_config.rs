//! A bucket's configuration sub-resources over HTTP (developers.cloudflare.com/r2/buckets/: cors, object-lifecycles, bucket-locks, public-buckets): Cloudflare's
//! JSON to the canonical `observed::bucket_config` values and back, and the calls. Every
//! call carries `cf-r2-jurisdiction` (an EU bucket answers 10006 without it).
//!
//! Decoding is lenient where Cloudflare is known to stray from its spec, and that leniency
//! is what keeps a plan free of false drift: the default lifecycle rule's `conditions: {}`
//! has no `prefix`, lists come back `null`, methods in any case, ages as floats, and fields
//! r2gitops does not know are ignored. The calls are inherent methods here; the `ReadApi`
//! and `WriteApi` impls in `client` delegate to them.

use reqwest::Method;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cloudflare::client::{Call, Client, WriteClient, bucket_label, jurisdiction_header};
use crate::cloudflare::error::ApiError;
use crate::config::Jurisdiction;
use crate::observed::bucket_config::{
    Condition, ConfigKind, ConfigValue, CorsRule, LifecycleRule, LockRule, ManagedDomain, Retention,
};
use crate::plan::ConfigWrite;

/// GET `/cors` of a bucket without a policy: "The CORS configuration does not exist".
pub const NO_CORS_POLICY: i64 = 10059;

impl Client {
    pub(super) fn config_path(&self, name: &str, kind: ConfigKind) -> String {
        format!("/accounts/{}/{}", self.account_id(), kind.api_path(name))
    }

    /// One sub-resource of a bucket, canonical; `None` when the bucket is not known there
    /// (NoSuchBucket or BucketNotFound: gone, or created moments ago).
    pub async fn get_config(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        let op = format!(
            "read the {} of {}",
            kind.label(),
            bucket_label(name, jurisdiction)
        );
        let mut call = Call::new(op.clone(), Method::GET, self.config_path(name, kind));
        call.headers.push(jurisdiction_header(jurisdiction));
        match self.send(call).await {
            Ok(env) => decode(kind, &env.result)
                .map(Some)
                .map_err(|why| ApiError::transport(&op, format!("unexpected answer shape: {why}"))),
            Err(e) if e.is_bucket_missing() => Ok(None),
            Err(e) if kind == ConfigKind::Cors && no_cors_policy(&e) => {
                Ok(Some(ConfigValue::Cors(Vec::new())))
            }
            Err(e) if kind == ConfigKind::Notifications && super::notification::no_rules(&e) => {
                Ok(Some(ConfigValue::Notifications(Vec::new())))
            }
            Err(e) => Err(e),
        }
    }
}

/// A bucket without a CORS policy answers with an error (code 10059; its HTTP status is
/// not documented; Terraform's Read drops the resource on a 404, so 404 is likely). A 404 that names neither a missing
/// bucket nor a missing route is read the same way.
fn no_cors_policy(e: &ApiError) -> bool {
    e.is_code(NO_CORS_POLICY)
        || (e.status == Some(404) && !e.is_bucket_missing() && !e.is_code(7003) && !e.is_code(7000))
}

impl WriteClient {
    /// One PUT (or the CORS DELETE). The caller reads it back with `get_config`.
    pub async fn put_config(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        let kind = write.kind();
        let verb = match write {
            ConfigWrite::Put(_) => "set",
            ConfigWrite::Delete(_) => "delete",
        };
        let op = format!(
            "{verb} the {} of {}",
            kind.label(),
            bucket_label(name, jurisdiction)
        );
        let path = self.reader().config_path(name, kind);
        let mut call = match write {
            ConfigWrite::Put(value) => {
                let mut call = Call::new(op, Method::PUT, path);
                call.body = Some(body(value));
                call
            }
            ConfigWrite::Delete(_) => Call::new(op, Method::DELETE, path),
        };
        call.headers.push(jurisdiction_header(jurisdiction));
        self.reader().send(call).await.map(|_| ())
    }
}

// ---- decoding ----

fn rules(result: &Value) -> Result<&[Value], String> {
    match result.get("rules") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(format!("'rules' is {}", kind_of(other))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A list of strings; `null` or absent is empty (Cloudflare's generator special-cases
/// these fields in cloudflare-typescript's `r2/buckets/cors.ts`).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Whole seconds from a number that may come back as a float.
fn seconds(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64))
}

fn instant(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// `enabled` is required by the spec; an answer without it is taken as on (the shape
/// Cloudflare itself creates).
fn enabled(v: &Value) -> bool {
    v.get("enabled").and_then(Value::as_bool).unwrap_or(true)
}

/// A lifecycle `condition` (`{type: Age, maxAge}` or `{type: Date, date}`); `None` for an
/// absent, null or empty one (an unused transition is not a transition: TF #7338).
fn condition(c: Option<&Value>) -> Option<Condition> {
    let c = c.filter(|c| c.as_object().is_some_and(|o| !o.is_empty()))?;
    let t = c.get("type").and_then(Value::as_str).unwrap_or_default();
    Some(match t {
        "Age" => match seconds(c.get("maxAge")) {
            Some(s) => Condition::Age(s),
            None => Condition::Other(c.to_string()),
        },
        "Date" => match instant(c.get("date")) {
            Some(t) => Condition::Date(t),
            None => Condition::Other(c.to_string()),
        },
        _ => Condition::Other(c.to_string()),
    })
}

/// The `condition` inside a transition object (`{condition: {...}}`).
fn transition(t: Option<&Value>) -> Option<Condition> {
    condition(t?.get("condition"))
}

pub fn decode(kind: ConfigKind, result: &Value) -> Result<ConfigValue, String> {
    Ok(match kind {
        ConfigKind::Cors => ConfigValue::Cors(
            rules(result)?
                .iter()
                .map(|r| {
                    let allowed = r.get("allowed").cloned().unwrap_or(Value::Null);
                    CorsRule::new(
                        r.get("id").and_then(Value::as_str).map(str::to_string),
                        strings(allowed.get("origins")),
                        strings(allowed.get("methods")),
                        strings(allowed.get("headers")),
                        strings(r.get("exposeHeaders")),
                        seconds(r.get("maxAgeSeconds")),
                    )
                })
                .collect(),
        ),
        ConfigKind::Lifecycle => ConfigValue::Lifecycle(
            rules(result)?
                .iter()
                .map(|r| LifecycleRule {
                    id: text(r, "id"),
                    enabled: enabled(r),
                    // `conditions: {}` on the default rule has no prefix: the whole bucket.
                    prefix: r
                        .get("conditions")
                        .and_then(|c| c.get("prefix"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    expire: transition(r.get("deleteObjectsTransition")),
                    transitions: r
                        .get("storageClassTransitions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|t| {
                            let c = condition(t.get("condition"))?;
                            // Infrequent Access is the only class; another one is kept
                            // visible rather than read as it.
                            Some(match t.get("storageClass").and_then(Value::as_str) {
                                None | Some("InfrequentAccess") => c,
                                Some(other) => Condition::Other(format!("{other}: {t}")),
                            })
                        })
                        .collect(),
                    abort_multipart_secs: match transition(r.get("abortMultipartUploadsTransition"))
                    {
                        Some(Condition::Age(s)) => Some(s),
                        // Only ages are defined here; anything else cannot match a
                        // declaration, so it shows as drift rather than vanishing.
                        Some(_) => Some(u64::MAX),
                        None => None,
                    },
                })
                .collect(),
        ),
        ConfigKind::Lock => ConfigValue::Lock(
            rules(result)?
                .iter()
                .map(|r| {
                    let c = r.get("condition").cloned().unwrap_or(Value::Null);
                    let retention = match c.get("type").and_then(Value::as_str) {
                        Some("Age") => seconds(c.get("maxAgeSeconds"))
                            .map_or_else(|| Retention::Other(c.to_string()), Retention::Age),
                        Some("Date") => instant(c.get("date"))
                            .map_or_else(|| Retention::Other(c.to_string()), Retention::Date),
                        Some("Indefinite") => Retention::Indefinite,
                        _ => Retention::Other(c.to_string()),
                    };
                    LockRule {
                        id: text(r, "id"),
                        enabled: enabled(r),
                        prefix: text(r, "prefix"),
                        retention,
                    }
                })
                .collect(),
        ),
        ConfigKind::CustomDomains => {
            ConfigValue::CustomDomains(super::custom_domain::decode_list(result)?)
        }
        ConfigKind::Notifications => {
            ConfigValue::Notifications(super::notification::decode_config(result)?)
        }
        ConfigKind::PublicDevUrl => ConfigValue::PublicDevUrl(ManagedDomain {
            enabled: result
                .get("enabled")
                .and_then(Value::as_bool)
                .ok_or_else(|| "no 'enabled' flag".to_string())?,
            domain: result
                .get("domain")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        }),
    })
}

// ---- encoding ----

fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn wire_condition(c: &Condition, age_key: &str) -> Value {
    match c {
        Condition::Age(s) => json!({"type": "Age", age_key: s}),
        Condition::Date(t) => json!({"type": "Date", "date": date(*t)}),
        // Never built from a declaration; sent back as read.
        Condition::Other(raw) => serde_json::from_str(raw).unwrap_or(Value::Null),
    }
}

/// The body of a PUT: the whole sub-resource, rules in the file's order.
pub fn body(value: &ConfigValue) -> Value {
    match value {
        ConfigValue::Cors(rules) => json!({"rules": rules.iter().map(|r| {
            let mut allowed = Map::new();
            allowed.insert("origins".into(), json!(r.origins));
            allowed.insert("methods".into(), json!(r.methods));
            if !r.headers.is_empty() {
                allowed.insert("headers".into(), json!(r.headers));
            }
            let mut rule = Map::new();
            if let Some(id) = &r.id {
                rule.insert("id".into(), json!(id));
            }
            rule.insert("allowed".into(), Value::Object(allowed));
            if !r.expose_headers.is_empty() {
                rule.insert("exposeHeaders".into(), json!(r.expose_headers));
            }
            if let Some(s) = r.max_age_secs {
                rule.insert("maxAgeSeconds".into(), json!(s));
            }
            Value::Object(rule)
        }).collect::<Vec<_>>()}),
        ConfigValue::Lifecycle(rules) => json!({"rules": rules.iter().map(|r| {
            let mut rule = Map::new();
            rule.insert("id".into(), json!(r.id));
            rule.insert("enabled".into(), json!(r.enabled));
            rule.insert("conditions".into(), json!({"prefix": r.prefix}));
            if let Some(e) = &r.expire {
                rule.insert("deleteObjectsTransition".into(), json!({"condition": wire_condition(e, "maxAge")}));
            }
            if !r.transitions.is_empty() {
                rule.insert("storageClassTransitions".into(), json!(r.transitions.iter().map(|c| json!({
                    "condition": wire_condition(c, "maxAge"),
                    "storageClass": "InfrequentAccess",
                })).collect::<Vec<_>>()));
            }
            if let Some(s) = r.abort_multipart_secs {
                rule.insert("abortMultipartUploadsTransition".into(), json!({"condition": {"type": "Age", "maxAge": s}}));
            }
            Value::Object(rule)
        }).collect::<Vec<_>>()}),
        ConfigValue::Lock(rules) => json!({"rules": rules.iter().map(|r| {
            let condition = match &r.retention {
                Retention::Age(s) => json!({"type": "Age", "maxAgeSeconds": s}),
                Retention::Date(t) => json!({"type": "Date", "date": date(*t)}),
                Retention::Indefinite => json!({"type": "Indefinite"}),
                Retention::Other(raw) => serde_json::from_str(raw).unwrap_or(Value::Null),
            };
            json!({"id": r.id, "enabled": r.enabled, "prefix": r.prefix, "condition": condition})
        }).collect::<Vec<_>>()}),
        ConfigValue::PublicDevUrl(d) => json!({"enabled": d.enabled}),
        // Never a whole PUT: one domain or one queue at a time (`custom_domain`, `notification`).
        ConfigValue::CustomDomains(_) | ConfigValue::Notifications(_) => {
            unreachable!("custom domains and notifications are written item by item")
        }
    }
}

#[cfg(test)]
mod tests;
