//! A bucket's configuration sub-resources (https://developers.cloudflare.com/r2/buckets/): CORS, lifecycle,
//! lock and the managed r2.dev domain, behind `/accounts/{id}/r2/buckets/{name}/...`, each
//! looked up in the namespace `cf-r2-jurisdiction` names (an EU bucket without it is 10006).
//!
//! - Every new bucket has Cloudflare's "Default Multipart Abort Rule", shown with
//!   `conditions: {}` and no prefix, as the live API shows it.
//! - GET `/cors` on a bucket without a policy answers 404, code 10059 (the code is from an
//!   operator log; the status is inferred). DELETE `/cors` removes the policy.
//! - Every PUT replaces the whole set; lifecycle and lock have no DELETE (405).
//! - `/domains/managed`: GET and PUT `{enabled}`; the hostname is `pub-<32 hex>.r2.dev`,
//!   derived from account, jurisdiction and name, so that it is stable across restarts.
//!
//! Bodies are checked as the spec types them; a rule is stored with the fields Cloudflare
//! defines and echoed in that shape (unknown fields are not kept).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::{Reply, bad_request, err, no_bucket, ok};
use crate::state::Bucket;
use axum::http::{Method, StatusCode};

/// Cloudflare's limit on lifecycle and on lock rules per bucket.
pub const MAX_RULES: usize = 1000;
/// CORS `maxAgeSeconds` maximum in the docs.
pub const MAX_CORS_AGE: u64 = 86_400;

/// The configuration of one bucket, as stored.
#[derive(Debug, Clone)]
pub struct BucketConfig {
    /// `None`: no policy (GET answers 10059). `Some([])` after a PUT of no rules.
    pub cors: Option<Vec<Value>>,
    pub lifecycle: Vec<Value>,
    pub lock: Vec<Value>,
    pub public_dev_url: bool,
    /// Custom domains (`custom_domain`).
    pub custom_domains: Vec<crate::custom_domain::Domain>,
    /// Notification rules by queue id (`notification`).
    pub notifications: std::collections::BTreeMap<String, Vec<crate::notification::Rule>>,
}

impl Default for BucketConfig {
    /// What a new bucket is born with.
    fn default() -> Self {
        BucketConfig {
            cors: None,
            lifecycle: vec![default_lifecycle_rule()],
            lock: Vec::new(),
            public_dev_url: false,
            custom_domains: Vec::new(),
            notifications: Default::default(),
        }
    }
}

/// As GET shows it on a new bucket (abort incomplete multipart uploads after 7 days),
/// `conditions: {}` included.
pub fn default_lifecycle_rule() -> Value {
    json!({
        "id": "Default Multipart Abort Rule",
        "enabled": true,
        "conditions": {},
        "abortMultipartUploadsTransition": {"condition": {"type": "Age", "maxAge": 604800}}
    })
}

/// `pub-<32 hex>.r2.dev`, and the bucket id, both derived from where the bucket is.
pub fn managed_domain(account: &str, bucket: &Bucket) -> (String, String) {
    let digest = hex::encode(Sha256::digest(format!(
        "{account}/{}/{}",
        bucket.jurisdiction, bucket.name
    )));
    (
        format!("pub-{}.r2.dev", &digest[..32]),
        digest[32..].to_string(),
    )
}

/// Route `sub` (`cors`, `lifecycle`, `lock`, `domains/managed`) of `bucket`.
pub(crate) fn route(
    account: &str,
    bucket: Option<&mut Bucket>,
    method: &Method,
    sub: &[&str],
    body: &[u8],
) -> Reply {
    let known = matches!(
        sub,
        ["cors"] | ["lifecycle"] | ["lock"] | ["domains", "managed"]
    );
    if !known {
        return err(
            StatusCode::NOT_FOUND,
            7003,
            "Could not route to that path, perhaps your object identifier is invalid?",
        );
    }
    let Some(b) = bucket else {
        return no_bucket();
    };
    match (method.clone(), sub) {
        (Method::GET, ["cors"]) => match &b.config.cors {
            Some(rules) => ok(json!({"rules": rules})),
            None => err(
                StatusCode::NOT_FOUND,
                10059,
                "The CORS configuration does not exist.",
            ),
        },
        (Method::PUT, ["cors"]) => match rules(body, cors_rule) {
            Ok(r) => {
                b.config.cors = Some(r);
                ok(json!({}))
            }
            Err(why) => bad_request(&why),
        },
        (Method::DELETE, ["cors"]) => {
            b.config.cors = None;
            ok(json!({}))
        }
        (Method::GET, ["lifecycle"]) => ok(json!({"rules": b.config.lifecycle})),
        (Method::PUT, ["lifecycle"]) => match rules(body, lifecycle_rule) {
            Ok(r) => {
                b.config.lifecycle = r;
                ok(json!({}))
            }
            Err(why) => bad_request(&why),
        },
        (Method::GET, ["lock"]) => ok(json!({"rules": b.config.lock})),
        (Method::PUT, ["lock"]) => match rules(body, lock_rule) {
            Ok(r) => {
                b.config.lock = r;
                ok(json!({}))
            }
            Err(why) => bad_request(&why),
        },
        (Method::GET, ["domains", "managed"]) => ok(managed(account, b)),
        (Method::PUT, ["domains", "managed"]) => {
            let enabled = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("enabled").and_then(Value::as_bool));
            match enabled {
                Some(e) => {
                    b.config.public_dev_url = e;
                    ok(managed(account, b))
                }
                None => bad_request("enabled (a boolean) is required"),
            }
        }
        _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
    }
}

