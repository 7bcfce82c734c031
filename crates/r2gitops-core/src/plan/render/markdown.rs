//! The plan as Markdown, for a CI job summary: the summary in bold, what is blocked as a
//! warning a reader cannot miss, and the text's lines in a `diff` fence.

use super::escape;
use super::text::{body_lines, notes, summary_line};
use crate::plan::Plan;

/// The plan as Markdown, for CI job summaries (`$GITHUB_STEP_SUMMARY`).
pub fn markdown(plan: &Plan, title: &str) -> String {
    let mut out = format!(
        "### r2gitops plan: `{}`\n\n**{}**\n\nPlan id: `{}`\n\n",
        escape(title),
        summary_line(&plan.summary()),
        crate::plan::id::plan_id(plan)
    );
    for n in notes(plan) {
        out.push_str(&format!("> {}\n\n", escape(&n)));
    }
    if !plan.blocked.is_empty() {
        // A CI job summary must not bury what keeps Cloudflare from matching the file.
        out.push_str(&format!(
            "> [!WARNING]\n> {} blocked: Cloudflare cannot be brought to match the file until this is resolved.\n",
            plan.blocked.len()
        ));
        for b in &plan.blocked {
            out.push_str(&format!(
                "> - **{} `{}`**: {}\n",
                b.kind.as_str(),
                escape(&b.name),
                escape(&b.reason)
            ));
        }
        out.push('\n');
    }
    let lines = body_lines(plan);
    if !lines.is_empty() {
        out.push_str("```diff\n");
        for l in lines {
            out.push_str(&escape(&l));
            out.push('\n');
        }
        out.push_str("```\n");
    }
    out
}
