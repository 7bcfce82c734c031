//! `cors:` from the observed rules.

use super::quoted;
use super::{age, list};
use crate::observed::bucket_config::CorsRule;

pub(super) fn lines(rules: &[CorsRule]) -> Result<Vec<String>, String> {
    if rules.is_empty() {
        return Ok(vec!["cors: []".to_string()]);
    }
    let mut l = vec!["cors:".to_string()];
    for r in rules {
        let mut first = true;
        let mut field = |text: String| {
            l.push(format!("  {} {text}", if first { "-" } else { " " }));
            first = false;
        };
        if let Some(id) = &r.id {
            field(format!("id: {}", quoted(id)));
        }
        field(format!("allowed_origins: {}", list(&r.origins)));
        // Methods are enum words in the file, unquoted.
        field(format!(
            "allowed_methods: [{}]",
            r.methods.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
        if !r.headers.is_empty() {
            field(format!("allowed_headers: {}", list(&r.headers)));
        }
        if !r.expose_headers.is_empty() {
            field(format!("expose_headers: {}", list(&r.expose_headers)));
        }
        if let Some(secs) = r.max_age_secs {
            field(format!("max_age: {}", age(secs)));
        }
    }
    Ok(l)
}
