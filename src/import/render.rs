//! The desired-state file `r2gitops import` writes, from a `Snapshot` (pure). Every value
//! is written so that the file, loaded back, plans nothing for what it imports: buckets as
//! they are, managed tokens through `policy::declaration` (exact by construction), dates
//! to the second, CIDRs as Cloudflare normalised them.
//!
//! Names come from Cloudflare and may hold anything: every name and id is double-quoted
//! with escapes, in values and in comments alike, and no other text of a comment carries a
//! character that could end it (a newline would end the comment and inject YAML). A bucket
//! whose name breaks R2's rule is not declared (a comment says so): no validator would load
//! the file with it.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::Snapshot;
use super::blocks::Block;
use crate::config::validate::{RECIPIENT_PLACEHOLDER, bucket_name_problem};
use crate::config::yaml::quoted;
use crate::config::{Access, Jurisdiction, Owner, StorageClass, TokenScope};
use crate::observed::bucket_config::ConfigValue;
use crate::observed::{ObservedBucket, ObservedToken, TokenStatus};
use crate::plan::policy::declaration;
use crate::plan::render::is_hidden;
use crate::plan::timestamp;

/// How the file was made, for its opening comment.
pub struct Header {
    /// The command line, secrets excluded (it never holds one).
    pub command: String,
    pub generated_at: OffsetDateTime,
}

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
fn bucket_outside_policy(s: &Snapshot, b: &ObservedBucket) -> Option<String> {
    s.policy.as_ref()?.bucket_name(&b.name)
}