fn managed(account: &str, b: &Bucket) -> Value {
    let (domain, id) = managed_domain(account, b);
    json!({"bucketId": id, "domain": domain, "enabled": b.config.public_dev_url})
}

/// `{rules?: [...]}`, each rule checked and rebuilt by `one`; at most 1,000.
fn rules(body: &[u8], one: fn(&Value) -> Result<Value, String>) -> Result<Vec<Value>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "Malformed JSON in request body".to_string())?;
    let list = match v.get("rules") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("rules must be a list".into()),
    };
    if list.len() > MAX_RULES {
        return Err(format!("at most {MAX_RULES} rules"));
    }
    list.iter()
        .enumerate()
        .map(|(i, r)| one(r).map_err(|e| format!("rules[{i}]: {e}")))
        .collect()
}

fn strings(v: Option<&Value>, field: &str) -> Result<Option<Vec<String>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{field} must be strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{field} must be a list")),
    }
}

fn required_str(r: &Value, field: &str) -> Result<String, String> {
    r.get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("{field} is required"))
}

fn required_bool(r: &Value, field: &str) -> Result<bool, String> {
    r.get(field)
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("{field} is required"))
}

fn cors_rule(r: &Value) -> Result<Value, String> {
    let allowed = r.get("allowed").ok_or("allowed is required")?;
    let methods =
        strings(allowed.get("methods"), "allowed.methods")?.ok_or("allowed.methods is required")?;
    if let Some(m) = methods
        .iter()
        .find(|m| !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()))
    {
        return Err(format!(
            "method '{m}' is not one of GET, PUT, POST, DELETE, HEAD"
        ));
    }
    let origins =
        strings(allowed.get("origins"), "allowed.origins")?.ok_or("allowed.origins is required")?;
    let mut a = Map::new();
    a.insert("origins".into(), json!(origins));
    a.insert("methods".into(), json!(methods));
    if let Some(h) = strings(allowed.get("headers"), "allowed.headers")? {
        a.insert("headers".into(), json!(h));
    }
    let mut out = Map::new();
    if let Some(id) = r.get("id").and_then(Value::as_str) {
        out.insert("id".into(), json!(id));
    }
    out.insert("allowed".into(), Value::Object(a));
    if let Some(e) = strings(r.get("exposeHeaders"), "exposeHeaders")? {
        out.insert("exposeHeaders".into(), json!(e));
    }
    if let Some(m) = r.get("maxAgeSeconds").filter(|m| !m.is_null()) {
        let secs = m.as_f64().ok_or("maxAgeSeconds must be a number")?;
        if !(0.0..=MAX_CORS_AGE as f64).contains(&secs) {
            return Err(format!(
                "maxAgeSeconds must be between 0 and {MAX_CORS_AGE}"
            ));
        }
        out.insert("maxAgeSeconds".into(), m.clone());
    }
    Ok(Value::Object(out))
}

/// A lifecycle or lock condition: `Age` with an integer under `age_key`, or `Date`, or
/// (locks only) `Indefinite`.
fn condition(c: Option<&Value>, age_key: &str, indefinite: bool) -> Result<Value, String> {
    let c = c.ok_or("condition is required")?;
    match c.get("type").and_then(Value::as_str) {
        Some("Age") => {
            let n = c
                .get(age_key)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{age_key} (an integer of seconds) is required"))?;
            Ok(json!({"type": "Age", age_key: n}))
        }
        Some("Date") => {
            let d = c.get("date").and_then(Value::as_str).unwrap_or_default();
            OffsetDateTime::parse(d, &Rfc3339).map_err(|_| "date must be RFC 3339".to_string())?;
            Ok(json!({"type": "Date", "date": d}))
        }
        Some("Indefinite") if indefinite => Ok(json!({"type": "Indefinite"})),
        _ => Err("unknown condition type".into()),
    }
}

