//! The plan's lines, shared by the text and the Markdown renderings (its summary line, the
//! body under the header, the notes), and the text rendering itself. Every line passes
//! through `escape` where a document is assembled, never here.

use super::escape;
use super::step::{step_details, step_line};
use crate::plan::{Plan, Summary, timestamp};

/// What a plan and `/status` say of a degraded domain answer (TF #7046).
pub const DEGRADED_ANSWER: &str = "degraded answer: Cloudflare's certificate backend did not answer, so min_tls and the zone name are unknown and not compared";

/// A custom domain's status line (`· custom domain assets.example.com (bucket media):
/// ownership pending, ssl initializing`): information, shown while it is not active.
pub fn domain_line(d: &crate::plan::DomainInfo) -> String {
    let disabled = if d.enabled { "" } else { ", disabled" };
    let degraded = if d.status.degraded() {
        format!(" ({DEGRADED_ANSWER})")
    } else {
        String::new()
    };
    format!(
        "· custom domain {} (bucket {}): ownership {}, ssl {}{disabled}{degraded}",
        d.domain, d.bucket.name, d.status.ownership, d.status.ssl
    )
}

/// A rotated token's old key in its overlap:
/// `= token reader: old key 1a2b3c4d retires at 2026-12-01T12:00:00Z (in 20m)`.
pub fn retiring_line(r: &crate::plan::RetiringKey) -> String {
    format!(
        "= token {}: old key {} retires at {} (in {})",
        r.token,
        crate::plan::id8(&r.id),
        timestamp(r.retire_at),
        crate::config::model::temporary::human_duration(r.remaining)
    )
}

/// The summary under the body: `Plan: 1 to create, …; 3 unchanged.` or `No changes. …`.
pub(super) fn summary_line(s: &Summary) -> String {
    let mut tail = Vec::new();
    if s.blocked > 0 {
        tail.push(format!("{} blocked", s.blocked));
    }
    if s.orphans > 0 {
        tail.push(format!(
            "{} orphan{}",
            s.orphans,
            if s.orphans == 1 { "" } else { "s" }
        ));
    }
    tail.push(format!("{} unchanged", s.unchanged));
    if s.create + s.update + s.roll + s.replace + s.rotate + s.retire + s.delete + s.issue == 0 {
        if s.blocked > 0 {
            // Nothing to apply, yet the file and Cloudflare differ: never "in sync".
            return format!(
                "No changes can be applied, but Cloudflare does not match the file: {}.",
                tail.join(", ")
            );
        }
        return format!("No changes. {}.", tail.join(", "));
    }
    // "to replace" appears only when there is one, so that the common line keeps its form.
    let replace = if s.replace > 0 {
        format!(" {} to replace,", s.replace)
    } else {
        String::new()
    };
    let rotate = if s.rotate > 0 {
        format!(" {} to rotate,", s.rotate)
    } else {
        String::new()
    };
    let retire = if s.retire > 0 {
        format!(" {} to retire,", s.retire)
    } else {
        String::new()
    };
    let issue = if s.issue > 0 {
        format!(" {} to issue,", s.issue)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to create, {} to update, {} to roll,{replace}{rotate}{issue}{retire} {} to delete; {}.",
        s.create,
        s.update,
        s.roll,
        s.delete,
        tail.join(", ")
    )
}

/// Every line of the plan body, without header: changes, blocked, orphans, unchanged.
pub(super) fn body_lines(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for step in &plan.steps {
        lines.push(step_line(step));
        lines.extend(step_details(step).into_iter().map(|d| format!("  {d}")));
    }
    if let Some(p) = plan.publish.as_ref().filter(|p| p.files > 0) {
        lines.push(p.line());
    }
    for b in &plan.blocked {
        lines.push(format!(
            "! blocked {} {}: {}",
            b.kind.as_str(),
            b.name,
            b.reason
        ));
    }
    for o in &plan.orphans {
        lines.push(format!(
            "? orphan {} {} ({}): {}",
            o.kind.as_str(),
            o.name,
            o.detail,
            o.reason
        ));
    }
    if let Some(line) = elsewhere_line(&plan.elsewhere) {
        lines.push(line);
    }
    lines.extend(plan.temporary.iter().map(crate::plan::temporary::kept_line));
    // Cloudflare's progress with a domain is information, not drift: shown until it is
    // active (every one is in the JSON).
    lines.extend(
        plan.domains
            .iter()
            .filter(|d| !d.status.active())
            .map(domain_line),
    );
    lines.extend(plan.retiring.iter().map(retiring_line));
    // Kept temporary credentials have their own lines above; the rest are counted.
    let others = plan.unchanged.saturating_sub(plan.temporary.len());
    if others > 0 {
        lines.push(format!("= {others} unchanged"));
    }
    lines
}

/// One line for the tokens managed elsewhere: seen, never touched (their ids are in the
/// JSON). `· 2 tokens managed elsewhere (…), never touched: r2gitops:a, r2gitops:b`.
pub fn elsewhere_line(elsewhere: &[crate::plan::Orphan]) -> Option<String> {
    const SHOWN: usize = 5;
    let (first, rest) = match elsewhere.len() {
        0 => return None,
        n => (&elsewhere[..n.min(SHOWN)], n.saturating_sub(SHOWN)),
    };
    let mut names: Vec<String> = first.iter().map(|o| o.name.clone()).collect();
    if rest > 0 {
        names.push(format!("and {rest} more"));
    }
    Some(format!(
        "· {} managed elsewhere (named with the prefix, but neither declared here nor in this file's inventory: another file's, or a lost inventory's), never touched: {}",
        if elsewhere.len() == 1 {
            "1 token".to_string()
        } else {
            format!("{} tokens", elsewhere.len())
        },
        names.join(", ")
    ))
}

/// What the plan did not look at, or refused, as notes under the summary.
pub(super) fn notes(plan: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    if plan.skip_outputs {
        notes.push(
            "Output files were not examined (--skip-outputs): rolls and temporary credentials are not planned."
                .to_string(),
        );
    }
    if let Some(r) = &plan.refused {
        notes.push(format!("Refused: {r}."));
    }
    notes
}

/// The plan as text. `title` names the file and account, e.g. `r2gitops.yaml`.
pub fn text(plan: &Plan, title: &str) -> String {
    let mut out = escape(&format!(
        "r2gitops plan for {title} (account {}):",
        plan.account_id
    ))
    .into_owned();
    out.push('\n');
    for l in body_lines(plan) {
        out.push_str("  ");
        out.push_str(&escape(&l));
        out.push('\n');
    }
    out.push_str(&summary_line(&plan.summary()));
    out.push('\n');
    out.push_str(&format!("Plan id: {}\n", crate::plan::id::plan_id(plan)));
    for n in notes(plan) {
        out.push_str(&escape(&n));
        out.push('\n');
    }
    out
}
