//! `buckets:`: names (with a valid suggestion when one is wrong), jurisdictions, location
//! hints, storage classes, `protect`; the configuration blocks are in `bucket_config`.

use super::*;

pub(super) fn buckets(c: &mut Collector, raw: &[Sp<RawBucket>]) -> Vec<BucketSpec> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, b) in raw.iter().enumerate() {
        let b = &b.value;
        let path = format!("buckets[{i}].name");
        if let Some((message, hint)) = bucket_name_problem(&b.name.value) {
            c.push(b.name.line, b.name.column, &path, message, Some(hint));
        }
        if let Some(first) = seen.insert(&b.name.value, b.name.line) {
            // Keep pointing later duplicates at the first declaration.
            seen.insert(&b.name.value, first);
            c.hint(
                &b.name,
                &path,
                format!("bucket '{}' is declared twice", sanitize(&b.name.value)),
                format!("first declared on line {first}"),
            );
        }
        let config = super::bucket_config::bucket_config(c, b, &format!("buckets[{i}]"));
        out.push(BucketSpec {
            name: b.name.value.clone(),
            jurisdiction: b
                .jurisdiction
                .as_ref()
                .map_or(Jurisdiction::Default, |j| j.value.into()),
            location_hint: b.location_hint.as_ref().map(|l| l.value.into()),
            storage_class: b
                .storage_class
                .as_ref()
                .map_or(StorageClass::Standard, |s| s.value.into()),
            protect: b.protect.as_ref().is_none_or(|p| p.value),
            config,
        });
    }
    super::custom_domain::unique_domains(c, raw);
    out
}

/// A valid bucket name close to `name`, or `None`: lower case, `_` and `.` (and any
/// other character R2 refuses) become `-`, repeated and outer `-` go. Only ever a name that
/// itself validates: a hint must never suggest another invalid value.
pub fn suggest_bucket_name(name: &str) -> Option<String> {
    let mut out = String::new();
    for ch in name.chars() {
        let ch = ch.to_ascii_lowercase();
        let ch = if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            ch
        } else {
            '-'
        };
        if !(ch == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(ch);
        }
    }
    let out = out.trim_end_matches('-').to_string();
    (out != name && bucket_name_problem(&out).is_none()).then_some(out)
}

/// Why `name` is not a valid R2 bucket name, with a hint; `None` when it is.
pub fn bucket_name_problem(name: &str) -> Option<(String, String)> {
    let shown = sanitize(&clip(name));
    let rule = "R2 bucket names are 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit";
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        return Some((
            format!("bucket name '{shown}' is {len} characters long; R2 allows 3 to 63"),
            rule.into(),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|ch| !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || *ch == '-'))
    {
        let hint = match suggest_bucket_name(name) {
            Some(s) => format!("{rule}; try '{s}'"),
            None => rule.into(),
        };
        return Some((
            format!(
                "bucket name '{shown}' contains '{}'",
                sanitize(&bad.to_string())
            ),
            hint,
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some((
            format!("bucket name '{shown}' must start and end with a letter or digit"),
            rule.into(),
        ));
    }
    None
}
