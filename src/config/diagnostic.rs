//! Problems found in a desired-state file, each with file, line, column and field path.
//!
//! Owns the shape of a diagnostic and its two renderings (text lines for humans, a stable
//! JSON object for machines). Must not decide what is a problem: `shape` and `validate` do.

use std::fmt;

use serde::Serialize;

/// One problem in the file. `line` and `column` are 1-based; both are 0 when the problem
/// concerns the file as a whole (unreadable, too large). `path` is the field path
/// (`tokens[2].buckets[0]`), empty for the document itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// The `LINE:COL: path: message` part, without the file (what `tests/data/invalid/*.expected` hold).
    pub fn located_message(&self) -> String {
        let mut out = String::new();
        if self.line > 0 {
            out.push_str(&format!("{}:{}: ", self.line, self.column));
        }
        if !self.path.is_empty() {
            out.push_str(&self.path);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file, self.located_message())?;
        } else {
            write!(f, "{}: {}", self.file, self.located_message())?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Sorted by position so the output reads top to bottom; file-wide problems come first.
    pub fn sorted(mut list: Vec<Diagnostic>) -> Self {
        list.sort_by(|a, b| {
            (a.line, a.column, &a.path, &a.message).cmp(&(b.line, b.column, &b.path, &b.message))
        });
        list.dedup();
        Diagnostics(list)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(line: usize, path: &str, hint: Option<&str>) -> Diagnostic {
        Diagnostic {
            file: "r2gitops.yaml".into(),
            line,
            column: if line > 0 { 3 } else { 0 },
            path: path.into(),
            message: "bad".into(),
            hint: hint.map(str::to_string),
        }
    }

    #[test]
    fn display_is_file_line_column_path_message_then_hint() {
        let cases = [
            (
                diag(4, "tokens[0].name", None),
                "r2gitops.yaml:4:3: tokens[0].name: bad",
            ),
            (
                diag(4, "version", Some("use 1")),
                "r2gitops.yaml:4:3: version: bad\n  hint: use 1",
            ),
            (diag(1, "", None), "r2gitops.yaml:1:3: bad"),
            (diag(0, "", None), "r2gitops.yaml: bad"),
        ];
        for (d, want) in cases {
            assert_eq!(d.to_string(), want);
        }
    }

    #[test]
    fn diagnostics_are_sorted_by_position_and_deduplicated() {
        let list = Diagnostics::sorted(vec![
            diag(9, "b", None),
            diag(2, "a", None),
            diag(9, "b", None),
        ]);
        let lines: Vec<usize> = list.0.iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 9]);
        assert_eq!(
            list.to_string(),
            "r2gitops.yaml:2:3: a: bad\nr2gitops.yaml:9:3: b: bad"
        );
    }
}
