//! The plan's id: the SHA-256 of its canonical form, so that an apply can refuse any plan
//! but the one a reviewer approved (`reconcile --expect-plan`, the guard of
//! dflook/terraform-apply). Pure: no clock, no I/O.
//!
//! The canonical form is what an apply would do and what it cannot do: the account, each
//! step with its whole payload (the body a PUT sends, a token's policies and restrictions,
//! not only the words the plan shows), each blocked item, and a refusal. It leaves out what
//! changes nothing and what moves with the clock, so that the same plan has the same id a
//! minute or a day later: kept temporary credentials (their time left), next rotations and
//! the old keys in their overlap (their time left), a
//! custom domain's progress, orphans and tokens managed elsewhere (kept as they are), the
//! unchanged count, the inventory bookkeeping, and whether outputs were examined (the steps
//! already say what that changed). The one clock-derived value inside a step, the time a
//! credential in its refresh window has left, is zeroed.
//!
//! Each item is written as its `Debug` form on a line of its own: plain data with no maps
//! and no floats, and `{:?}` escapes every newline inside a string, so a line is one item.
//! The form is versioned by its first line; ids are compared between runs of one r2gitops
//! version (the GitHub Action pins one), never stored across upgrades.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{IssueReason, Plan, Step};

/// The first line of the canonical form: bumped when the form changes.
const FORM: &str = "r2gitops plan id v1";

/// The plan's id: 64 lowercase hex digits.
pub fn plan_id(plan: &Plan) -> String {
    hex::encode(Sha256::digest(canonical(plan).as_bytes()))
}

/// The text the id is the hash of.
pub fn canonical(plan: &Plan) -> String {
    let mut out = format!(
        "{FORM}\naccount {:?}\nrefused {:?}\n",
        plan.account_id, plan.refused
    );
    for step in &plan.steps {
        out.push_str(&format!("step {:?}\n", without_clock(step)));
    }
    for b in &plan.blocked {
        out.push_str(&format!("blocked {b:?}\n"));
    }
    out
}

/// The step with the time left of a credential in its refresh window zeroed: the issue is
/// the same whether it runs now or a minute later.
fn without_clock(step: &Step) -> std::borrow::Cow<'_, Step> {
    match step {
        Step::IssueTemporary {
            reason: IssueReason::Refresh { .. },
            ..
        } => {
            let mut s = step.clone();
            if let Step::IssueTemporary { reason, .. } = &mut s {
                *reason = IssueReason::Refresh {
                    expires_in: Duration::ZERO,
                };
            }
            std::borrow::Cow::Owned(s)
        }
        _ => std::borrow::Cow::Borrowed(step),
    }
}

/// `s` if it is a plan id (what `--expect-plan` accepts).
pub fn parse(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "'{s}' is not a plan id: expected the 64 hex digits of a plan's `Plan id:` line"
        ))
    }
}

#[cfg(test)]
mod tests;
