//! Which of the account's tokens and buckets the imported file declares, and under which
//! names (pure): managed tokens, adoptable ones (commented entries), those no declaration
//! can say or the operator's policy does not allow, and those another file manages; names
//! and output files unique across all entries.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::Snapshot;
use crate::config::validate::bucket_name_problem;
use crate::config::yaml::quoted;
use crate::config::{Access, Jurisdiction, Owner, TokenScope};
use crate::observed::bucket_config::ConfigValue;
use crate::observed::{ObservedBucket, ObservedToken, TokenStatus};
use crate::plan::policy::declaration;
use crate::plan::timestamp;

/// A token as the file declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub name: String,
    pub id: String,
    pub owner: Owner,
    pub access: Access,
    pub scope: TokenScope,
    pub jurisdiction: Jurisdiction,
    pub not_before: Option<OffsetDateTime>,
    pub expires_on: Option<OffsetDateTime>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub file: String,
    /// The Cloudflare name of a token that is not managed yet (a commented entry).
    pub adopt_from: Option<String>,
}

/// What import makes of each listed token.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sorted {
    pub managed: Vec<Declared>,
    pub adoptable: Vec<Declared>,
    /// (Cloudflare name, id, why).
    pub not_importable: Vec<(String, String, String)>,
    /// (Cloudflare name, id) of tokens another file manages: they carry the prefix, and the
    /// inventory given does not record them. Never declared here.
    pub elsewhere: Vec<(String, String)>,
    /// (Cloudflare name, id, why) of tokens the operator's policy does not allow.
    pub outside_policy: Vec<(String, String, String)>,
}

/// Sort the snapshot's tokens into managed entries, adoptable (commented) entries and the
/// rest, with names and output files unique across all entries.
pub fn sort_tokens(s: &Snapshot, now: OffsetDateTime) -> Sorted {
    let mut out = Sorted::default();
    let (kept, _) = sort_buckets(s);
    let imported: BTreeSet<(Jurisdiction, &str)> = kept
        .iter()
        .map(|b| (b.jurisdiction, b.name.as_str()))
        .collect();
    let mut tokens: Vec<&ObservedToken> = s.tokens.iter().collect();
    // By declared name, oldest first within one (the diff keeps the oldest of duplicates).
    tokens.sort_by_cached_key(|t| {
        (
            managed_name(s, t),
            t.issued_on.is_none(),
            t.issued_on,
            t.owner,
            t.name.clone(),
            t.id.clone(),
        )
    });
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut files: BTreeSet<String> = BTreeSet::new();
    let mut kept_by_name: BTreeMap<String, String> = BTreeMap::new();

    for t in tokens {
        if another_files(s, t) {
            out.elsewhere.push((t.name.clone(), t.id.clone()));
            continue;
        }
        let managed = managed_name(s, t);
        let refuse = |why: String| (t.name.clone(), t.id.clone(), why);
        let mapped = match check(s, t, now, &imported) {
            Ok(m) => m,
            Err(Refusal::Cannot(why)) => {
                out.not_importable.push(refuse(why));
                continue;
            }
            Err(Refusal::Policy(why)) => {
                out.outside_policy.push(refuse(why));
                continue;
            }
        };
        let (name, adopt_from) = match &managed {
            Some(name) => {
                if let Some(kept) = kept_by_name.get(name) {
                    out.not_importable.push(refuse(format!(
                        "a second managed token named {}: the next reconcile keeps {} and deletes this one as a duplicate",
                        quoted(name),
                        quoted(kept)
                    )));
                    continue;
                }
                kept_by_name.insert(name.clone(), t.id.clone());
                (name.clone(), None)
            }
            None => {
                if !is_token_id(&t.id) {
                    out.not_importable
                        .push(refuse("its id is not 32 hex characters".into()));
                    continue;
                }
                (slug(&t.name), Some(t.name.clone()))
            }
        };
        let name = unique(&name, &mut names);
        let file = unique(&format!("{}.env", slug(&name)), &mut files) + ".age";
        let (access, scope, jurisdiction) = mapped;
        let d = Declared {
            name,
            id: t.id.clone(),
            owner: t.owner,
            access,
            scope,
            jurisdiction,
            not_before: t.not_before.map(to_second),
            expires_on: t.expires_on.map(to_second),
            allow: t.condition.allow.iter().map(|n| n.to_string()).collect(),
            deny: t.condition.deny.iter().map(|n| n.to_string()).collect(),
            file,
            adopt_from,
        };
        if d.adopt_from.is_some() {
            out.adoptable.push(d);
        } else {
            out.managed.push(d);
        }
    }
    out.not_importable.sort();
    out.outside_policy.sort();
    out
}

