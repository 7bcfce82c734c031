//! What a committed file may not do to the state bucket the operator named (`--state`):
//! manage it unprotected (`protect: false`), delete it, or give a token write access
//! over it (only r2gitops' own S3 credentials, which the file never names, may write there).
//! Pure: the desired state and the plan in, a refusal out.

use crate::config::{Access, Desired, Jurisdiction, TokenScope};
use crate::plan::Step;

/// Why the plan must not be applied, or `None`.
pub fn refusal(desired: &Desired, steps: &[Step], bucket: &str, j: Jurisdiction) -> Option<String> {
    let here = format!("the state bucket '{bucket}' ({})", j.as_str());
    if let Some(b) = desired
        .buckets
        .iter()
        .find(|b| b.name == bucket && b.jurisdiction == j && !b.protect)
    {
        return Some(format!(
            "the file declares {here} with protect: false (bucket '{}'); r2gitops manages its own state bucket only while the file protects it",
            b.name
        ));
    }
    if steps.iter().any(|s| {
        matches!(s, Step::DeleteBucket { bucket: b } if b.name == bucket && b.jurisdiction == j)
    }) {
        return Some(format!("the plan would delete {here}"));
    }
    for t in &desired.tokens {
        let writes = matches!(t.access, Access::ObjectReadWrite | Access::AdminReadWrite);
        let over = match &t.scope {
            TokenScope::Account => true,
            TokenScope::AllBuckets => t.jurisdiction == j,
            TokenScope::Buckets(names) => t.jurisdiction == j && names.iter().any(|n| n == bucket),
        };
        if writes && over {
            return Some(format!(
                "token '{}' ({}) could write {here}, which holds the inventory and its lease; only r2gitops' own state credentials may",
                t.name,
                t.access.as_str()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;
