//! `cors:`, the bucket's CORS rules (`GET …/cors`). A new bucket has none; `cors: []`
//! against existing rules is the one DELETE of a sub-resource. Rules with an id are keyed by
//! it; rules without one by their content.

use std::collections::{BTreeMap, BTreeSet};

use super::rules::{age, list, quote, rule_lines, rule_summary};
use super::{Change, Replaced, SubResource, Written};
use crate::config::yaml::quoted;
use crate::config::{self, BucketConfig};
use serde_json::{Map, Value, json as value};

use super::json;

pub struct Cors;

/// A CORS rule, canonical: origins as written, methods upper case, header names lower
/// case, every list a set, `maxAgeSeconds` as whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CorsRule {
    pub id: Option<String>,
    pub origins: BTreeSet<String>,
    pub methods: BTreeSet<String>,
    pub headers: BTreeSet<String>,
    pub expose_headers: BTreeSet<String>,
    pub max_age_secs: Option<u64>,
}

impl CorsRule {
    /// Normalise whatever shape the lists came in.
    pub fn new<S: AsRef<str>>(
        id: Option<String>,
        origins: impl IntoIterator<Item = S>,
        methods: impl IntoIterator<Item = S>,
        headers: impl IntoIterator<Item = S>,
        expose_headers: impl IntoIterator<Item = S>,
        max_age_secs: Option<u64>,
    ) -> Self {
        let trimmed = |s: S| s.as_ref().trim().to_string();
        CorsRule {
            // An empty label is no label.
            id: id.filter(|i| !i.is_empty()),
            origins: origins.into_iter().map(trimmed).collect(),
            methods: methods
                .into_iter()
                .map(|m| m.as_ref().trim().to_ascii_uppercase())
                .collect(),
            headers: headers
                .into_iter()
                .map(|h| h.as_ref().trim().to_ascii_lowercase())
                .collect(),
            expose_headers: expose_headers
                .into_iter()
                .map(|h| h.as_ref().trim().to_ascii_lowercase())
                .collect(),
            max_age_secs,
        }
    }

    fn declared(r: &config::CorsRule) -> Self {
        CorsRule::new(
            r.id.clone(),
            r.allowed_origins.clone(),
            r.allowed_methods
                .iter()
                .map(|m| m.as_str().to_string())
                .collect::<Vec<_>>(),
            r.allowed_headers.clone(),
            r.expose_headers.clone(),
            r.max_age.map(|a| a.secs),
        )
    }

    /// How a plan names it: its id, else its origins.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => quote(id),
            None => format!(
                "[{}]",
                self.origins.iter().cloned().collect::<Vec<_>>().join(" ")
            ),
        }
    }
}

impl SubResource for Cors {
    type Value = Vec<CorsRule>;
    const KEY: &'static str = "cors";
    const LABEL: &'static str = "CORS rules";
    const WRITTEN: Written = Written::Whole;

    fn new_bucket() -> Self::Value {
        Vec::new()
    }

    fn cleared() -> Self::Value {
        Vec::new()
    }

    fn declared(config: &BucketConfig) -> Option<Self::Value> {
        let rules = config.cors.as_ref()?;
        Some(rules.iter().map(CorsRule::declared).collect())
    }

    /// As sets: Cloudflare's order is not drift.
    fn matches(a: &Self::Value, b: &Self::Value) -> bool {
        a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
    }

    fn is_empty(v: &Self::Value) -> bool {
        v.is_empty()
    }

    fn summary(v: &Self::Value) -> String {
        rule_summary(v.iter().map(CorsRule::label).collect())
    }

    fn import_lines(v: &Self::Value) -> Result<Vec<String>, String> {
        let rules = v.iter().map(|r| {
            let mut fields = Vec::new();
            if let Some(id) = &r.id {
                fields.push(format!("id: {}", quoted(id)));
            }
            fields.push(format!("allowed_origins: {}", list(&r.origins)));
            // Methods are enum words in the file, unquoted.
            fields.push(format!(
                "allowed_methods: [{}]",
                r.methods.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            if !r.headers.is_empty() {
                fields.push(format!("allowed_headers: {}", list(&r.headers)));
            }
            if !r.expose_headers.is_empty() {
                fields.push(format!("expose_headers: {}", list(&r.expose_headers)));
            }
            if let Some(secs) = r.max_age_secs {
                fields.push(format!("max_age: {}", age(secs)));
            }
            fields
        });
        Ok(rule_lines(Self::KEY, rules.collect()))
    }

    fn decode(result: &Value) -> Result<Self::Value, String> {
        Ok(json::rules(result)?
            .iter()
            .map(|r| {
                let allowed = r.get("allowed").cloned().unwrap_or(Value::Null);
                CorsRule::new(
                    r.get("id").and_then(Value::as_str).map(str::to_string),
                    json::strings(allowed.get("origins")),
                    json::strings(allowed.get("methods")),
                    json::strings(allowed.get("headers")),
                    json::strings(r.get("exposeHeaders")),
                    json::seconds(r.get("maxAgeSeconds")),
                )
            })
            .collect())
    }
}

impl Replaced for Cors {
    const CLEARED_BY_DELETE: bool = true;

    /// `+web -legacy ~api`: rules with an id by id, unnamed ones by content (their origins).
    fn change(have: &Self::Value, want: &Self::Value, _: &BucketConfig) -> Change {
        let named = |rules: &[CorsRule]| -> BTreeMap<String, CorsRule> {
            rules
                .iter()
                .filter_map(|r| Some((r.id.clone()?, r.clone())))
                .collect()
        };
        let (h, w) = (named(have), named(want));
        let mut out = Vec::new();
        for (id, rule) in &w {
            match h.get(id) {
                None => out.push(format!("+{}", quote(id))),
                Some(old) if old != rule => out.push(format!("~{}", quote(id))),
                Some(_) => {}
            }
        }
        for id in h.keys().filter(|id| !w.contains_key(*id)) {
            out.push(format!("-{}", quote(id)));
        }
        let unnamed = |rules: &[CorsRule]| -> Vec<CorsRule> {
            rules.iter().filter(|r| r.id.is_none()).cloned().collect()
        };
        let (hu, wu) = (unnamed(have), unnamed(want));
        out.extend(
            wu.iter()
                .filter(|r| !hu.contains(r))
                .map(|r| format!("+{}", r.label())),
        );
        out.extend(
            hu.iter()
                .filter(|r| !wu.contains(r))
                .map(|r| format!("-{}", r.label())),
        );
        Change::words(out)
    }

    fn body(rules: &Self::Value) -> Value {
        let rules = rules.iter().map(|r| {
            let mut allowed = Map::new();
            allowed.insert("origins".into(), value!(r.origins));
            allowed.insert("methods".into(), value!(r.methods));
            if !r.headers.is_empty() {
                allowed.insert("headers".into(), value!(r.headers));
            }
            let mut rule = Map::new();
            if let Some(id) = &r.id {
                rule.insert("id".into(), value!(id));
            }
            rule.insert("allowed".into(), Value::Object(allowed));
            if !r.expose_headers.is_empty() {
                rule.insert("exposeHeaders".into(), value!(r.expose_headers));
            }
            if let Some(s) = r.max_age_secs {
                rule.insert("maxAgeSeconds".into(), value!(s));
            }
            Value::Object(rule)
        });
        value!({"rules": rules.collect::<Vec<_>>()})
    }
}
