//! The daemon's side of temporary credentials: when the next renewal is due, and
//! how close each credential is to expiry, for `/status` and
//! `r2gitops_temporary_credential_expiry_seconds`. Pure: `now` and the jitter's dice are
//! inputs. A renewal is an ordinary pass trigger (coalesced with the others); the pass
//! decides what to issue.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::apply::{Outcome, Report};
use crate::config::Desired;
use crate::inventory::Inventory;
use crate::plan::Kind;
use crate::plan::timestamp;
use crate::secrets::VerifyOutcome;

/// At most this much jitter is added to a renewal (and at most a tenth of its
/// `refresh_before`), so that daemons sharing a parent do not all call at once.
pub const MAX_JITTER: Duration = Duration::from_secs(30);

/// One declared temporary credential as the daemon last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct TemporaryEntry {
    pub name: String,
    pub parent: String,
    /// `None`: never issued (or its record was lost).
    pub expires_at: Option<OffsetDateTime>,
    /// `expires_at - refresh_before`.
    pub renew_at: Option<OffsetDateTime>,
    pub refresh_before: Duration,
    /// Why the last attempt to issue it failed, until one succeeds.
    pub last_error: Option<String>,
}

/// The declared credentials with what the inventory holds of them. `errors` are the
/// failures of the pass just run, by name; `previous` keeps older ones until a success.
pub fn entries(
    desired: &Desired,
    inventory: &Inventory,
    errors: &BTreeMap<String, String>,
    issued: &[String],
    previous: &[TemporaryEntry],
) -> Vec<TemporaryEntry> {
    desired
        .temporary_credentials
        .iter()
        .map(|t| {
            let record = inventory.temporary.get(&t.name);
            let last_error = match errors.get(&t.name) {
                Some(e) => Some(e.clone()),
                None if issued.contains(&t.name) => None,
                None => previous
                    .iter()
                    .find(|p| p.name == t.name)
                    .and_then(|p| p.last_error.clone()),
            };
            TemporaryEntry {
                name: t.name.clone(),
                parent: t.parent.clone(),
                expires_at: record.map(|r| r.expires_at),
                renew_at: record.map(|r| r.expires_at - t.refresh_before),
                refresh_before: t.refresh_before,
                last_error,
            }
        })
        .collect()
}

/// When the daemon should next run a pass for a renewal: the earliest `renew_at` still
/// ahead, plus a little jitter (`dice` in `0.0..=1.0`). One that is already due after a
/// pass was not issued by it (blocked, or failed): failures are retried by the caller's
/// backoff, blocked ones wait for the regular interval, never a busy loop.
pub fn next_renewal(
    entries: &[TemporaryEntry],
    now: OffsetDateTime,
    dice: f64,
) -> Option<OffsetDateTime> {
    entries
        .iter()
        .filter_map(|e| {
            let at = e.renew_at.filter(|at| *at > now)?;
            let cap = (e.refresh_before / 10).min(MAX_JITTER);
            Some(at + cap.mul_f64(dice.clamp(0.0, 1.0)))
        })
        .min()
}

/// What an apply did with temporary credentials: the failures by name (a failed issue or
/// self-test), the names issued, and whether those failures are all that failed (then the
/// pass still counts as a success: `/readyz` stays ready, the renewal is retried).
pub fn from_report(report: &Report) -> (BTreeMap<String, String>, Vec<String>, bool) {
    let mut errors = BTreeMap::new();
    let mut issued = Vec::new();
    let mut others_failed = !report.inventory_errors.is_empty();
    for s in &report.steps {
        let verify_failed = matches!(s.verify, Some(VerifyOutcome::Failed { .. }));
        let failed = matches!(s.outcome, Outcome::Failed(_)) || verify_failed;
        if s.kind != Kind::Temporary.as_str() {
            others_failed |= failed;
            continue;
        }
        match (&s.outcome, &s.verify) {
            (Outcome::Failed(e), _) => {
                errors.insert(s.name.clone(), e.clone());
            }
            (_, Some(v)) if verify_failed => {
                errors.insert(s.name.clone(), v.to_string());
            }
            (o, _) if o.succeeded() => issued.push(s.name.clone()),
            _ => {}
        }
    }
    (errors, issued, !others_failed)
}

/// Seconds until expiry: negative once expired, 0 for a credential never issued.
fn expiry_seconds(e: &TemporaryEntry, now: OffsetDateTime) -> i64 {
    e.expires_at.map_or(0, |x| (x - now).whole_seconds())
}

/// A Prometheus label value, escaped as the text format wants (`\\`, `\"`, `\n`).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `/metrics` lines of the temporary credentials: two series without names (the one
/// closest to expiry, how many are failing) for any listener, and with `names` one series
/// per credential, labelled by its name.
pub fn metrics(entries: &[TemporaryEntry], now: OffsetDateTime, names: bool) -> String {
    let mut out = String::new();
    let g = "r2gitops_temporary_credential_soonest_expiry_seconds";
    let _ = writeln!(
        out,
        "# HELP {g} Seconds until the temporary credential closest to expiry expires (0 or less: expired, or never issued)."
    );
    let _ = writeln!(out, "# TYPE {g} gauge");
    if let Some(soonest) = entries.iter().map(|e| expiry_seconds(e, now)).min() {
        let _ = writeln!(out, "{g} {soonest}");
    }
    let g = "r2gitops_temporary_credentials_renewal_failing";
    let _ = writeln!(
        out,
        "# HELP {g} Temporary credentials whose last attempt to be issued failed (each is retried with backoff)."
    );
    let _ = writeln!(out, "# TYPE {g} gauge");
    let failing = entries.iter().filter(|e| e.last_error.is_some()).count();
    let _ = writeln!(out, "{g} {failing}");
    if !names {
        return out;
    }
    let g = "r2gitops_temporary_credential_expiry_seconds";
    let _ = writeln!(
        out,
        "# HELP {g} Seconds until each temporary credential expires (0 or less: expired, or never issued)."
    );
    let _ = writeln!(out, "# TYPE {g} gauge");
    for e in entries {
        let _ = writeln!(
            out,
            "{g}{{name=\"{}\"}} {}",
            label(&e.name),
            expiry_seconds(e, now)
        );
    }
    let g = "r2gitops_temporary_credential_renewal_failing";
    let _ = writeln!(
        out,
        "# HELP {g} 1 while the last attempt to issue a temporary credential failed (it is retried with backoff)."
    );
    let _ = writeln!(out, "# TYPE {g} gauge");
    for e in entries {
        let _ = writeln!(
            out,
            "{g}{{name=\"{}\"}} {}",
            label(&e.name),
            u8::from(e.last_error.is_some())
        );
    }
    out
}

/// The `temporary_credentials` member of `/status`.
pub fn status_json(entries: &[TemporaryEntry], now: OffsetDateTime) -> Value {
    json!(
        entries
            .iter()
            .map(|e| json!({
                "name": e.name,
                "parent": e.parent,
                "expires_at": e.expires_at.map(timestamp),
                "expires_in_seconds": e.expires_at.map(|_| expiry_seconds(e, now)),
                "renew_at": e.renew_at.map(timestamp),
                "last_error": e.last_error,
            }))
            .collect::<Vec<_>>()
    )
}

#[cfg(test)]
mod tests;
