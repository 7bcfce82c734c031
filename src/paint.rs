//! Colour for what a person reads on a terminal: plans, reports and validate's output.
//! Pure: it adds ANSI styles to text that was rendered plain, line by line, from the marker
//! each line already starts with (`+`, `-`, `~`, `↻`, `±`, `!`, `?`, `=`, `hint:`). Whether
//! the styles reach the screen is decided where the text is written (`anstream`: a
//! terminal, `--color`, `NO_COLOR`, `CLICOLOR_FORCE`); files, pipes and CI logs get plain
//! text, and JSON and Markdown are never painted.

use anstyle::{AnsiColor, Style};

const ADD: Style = AnsiColor::Green.on_default();
const REMOVE: Style = AnsiColor::Red.on_default();
const CHANGE: Style = AnsiColor::Yellow.on_default();
const PROBLEM: Style = AnsiColor::Red.on_default().bold();
const QUIET: Style = Style::new().dimmed();
const SUMMARY: Style = Style::new().bold();

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Make every `anstream` stream of the process follow this choice.
    pub fn apply(self) {
        match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        }
        .write_global();
    }
}

fn style_of(line: &str) -> Option<Style> {
    let t = line.trim_start();
    let marker = |m: &str| t.starts_with(m);
    Some(if marker("+ ") {
        ADD
    } else if marker("- ") {
        REMOVE
    } else if marker("~ ") || marker("↻ ") || marker("± ") || marker("? ") {
        CHANGE
    } else if marker("! ") || marker("Refused:") || marker("[FAILED]") {
        PROBLEM
    } else if marker("[blocked]") {
        REMOVE
    } else if marker("[skipped]") {
        CHANGE
    } else if marker("= ") || marker("hint:") || marker("verify:") {
        QUIET
    } else if marker("Plan:") || marker("No changes") || marker("Apply ") {
        SUMMARY
    } else {
        return None;
    })
}

fn styled(style: Style, line: &str) -> String {
    format!("{style}{line}{style:#}")
}

/// A plan or report in text form, each line in the colour of its marker.
pub fn plan(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
            match style_of(body) {
                Some(style) => format!("{}{nl}", styled(style, body)),
                None => line.to_string(),
            }
        })
        .collect()
}

/// `validate`'s diagnostics (or warnings): the problem lines in red (yellow for
/// warnings), their `hint:` lines dim.
pub fn diagnostics(text: &str, warning: bool) -> String {
    let main = if warning { CHANGE } else { REMOVE };
    text.split_inclusive('\n')
        .map(|line| {
            let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
            let style = if body.trim_start().starts_with("hint:") {
                QUIET
            } else {
                main
            };
            format!("{}{nl}", styled(style, body))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "r2gitops plan for r2gitops.yaml (account acct):
  + create bucket media (eu)
  ~ update token uploader: buckets +logs
  ↻ roll token ci: output file missing
  ± replace token reader: Cloudflare revoked it as exposed
  - delete token old (ab12): no longer declared (prune)
  ! blocked bucket archive: location is create-only (have enam, want weur)
  ? orphan token r2gitops:legacy (9c1e): no longer declared; prune is off, so it is kept
  = 12 unchanged
Plan: 1 to create, 1 to update, 1 to roll, 1 to replace, 1 to delete; 1 blocked, 1 orphan, 12 unchanged.
";

    /// The painted plan matches its reviewed golden file byte for byte (regenerate with
    /// `R2GITOPS_UPDATE_GOLDEN=1 cargo test --lib paint` and review the diff).
    #[test]
    fn a_painted_plan_matches_its_golden_file_and_strips_back_to_the_plain_one() {
        let got = plan(PLAN);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/golden/plan-colour.txt");
        if std::env::var_os("R2GITOPS_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        assert_eq!(got, std::fs::read_to_string(&path).unwrap());
        assert_eq!(anstream::adapter::strip_str(&got).to_string(), PLAN);
    }

    #[test]
    fn each_marker_gets_its_colour() {
        let cases = [
            ("  + create bucket x", Some(ADD)),
            ("  - delete token x", Some(REMOVE)),
            ("  ~ update token x", Some(CHANGE)),
            ("  ↻ roll token x", Some(CHANGE)),
            ("  ± replace token x", Some(CHANGE)),
            ("  ! blocked bucket x", Some(PROBLEM)),
            ("  [FAILED] + create token x: boom", Some(PROBLEM)),
            ("  hint: do this", Some(QUIET)),
            ("  = 3 unchanged", Some(QUIET)),
            ("r2gitops plan for f (account a):", None),
        ];
        for (line, want) in cases {
            assert_eq!(style_of(line), want, "{line}");
        }
    }

    #[test]
    fn diagnostics_are_red_with_dim_hints_and_warnings_yellow() {
        let text = "f.yaml:3:11: buckets[0].name: bad\n  hint: fix it\n";
        let got = diagnostics(text, false);
        assert!(got.starts_with(&format!("{REMOVE}f.yaml:3:11")), "{got:?}");
        assert!(got.contains(&format!("{QUIET}  hint: fix it")), "{got:?}");
        assert!(diagnostics(text, true).starts_with(&format!("{CHANGE}f.yaml")));
        assert_eq!(anstream::adapter::strip_str(&got).to_string(), text);
    }
}
