//! `public_dev_url:` from the bucket's r2.dev setting.

use crate::observed::bucket_config::ManagedDomain;

pub(super) fn lines(d: &ManagedDomain) -> Vec<String> {
    let mut l = vec![format!("public_dev_url: {}", d.enabled)];
    if let Some(domain) = d.domain.as_ref().filter(|_| d.enabled) {
        // Where it is public now, for whoever reviews the file.
        l[0].push_str(&format!(
            "   # {}",
            super::quoted(&format!("https://{domain}"))
        ));
    }
    l
}
