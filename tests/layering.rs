//! The layers, checked by the build rather than promised by comments (STYLE.md: "purity
//! enforced by the build, as kube-core"): the pure core (`config`, `observed`, `plan`, and
//! the `inventory` records the planner reads) names no module that does I/O, nor tokio or
//! reqwest; and no module reaches back to itself through others (no circles between the
//! top-level modules, nor between the children of one module).
//!
//! The first is the compiler's before it is this test's: the core is the crate
//! `crates/r2gitops-core`, which depends on neither tokio nor reqwest and cannot name the
//! main crate. What is left here is that the core stays in that crate (each pure module's
//! files are the core's) and a second reading of its sources, which names the offending
//! line if a dependency is ever added to the core's Cargo.toml.
//!
//! It reads both crates' `src/` as text, as one module tree (the main crate re-exports the
//! core's modules under their own names): from each `lib.rs` by its `mod` declarations,
//! non-test code only (`#[cfg(test)]` items and the files they declare are left out), with
//! comments and string literals blanked. A reference is a `crate::…`, `super::…` or
//! `r2gitops_core::…` path, or a path rooted at an external crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The pure core: every top-level module whose non-test code must stay free of I/O.
const PURE: [&str; 4] = ["config", "observed", "plan", "inventory"];

/// What the pure core must not name: the modules that talk to Cloudflare, write files or
/// run the process or git (`state` is the inventory's file side; the commands sit on top), and
/// the async runtime and HTTP crates.
const IMPURE_MODULES: [&str; 15] = [
    "cloudflare",
    "secrets",
    "daemon",
    "apply",
    "cli",
    "state",
    "observe",
    "reconcile",
    "args",
    "validate",
    "import",
    "adopt",
    "progress",
    "signals",
    "publish",
];
const IMPURE_CRATES: [&str; 2] = ["tokio", "reqwest"];

/// One non-test source file: its module path and its code with comments, strings and test
/// items blanked (newlines kept, so that positions stay right).
struct Source {
    file: PathBuf,
    module: Vec<String>,
    code: String,
}