/// The buckets to declare, by jurisdiction then name, and those left out: the file names
/// a bucket once, so of one name in several jurisdictions only the first is declared. A name
/// that breaks R2's rule is in neither (`misnamed`).
pub fn sort_buckets(s: &Snapshot) -> (Vec<&ObservedBucket>, Vec<&ObservedBucket>) {
    let mut all: Vec<&ObservedBucket> = s
        .buckets
        .iter()
        .filter(|b| bucket_name_problem(&b.name).is_none() && bucket_outside_policy(s, b).is_none())
        .collect();
    all.sort_by(|a, b| (a.jurisdiction, &a.name).cmp(&(b.jurisdiction, &b.name)));
    let mut seen = BTreeSet::new();
    all.into_iter().partition(|b| seen.insert(b.name.as_str()))
}

/// Why the operator's policy does not allow a file to declare this bucket, or `None`.
pub(super) fn bucket_outside_policy(s: &Snapshot, b: &ObservedBucket) -> Option<String> {
    s.policy.as_ref()?.bucket_name(&b.name)
}

/// Why the policy does not allow a file to declare this block as read, or `None`: the
/// block is then left out (unmanaged), as a block the file cannot express is.
pub(super) fn block_outside_policy(s: &Snapshot, value: &ConfigValue) -> Option<String> {
    let policy = s.policy.as_ref()?;
    match value {
        ConfigValue::PublicDevUrl(d) => policy.public_dev_url(d.enabled),
        ConfigValue::CustomDomains(domains) => domains.iter().find_map(|d| {
            let zone = match (&d.zone_name, &d.zone_id) {
                (Some(name), _) => crate::config::ZoneRef::Name(name.to_ascii_lowercase()),
                (None, Some(id)) => crate::config::ZoneRef::Id(id.to_ascii_lowercase()),
                (None, None) => return None,
            };
            policy.zone(&zone)
        }),
        _ => None,
    }
}

/// Why `check` leaves a token out: no declaration can say it, or the policy does not
/// allow what one would say.
enum Refusal {
    Cannot(String),
    Policy(String),
}

impl From<String> for Refusal {
    fn from(why: String) -> Self {
        Refusal::Cannot(why)
    }
}

/// Buckets whose name no file can declare (R2 refuses such names; only a server that is not
/// Cloudflare's would list one).
pub(super) fn misnamed(s: &Snapshot) -> Vec<&ObservedBucket> {
    s.buckets
        .iter()
        .filter(|b| bucket_name_problem(&b.name).is_some())
        .collect()
}

/// The declared name a managed token has: the inventory's, else its name without the
/// prefix. `None` for a token r2gitops does not manage.
fn managed_name(s: &Snapshot, t: &ObservedToken) -> Option<String> {
    match &s.recorded {
        Some(recorded) => recorded.get(&t.id).cloned(),
        None => None,
    }
    .or_else(|| t.name.strip_prefix(s.prefix.as_str()).map(str::to_string))
}

/// A token that carries the prefix while the inventory given does not record it: another
/// desired-state file manages it (the planner leaves it alone for the same reason).
fn another_files(s: &Snapshot, t: &ObservedToken) -> bool {
    s.recorded
        .as_ref()
        .is_some_and(|r| !r.contains_key(&t.id) && t.name.starts_with(s.prefix.as_str()))
}

/// Whether a token can be declared at all: active, not expired, policies the file can
/// express, buckets the file declares, a name the file accepts.
fn check(
    s: &Snapshot,
    t: &ObservedToken,
    now: OffsetDateTime,
    imported: &BTreeSet<(Jurisdiction, &str)>,
) -> Result<(Access, TokenScope, Jurisdiction), Refusal> {
    match &t.status {
        TokenStatus::Active => {}
        other => {
            return Err(format!(
                "its status is {}; a declared token is active",
                other.as_str()
            )
            .into());
        }
    }
    if let Some(e) = t.expires_on.filter(|e| *e <= now) {
        return Err(format!("it expired at {}", timestamp(to_second(e))).into());
    }
    if let Some(name) = managed_name(s, t)
        && (name.trim().is_empty() || name.chars().any(char::is_control))
    {
        return Err(Refusal::Cannot(
            "its name, without the prefix, is empty or holds control characters".into(),
        ));
    }
    let (access, scope, jurisdiction) = declaration(&t.policies, &s.account_id, &s.groups)?;
    if let Some(why) = s.policy.as_ref().and_then(|p| p.grant(access, &scope)) {
        return Err(Refusal::Policy(why));
    }
    if let TokenScope::Buckets(names) = &scope
        && let Some(missing) = names
            .iter()
            .find(|n| !imported.contains(&(jurisdiction, n.as_str())))
    {
        return Err(format!(
            "it names bucket {} ({}), which is not imported (deleted, or its jurisdiction was not listed)",
            quoted(missing),
            jurisdiction.as_str()
        )
        .into());
    }
    Ok((access, scope, jurisdiction))
}

fn is_token_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

pub(super) fn to_second(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).expect("0 is a valid nanosecond")
}

/// A name made of `a-z 0-9 -` from anything: `Backup reader (dashboard)` ->
/// `backup-reader-dashboard`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(60).collect();
    if out.is_empty() { "token".into() } else { out }
}

/// `base`, or `base-2`, `base-3`… when taken; records the result.
fn unique(base: &str, taken: &mut BTreeSet<String>) -> String {
    let mut candidate = base.to_string();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}
