//! The configuration rules of the diff (issue 14), shared by every kind, then one function
//! per kind that words what changes:
//! - a block the file does not declare is never compared, read nor written (absent means
//!   unmanaged); a declared block is the whole configuration (exact ownership);
//! - comparison is `ConfigValue::matches` (sets keyed by id, canonical values): what
//!   Cloudflare normalises is never drift;
//! - a bucket about to be created is compared with what Cloudflare gives every new bucket
//!   (no CORS, the default lifecycle rule, no lock, r2.dev off);
//! - `cors: []` against existing rules is the CORS DELETE; every other change is one PUT;
//! - a lock change that shortens or removes retention is deletion-class: without
//!   `settings.prune` it is blocked; with it, each loosened rule counts toward
//!   `max_deletions` and the step is marked `! loosens retention`.

use std::collections::{BTreeMap, HashMap};

use super::Input;
use crate::config::{Age, BucketSpec, When};
use crate::observed::bucket_config::{
    ConfigKind, ConfigValue, CorsRule, LifecycleRule, LockRule, by_id, quote,
};
use crate::plan::ConfigWrite;
use crate::plan::{Blocked, BucketRef, Kind, Plan, Step};

pub(super) fn diff_bucket_configs(
    input: &Input<'_>,
    plan: &mut Plan,
    bucket_steps: &[Step],
    steps: &mut Vec<Step>,
) {
    for b in input
        .desired
        .buckets
        .iter()
        .filter(|b| b.config.manages_any())
    {
        let bucket = BucketRef {
            jurisdiction: b.jurisdiction,
            name: b.name.clone(),
        };
        let exists = input
            .observed
            .buckets
            .iter()
            .any(|o| o.jurisdiction == b.jurisdiction && o.name == b.name);
        let created = bucket_steps
            .iter()
            .any(|s| matches!(s, Step::CreateBucket { bucket: c, .. } if *c == bucket));
        // Neither there nor about to be (blocked, or its jurisdiction unobserved): nothing
        // can be said about its configuration.
        if !exists && !created {
            continue;
        }
        let read = input
            .observed
            .bucket_configs
            .get(&(b.jurisdiction, b.name.clone()));
        let before = (steps.len(), plan.blocked.len());
        // Listed, but its configuration endpoints said there is no such bucket: just created
        // (their post-create lag) or just deleted. Nothing is known of it, and the plan says
        // so rather than passing over it.
        if !created && read.is_none() {
            plan.blocked.push(Blocked {
                kind: Kind::Bucket,
                name: b.name.clone(),
                reason: format!(
                    "configuration of bucket {} was not read: Cloudflare lists the bucket, but its configuration endpoints answered that there is no such bucket (it was created moments ago, or deleted since the list); the next pass reads it again",
                    b.name
                ),
            });
        }
        for kind in ConfigKind::ALL {
            let Some(want) = ConfigValue::declared(&b.config, kind) else {
                continue;
            };
            let have = if created {
                kind.new_bucket()
            } else {
                match read.and_then(|r| r.get(&kind)) {
                    Some(v) => v.clone(),
                    // Not read (blocked above).
                    None => continue,
                }
            };
            // Written item by item, with lookups: their own rules (issue 15).
            match (&have, &want) {
                (ConfigValue::CustomDomains(h), ConfigValue::CustomDomains(w)) => {
                    super::custom_domain::diff(input, plan, &bucket, h, w, steps);
                    continue;
                }
                (ConfigValue::Notifications(h), ConfigValue::Notifications(w)) => {
                    super::notification::diff(input, plan, &bucket, h, w, steps);
                    continue;
                }
                _ => {}
            }
            if want.matches(&have) {
                continue;
            }
            if let Some(step) = change(input, plan, b, &bucket, have, want) {
                steps.push(step);
            }
        }
        // `diff_buckets` counted an existing bucket without a step of its own as
        // unchanged; a configuration change makes it changed.
        let touched = (steps.len(), plan.blocked.len()) != before;
        let counted = exists
            && !bucket_steps
                .iter()
                .any(|s| matches!(s, Step::UpdateBucket { bucket: u, .. } if *u == bucket))
            && !plan.blocked[..before.1]
                .iter()
                .any(|x| x.kind == Kind::Bucket && x.name == b.name);
        if touched && counted {
            plan.unchanged = plan.unchanged.saturating_sub(1);
        }
    }
}

