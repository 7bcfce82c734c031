//! `buckets[].custom_domains`: hostnames that are hostnames, a zone that is a zone name or a
//! 32-hex id, a domain inside the zone it names, each domain once in the whole file (a domain
//! serves one bucket), at most 50 per bucket.

use super::*;

/// Cloudflare's limit per bucket (https://developers.cloudflare.com/r2/platform/limits/).
pub const MAX_CUSTOM_DOMAINS: usize = 50;

pub(super) fn custom_domains(
    c: &mut Collector,
    list: &Sp<Vec<Sp<RawCustomDomain>>>,
    path: &str,
) -> Vec<CustomDomain> {
    if list.value.len() > MAX_CUSTOM_DOMAINS {
        c.at(
            list,
            path,
            format!(
                "{} custom domains; Cloudflare allows at most {MAX_CUSTOM_DOMAINS} per bucket",
                list.value.len()
            ),
        );
    }
    let mut out = Vec::with_capacity(list.value.len());
    for (i, d) in list.value.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let r = &d.value;
        let domain = canonical(&r.domain.value);
        if let Some((message, hint)) = hostname_problem(&r.domain.value) {
            c.hint(&r.domain, format!("{here}.domain"), message, hint);
        }
        let zone = zone_ref(c, &r.zone, &format!("{here}.zone"));
        if let Some(ZoneRef::Name(z)) = &zone
            && hostname_problem(&r.domain.value).is_none()
            && !(domain == *z || domain.ends_with(&format!(".{z}")))
        {
            c.hint(
                &r.zone,
                format!("{here}.zone"),
                format!(
                    "domain '{}' is not in zone '{}'",
                    sanitize(&clip(&domain)),
                    sanitize(&clip(z))
                ),
                "the zone is the name the domain ends with, e.g. zone example.com for assets.example.com",
            );
        }
        out.push(CustomDomain {
            domain,
            // A zone that failed is reported; the model is discarded with the errors.
            zone: zone.unwrap_or(ZoneRef::Name(String::new())),
            enabled: r.enabled.as_ref().is_none_or(|e| e.value),
            min_tls: r.min_tls.as_ref().map(|m| match m.value {
                RawMinTls::V10 => MinTls::V10,
                RawMinTls::V11 => MinTls::V11,
                RawMinTls::V12 => MinTls::V12,
                RawMinTls::V13 => MinTls::V13,
            }),
        });
    }
    out
}

/// Lower case, without the root's trailing dot: how domains are compared.
pub fn canonical(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn zone_ref(c: &mut Collector, raw: &Sp<String>, path: &str) -> Option<ZoneRef> {
    let text = raw.value.trim();
    if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            c.hint(
                raw,
                path,
                "a zone id must be lowercase hex",
                format!("write '{}'", text.to_ascii_lowercase()),
            );
            return None;
        }
        return Some(ZoneRef::Id(text.to_string()));
    }
    match hostname_problem(text) {
        None => Some(ZoneRef::Name(canonical(text))),
        Some(_) => {
            c.hint(
                raw,
                path,
                format!(
                    "'{}' is neither a zone name nor a zone id",
                    sanitize(&clip(&raw.value))
                ),
                "write the zone's name (example.com) or its 32-hex id from the dashboard's Overview page",
            );
            None
        }
    }
}

/// Why `text` is not a hostname a custom domain can have, with a hint; `None` when it is.
pub fn hostname_problem(text: &str) -> Option<(String, String)> {
    const SHAPE: &str = "a hostname is dot-separated labels of a-z, 0-9 and '-' (each 1-63 characters, not starting or ending with '-'), like assets.example.com";
    let shown = sanitize(&clip(text));
    let name = canonical(text);
    if name.starts_with("*.") {
        return Some((
            format!("'{shown}' is a wildcard; R2 custom domains are single hostnames"),
            SHAPE.into(),
        ));
    }
    if name.len() > 253 {
        return Some((
            format!("'{shown}' is longer than 253 characters"),
            SHAPE.into(),
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Some((
            format!("'{shown}' is not a hostname: it has no dot"),
            SHAPE.into(),
        ));
    }
    let bad = labels.iter().any(|l| {
        l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    bad.then(|| (format!("'{shown}' is not a hostname"), SHAPE.into()))
}

/// Each domain is declared once in the file: Cloudflare attaches a hostname to one bucket.
pub(super) fn unique_domains(c: &mut Collector, raw: &[Sp<RawBucket>]) {
    let mut seen: HashMap<String, (usize, String)> = HashMap::new();
    for (i, b) in raw.iter().enumerate() {
        let Some(list) = &b.value.custom_domains else {
            continue;
        };
        for (k, d) in list.value.iter().enumerate() {
            let path = format!("buckets[{i}].custom_domains[{k}].domain");
            let name = canonical(&d.value.domain.value);
            match seen.get(&name) {
                Some((line, first)) => c.hint(
                    &d.value.domain,
                    &path,
                    format!(
                        "custom domain '{}' is declared twice",
                        sanitize(&clip(&name))
                    ),
                    format!("first declared at {first} (line {line}); a domain serves one bucket"),
                ),
                None => {
                    seen.insert(name, (d.value.domain.line, path));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_checked_label_by_label() {
        for (text, ok) in [
            ("assets.example.com", true),
            ("Assets.Example.COM.", true),
            ("a.b", true),
            ("xn--bcher-kva.example", true),
            ("localhost", false),
            ("*.example.com", false),
            ("-a.example.com", false),
            ("a-.example.com", false),
            ("a..example.com", false),
            ("a_b.example.com", false),
            ("https://assets.example.com", false),
        ] {
            assert_eq!(hostname_problem(text).is_none(), ok, "{text}");
        }
        let long = format!("{}.example.com", "a".repeat(64));
        assert!(hostname_problem(&long).is_some());
    }
}
