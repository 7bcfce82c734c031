//! How a plan is shown: terraform-like text, versioned JSON for tools, Markdown for CI job
//! summaries. Pure. A plan holds no secret, so nothing here can print one.
//!
//! Names in a plan come from Cloudflare too (a token's name, a rule's id, a domain's status)
//! and may hold anything. Text and Markdown pass every line through `escape` where they are
//! assembled (`text`, `markdown`), never per call site: a newline in a name cannot end a line
//! and fake another, and a backtick cannot close a Markdown code span. JSON needs no more
//! than serde's escaping.
//!
//! `step` holds one step's words, `text` the plan's lines and the text document,
//! `markdown` and `json` the other two documents; the JSON of a new key's fields is written
//! once (`json`), for a create, a replace and a rotation alike.

mod json;
mod markdown;
mod step;
mod text;

use std::borrow::Cow;

pub use crate::config::yaml::is_hidden;
pub use json::{domain_json, json, retiring_json, rotation_json, step_json};
pub use markdown::markdown;
pub use step::{config_change, rotate_reason, step_details, step_line};
pub use text::{DEGRADED_ANSWER, domain_line, elsewhere_line, retiring_line, text};

/// Version of the JSON document; bumped only on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// `s` as a line of a text or Markdown plan may show it: control characters, line and
/// paragraph separators and bidirectional formatting characters as `\n`, `\u{202e}`…
/// (what `char::escape_default` writes), and a backtick as `\u{60}` (a backslash does not
/// escape inside a Markdown code span: only another character keeps it closed). Everything
/// else, and so every line r2gitops itself writes, is unchanged.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '`' || is_hidden(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '`' {
            out.extend(c.escape_unicode());
        } else if is_hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
