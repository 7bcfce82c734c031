//! The reader: both crates' sources as text, their module paths, and the paths each one
//! names (non-test code, comments and literals blanked).

use std::path::{Path, PathBuf};

use super::IMPURE_CRATES;

/// One non-test source file: its module path and its code with comments, strings and test
/// items blanked (newlines kept, so that positions stay right).
pub struct Source {
    pub file: PathBuf,
    pub module: Vec<String>,
    pub code: String,
}

/// A path the code names, resolved from the crate root (`crate::a::b` is `["a", "b"]`), or
/// an external crate (`["::tokio"]`), with its line.
pub struct Reference {
    pub path: Vec<String>,
    pub line: usize,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `src/` of each crate of the tree: the main crate's and the core's.
pub fn src_dirs() -> [PathBuf; 2] {
    [root().join("src"), core_src()]
}

pub fn core_src() -> PathBuf {
    root().join("crates/r2gitops-core/src")
}

/// Blank comments, string and char literals (lifetimes stay), keeping newlines.
pub fn blank_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            loop {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && matches!(c.get(i + 1), Some('"') | Some('#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            while j < c.len() {
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &c[i..j.min(c.len())] {
                blank(&mut out, ch);
            }
            i = j;
        } else if c[i] == '"' {
            blank(&mut out, c[i]);
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            if i < c.len() {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '\'' {
            // A char literal is 'x' or '\…'; anything else is a lifetime.
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 2..c.len()).find(|&j| c[j] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &ch in &c[i..=e] {
                        blank(&mut out, ch);
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c[i]);
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// Blank every `#[cfg(test)]` item (a `mod tests { … }`, a `mod tests;`, a helper).
pub fn blank_test_items(code: &str) -> String {
    let mut c: Vec<char> = code.chars().collect();
    let compact: String = c.iter().filter(|ch| !ch.is_whitespace()).collect();
    if !compact.contains("#[cfg(test)]") {
        return code.to_string();
    }
    let mut i = 0;
    while i < c.len() {
        if c[i] != '#' {
            i += 1;
            continue;
        }
        // `#[cfg(test)]`, whitespace allowed between tokens.
        let mut j = i + 1;
        let mut matched = true;
        for want in ['[', 'c', 'f', 'g', '(', 't', 'e', 's', 't', ')', ']'] {
            while j < c.len() && c[j].is_whitespace() {
                j += 1;
            }
            if c.get(j) != Some(&want) {
                matched = false;
                break;
            }
            j += 1;
        }
        if !matched {
            i += 1;
            continue;
        }
        // The item: to the first `;` at depth 0, or through its first `{ … }` block.
        let mut depth = 0usize;
        let mut k = j;
        while k < c.len() {
            match c[k] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ';' if depth == 0 => break,
                _ => {}
            }
            k += 1;
        }
        let last = k.min(c.len() - 1);
        for ch in &mut c[i..=last] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        i = k + 1;
    }
    c.into_iter().collect()
}

/// The tokens that matter here: identifiers, `::`, braces and commas, with their lines.
pub fn tokens(code: &str) -> Vec<(String, usize)> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((c[start..i].iter().collect(), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(("::".into(), line));
            i += 2;
        } else {
            if matches!(ch, '{' | '}' | ',' | ';') {
                out.push((ch.to_string(), line));
            }
            i += 1;
        }
    }
    out
}

/// The paths one file names, from the crate root.
pub fn references(source: &Source) -> Vec<Reference> {
    let t = tokens(&source.code);
    let mut out = Vec::new();
    let ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    };
    for i in 0..t.len() {
        let (word, line) = (&t[i].0, t[i].1);
        let preceded_by_path = i > 0 && t[i - 1].0 == "::";
        if preceded_by_path || t.get(i + 1).map(|x| x.0.as_str()) != Some("::") {
            continue;
        }
        let base: Vec<String> = match word.as_str() {
            // The main crate names the core's modules through the core crate.
            "crate" | "r2gitops_core" => Vec::new(),
            "super" => {
                // `super::super::x` climbs once per `super`.
                let mut base = source.module.clone();
                let mut j = i;
                while t.get(j).map(|x| x.0.as_str()) == Some("super") {
                    base.pop();
                    j += 2;
                }
                let mut path = base;
                collect(&t, j, &mut path, line, &mut out, ident);
                continue;
            }
            w if IMPURE_CRATES.contains(&w) => {
                out.push(Reference {
                    path: vec![format!("::{w}")],
                    line,
                });
                continue;
            }
            _ => continue,
        };
        let mut path = base;
        collect(&t, i + 2, &mut path, line, &mut out, ident);
    }
    out
}

/// Follow `a::b::c` (or a `{a, b::c}` group) from token `j`, prefixing `path`.
pub fn collect(
    t: &[(String, usize)],
    mut j: usize,
    path: &mut Vec<String>,
    line: usize,
    out: &mut Vec<Reference>,
    ident: impl Fn(&str) -> bool + Copy,
) {
    loop {
        match t.get(j).map(|x| x.0.as_str()) {
            Some("{") => {
                // Each top-level entry of the group is a path of its own.
                let mut depth = 0;
                let mut k = j;
                let mut entry_start = true;
                while k < t.len() {
                    match t[k].0.as_str() {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        "," if depth == 1 => entry_start = true,
                        w if depth == 1 && entry_start && ident(w) => {
                            entry_start = false;
                            let mut p = path.clone();
                            if w != "self" {
                                p.push(w.to_string());
                            }
                            out.push(Reference {
                                path: p,
                                line: t[k].1,
                            });
                        }
                        _ => {}
                    }
                    k += 1;
                }
                return;
            }
            Some(w) if ident(w) => {
                path.push(w.to_string());
                if t.get(j + 1).map(|x| x.0.as_str()) == Some("::") {
                    j += 2;
                } else {
                    break;
                }
            }
            _ => break,
        }
    }
    out.push(Reference {
        path: path.clone(),
        line,
    });
}

/// Every non-test file of both crates, found from each `lib.rs` by its `mod` declarations.
pub fn sources() -> Vec<Source> {
    let mut out = Vec::new();
    let mut queue: Vec<(PathBuf, Vec<String>)> = src_dirs()
        .into_iter()
        .map(|d| (d.join("lib.rs"), Vec::new()))
        .collect();
    while let Some((file, module)) = queue.pop() {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let code = blank_test_items(&blank_literals(&text));
        let dir = if file
            .file_name()
            .is_some_and(|n| n == "lib.rs" || n == "mod.rs")
        {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        let t = tokens(&code);
        for w in t.windows(3) {
            if w[0].0 == "mod" && w[2].0 == ";" {
                let name = &w[1].0;
                let flat = dir.join(format!("{name}.rs"));
                let nested = dir.join(name).join("mod.rs");
                let child = if flat.exists() { flat } else { nested };
                assert!(child.exists(), "{}: mod {name} has no file", file.display());
                let mut m = module.clone();
                m.push(name.clone());
                queue.push((child, m));
            }
        }
        out.push(Source { file, module, code });
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

pub fn shown(file: &Path) -> String {
    file.strip_prefix(root())
        .unwrap_or(file)
        .display()
        .to_string()
}
