//! The man pages: clap_mangen renders what the clap definitions hold (NAME, SYNOPSIS,
//! DESCRIPTION, OPTIONS, COMMANDS), and this module adds what they cannot: EXIT STATUS,
//! ENVIRONMENT, FILES, EXAMPLES and SEE ALSO for each command. The environment variables
//! that a flag reads are taken from clap (`#[arg(env = …)]`), so that list cannot drift;
//! the ones read elsewhere are listed here. Pure text: it must not read the environment or
//! the file system, and it knows nothing of what the commands do beyond their documentation.

use std::io::Write;

mod pages;
#[cfg(test)]
use pages::EXIT_USAGE;
use pages::{LOGGING, extra};

/// Each command with a man page of its own, and the page's title (`r2gitops man NAME`).
pub const MAN_PAGES: [(&str, &str); 10] = [
    ("validate", "r2gitops-validate"),
    ("schema", "r2gitops-schema"),
    ("reconcile", "r2gitops-reconcile"),
    ("rotate", "r2gitops-rotate"),
    ("watch", "r2gitops-watch"),
    ("import", "r2gitops-import"),
    ("adopt", "r2gitops-adopt"),
    ("state", "r2gitops-state"),
    ("completions", "r2gitops-completions"),
    ("man", "r2gitops-man"),
];

/// One `term`: `description` entry of a man-page section.
pub(super) type Entry = (&'static str, &'static str);

/// The sections of one page that clap does not hold.
pub(super) struct Extra {
    exit_status: &'static [Entry],
    /// Variables no flag reads through clap (read by hand, or by a library).
    environment: &'static [Entry],
    files: &'static [Entry],
    /// Each example: what it does, then the command line.
    examples: &'static [Entry],
}
/// Render the page of `command` (the tool's own without one): clap_mangen's sections, then
/// EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO, then the version.
pub fn render(
    page: clap::Command,
    command: Option<&str>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let man = clap_mangen::Man::new(page.clone())
        .source(format!("r2gitops {version}"))
        .manual("r2gitops manual");
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    if page.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w)?;
    }
    if page.has_subcommands() {
        man.render_subcommands_section(w)?;
    }
    let extra = extra(command);
    section(w, "EXIT STATUS", extra.exit_status)?;
    let mut environment: Vec<(String, String)> = environment_from_flags(&page);
    for (name, text) in extra.environment.iter().chain(LOGGING.iter()) {
        if !environment.iter().any(|(n, _)| n == name) {
            environment.push((name.to_string(), text.to_string()));
        }
    }
    section_owned(w, "ENVIRONMENT", &environment)?;
    if !extra.files.is_empty() {
        section(w, "FILES", extra.files)?;
    }
    if !extra.examples.is_empty() {
        writeln!(w, ".SH EXAMPLES")?;
        for (what, line) in extra.examples {
            writeln!(
                w,
                ".PP\n{}\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE",
                text(what),
                text(line)
            )?;
        }
    }
    writeln!(w, ".SH \"SEE ALSO\"")?;
    let pages: Vec<String> = MAN_PAGES
        .iter()
        .filter(|(name, _)| Some(*name) != command)
        .map(|(_, title)| format!("\\fB{}\\fR(1)", text(title)))
        .chain(command.map(|_| "\\fBr2gitops\\fR(1)".to_string()))
        .chain(["\\fBage\\fR(1)".to_string()])
        .collect();
    writeln!(w, "{}", pages.join(", "))?;
    writeln!(
        w,
        ".PP\nThe book: docs/README.md in the source tree (the configuration reference, plans, outputs, the daemon, permissions, deployment, troubleshooting)."
    )?;
    writeln!(w, ".SH VERSION\nv{}", text(version))
}

/// Every variable a flag of `page` (or of its commands, on the tool's page) reads through
/// clap, with the flag's help; each once.
fn environment_from_flags(page: &clap::Command) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for cmd in std::iter::once(page).chain(page.get_subcommands()) {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let Some(name) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            if found.iter().any(|(n, _)| n == name) {
                continue;
            }
            let long = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            found.push((name.to_string(), format!("As {long}: {help}")));
        }
    }
    found
}

fn section(w: &mut dyn Write, title: &str, entries: &[Entry]) -> std::io::Result<()> {
    let owned: Vec<(String, String)> = entries
        .iter()
        .map(|(t, d)| (t.to_string(), d.to_string()))
        .collect();
    section_owned(w, title, &owned)
}

fn section_owned(
    w: &mut dyn Write,
    title: &str,
    entries: &[(String, String)],
) -> std::io::Result<()> {
    if title.contains(' ') {
        writeln!(w, ".SH \"{title}\"")?;
    } else {
        writeln!(w, ".SH {title}")?;
    }
    for (term, description) in entries {
        writeln!(w, ".TP\n\\fB{}\\fR\n{}", text(term), text(description))?;
    }
    Ok(())
}

/// Escape text for roff: backslashes and hyphens, and a leading dot or quote that would
/// read as a request.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        if !out.is_empty() {
            out.push('\n');
        }
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        for c in line.chars() {
            match c {
                '\\' => out.push_str("\\e"),
                '-' => out.push_str("\\-"),
                c => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_text_cannot_start_a_request_or_swallow_a_backslash() {
        for (input, want) in [
            (".hidden", "\\&.hidden"),
            ("'quoted", "\\&'quoted"),
            ("a\\b", "a\\eb"),
            ("--dry-run", "\\-\\-dry\\-run"),
            ("plain", "plain"),
        ] {
            assert_eq!(text(input), want, "{input}");
        }
    }

    #[test]
    fn every_page_has_an_exit_status_with_the_usage_error() {
        for (name, _) in MAN_PAGES
            .iter()
            .map(|(n, t)| (Some(*n), *t))
            .chain([(None, "r2gitops")])
        {
            let extra = extra(name);
            assert!(extra.exit_status.iter().any(|(c, _)| *c == "0"), "{name:?}");
            assert!(extra.exit_status.contains(&EXIT_USAGE), "{name:?}");
            assert!(!extra.examples.is_empty(), "{name:?}");
            assert!(!extra.files.is_empty(), "{name:?}");
        }
    }
}
