//! The custom-domain rules of the diff, for a bucket whose file declares
//! `custom_domains` (the set is the whole set; absent is never compared):
//! - the key is the domain; a declared zone compares with Cloudflare's by id or by name,
//!   after the lookup named both;
//! - missing -> add (POST); `enabled` or a declared `min_tls` differs -> update in place (the
//!   PUT patches); another zone -> remove then add in one step (the zone is create-only, and
//!   the plan says so);
//! - an add needs its zone found, in the bucket's account, with a full DNS setup: otherwise
//!   blocked with that reason, and the bucket's other steps go on;
//! - an attached domain the file does not declare is removed (its DNS record too) only with
//!   `settings.prune`; each counts toward `max_deletions`; without prune it is blocked;
//! - status (ownership, ssl) is reported in `plan.domains`, never compared.

use super::Input;
use crate::config::ZoneRef;
use crate::observed::custom_domain::{CustomDomain, Zone, ZoneKind, ZoneLookup};
use crate::plan::DomainWrite;
use crate::plan::{Blocked, BucketRef, DomainInfo, Kind, Plan, Step};

pub(super) fn diff(
    input: &Input<'_>,
    plan: &mut Plan,
    bucket: &BucketRef,
    have: &[CustomDomain],
    want: &[CustomDomain],
    steps: &mut Vec<Step>,
) {
    for h in have {
        if let Some(status) = &h.status {
            plan.domains.push(DomainInfo {
                bucket: bucket.clone(),
                domain: h.domain.clone(),
                enabled: h.enabled,
                status: status.clone(),
            });
        }
    }
    let block = |plan: &mut Plan, reason: String| {
        plan.blocked.push(Blocked {
            kind: Kind::Bucket,
            name: bucket.name.clone(),
            reason,
        })
    };
    let step = |domain: &str, writes: Vec<DomainWrite>, words: String| Step::ConfigureDomain {
        bucket: bucket.clone(),
        domain: domain.to_string(),
        writes,
        changes: vec![words],
    };
    for w in want {
        let declared_zone = match (&w.zone_id, &w.zone_name) {
            (Some(id), _) => ZoneRef::Id(id.clone()),
            (None, name) => ZoneRef::Name(name.clone().unwrap_or_default()),
        };
        let usable = usable_zone(input, w, &declared_zone);
        let mut want = w.clone();
        if let Ok(zone) = usable {
            want.resolve(zone);
        }
        let add = |zone: &Zone| DomainWrite::Add {
            domain: w.domain.clone(),
            zone_id: zone.id.clone(),
            enabled: w.enabled,
            min_tls: w.min_tls,
        };
        match have.iter().find(|h| h.domain == w.domain) {
            None => match usable {
                Ok(zone) => {
                    let mut words = format!("+{} (zone {}", w.domain, zone.name);
                    if !w.enabled {
                        words.push_str(", disabled");
                    }
                    if let Some(t) = w.min_tls {
                        words.push_str(&format!(", min_tls {}", t.as_str()));
                    }
                    words.push(')');
                    steps.push(step(&w.domain, vec![add(zone)], words));
                }
                Err(reason) => block(plan, reason),
            },
            Some(h) if !want.same_zone(h) => match usable {
                Ok(zone) => steps.push(step(
                    &w.domain,
                    vec![
                        DomainWrite::Remove {
                            domain: w.domain.clone(),
                        },
                        add(zone),
                    ],
                    format!(
                        "{} zone {}→{} (removed, then added: the zone is create-only)",
                        w.domain,
                        h.zone_label(),
                        zone.name
                    ),
                )),
                Err(reason) => block(plan, reason),
            },
            Some(h) if !want.settings_match(h) => {
                let mut fields = Vec::new();
                if h.enabled != w.enabled {
                    fields.push(format!("enabled {}→{}", h.enabled, w.enabled));
                }
                if let (Some(from), Some(to)) = (h.min_tls, w.min_tls)
                    && from != to
                {
                    fields.push(format!("min_tls {}→{}", from.as_str(), to.as_str()));
                }
                steps.push(step(
                    &w.domain,
                    vec![DomainWrite::Update {
                        domain: w.domain.clone(),
                        enabled: w.enabled,
                        min_tls: w.min_tls,
                    }],
                    format!("{} {}", w.domain, fields.join(", ")),
                ));
            }
            Some(_) => {}
        }
    }
    for h in have
        .iter()
        .filter(|h| !want.iter().any(|w| w.domain == h.domain))
    {
        if !input.desired.settings.prune {
            block(
                plan,
                format!(
                    "custom domain {} is attached but not declared; removing it deletes its DNS record, so r2gitops removes custom domains only with settings.prune: true (each counts toward max_deletions)",
                    h.domain
                ),
            );
            continue;
        }
        steps.push(step(
            &h.domain,
            vec![DomainWrite::Remove {
                domain: h.domain.clone(),
            }],
            format!("-{} (its DNS record is deleted)", h.domain),
        ));
    }
}

/// The zone a declared domain can be added in, or why not (the blocked reason).
fn usable_zone<'a>(
    input: &'a Input<'_>,
    w: &CustomDomain,
    declared: &ZoneRef,
) -> Result<&'a Zone, String> {
    let named = declared.as_str();
    let zone = match input.observed.zones.get(declared) {
        Some(ZoneLookup::Found(z)) => z,
        Some(ZoneLookup::NotFound) => {
            return Err(format!(
                "custom domain {}: unknown zone '{named}' (not found in account {}; if it exists, the daemon's token may lack Zone Read on it)",
                w.domain, input.observed.account_id
            ));
        }
        None => {
            return Err(format!(
                "custom domain {}: zone '{named}' was not looked up",
                w.domain
            ));
        }
    };
    if zone.account_id != input.observed.account_id {
        return Err(format!(
            "custom domain {}: zone '{}' is in another account ({}); R2 custom domains need a zone of the bucket's account",
            w.domain, zone.name, zone.account_id
        ));
    }
    match &zone.kind {
        ZoneKind::Full => {}
        ZoneKind::Partial => {
            return Err(format!(
                "custom domain {}: zone '{}' has a partial (CNAME) setup; R2 custom domains need a zone with a full setup",
                w.domain, zone.name
            ));
        }
        ZoneKind::Other(t) => {
            return Err(format!(
                "custom domain {}: zone '{}' has a {t} setup; R2 custom domains need a zone with a full setup",
                w.domain, zone.name
            ));
        }
    }
    if !(w.domain == zone.name || w.domain.ends_with(&format!(".{}", zone.name))) {
        return Err(format!(
            "custom domain {} is not in zone '{}' ({named})",
            w.domain, zone.name
        ));
    }
    Ok(zone)
}
