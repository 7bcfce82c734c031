//! `custom_domains:`, hostnames on the account's zones that serve the bucket
//! (`GET …/domains/custom`). A keyed set with lookups: read and cached like the other
//! kinds, but planned domain by domain after the zone lookups (`plan::diff::custom_domain`)
//! and written one domain at a time (`plan::DomainWrite`). The values are
//! `observed::custom_domain`'s.

use serde_json::Value;

use super::rules::rule_summary;
use super::{SubResource, Written};
use crate::config::BucketConfig;
use crate::config::yaml::quoted;
use crate::observed::custom_domain::{self, CustomDomain};

pub struct CustomDomains;

impl SubResource for CustomDomains {
    type Value = Vec<CustomDomain>;
    const KEY: &'static str = "custom_domains";
    const LABEL: &'static str = "custom domains";
    const WRITTEN: Written = Written::ItemByItem;

    fn api_path(bucket: &str) -> String {
        format!("r2/buckets/{bucket}/domains/custom")
    }

    fn new_bucket() -> Self::Value {
        Vec::new()
    }

    fn cleared() -> Self::Value {
        Vec::new()
    }

    fn declared(config: &BucketConfig) -> Option<Self::Value> {
        let list = config.custom_domains.as_ref()?;
        Some(list.iter().map(CustomDomain::declared).collect())
    }

    fn matches(a: &Self::Value, b: &Self::Value) -> bool {
        custom_domain::same_set(a, b)
    }

    fn is_empty(v: &Self::Value) -> bool {
        v.is_empty()
    }

    fn summary(v: &Self::Value) -> String {
        rule_summary(v.iter().map(|d| d.domain.clone()).collect())
    }

    /// The zone by name where Cloudflare names it (a plan then looks it up as any file's
    /// zone), else by id; `min_tls` only when it is not Cloudflare's default. `status` is
    /// Cloudflare's progress, not configuration, so it is not written.
    fn import_lines(v: &Self::Value) -> Result<Vec<String>, String> {
        if v.is_empty() {
            return Ok(vec![format!("{}: []", Self::KEY)]);
        }
        let mut l = vec![format!("{}:", Self::KEY)];
        for observed in v {
            let d = custom_domain::declare(observed);
            if d.zone.as_str().is_empty() {
                return Err(format!(
                    "Cloudflare names no zone for domain {}",
                    quoted(&observed.domain)
                ));
            }
            l.push(format!("  - domain: {}", quoted(&d.domain)));
            l.push(format!("    zone: {}", quoted(d.zone.as_str())));
            if !d.enabled {
                l.push("    enabled: false".into());
            }
            if let Some(m) = d.min_tls {
                l.push(format!("    min_tls: {}", quoted(m.as_str())));
            }
        }
        Ok(l)
    }

    /// `{domains: [...]}`; `null` is none.
    fn decode(result: &Value) -> Result<Self::Value, String> {
        match result.get("domains") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a.iter().map(CustomDomain::decode).collect(),
            Some(_) => Err("'domains' is not a list".into()),
        }
    }
}
