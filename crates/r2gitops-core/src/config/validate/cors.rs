//! `buckets[].cors`: ids unique when given, origins that are origins, methods from the enum
//! (the schema walk reports the others), at least one origin and one method, header names
//! without spaces, `max_age` at most one day.

use super::bucket_config::{age, unique_id};
use super::*;

/// Browsers cap it lower; Cloudflare documents 86,400 s as the maximum (https://developers.cloudflare.com/r2/buckets/cors/).
pub const MAX_CORS_AGE_SECS: u64 = 86_400;

pub(super) fn cors(
    c: &mut Collector,
    list: &Sp<Vec<Sp<RawCorsRule>>>,
    path: &str,
) -> Vec<CorsRule> {
    let mut ids = HashMap::new();
    let mut out = Vec::with_capacity(list.value.len());
    for (i, rule) in list.value.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let r = &rule.value;
        if let Some(id) = &r.id {
            unique_id(c, &mut ids, id, &format!("{here}.id"), "CORS rule");
        }
        if r.allowed_origins.value.is_empty() {
            c.at(
                &r.allowed_origins,
                format!("{here}.allowed_origins"),
                "a CORS rule needs at least one origin",
            );
        }
        for (k, o) in r.allowed_origins.value.iter().enumerate() {
            if let Some((message, hint)) = origin_problem(&o.value) {
                c.hint(o, format!("{here}.allowed_origins[{k}]"), message, hint);
            }
        }
        if r.allowed_methods.value.is_empty() {
            c.at(
                &r.allowed_methods,
                format!("{here}.allowed_methods"),
                "a CORS rule needs at least one method",
            );
        }
        let headers = |c: &mut Collector, field: &str, list: &Option<Sp<Vec<Sp<String>>>>| {
            let mut out = Vec::new();
            for (k, h) in list.iter().flat_map(|l| l.value.iter()).enumerate() {
                let name = h.value.trim();
                if name.is_empty() || name.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                    c.at(
                        h,
                        format!("{here}.{field}[{k}]"),
                        format!("'{}' is not a header name", sanitize(&clip(&h.value))),
                    );
                } else {
                    out.push(name.to_string());
                }
            }
            out
        };
        let allowed_headers = headers(c, "allowed_headers", &r.allowed_headers);
        let expose_headers = headers(c, "expose_headers", &r.expose_headers);
        let max_age = r.max_age.as_ref().and_then(|m| {
            let path = format!("{here}.max_age");
            let a = age(c, m, &path)?;
            if a.secs > MAX_CORS_AGE_SECS {
                c.hint(
                    m,
                    &path,
                    format!("max_age {a} is longer than 1d"),
                    "Cloudflare allows at most 1d (86400s); browsers cap it lower still",
                );
            }
            Some(a)
        });
        out.push(CorsRule {
            id: r.id.as_ref().map(|i| i.value.clone()),
            allowed_origins: r
                .allowed_origins
                .value
                .iter()
                .map(|o| o.value.trim().to_string())
                .collect(),
            allowed_methods: r
                .allowed_methods
                .value
                .iter()
                .map(|m| match m.value {
                    RawCorsMethod::Get => CorsMethod::Get,
                    RawCorsMethod::Put => CorsMethod::Put,
                    RawCorsMethod::Post => CorsMethod::Post,
                    RawCorsMethod::Delete => CorsMethod::Delete,
                    RawCorsMethod::Head => CorsMethod::Head,
                })
                .collect(),
            allowed_headers,
            expose_headers,
            max_age,
        });
    }
    out
}

/// Why `text` is not an origin as a browser sends it (`scheme://host[:port]`, nothing
/// after), with a hint; `None` when it is one, or `*`.
pub fn origin_problem(text: &str) -> Option<(String, String)> {
    const SHAPE: &str =
        "an origin is scheme://host[:port] with nothing after it, or \"*\" for any origin";
    let shown = sanitize(&clip(text));
    let text = text.trim();
    if text == "*" {
        return None;
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Some((
            format!("'{shown}' is not an origin: no scheme"),
            SHAPE.into(),
        ));
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Some((
            format!("'{shown}' is not an origin: bad scheme"),
            SHAPE.into(),
        ));
    }
    if let Some(cut) = rest.find(['/', '?', '#']) {
        let origin = format!("{scheme}://{}", &rest[..cut]);
        return Some((
            format!("'{shown}' is not an origin: it has a path"),
            format!("{SHAPE}; write '{}'", sanitize(&clip(&origin))),
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal keeps its colons inside brackets.
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    if host.is_empty()
        || host.contains('@')
        || host.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Some((
            format!("'{shown}' is not an origin: bad host"),
            SHAPE.into(),
        ));
    }
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|n| n > 0)
    {
        return Some((
            format!("'{shown}' is not an origin: bad port"),
            SHAPE.into(),
        ));
    }
    None
}