/// A path the code names, resolved from the crate root (`crate::a::b` is `["a", "b"]`), or
/// an external crate (`["::tokio"]`), with its line.
struct Reference {
    path: Vec<String>,
    line: usize,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `src/` of each crate of the tree: the main crate's and the core's.
fn src_dirs() -> [PathBuf; 2] {
    [root().join("src"), core_src()]
}

fn core_src() -> PathBuf {
    root().join("crates/r2gitops-core/src")
}

/// Blank comments, string and char literals (lifetimes stay), keeping newlines.
fn blank_literals(text: &str) -> String {
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
fn blank_test_items(code: &str) -> String {
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
fn tokens(code: &str) -> Vec<(String, usize)> {
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
fn references(source: &Source) -> Vec<Reference> {
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
fn collect(
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
fn sources() -> Vec<Source> {
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

fn shown(file: &Path) -> String {
    file.strip_prefix(root())
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The groups of nodes that reach each other (Tarjan), each sorted; only real circles.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on: BTreeSet<String>,
        out: Vec<Vec<String>>,
    }
    fn visit(t: &mut T<'_>, v: &str) {
        let n = t.index.len();
        t.index.insert(v.into(), n);
        t.low.insert(v.into(), n);
        t.stack.push(v.into());
        t.on.insert(v.into());
        for w in t.edges.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let l = t.low[v].min(t.low[w]);
                t.low.insert(v.into(), l);
            } else if t.on.contains(w) {
                let l = t.low[v].min(t.index[w]);
                t.low.insert(v.into(), l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut group = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = w == v;
                group.push(w);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                t.out.push(group);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flatten()).collect();
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The module graph at one depth: `level` 1 links top-level modules; `level` 2 links the
/// children of one top-level module with each other. Each edge keeps one place that makes
/// it, for the message.
fn graph(sources: &[Source], level: usize) -> BTreeMap<(String, String), String> {
    let top: BTreeSet<String> = sources
        .iter()
        .filter_map(|s| s.module.first().cloned())
        .collect();
    let mut edges = BTreeMap::new();
    for s in sources {
        if s.module.len() < level {
            continue;
        }
        let from = s.module[..level].join("::");
        for r in references(s) {
            if r.path.len() < level || !top.contains(&r.path[0]) {
                continue;
            }
            if level == 2 && r.path[0] != s.module[0] {
                continue;
            }
            let to = r.path[..level].join("::");
            let is_module = level == 1
                || sources
                    .iter()
                    .any(|x| x.module.len() >= 2 && x.module[..2] == r.path[..2]);
            if to != from && is_module {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| format!("{}:{}", shown(&s.file), r.line));
            }
        }
    }
    edges
}

fn assert_no_circles(level: usize) {
    let sources = sources();
    let edges = graph(&sources, level);
    let mut adjacency: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        adjacency
            .entry(from.clone())
            .or_default()
            .insert(to.clone());
    }
    let found = circles(&adjacency);
    let explain = |group: &Vec<String>| -> String {
        edges
            .iter()
            .filter(|((a, b), _)| group.contains(a) && group.contains(b))
            .map(|((a, b), at)| format!("    {a} -> {b} ({at})"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        found.is_empty(),
        "modules that reach back to themselves:\n{}",
        found
            .iter()
            .map(|g| format!("  {}:\n{}", g.join(", "), explain(g)))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_pure_core_names_no_module_that_does_io_nor_tokio_or_reqwest() {
    let sources = sources();
    assert!(
        sources
            .iter()
            .any(|s| s.module.first().map(String::as_str) == Some("plan")),
        "the module tree was not found"
    );
    let is_pure = |s: &&Source| s.module.first().is_some_and(|m| PURE.contains(&m.as_str()));
    let outside: Vec<String> = sources
        .iter()
        .filter(is_pure)
        .filter(|s| !s.file.starts_with(core_src()))
        .map(|s| shown(&s.file))
        .collect();
    assert!(
        outside.is_empty(),
        "the pure core belongs in crates/r2gitops-core, where the compiler keeps tokio, reqwest \
         and the I/O modules out of it:\n  {}",
        outside.join("\n  ")
    );
    let mut found = Vec::new();
    for s in sources.iter().filter(is_pure) {
        for r in references(s) {
            let root = r.path.first().map(String::as_str).unwrap_or_default();
            let external = root
                .strip_prefix("::")
                .is_some_and(|c| IMPURE_CRATES.contains(&c));
            if external || IMPURE_MODULES.contains(&root) {
                found.push(format!(
                    "{}:{}: {}",
                    shown(&s.file),
                    r.line,
                    if external {
                        root.trim_start_matches(':').to_string()
                    } else {
                        format!("crate::{}", r.path.join("::"))
                    }
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the pure core ({}) names what does I/O:\n  {}",
        PURE.join(", "),
        found.join("\n  ")
    );
}

#[test]
fn no_top_level_module_reaches_back_to_itself() {
    assert_no_circles(1);
}

#[test]
fn no_module_reaches_back_to_itself_through_its_siblings() {
    assert_no_circles(2);
}

#[test]
fn the_reader_sees_paths_as_the_compiler_does() {
    // The parser this test relies on, on the shapes the crate uses.
    let code = blank_test_items(&blank_literals(
        "use crate::{a, b::{c, d}, self};\nuse super::super::x::y;\n// crate::commented\nlet s = \"crate::quoted\";\nlet c = '{';\nfn f<'a>(x: &'a str) { tokio::spawn(x) }\nuse r2gitops_core::plan::Plan;\n#[cfg(test)]\nmod tests { use crate::tested; }\n#[cfg(test)]\nmod more;\n",
    ));
    let s = Source {
        file: PathBuf::from("x.rs"),
        module: vec!["m".into(), "n".into()],
        code,
    };
    let got: Vec<(String, usize)> = references(&s)
        .into_iter()
        .map(|r| (r.path.join("::"), r.line))
        .collect();
    let want: Vec<(String, usize)> = [
        ("a", 1),
        ("b", 1),
        ("", 1),
        ("x::y", 2),
        ("::tokio", 6),
        ("plan::Plan", 7),
    ]
    .into_iter()
    .map(|(p, l)| (p.to_string(), l))
    .collect();
    assert_eq!(got, want);
}
