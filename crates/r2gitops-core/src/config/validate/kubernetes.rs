//! `output.kubernetes`: the Secret a `kubernetes` or `kubernetes-sops` output renders. Names
//! follow Kubernetes' own rules (a DNS subdomain for the name, a DNS label for the
//! namespace, qualified names for label keys), so that what r2gitops writes is a Secret the
//! API server accepts; a label or annotation can never break out of its YAML scalar.

use super::*;

/// The Secret of an output, checked; `None` for the other formats (and after a problem,
/// which is reported). `default_name` is the declared token's (or credential's) name.
pub(super) fn kubernetes(
    c: &mut Collector,
    raw: &Sp<RawOutput>,
    here: &str,
    default_name: &str,
) -> Option<KubernetesSpec> {
    let o = &raw.value;
    let format: OutputFormat = o.format.value.into();
    let path = format!("{here}.output.kubernetes");
    let Some(k) = &o.kubernetes else {
        if format.is_kubernetes() {
            c.hint(
                &o.format,
                format!("{here}.output.format"),
                format!("format {} needs output.kubernetes", format.as_str()),
                "add `kubernetes: {namespace: NAMESPACE}` under output (name defaults to r2-<token name>)",
            );
        }
        return None;
    };
    if !format.is_kubernetes() {
        c.hint(
            k,
            &path,
            format!(
                "output.kubernetes is only read by the kubernetes formats, not {}",
                format.as_str()
            ),
            "set format: kubernetes-sops (or kubernetes), or remove the kubernetes block",
        );
        return None;
    }
    if format == OutputFormat::KubernetesSops
        && let Some(armor) = o.armor.as_ref().filter(|a| a.value)
    {
        c.hint(
            armor,
            format!("{here}.output.armor"),
            "armor is for age files: a kubernetes-sops file is YAML whose values SOPS encrypts",
            "remove armor",
        );
    }
    let block = k;
    let k = &k.value;
    let mut ok = true;
    let name = match &k.name {
        Some(n) => {
            if let Some(why) = dns_subdomain_problem(&n.value) {
                ok = false;
                c.hint(
                    n,
                    format!("{path}.name"),
                    format!("Secret name '{}' {why}", sanitize(&clip(&n.value))),
                    NAME_RULE,
                );
            }
            n.value.clone()
        }
        None => {
            let name = format!("r2-{default_name}");
            if let Some(why) = dns_subdomain_problem(&name) {
                ok = false;
                c.hint(
                    block,
                    &path,
                    format!("the default Secret name '{}' {why}", sanitize(&clip(&name))),
                    "set output.kubernetes.name",
                );
            }
            name
        }
    };
    if let Some(why) = dns_label_problem(&k.namespace.value) {
        c.hint(
            &k.namespace,
            format!("{path}.namespace"),
            format!(
                "namespace '{}' {why}",
                sanitize(&clip(&k.namespace.value))
            ),
            "a namespace is a DNS label: 1-63 lowercase letters, digits and '-', alphanumeric at both ends",
        );
    }
    let mut labels = BTreeMap::new();
    for (key, value) in k.labels.iter().flat_map(|l| l.value.iter()) {
        let at = format!("{path}.labels.{}", sanitize(&clip(key)));
        if let Some(why) = label_key_problem(key) {
            ok = false;
            c.hint(
                value,
                &at,
                format!("label key '{}' {why}", sanitize(&clip(key))),
                "a label key is an optional DNS-subdomain prefix and '/', then 1-63 letters, digits, '-', '_' or '.', alphanumeric at both ends",
            );
        }
        if let Some(why) = label_value_problem(&value.value) {
            ok = false;
            c.hint(
                value,
                &at,
                format!("label value '{}' {why}", sanitize(&clip(&value.value))),
                "a label value is empty, or 1-63 letters, digits, '-', '_' or '.', alphanumeric at both ends (quote it in YAML)",
            );
        }
        labels.insert(key.clone(), value.value.clone());
    }
    let keys = match k.keys.as_ref().map(|k| k.value) {
        None | Some(RawKeyStyle::Aws) => KeyStyle::Aws,
        Some(RawKeyStyle::R2) => KeyStyle::R2,
    };
    ok.then(|| KubernetesSpec {
        name,
        namespace: k.namespace.value.clone(),
        keys,
        labels,
    })
}

const NAME_RULE: &str = "a Secret name is a DNS subdomain: at most 253 lowercase letters, digits, '-' and '.', alphanumeric at both ends of each dot-separated part";

/// Why `s` is not a DNS subdomain (RFC 1123, as Kubernetes checks object names).
pub fn dns_subdomain_problem(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        return Some("is empty");
    }
    if s.len() > 253 {
        return Some("is longer than 253 characters");
    }
    if s.split('.').any(|part| dns_label_problem(part).is_some()) {
        return Some("is not a DNS subdomain (lowercase letters, digits, '-' and '.')");
    }
    None
}

/// Why `s` is not a DNS label (RFC 1123: a namespace).
pub fn dns_label_problem(s: &str) -> Option<&'static str> {
    let ok_inner = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let ok_end = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match bytes {
        [] => Some("is empty"),
        _ if bytes.len() > 63 => Some("is longer than 63 characters"),
        [first, .., last] | [first @ last]
            if !ok_end(*first) || !ok_end(*last) || !bytes.iter().all(|b| ok_inner(*b)) =>
        {
            Some(
                "is not a DNS label (lowercase letters, digits and '-', alphanumeric at both ends)",
            )
        }
        _ => None,
    }
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain, the name 1-63 of
/// `[A-Za-z0-9_.-]`, alphanumeric at both ends.
pub fn label_key_problem(key: &str) -> Option<&'static str> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && dns_subdomain_problem(p).is_some()
    {
        return Some("has a prefix that is not a DNS subdomain");
    }
    if name.is_empty() {
        return Some("has an empty name");
    }
    label_value_problem(name).map(|_| "is not a valid label name")
}

/// A label value: empty, or 1-63 of `[A-Za-z0-9_.-]`, alphanumeric at both ends.
pub fn label_value_problem(value: &str) -> Option<&'static str> {
    let bytes = value.as_bytes();
    let ok_inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    match bytes {
        [] => None,
        _ if bytes.len() > 63 => Some("is longer than 63 characters"),
        [first, .., last] | [first @ last]
            if !first.is_ascii_alphanumeric()
                || !last.is_ascii_alphanumeric()
                || !bytes.iter().all(ok_inner) =>
        {
            Some("has a character a label may not hold")
        }
        _ => None,
    }
}
