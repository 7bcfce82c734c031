//! A bucket's custom domains as plain, canonical data: what Cloudflare holds
//! (`GET …/domains/custom`), what the file declares, the zones the file names as the
//! lookups found them (its writes are `plan::DomainWrite`). No I/O, no client types.
//!
//! Canonical: domains and zone names lower case without a trailing dot; an observed domain
//! without `minTLS` has Cloudflare's documented default, 1.0, unless the answer was degraded
//! (`DomainStatus::degraded`), where what it leaves out is unknown. A `min_tls` that is
//! absent on either side (not managed, or not known) matches any value. `status` (ownership,
//! ssl) is Cloudflare's progress, shown as information and never compared.

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
mod tests {
    use super::*;

    fn observed(zone_id: Option<&str>, zone_name: Option<&str>, tls: MinTls) -> CustomDomain {
        CustomDomain {
            domain: "assets.example.com".into(),
            zone_id: zone_id.map(Into::into),
            zone_name: zone_name.map(Into::into),
            enabled: true,
            min_tls: Some(tls),
            status: Some(DomainStatus {
                ownership: "pending".into(),
                ssl: "initializing".into(),
            }),
        }
    }

    fn declared(zone: ZoneRef, tls: Option<MinTls>) -> CustomDomain {
        CustomDomain::declared(&config::CustomDomain {
            domain: "assets.example.com".into(),
            zone,
            enabled: true,
            min_tls: tls,
        })
    }

    #[test]
    fn a_declaration_matches_by_zone_id_or_name_and_ignores_status() {
        let id = "a".repeat(32);
        let have = observed(Some(&id), Some("example.com"), MinTls::V10);
        for want in [
            declared(ZoneRef::Name("example.com".into()), None),
            declared(ZoneRef::Id(id.clone()), None),
            declared(ZoneRef::Id(id.clone()), Some(MinTls::V10)),
        ] {
            assert!(
                same_set(std::slice::from_ref(&want), std::slice::from_ref(&have)),
                "{want:?}"
            );
            assert!(same_set(std::slice::from_ref(&have), &[want]), "symmetric");
        }
        for want in [
            declared(ZoneRef::Name("example.org".into()), None),
            declared(ZoneRef::Id("b".repeat(32)), None),
            declared(ZoneRef::Name("example.com".into()), Some(MinTls::V12)),
        ] {
            assert!(
                !same_set(std::slice::from_ref(&want), std::slice::from_ref(&have)),
                "{want:?}"
            );
        }
        // A degraded answer without a zone name is compared by the id the lookup found.
        let degraded = observed(Some(&id), None, MinTls::V10);
        let mut want = declared(ZoneRef::Name("example.com".into()), None);
        want.resolve(&Zone {
            id: id.clone(),
            name: "example.com".into(),
            account_id: "acct".into(),
            kind: ZoneKind::Full,
        });
        assert!(same_set(&[want], &[degraded]));
    }

    #[test]
    fn what_cloudflare_holds_renders_back_to_a_declaration_that_matches_it() {
        let id = "a".repeat(32);
        for have in [
            observed(Some(&id), Some("example.com"), MinTls::V10),
            observed(Some(&id), Some("example.com"), MinTls::V13),
            observed(Some(&id), None, MinTls::V12),
        ] {
            let back = CustomDomain::declared(&declare(&have));
            assert!(same_set(&[back], std::slice::from_ref(&have)), "{have:?}");
        }
        assert_eq!(
            declare(&observed(Some(&id), Some("example.com"), MinTls::V10)).min_tls,
            None,
            "the default is not written"
        );
    }
}