/// Why the policy does not allow a file to declare this block as read, or `None`: the
/// block is then left out (unmanaged), as a block the file cannot express is.
fn block_outside_policy(s: &Snapshot, value: &ConfigValue) -> Option<String> {
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
fn misnamed(s: &Snapshot) -> Vec<&ObservedBucket> {
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

fn to_second(t: OffsetDateTime) -> OffsetDateTime {
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

/// A name in a `#` comment: quoted as a value is, and bounded.
fn comment_text(s: &str) -> String {
    let clipped: String = s.chars().take(120).collect();
    quoted(&clipped)
}

/// Text of our own in a `#` comment (names in it are `quoted` already): whatever could end
/// the comment is escaped as `quoted` escapes it.
pub(crate) fn comment_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hidden(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A YAML flow list of double-quoted names.
fn list(items: &[String]) -> String {
    let each: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", each.join(", "))
}

fn grants(d: &Declared) -> String {
    match &d.scope {
        TokenScope::Account => format!("{} on the whole account", d.access.as_str()),
        TokenScope::AllBuckets => format!("{} on every bucket", d.access.as_str()),
        TokenScope::Buckets(b) => format!(
            "{} on {}{}",
            d.access.as_str(),
            b.iter().map(|n| quoted(n)).collect::<Vec<_>>().join(", "),
            if d.jurisdiction == Jurisdiction::Default {
                String::new()
            } else {
                format!(" ({})", d.jurisdiction.as_str())
            }
        ),
    }
}

/// The lines of one token entry (without indentation or comment marks).
fn entry(d: &Declared) -> Vec<String> {
    let mut l = vec![format!("- name: {}", quoted(&d.name))];
    let mut field = |s: String| l.push(format!("  {s}"));
    if d.adopt_from.is_some() {
        field(format!("adopt: {}", quoted(&d.id)));
    }
    if d.owner == Owner::User {
        field("owner: user".into());
    }
    field(format!("access: {}", d.access.as_str()));
    match &d.scope {
        TokenScope::Account => {}
        TokenScope::AllBuckets => field("buckets: [\"*\"]".into()),
        TokenScope::Buckets(b) => field(format!("buckets: {}", list(b))),
    }
    // Named buckets carry their jurisdiction; admin and `["*"]` tokens get the default
    // endpoint (the policy does not say which one the user had in mind).
    if let Some(t) = d.not_before {
        field(format!("not_before: {}", timestamp(t)));
    }
    if let Some(t) = d.expires_on {
        field(format!("expires_on: {}", timestamp(t)));
    }
    if !d.allow.is_empty() || !d.deny.is_empty() {
        field("ip:".into());
        if !d.allow.is_empty() {
            field(format!("  allow: {}", list(&d.allow)));
        }
        if !d.deny.is_empty() {
            field(format!("  deny: {}", list(&d.deny)));
        }
    }
    field(format!(
        "output: {{ file: {}, format: env }}",
        quoted(&d.file)
    ));
    l
}

/// The whole file: the opening comment, the settings, the buckets, the tokens.
pub fn file(s: &Snapshot, header: &Header) -> String {
    let sorted = sort_tokens(s, header.generated_at);
    let mut o = String::new();
    let mut line = |text: &str| {
        o.push_str(text);
        o.push('\n');
    };
    opening_comment(s, header, &sorted, &mut line);
    version_and_settings(s, &mut line);
    buckets(s, &mut line);
    tokens(&sorted, &mut line);
    o
}

/// Where the file comes from, and what the first reconcile will do with it.
fn opening_comment(s: &Snapshot, header: &Header, sorted: &Sorted, line: &mut impl FnMut(&str)) {
    line(&format!(
        "# Made by `{}` on {}",
        comment_safe(&header.command),
        timestamp(to_second(header.generated_at))
    ));
    line(&format!(
        "# from Cloudflare account {}.",
        comment_safe(&s.account_id)
    ));
    line("# Next: put your age public keys in settings.recipients, then");
    line("# `r2gitops reconcile --dry-run --skip-outputs` shows nothing to change in Cloudflare");
    line("# for what was imported.");
    if !sorted.managed.is_empty() {
        // The plan (without --skip-outputs) shows it too: `± rotate token NAME: no record of
        // its output …`.
        line("# The first `reconcile` rotates every token declared below: r2gitops has no record");
        line(
            "# of a credential file it wrote for it, so it issues a new key and writes that, and the",
        );
        line(
            "# key in use keeps working for settings.rotation_overlap (default 1h), then is deleted.",
        );
        line("# To keep it, hand its current value over first (then it is not rotated):");
        line("#     r2gitops adopt NAME --value-file PATH");
    }
    line("# Buckets are protected: r2gitops never deletes them while `protect: true`.");
    for note in &s.unlisted {
        line(&format!("# Not listed: {}", comment_safe(note)));
    }
}

fn version_and_settings(s: &Snapshot, line: &mut impl FnMut(&str)) {
    line("version: 1");
    line(&format!("account_id: {}", quoted(&s.account_id)));
    line("settings:");
    if s.prefix != crate::config::validate::DEFAULT_PREFIX {
        line(&format!("  token_name_prefix: {}", quoted(&s.prefix)));
    }
    line("  prune: false");
    line(&format!(
        "  recipients: [{}]   # your age public keys; validate refuses this placeholder",
        quoted(RECIPIENT_PLACEHOLDER)
    ));
}

/// The buckets left out (each with a comment saying why), then the ones declared.
fn buckets(s: &Snapshot, line: &mut impl FnMut(&str)) {
    let (buckets, left_out) = sort_buckets(s);
    for b in &left_out {
        line(&format!(
            "# Not declared: bucket {} ({}), whose name is declared in another jurisdiction",
            quoted(&b.name),
            b.jurisdiction.as_str()
        ));
    }
    for b in s
        .buckets
        .iter()
        .filter(|b| bucket_name_problem(&b.name).is_none())
    {
        if let Some(why) = bucket_outside_policy(s, b) {
            line(&format!(
                "# Not declared: bucket {} ({}), outside the policy: {}",
                quoted(&b.name),
                b.jurisdiction.as_str(),
                comment_safe(&why)
            ));
        }
    }
    for b in misnamed(s) {
        line(&format!(
            "# Not declared: bucket {} ({}), whose name breaks R2's naming rule (a-z, 0-9 and '-', 3 to 63 characters)",
            comment_text(&b.name),
            b.jurisdiction.as_str()
        ));
    }
    if buckets.is_empty() {
        line("buckets: []");
    } else {
        line("buckets:");
    }
    for b in &buckets {
        bucket(s, b, line);
    }
}

/// One bucket's entry, with its configuration blocks.
fn bucket(s: &Snapshot, b: &ObservedBucket, line: &mut impl FnMut(&str)) {
    line(&format!("  - name: {}", quoted(&b.name)));
    if b.jurisdiction != Jurisdiction::Default {
        line(&format!("    jurisdiction: {}", b.jurisdiction.as_str()));
    }
    if let Some(hint) = b.location {
        line(&format!("    location_hint: {}", hint.as_str()));
    }
    if b.storage_class != StorageClass::Standard {
        line(&format!("    storage_class: {}", b.storage_class.as_str()));
    }
    line("    protect: true");
    for value in s
        .blocks
        .get(&(b.jurisdiction, b.name.clone()))
        .into_iter()
        .flatten()
    {
        if let Some(why) = block_outside_policy(s, value) {
            line(&format!(
                "    # {} not imported (left unmanaged), outside the policy: {}",
                value.kind().key(),
                comment_safe(&why)
            ));
            continue;
        }
        match super::blocks::block(value) {
            Block::Default => {}
            Block::Lines(lines) => {
                for l in lines {
                    line(&format!("    {l}"));
                }
            }
            Block::NotExpressible(why) => line(&format!(
                "    # {} not imported (left unmanaged): {}",
                value.kind().key(),
                comment_safe(&why)
            )),
        }
    }
}

/// The managed tokens, the adoptable ones commented out, then those left alone.
fn tokens(sorted: &Sorted, line: &mut impl FnMut(&str)) {
    if sorted.managed.is_empty() {
        line("tokens: []");
    } else {
        line("tokens:");
    }
    for d in &sorted.managed {
        for l in entry(d) {
            line(&format!("  {l}"));
        }
    }
    if !sorted.adoptable.is_empty() {
        line("");
        line("  # Tokens r2gitops does not manage yet, which this file can express. To take one");
        line(
            "  # over, uncomment its entry, then either hand over its current value (no downtime):",
        );
        line("  #     r2gitops adopt NAME --value-from-stdin");
        line("  # or let the next reconcile issue it a new key (the existing S3 keys stop working");
        line("  # when its rotation_overlap ends, at once with 0), which only an operator can");
        line("  # allow: `reconcile --allow-adopt-roll`.");
    }
    for d in &sorted.adoptable {
        line("");
        line(&format!(
            "  # {} (id {}): {}",
            comment_text(d.adopt_from.as_deref().unwrap_or_default()),
            quoted(&d.id),
            comment_safe(&grants(d))
        ));
        for l in entry(d) {
            line(&format!("  # {l}"));
        }
    }
    tokens_left_alone(sorted, line);
}

/// The tokens listed but not declared: another file's, outside the policy, or not expressible.
fn tokens_left_alone(sorted: &Sorted, line: &mut impl FnMut(&str)) {
    if !sorted.elsewhere.is_empty() {
        line("");
        line("# Tokens another file manages (they carry the prefix, and the inventory given");
        line("# with --state-file does not record them); this file never touches them:");
        for (name, id) in &sorted.elsewhere {
            line(&format!(
                "#   - {} (id {})",
                comment_text(name),
                comment_text(id)
            ));
        }
    }
    if !sorted.outside_policy.is_empty() {
        line("");
        line("# Tokens outside the policy (--policy); this file does not declare them:");
        for (name, id, why) in &sorted.outside_policy {
            line(&format!(
                "#   - {} (id {}): {}",
                comment_text(name),
                comment_text(id),
                comment_safe(why)
            ));
        }
    }
    if !sorted.not_importable.is_empty() {
        line("");
        line("# Tokens this file cannot express (r2gitops never touches them):");
        for (name, id, why) in &sorted.not_importable {
            line(&format!(
                "#   - {} (id {}): {}",
                comment_text(name),
                comment_text(id),
                comment_safe(why)
            ));
        }
    }
}
