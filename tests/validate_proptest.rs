//! Property tests: whatever bytes arrive, parsing and validation end in a value or in
//! diagnostics, never a panic; and every diagnostic has a file and a message.

mod common;

use std::path::Path;

use proptest::prelude::*;
use r2gitops::config::load::load_bytes;
use r2gitops::config::validate::Facts;
use r2gitops::config::validate::{bucket_name_problem, suggest_bucket_name};
use r2gitops::config::{raw, shape, yaml};

fn check(bytes: &[u8]) {
    // `load` skips the schema walk when the typed pass succeeds: that is sound only if the
    // walk would have found nothing.
    if let Ok(text) = std::str::from_utf8(bytes)
        && serde_saphyr::from_str_with_options::<raw::RawDoc>(text, yaml::options()).is_ok()
    {
        let root = yaml::parse(text).unwrap().unwrap();
        let problems = shape::check(&root, raw::json_schema());
        assert!(
            problems.is_empty(),
            "typed pass accepted {text:?}, shape found {problems:?}"
        );
    }
    match load_bytes(bytes, "fuzz.yaml", Path::new("fuzz.yaml"), &|_| {
        Facts::default()
    }) {
        Ok(desired) => {
            // Whatever is accepted satisfies the model's promises.
            for t in &desired.tokens {
                assert!(!t.output.recipients.is_empty());
                assert!(!t.output.file.is_absolute());
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            for d in &diagnostics.0 {
                assert_eq!(d.file, "fuzz.yaml");
                assert!(!d.message.is_empty());
                assert!(
                    !d.message.chars().any(|c| c.is_control()),
                    "control character in {:?}",
                    d.message
                );
            }
        }
    }
}

fn seeds() -> Vec<String> {
    let mut seeds: Vec<String> = ["quickstart.yaml", "full.yaml", "multi-jurisdiction.yaml"]
        .iter()
        .map(|n| std::fs::read_to_string(common::root().join("examples").join(n)).unwrap())
        .collect();
    seeds.push(
        std::fs::read_to_string(
            common::root().join("tests/data/invalid/many-problems-at-once.yaml"),
        )
        .unwrap(),
    );
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let yaml_bits = prop::sample::select(vec![
        ":",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "!!str ",
        "|\n",
        ">\n",
        "'",
        "\"",
        "#",
        "\t",
        "\n",
        "  ",
        "---\n",
        "~",
        "<<: *a\n",
        "\u{feff}",
        "\u{0}",
        "é",
        "0x1F",
        "1e400",
        "-1",
        "yes",
        "null",
        "\\",
        "%YAML 1.2\n",
        "? ",
        ",",
    ]);
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), yaml_bits).prop_map(|(at, t)| Mutation::Insert {
            at,
            text: t.to_string()
        }),
        (any::<usize>(), "[a-z_*.:/ -]{0,12}").prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn char_boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, m: &Mutation) {
    match m {
        Mutation::Delete { at, len } => {
            let start = char_boundary(text, *at);
            let end = char_boundary(text, (start + len).min(text.len()));
            if end > start {
                text.replace_range(start..end, "");
            }
        }
        Mutation::Insert { at, text: t } => {
            let at = char_boundary(text, *at);
            text.insert_str(at, t);
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = line % lines.len();
                lines.insert(i, lines[i]);
            }
            *text = lines.join("\n");
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let n = lines.len();
                lines.swap(a % n, b % n);
            }
            *text = lines.join("\n");
        }
        Mutation::Truncate { at } => {
            let at = char_boundary(text, *at);
            text.truncate(at);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(text.as_bytes());
    }

    /// A hint must never suggest another invalid value: every bucket name a hint offers
    /// (`try '...'`) is itself a valid R2 name.
    #[test]
    fn every_suggested_bucket_name_validates(
        name in prop_oneof![
            "\\PC{0,70}",
            "[A-Za-z0-9_.\\- ]{0,70}",
            "[a-zA-Z][a-zA-Z0-9_.]{1,10}[_.-][a-zA-Z0-9]{0,10}",
        ]
    ) {
        if let Some(s) = suggest_bucket_name(&name) {
            prop_assert!(bucket_name_problem(&s).is_none(), "{name:?} -> {s:?}");
        }
        if let Some((_, hint)) = bucket_name_problem(&name)
            && let Some(tried) = hint.split("try '").nth(1)
        {
            let tried = tried.trim_end_matches('\'');
            prop_assert!(bucket_name_problem(tried).is_none(), "{name:?}: hint {hint:?}");
        }
    }

    #[test]
    fn mutated_valid_files_never_panic(
        seed in 0usize..4,
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut text = seeds()[seed].clone();
        for m in &mutations {
            apply(&mut text, m);
        }
        check(text.as_bytes());
    }
}
