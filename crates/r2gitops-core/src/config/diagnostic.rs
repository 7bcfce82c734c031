//! Problems found in a desired-state file, each with file, line, column and field path.
//!
//! Owns the shape of a diagnostic, its two renderings (text lines for humans, a stable
//! JSON object for machines) and the cap on how many are kept (`Capped`). Must not decide
//! what is a problem: `shape` and `validate` do.

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

/// How many problems of one file are kept and printed; the rest are only counted. A
/// generated file of 4 MiB holds hundreds of thousands of structural errors, and keeping
/// them all took hundreds of MB in the daemon and its `/status`; nobody reads
/// past the first screen before fixing the generator.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Collects problems in any order and keeps only the first `MAX_DIAGNOSTICS` by position
/// (`T`'s order), counting the others, in memory bounded by twice the cap whatever the
/// number pushed. A problem that is pushed twice counts once while it is kept; among the
/// ones dropped, a repeat is counted again (the count is then an upper bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped<T> {
    kept: Vec<T>,
    omitted: usize,
}

impl<T> Default for Capped<T> {
    fn default() -> Self {
        Capped {
            kept: Vec::new(),
            omitted: 0,
        }
    }
}

impl<T: Ord> Capped<T> {
    pub fn push(&mut self, item: T) {
        self.kept.push(item);
        if self.kept.len() >= 2 * MAX_DIAGNOSTICS {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.kept.sort();
        self.kept.dedup();
        if self.kept.len() > MAX_DIAGNOSTICS {
            self.omitted += self.kept.len() - MAX_DIAGNOSTICS;
            self.kept.truncate(MAX_DIAGNOSTICS);
        }
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.omitted == 0
    }

    /// The kept problems sorted by position, and how many more there were.
    pub fn into_parts(mut self) -> (Vec<T>, usize) {
        self.trim();
        (self.kept, self.omitted)
    }
}

/// Every problem found in one file, in file order: the first `MAX_DIAGNOSTICS`, and the
/// number of further ones that were not kept, and whether they are the operator's policy's
/// (the file is otherwise valid) rather than the format's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>, usize, bool);

impl Diagnostics {
    /// Sorted by position so the output reads top to bottom; file-wide problems come first.
    /// `omitted` more problems were found but not kept.
    pub fn sorted(list: Vec<Diagnostic>, omitted: usize) -> Self {
        let mut capped = Capped::default();
        for d in list {
            capped.push(ByPosition(d));
        }
        let (kept, more) = capped.into_parts();
        Diagnostics(
            kept.into_iter().map(|d| d.0).collect(),
            omitted + more,
            false,
        )
    }

    /// A file with exactly one problem.
    pub fn one(d: Diagnostic) -> Self {
        Diagnostics(vec![d], 0, false)
    }

    /// The same problems, as violations of the operator's policy (`policy::check`).
    pub fn by_policy(self) -> Self {
        Diagnostics(self.0, self.1, true)
    }

    /// Whether these are violations of the operator's policy: the file is otherwise valid.
    pub fn is_policy(&self) -> bool {
        self.2
    }

    /// How many problems were found, kept or not.
    pub fn len(&self) -> usize {
        self.0.len() + self.1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many problems were found beyond the ones kept.
    pub fn omitted(&self) -> usize {
        self.1
    }

    /// The line that stands for the problems not kept, when there are any.
    pub fn omitted_line(&self) -> Option<String> {
        (self.1 > 0).then(|| {
            format!(
                "... and {} more problem{} (only the first {MAX_DIAGNOSTICS} are shown)",
                self.1,
                if self.1 == 1 { "" } else { "s" }
            )
        })
    }
}

/// A diagnostic ordered by position, then path and message (the file is the same for all).
#[derive(PartialEq, Eq)]
struct ByPosition(Diagnostic);

impl Ord for ByPosition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (&self.0, &other.0);
        (a.line, a.column, &a.path, &a.message, &a.hint)
            .cmp(&(b.line, b.column, &b.path, &b.message, &b.hint))
    }
}

impl PartialOrd for ByPosition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
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
        if let Some(more) = self.omitted_line() {
            write!(f, "\n{more}")?;
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
        let list = Diagnostics::sorted(
            vec![diag(9, "b", None), diag(2, "a", None), diag(9, "b", None)],
            0,
        );
        let lines: Vec<usize> = list.0.iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 9]);
        assert_eq!(
            list.to_string(),
            "r2gitops.yaml:2:3: a: bad\nr2gitops.yaml:9:3: b: bad"
        );
    }

    #[test]
    fn only_the_first_problems_by_position_are_kept_and_the_rest_are_counted() {
        // Pushed from the last line to the first, as a walk in another order would.
        let mut capped = Capped::default();
        for line in (1..=250_000).rev() {
            capped.push(ByPosition(diag(line, "a", None)));
        }
        assert!(
            capped.kept.len() < 2 * MAX_DIAGNOSTICS,
            "memory stays bounded"
        );
        let (kept, omitted) = capped.into_parts();
        let lines: Vec<usize> = kept.iter().map(|d| d.0.line).collect();
        assert_eq!(lines, (1..=MAX_DIAGNOSTICS).collect::<Vec<_>>());
        assert_eq!(omitted, 250_000 - MAX_DIAGNOSTICS);

        let list = Diagnostics::sorted(kept.into_iter().map(|d| d.0).collect(), omitted);
        assert_eq!(list.len(), 250_000);
        assert_eq!(list.0.len(), MAX_DIAGNOSTICS);
        let text = list.to_string();
        assert_eq!(text.lines().count(), MAX_DIAGNOSTICS + 1);
        assert!(
            text.ends_with("\n... and 249900 more problems (only the first 100 are shown)"),
            "{}",
            &text[text.len() - 200..]
        );
        assert!(Capped::<ByPosition>::default().is_empty());
    }
}
