//! `custom_domains:` from the domains Cloudflare holds for a bucket. The zone is written by
//! name where Cloudflare names it (a plan then looks it up as any file's zone), else by id;
//! `min_tls` only when it is not Cloudflare's default. `status` is Cloudflare's progress,
//! not configuration, so it is not written.

use super::quoted;
use crate::observed::custom_domain::{self, CustomDomain};

pub(super) fn lines(domains: &[CustomDomain]) -> Result<Vec<String>, String> {
    if domains.is_empty() {
        return Ok(vec!["custom_domains: []".to_string()]);
    }
    let mut l = vec!["custom_domains:".to_string()];
    for observed in domains {
        let d = custom_domain::declare(observed);
        if d.zone.as_str().is_empty() {
            return Err(format!(
                "Cloudflare names no zone for domain {}",
                quoted(&observed.domain)
            ));
        }
        l.push(format!("  - domain: {}", quoted(&d.domain)));
        l.push(format!("    zone: {}", quoted(d.zone.as_str())));
        if !d.enabled {
            l.push("    enabled: false".into());
        }
        if let Some(m) = d.min_tls {
            l.push(format!("    min_tls: {}", quoted(m.as_str())));
        }
    }
    Ok(l)
}
