//! What an apply did, step by step, as plain data, and how it is shown. Never a secret: the
//! report is built from plan lines, ids and error messages, none of which holds one.

use serde_json::{Value, json};

use crate::secrets::VerifyOutcome;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Idempotent success: the object was already in the wanted state (409 on create, gone
    /// on delete), with what was found.
    AlreadyDone(String),
    /// Done by replacing the token (Cloudflare could not change it in place), with what
    /// happened.
    Replaced(String),
    /// A rotation: the new key proven and delivered, the old one retiring (or revoked).
    Rotated(String),
    Failed(String),
    /// Not attempted: shutting down, or something it depends on failed.
    Skipped(String),
    /// Cloudflare refused for a reason the plan reports rather than forces (a bucket that
    /// holds objects is never emptied).
    Blocked(String),
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadyDone(_) => "already_done",
            Outcome::Replaced(_) => "replaced",
            Outcome::Rotated(_) => "rotated",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Blocked(_) => "blocked",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Done => None,
            Outcome::AlreadyDone(d)
            | Outcome::Replaced(d)
            | Outcome::Rotated(d)
            | Outcome::Failed(d)
            | Outcome::Skipped(d)
            | Outcome::Blocked(d) => Some(d),
        }
    }

    pub fn succeeded(&self) -> bool {
        matches!(
            self,
            Outcome::Done | Outcome::AlreadyDone(_) | Outcome::Replaced(_) | Outcome::Rotated(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The plan's line for the step (`+ create bucket media (eu)`).
    pub line: String,
    pub action: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub outcome: Outcome,
    /// The `output.verify` self-test, when the step wrote an output that asks for it.
    pub verify: Option<VerifyOutcome>,
    /// How long a rotation's new key took to pass its readiness probe.
    pub readiness: Option<std::time::Duration>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub steps: Vec<StepReport>,
    /// Temp files of interrupted writes removed before the apply.
    pub temp_files_removed: usize,
    /// Problems saving the inventory (the next pass rolls what it cannot vouch for).
    pub inventory_errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
    pub blocked: usize,
}

impl Report {
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for s in &self.steps {
            match s.outcome {
                Outcome::Done
                | Outcome::AlreadyDone(_)
                | Outcome::Replaced(_)
                | Outcome::Rotated(_) => t.done += 1,
                Outcome::Failed(_) => t.failed += 1,
                Outcome::Skipped(_) => t.skipped += 1,
                Outcome::Blocked(_) => t.blocked += 1,
            }
        }
        t
    }

    /// Whether the run should exit non-zero: a step failed, a self-test failed, or the
    /// inventory could not be saved.
    pub fn has_errors(&self) -> bool {
        !self.inventory_errors.is_empty()
            || self.steps.iter().any(|s| {
                matches!(s.outcome, Outcome::Failed(_))
                    || matches!(s.verify, Some(VerifyOutcome::Failed { .. }))
            })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.temp_files_removed > 0 {
            out.push_str(&format!(
                "Removed {} temp file(s) left by an interrupted write.\n",
                self.temp_files_removed
            ));
        }
        if !self.steps.is_empty() {
            out.push_str("Applied:\n");
        }
        for s in &self.steps {
            let mark = match s.outcome {
                Outcome::Done
                | Outcome::AlreadyDone(_)
                | Outcome::Replaced(_)
                | Outcome::Rotated(_) => "ok",
                Outcome::Failed(_) => "FAILED",
                Outcome::Skipped(_) => "skipped",
                Outcome::Blocked(_) => "blocked",
            };
            // The plan's line, escaped as the plan showed it (it may hold a Cloudflare name).
            out.push_str(&format!(
                "  [{mark}] {}",
                crate::plan::render::escape(&s.line)
            ));
            if let Some(d) = s.outcome.detail() {
                out.push_str(&format!(": {d}"));
            }
            out.push('\n');
            if let Some(v) = &s.verify {
                out.push_str(&format!("         verify: {}\n", verify_text(v)));
            }
        }
        for e in &self.inventory_errors {
            out.push_str(&format!("  [FAILED] saving the inventory: {e}\n"));
        }
        let t = self.tally();
        out.push_str(&format!(
            "Apply {}: {} done, {} failed, {} skipped, {} blocked.\n",
            if self.has_errors() {
                "finished with errors"
            } else {
                "complete"
            },
            t.done,
            t.failed,
            t.skipped,
            t.blocked
        ));
        out
    }

    pub fn json(&self) -> Value {
        let t = self.tally();
        json!({
            "tally": {"done": t.done, "failed": t.failed, "skipped": t.skipped, "blocked": t.blocked},
            "temp_files_removed": self.temp_files_removed,
            "inventory_errors": self.inventory_errors,
            "steps": self.steps.iter().map(|s| json!({
                "line": s.line,
                "action": s.action,
                "kind": s.kind,
                "name": s.name,
                "outcome": s.outcome.as_str(),
                "detail": s.outcome.detail(),
                "verify": s.verify.as_ref().map(verify_json),
            })).collect::<Vec<_>>(),
        })
    }
}

fn verify_text(v: &VerifyOutcome) -> String {
    v.to_string()
}

fn verify_json(v: &VerifyOutcome) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