fn lifecycle_rule(r: &Value) -> Result<Value, String> {
    let mut out = Map::new();
    out.insert("id".into(), json!(required_str(r, "id")?));
    out.insert("enabled".into(), json!(required_bool(r, "enabled")?));
    // A rule without a prefix covers the whole bucket: the live API takes `conditions: {}`
    // back as its GET shows the default rule (wrangler's `lifecycle add` re-sends it so).
    let conditions = r
        .get("conditions")
        .filter(|c| c.is_object())
        .ok_or("conditions (an object) is required")?;
    match conditions.get("prefix") {
        None | Some(Value::Null) => out.insert("conditions".into(), json!({})),
        Some(Value::String(p)) => out.insert("conditions".into(), json!({"prefix": p})),
        Some(_) => return Err("conditions.prefix must be a string".into()),
    };
    if let Some(t) = r.get("deleteObjectsTransition").filter(|t| !t.is_null()) {
        out.insert(
            "deleteObjectsTransition".into(),
            json!({"condition": condition(t.get("condition"), "maxAge", false)?}),
        );
    }
    if let Some(t) = r
        .get("abortMultipartUploadsTransition")
        .filter(|t| !t.is_null())
    {
        let c = condition(t.get("condition"), "maxAge", false)?;
        if c["type"] != "Age" {
            return Err("abortMultipartUploadsTransition takes an Age condition".into());
        }
        out.insert(
            "abortMultipartUploadsTransition".into(),
            json!({"condition": c}),
        );
    }
    if let Some(list) = r.get("storageClassTransitions").filter(|t| !t.is_null()) {
        let list = list
            .as_array()
            .ok_or("storageClassTransitions must be a list")?;
        let mut kept = Vec::new();
        for t in list {
            if t.get("storageClass").and_then(Value::as_str) != Some("InfrequentAccess") {
                return Err("storageClass must be InfrequentAccess".into());
            }
            kept.push(json!({
                "condition": condition(t.get("condition"), "maxAge", false)?,
                "storageClass": "InfrequentAccess",
            }));
        }
        out.insert("storageClassTransitions".into(), json!(kept));
    }
    Ok(Value::Object(out))
}

fn lock_rule(r: &Value) -> Result<Value, String> {
    let mut out = Map::new();
    out.insert("id".into(), json!(required_str(r, "id")?));
    out.insert("enabled".into(), json!(required_bool(r, "enabled")?));
    if let Some(p) = r.get("prefix").and_then(Value::as_str) {
        out.insert("prefix".into(), json!(p));
    }
    out.insert(
        "condition".into(),
        condition(r.get("condition"), "maxAgeSeconds", true)?,
    );
    Ok(Value::Object(out))
}

// ---- what the S3 side enforces ----

/// Whether an object uploaded at `uploaded` under `key` is retained at `now` by an enabled
/// lock rule of `b` (the longest retention wins, so any one rule is enough).
pub fn locked(b: &Bucket, key: &str, uploaded: OffsetDateTime, now: OffsetDateTime) -> bool {
    b.config.lock.iter().any(|r| {
        let prefix = r.get("prefix").and_then(Value::as_str).unwrap_or("");
        if r.get("enabled") != Some(&json!(true)) || !key.starts_with(prefix) {
            return false;
        }
        let c = &r["condition"];
        match c["type"].as_str() {
            Some("Indefinite") => true,
            Some("Age") => c["maxAgeSeconds"]
                .as_i64()
                .is_some_and(|s| now < uploaded + time::Duration::seconds(s)),
            Some("Date") => c["date"]
                .as_str()
                .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok())
                .is_some_and(|d| now < d),
            _ => false,
        }
    })
}

/// What a CORS rule grants a request: the answer's headers.
pub struct Grant {
    pub allow_origin: String,
    pub allow_methods: String,
    pub allow_headers: Option<String>,
    pub expose_headers: Option<String>,
    pub max_age: Option<String>,
}

/// The first rule that allows `origin` to use `method` with `headers` (names compared
/// case-insensitively, `*` allows any), as S3 evaluates CORS.
pub fn grant(b: &Bucket, origin: &str, method: &str, headers: &[String]) -> Option<Grant> {
    let rules = b.config.cors.as_ref()?;
    rules.iter().find_map(|r| {
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let origins = list(&r["allowed"]["origins"]);
        let methods = list(&r["allowed"]["methods"]);
        let allowed_headers: Vec<String> = list(&r["allowed"]["headers"])
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let origin_ok = origins.iter().any(|o| o == "*" || o == origin);
        let method_ok = methods.iter().any(|m| m == method);
        let headers_ok = headers.iter().all(|h| {
            allowed_headers
                .iter()
                .any(|a| a == "*" || *a == h.to_ascii_lowercase())
        });
        (origin_ok && method_ok && headers_ok).then(|| Grant {
            allow_origin: if origins.iter().any(|o| o == origin) {
                origin.to_string()
            } else {
                "*".to_string()
            },
            allow_methods: methods.join(", "),
            allow_headers: (!headers.is_empty()).then(|| headers.join(", ")),
            expose_headers: Some(list(&r["exposeHeaders"]).join(", ")).filter(|e| !e.is_empty()),
            max_age: r["maxAgeSeconds"].as_f64().map(|s| (s as u64).to_string()),
        })
    })
}
