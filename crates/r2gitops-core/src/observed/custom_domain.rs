//! A bucket's custom domains as plain, canonical data: what Cloudflare holds
//! (`GET …/domains/custom`), what the file declares, the zones the file names as the
//! lookups found them (its writes are `plan::DomainWrite`). No I/O, no client types.
//!
//! Canonical: domains and zone names lower case without a trailing dot; an observed domain
//! without `minTLS` has Cloudflare's documented default, 1.0, unless the answer was degraded
//! (`DomainStatus::degraded`), where what it leaves out is unknown. A `min_tls` that is
//! absent on either side (not managed, or not known) matches any value. `status` (ownership,
//! ssl) is Cloudflare's progress, shown as information and never compared.

use serde_json::Value;

use crate::config::{self, MinTls, ZoneRef};

/// Where Cloudflare is with a domain: `ownership` (pending, active, deactivated, blocked,
/// error, unknown) and `ssl` (initializing, pending, active, deactivated, error, unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainStatus {
    pub ownership: String,
    pub ssl: String,
}

impl DomainStatus {
    pub fn active(&self) -> bool {
        self.ownership == "active" && self.ssl == "active"
    }

    /// Both `unknown`: Cloudflare's certificate backend did not answer, and the GET left out
    /// `minTLS`, `zoneName` and `ciphers` (TF #7046, `preserveStateOnDegradedResponse`,
    /// detects it the same way). Those fields are unknown, not their defaults.
    pub fn degraded(&self) -> bool {
        self.ownership == "unknown" && self.ssl == "unknown"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    pub domain: String,
    /// Cloudflare's; in a declaration, the zone id the file gives or the lookup found.
    pub zone_id: Option<String>,
    /// Cloudflare's; in a declaration, the zone name the file gives or the lookup found.
    pub zone_name: Option<String>,
    pub enabled: bool,
    /// Declared: `None` is not managed. Observed: `None` only in a degraded answer (absent
    /// otherwise reads as 1.0).
    pub min_tls: Option<MinTls>,
    /// Observed only.
    pub status: Option<DomainStatus>,
}

impl CustomDomain {
    /// One domain of `GET …/domains/custom[/{domain}]`, canonical: lower case; an absent
    /// `minTLS` is Cloudflare's documented default, 1.0, except in a degraded answer (both
    /// statuses `unknown`: the certificate backend did not answer, and `minTLS`, `zoneName`
    /// and `ciphers` are left out, TF #7046), where it is unknown.
    pub fn decode(v: &Value) -> Result<CustomDomain, String> {
        let text = |v: &Value, key: &str| -> Option<String> {
            v.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let status = v
            .get("status")
            .filter(|s| s.is_object())
            .map(|s| DomainStatus {
                ownership: text(s, "ownership").unwrap_or_else(|| "unknown".into()),
                ssl: text(s, "ssl").unwrap_or_else(|| "unknown".into()),
            });
        let name = |n: String| n.trim_end_matches('.').to_ascii_lowercase();
        Ok(CustomDomain {
            domain: name(text(v, "domain").ok_or("a custom domain without 'domain'")?),
            zone_id: text(v, "zoneId"),
            zone_name: text(v, "zoneName").map(name),
            // Required by the spec; an answer without it reads as the create default.
            enabled: v.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            min_tls: match v.get("minTLS").and_then(Value::as_str) {
                None if status.as_ref().is_some_and(DomainStatus::degraded) => None,
                None => Some(MinTls::V10),
                // A version r2gitops does not know cannot be compared: left unmanaged.
                Some(t) => MinTls::parse(t),
            },
            status,
        })
    }

    pub fn declared(d: &config::CustomDomain) -> Self {
        let (zone_id, zone_name) = match &d.zone {
            ZoneRef::Id(id) => (Some(id.clone()), None),
            ZoneRef::Name(n) => (None, Some(n.clone())),
        };
        CustomDomain {
            domain: d.domain.clone(),
            zone_id,
            zone_name,
            enabled: d.enabled,
            min_tls: d.min_tls,
            status: None,
        }
    }

    /// Fill in what the zone lookup found (id and name), so that a declaration compares with
    /// whichever of the two Cloudflare reports.
    pub fn resolve(&mut self, zone: &Zone) {
        self.zone_id = Some(zone.id.clone());
        self.zone_name = Some(zone.name.clone());
    }

    /// The same zone: by id where both sides know it, else by name. Two sides that share
    /// neither cannot contradict each other (a degraded answer without `zoneName`).
    pub fn same_zone(&self, other: &CustomDomain) -> bool {
        match (
            &self.zone_id,
            &other.zone_id,
            &self.zone_name,
            &other.zone_name,
        ) {
            (Some(a), Some(b), _, _) => a == b,
            (_, _, Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// What differs between two sides of one domain, except the zone: `enabled` always,
    /// `min_tls` only where both sides name one.
    pub fn settings_match(&self, other: &CustomDomain) -> bool {
        self.enabled == other.enabled
            && match (self.min_tls, other.min_tls) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// The zone as a plan names it: its name, else its id.
    pub fn zone_label(&self) -> &str {
        self.zone_name
            .as_deref()
            .or(self.zone_id.as_deref())
            .unwrap_or("?")
    }
}

/// The domains of two sides are the same set, each the same (zone and settings).
pub fn same_set(a: &[CustomDomain], b: &[CustomDomain]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter()
                .any(|y| y.domain == x.domain && x.same_zone(y) && x.settings_match(y))
        })
}

/// What the file would declare for a domain Cloudflare holds (`r2gitops import`): the zone
/// by name where Cloudflare gives it, `min_tls` only when it is not the default.
pub fn declare(d: &CustomDomain) -> config::CustomDomain {
    config::CustomDomain {
        domain: d.domain.clone(),
        zone: match (&d.zone_name, &d.zone_id) {
            (Some(n), _) => ZoneRef::Name(n.clone()),
            (None, Some(id)) => ZoneRef::Id(id.clone()),
            (None, None) => ZoneRef::Name(String::new()),
        },
        enabled: d.enabled,
        min_tls: d.min_tls.filter(|m| *m != MinTls::V10),
    }
}

/// How a zone's DNS is set up (`type`): custom domains need `full`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneKind {
    Full,
    /// A CNAME setup: Cloudflare accepts the domain, but it never serves (docs PR #22011).
    Partial,
    /// `secondary`, `internal`, or a type r2gitops does not know, verbatim.
    Other(String),
}

impl ZoneKind {
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            // A zone without a type is the ordinary kind.
            None | Some("full") => ZoneKind::Full,
            Some("partial") => ZoneKind::Partial,
            Some(other) => ZoneKind::Other(other.to_string()),
        }
    }
}

/// A zone as `GET /zones` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub account_id: String,
    pub kind: ZoneKind,
}

/// What looking a declared zone up found. Only `Found` zones of the bucket's account with a
/// full setup can take a custom domain; the diff blocks the rest with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneLookup {
    Found(Zone),
    NotFound,
}

#[cfg(test)]
mod tests;
