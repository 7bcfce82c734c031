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

use time::OffsetDateTime;

use super::Snapshot;
use super::blocks::Block;
use super::sort::{
    Declared, Sorted, block_outside_policy, bucket_outside_policy, misnamed, sort_buckets,
    sort_tokens, to_second,
};
use crate::config::validate::{RECIPIENT_PLACEHOLDER, bucket_name_problem};
use crate::config::yaml::quoted;
use crate::config::{Jurisdiction, Owner, StorageClass, TokenScope};
use crate::observed::ObservedBucket;
use crate::plan::render::is_hidden;
use crate::plan::timestamp;

/// How the file was made, for its opening comment.
pub struct Header {
    /// The command line, secrets excluded (it never holds one).
    pub command: String,
    pub generated_at: OffsetDateTime,
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
