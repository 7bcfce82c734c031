//! The configuration blocks of one bucket: dispatches to one file per kind that has rules
//! of its own, and holds what they share: ages with their unit, dates,
//! unique ids, the 1,000-rule limits, and the warning for Cloudflare's default lifecycle rule.

use super::*;

/// Cloudflare's limit on lifecycle rules and on lock rules per bucket (the 1000 rules of
/// https://developers.cloudflare.com/r2/buckets/object-lifecycles/ and bucket-locks/).
pub const MAX_RULES: usize = 1000;

pub(super) fn bucket_config(c: &mut Collector, b: &RawBucket, here: &str) -> BucketConfig {
    let cors = b
        .cors
        .as_ref()
        .map(|list| super::cors::cors(c, list, &format!("{here}.cors")));
    let lifecycle = b.lifecycle.as_ref().map(|list| {
        let path = format!("{here}.lifecycle");
        let rules = super::lifecycle::lifecycle(c, list, &path);
        default_rule_warning(c, list, &rules, &path);
        rules
    });
    let lock = b
        .lock
        .as_ref()
        .map(|list| super::lock::lock(c, list, &format!("{here}.lock")));
    let custom_domains = b.custom_domains.as_ref().map(|list| {
        super::custom_domain::custom_domains(c, list, &format!("{here}.custom_domains"))
    });
    let notifications = b
        .notifications
        .as_ref()
        .map(|list| super::notification::notifications(c, list, &format!("{here}.notifications")));
    BucketConfig {
        cors,
        lifecycle,
        lock,
        public_dev_url: b.public_dev_url.as_ref().map(|p| p.value),
        custom_domains,
        notifications,
    }
}

/// A declared lifecycle list replaces the whole set on Cloudflare, so without a
/// whole-bucket multipart abort of its own it removes the default rule every bucket is
/// born with. Valid, but rarely meant: say so, with the one line that keeps it.
fn default_rule_warning<T>(c: &mut Collector, list: &Sp<T>, rules: &[LifecycleRule], path: &str) {
    let keeps = rules
        .iter()
        .any(|r| r.enabled && r.prefix.is_empty() && r.abort_multipart_after.is_some());
    if !keeps {
        c.warn(
            list,
            path,
            format!(
                "this list replaces Cloudflare's default rule \"{DEFAULT_LIFECYCLE_RULE_ID}\" (abort incomplete multipart uploads after 7d): it has no whole-bucket abort_multipart_after"
            ),
            format!(
                "to keep it, add: - {{ id: \"{DEFAULT_LIFECYCLE_RULE_ID}\", abort_multipart_after: 7d }}"
            ),
        );
    }
}

/// A duration of the file (`7d`, `12h`) with its unit; `None` (and a located problem) when
/// it does not parse or is zero.
pub(super) fn age(c: &mut Collector, raw: &Sp<String>, path: &str) -> Option<Age> {
    let text = raw.value.trim();
    match parse_duration(text) {
        Some(d) if !d.is_zero() => Some(Age {
            secs: d.as_secs(),
            unit: text.chars().last().unwrap_or('s'),
        }),
        Some(_) => {
            c.at(raw, path, "must be longer than 0");
            None
        }
        None => {
            c.hint(
                raw,
                path,
                format!("'{}' is not a duration", sanitize(&clip(&raw.value))),
                "a number and a unit: s, m, h or d (e.g. 7d, 12h)",
            );
            None
        }
    }
}

/// Report a second use of an id in one list, pointing at the first.
pub(super) fn unique_id<'a>(
    c: &mut Collector,
    seen: &mut HashMap<&'a str, usize>,
    id: &'a Sp<String>,
    path: &str,
    what: &str,
) {
    if id.value.trim().is_empty() {
        c.at(id, path, format!("{what} id must not be empty"));
        return;
    }
    match seen.get(id.value.as_str()) {
        Some(first) => c.hint(
            id,
            path,
            format!("{what} id '{}' is used twice", sanitize(&clip(&id.value))),
            format!("first used on line {first}; ids are unique in a bucket"),
        ),
        None => {
            seen.insert(&id.value, id.line);
        }
    }
}

/// At most `MAX_RULES` rules in a list.
pub(super) fn rule_limit<T>(c: &mut Collector, list: &Sp<Vec<T>>, path: &str, what: &str) {
    if list.value.len() > MAX_RULES {
        c.at(
            list,
            path,
            format!(
                "{} {what} rules; Cloudflare allows at most {MAX_RULES} per bucket",
                list.value.len()
            ),
        );
    }
}

/// At most one of two keys that say the same thing two ways (`expire_after`/`expire_on`).
pub(super) fn one_of<A, B>(
    c: &mut Collector,
    a: (&str, &Option<Sp<A>>),
    b: (&str, &Option<Sp<B>>),
    here: &str,
) -> bool {
    if let (Some(_), Some(second)) = (a.1, b.1) {
        c.hint(
            second,
            format!("{here}.{}", b.0),
            format!("{} and {} are exclusive", a.0, b.0),
            format!("keep one of {} and {}", a.0, b.0),
        );
        return false;
    }
    true
}