/// The step that brings `have` to `want`, or a blocked entry (and `None`).
fn change(
    input: &Input<'_>,
    plan: &mut Plan,
    b: &BucketSpec,
    bucket: &BucketRef,
    have: ConfigValue,
    want: ConfigValue,
) -> Option<Step> {
    let mut removes_default_rule = false;
    let mut loosens = Vec::new();
    let mut public_url = None;
    let changes = match (&have, &want) {
        (ConfigValue::Cors(h), ConfigValue::Cors(w)) => cors_changes(h, w),
        (ConfigValue::Lifecycle(h), ConfigValue::Lifecycle(w)) => {
            removes_default_rule = h.iter().any(LifecycleRule::is_cloudflare_default)
                && !w.iter().any(LifecycleRule::is_cloudflare_default);
            lifecycle_changes(h, w, &lifecycle_units(b))
        }
        (ConfigValue::Lock(h), ConfigValue::Lock(w)) => {
            let units = lock_units(b);
            loosens = loosened(h, w, &units);
            rule_changes(h, w, |o, n| lock_fields(o, n, unit_of(&units, &n.id)))
        }
        (ConfigValue::PublicDevUrl(h), ConfigValue::PublicDevUrl(w)) => {
            public_url = h.domain.as_ref().map(|d| format!("https://{d}"));
            vec![format!("{}→{}", h.enabled, w.enabled)]
        }
        _ => unreachable!("declared and observed values of one kind"),
    };
    if !loosens.is_empty() && !input.desired.settings.prune {
        plan.blocked.push(Blocked {
            kind: Kind::Bucket,
            name: b.name.clone(),
            reason: format!(
                "lock {} loosens retention; r2gitops shortens or removes lock rules only with settings.prune: true (each counts toward max_deletions)",
                loosens.join(" ")
            ),
        });
        return None;
    }
    let write = match want {
        ConfigValue::Cors(rules) if rules.is_empty() && !have.is_empty() => {
            ConfigWrite::Delete(ConfigKind::Cors)
        }
        want => ConfigWrite::Put(want),
    };
    Some(Step::ConfigureBucket {
        bucket: bucket.clone(),
        write,
        changes,
        loosens,
        removes_default_rule,
        public_url,
    })
}

/// `+web -legacy ~api`: rules with an id by id, unnamed ones by content (their origins).
fn cors_changes(have: &[CorsRule], want: &[CorsRule]) -> Vec<String> {
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
    out
}

/// The unit each declared age field was written in, by rule id and field.
type Units = HashMap<(String, &'static str), char>;

fn unit_of(units: &Units, id: &str) -> impl Fn(&'static str) -> char {
    let units: HashMap<&'static str, char> = units
        .iter()
        .filter(|((rule, _), _)| rule == id)
        .map(|((_, field), u)| (*field, *u))
        .collect();
    move |field| units.get(field).copied().unwrap_or('d')
}

fn lifecycle_units(b: &BucketSpec) -> Units {
    let mut out = Units::new();
    for r in b.config.lifecycle.iter().flatten() {
        let mut put = |field: &'static str, a: Option<Age>| {
            if let Some(a) = a {
                out.insert((r.id.clone(), field), a.unit);
            }
        };
        let after = |w: &Option<When>| match w {
            Some(When::After(a)) => Some(*a),
            _ => None,
        };
        put("expire", after(&r.expire));
        put("transition", after(&r.transition_to_infrequent_access));
        put("abort_multipart", r.abort_multipart_after);
    }
    out
}

fn lock_units(b: &BucketSpec) -> Units {
    b.config
        .lock
        .iter()
        .flatten()
        .filter_map(|r| match r.retention {
            crate::config::Retention::For(a) => Some(((r.id.clone(), "retention"), a.unit)),
            _ => None,
        })
        .collect()
}

