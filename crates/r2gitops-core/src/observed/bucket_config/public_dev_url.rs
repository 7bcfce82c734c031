//! `public_dev_url:`, public access through the bucket's r2.dev domain
//! (`GET …/domains/managed`). Only the flag is compared: the hostname is Cloudflare's, shown
//! in a plan that turns it on and in an import, never declared.

use super::{Change, Replaced, SubResource, Written};
use crate::config::BucketConfig;
use crate::config::yaml::quoted;
use serde_json::{Value, json};

pub struct PublicDevUrl;

/// The bucket's r2.dev domain: whether it serves the bucket publicly, and its hostname
/// (Cloudflare's; `None` in a declaration or before the bucket exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedDomain {
    pub enabled: bool,
    pub domain: Option<String>,
}

impl SubResource for PublicDevUrl {
    type Value = ManagedDomain;
    const KEY: &'static str = "public_dev_url";
    const LABEL: &'static str = "r2.dev access";
    const WRITTEN: Written = Written::Whole;

    fn api_path(bucket: &str) -> String {
        format!("r2/buckets/{bucket}/domains/managed")
    }

    fn new_bucket() -> Self::Value {
        Self::cleared()
    }

    fn cleared() -> Self::Value {
        ManagedDomain {
            enabled: false,
            domain: None,
        }
    }

    fn declared(config: &BucketConfig) -> Option<Self::Value> {
        config.public_dev_url.map(|enabled| ManagedDomain {
            enabled,
            domain: None,
        })
    }

    /// The flag alone: the hostname is Cloudflare's, not the file's.
    fn matches(a: &Self::Value, b: &Self::Value) -> bool {
        a.enabled == b.enabled
    }

    fn is_empty(v: &Self::Value) -> bool {
        !v.enabled
    }

    fn summary(v: &Self::Value) -> String {
        if v.enabled { "enabled" } else { "disabled" }.into()
    }

    fn makes_public(v: &Self::Value) -> bool {
        v.enabled
    }

    fn import_lines(v: &Self::Value) -> Result<Vec<String>, String> {
        let mut l = vec![format!("{}: {}", Self::KEY, v.enabled)];
        if let Some(domain) = v.domain.as_ref().filter(|_| v.enabled) {
            // Where it is public now, for whoever reviews the file.
            l[0].push_str(&format!("   # {}", quoted(&format!("https://{domain}"))));
        }
        Ok(l)
    }

    fn decode(result: &Value) -> Result<Self::Value, String> {
        Ok(ManagedDomain {
            enabled: result
                .get("enabled")
                .and_then(Value::as_bool)
                .ok_or_else(|| "no 'enabled' flag".to_string())?,
            domain: result
                .get("domain")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        })
    }
}

impl Replaced for PublicDevUrl {
    /// `false→true`, with the address the bucket becomes public at, when it is known.
    fn change(have: &Self::Value, want: &Self::Value, _: &BucketConfig) -> Change {
        Change {
            public_url: have.domain.as_ref().map(|d| format!("https://{d}")),
            ..Change::words(vec![format!("{}→{}", have.enabled, want.enabled)])
        }
    }

    fn body(v: &Self::Value) -> Value {
        json!({"enabled": v.enabled})
    }
}
