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
use std::path::PathBuf;

mod source;
use source::{Source, blank_literals, blank_test_items, core_src, references, shown, sources};

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