/// `+id`, `-id`, and for a rule in both that differs, `id` and its changes (`field_words`).
fn rule_changes<R: crate::observed::bucket_config::Keyed + PartialEq>(
    have: &[R],
    want: &[R],
    fields: impl Fn(&R, &R) -> Vec<(&'static str, String, String)>,
) -> Vec<String> {
    let (h, w) = (by_id(have), by_id(want));
    let mut out = Vec::new();
    for (id, rule) in &w {
        match h.get(id) {
            None => out.push(format!("+{}", quote(id))),
            Some(old) if *old != *rule => {
                out.push(format!("{} {}", quote(id), field_words(&fields(old, rule))));
            }
            Some(_) => {}
        }
    }
    for id in h.keys().filter(|id| !w.contains_key(*id)) {
        out.push(format!("-{}", quote(id)));
    }
    out
}

/// `7d→3d` when the one change is the rule's age or date (the plan reads `lifecycle
/// expire-tmp 7d→3d`), else each change named: `enabled true→false, abort_multipart 1d→2d`.
fn field_words(fields: &[(&'static str, String, String)]) -> String {
    match fields {
        [(f, from, to)] if !matches!(*f, "enabled" | "prefix") => format!("{from}→{to}"),
        _ => fields
            .iter()
            .map(|(f, from, to)| format!("{f} {from}→{to}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn lifecycle_changes(have: &[LifecycleRule], want: &[LifecycleRule], units: &Units) -> Vec<String> {
    // The default rule's removal has a line of its own (`step_details`).
    let have: Vec<LifecycleRule> = have
        .iter()
        .filter(|r| !r.is_cloudflare_default() || want.iter().any(|w| w.id == r.id))
        .cloned()
        .collect();
    rule_changes(&have, want, |o, n| {
        let unit = unit_of(units, &n.id);
        let mut out = common_fields(o.enabled, n.enabled, &o.prefix, &n.prefix);
        let show = |c: &Option<crate::observed::bucket_config::Condition>, field| {
            c.as_ref()
                .map_or("none".to_string(), |c| c.show(unit(field)))
        };
        if o.expire != n.expire {
            out.push((
                "expire",
                show(&o.expire, "expire"),
                show(&n.expire, "expire"),
            ));
        }
        if o.transitions != n.transitions {
            let all = |s: &std::collections::BTreeSet<_>| {
                if s.is_empty() {
                    "none".to_string()
                } else {
                    s.iter()
                        .map(|c: &crate::observed::bucket_config::Condition| {
                            c.show(unit("transition"))
                        })
                        .collect::<Vec<_>>()
                        .join("+")
                }
            };
            out.push(("transition", all(&o.transitions), all(&n.transitions)));
        }
        if o.abort_multipart_secs != n.abort_multipart_secs {
            let show = |s: Option<u64>| {
                s.map_or("none".to_string(), |s| {
                    Age::show(s, unit("abort_multipart"))
                })
            };
            out.push((
                "abort_multipart",
                show(o.abort_multipart_secs),
                show(n.abort_multipart_secs),
            ));
        }
        out
    })
}

fn common_fields(
    old_enabled: bool,
    new_enabled: bool,
    old_prefix: &str,
    new_prefix: &str,
) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    if old_enabled != new_enabled {
        out.push(("enabled", old_enabled.to_string(), new_enabled.to_string()));
    }
    if old_prefix != new_prefix {
        out.push((
            "prefix",
            format!("{old_prefix:?}"),
            format!("{new_prefix:?}"),
        ));
    }
    out
}

fn lock_fields(
    o: &LockRule,
    n: &LockRule,
    unit: impl Fn(&'static str) -> char,
) -> Vec<(&'static str, String, String)> {
    let mut out = common_fields(o.enabled, n.enabled, &o.prefix, &n.prefix);
    if o.retention != n.retention {
        out.push((
            "retention",
            o.retention.show(unit("retention")),
            n.retention.show(unit("retention")),
        ));
    }
    out
}

/// Every enabled lock rule of `have` that `want` shortens, narrows, turns off or removes,
/// in words. An object it retained might become deletable: that is a deletion.
fn loosened(have: &[LockRule], want: &[LockRule], units: &Units) -> Vec<String> {
    let w = by_id(want);
    let mut out = Vec::new();
    for o in have.iter().filter(|o| o.enabled) {
        let Some(n) = w.get(o.id.as_str()) else {
            out.push(format!("-{}", quote(&o.id)));
            continue;
        };
        // A shorter prefix covers more; any other change covers something else.
        let narrower = !o.prefix.starts_with(n.prefix.as_str());
        let shorter = !n.retention.at_least(&o.retention);
        if !n.enabled || narrower || shorter {
            let fields = lock_fields(o, n, unit_of(units, &n.id));
            out.push(format!("{} {}", quote(&o.id), field_words(&fields)));
        }
    }
    out
}
