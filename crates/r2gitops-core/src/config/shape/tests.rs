//! Tests of the structural check against the JSON Schema: every problem with its position
//! and path, the root, nulls, positions, did-you-mean, and agreement with the typed pass.

use super::super::{raw, yaml};
use super::*;

fn problems(text: &str) -> Vec<String> {
    let node = yaml::parse(text).unwrap().unwrap();
    check(&node, raw::json_schema())
        .into_parts()
        .0
        .into_iter()
        .map(|p| {
            format!(
                "{}:{}: {}: {}{}",
                p.line,
                p.column,
                p.path,
                p.message,
                p.hint.map(|h| format!(" [{h}]")).unwrap_or_default()
            )
        })
        .collect()
}

const TOKEN: &str = "\n    access: admin-read\n    output: {file: a, format: env}";

#[test]
fn a_well_formed_document_has_no_structural_problem() {
    let text = format!(
        "version: 1\nsettings:\n  prune: false\n  recipients: [age1x]\nbuckets:\n  - name: abc\n    jurisdiction: eu\ntokens:\n  - name: t{TOKEN}\n    buckets: [abc]\n"
    );
    assert_eq!(problems(&text), Vec::<String>::new());
}

#[test]
fn every_structural_problem_is_reported_with_its_position_and_path() {
    let text = format!(
        "version: 1\nbuckts: []\nsettings:\n  prune: yes\n  max_deletions: -1\nbuckets:\n  - name: abc\n    jurisdiction: europe\n    color: red\ntokens:\n  - name: t{TOKEN}\n    owner: acount\n  - access: nope\n"
    );
    let got = problems(&text);
    let want = [
        "2:1: buckts: unknown field 'buckts' [did you mean 'buckets'? fields here: account_id, buckets, settings, temporary_credentials, tokens, version]",
        "4:10: settings.prune: expected a boolean, found a string ('yes') [write true or false (YAML 1.2 reads yes/no/on/off as strings)]",
        "5:18: settings.max_deletions: -1 is out of range (0..=4294967295)",
        "8:19: buckets[0].jurisdiction: unknown jurisdiction 'europe' [one of: default, eu, fedramp, us]",
        "9:5: buckets[0].color: unknown field 'color' [fields here: cors, custom_domains, jurisdiction, lifecycle, location_hint, lock, name, notifications, protect, public_dev_url, storage_class]",
        "14:12: tokens[0].owner: unknown owner 'acount' [did you mean 'account'? one of: account, user]",
        "15:5: tokens[1]: missing field 'name'",
        "15:5: tokens[1]: missing field 'output'",
        "15:13: tokens[1].access: unknown access 'nope' [one of: object-read, object-read-write, admin-read, admin-read-write]",
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want_sorted: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted);
}

#[test]
fn root_must_be_a_mapping_with_a_version() {
    assert_eq!(
        problems("- 1\n"),
        [":1:1: : expected a mapping, found a list"].map(|s| s[1..].to_string())
    );
    assert_eq!(
        problems("account_id: x\n"),
        ["1:1: : missing field 'version'"]
    );
}

#[test]
fn null_is_accepted_for_optional_fields_only() {
    assert_eq!(
        problems("version: 1\nsettings:\nbuckets: ~\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        problems("version: ~\n"),
        ["1:10: version: expected an integer, found null [give it a value, or remove the key]"]
    );
}

#[test]
fn path_at_names_the_key_or_value_at_a_position() {
    let node = yaml::parse("a:\n  b: [x, y]\n").unwrap().unwrap();
    assert_eq!(path_at(&node, 2, 3), "a.b");
    assert_eq!(path_at(&node, 2, 10), "a.b[1]");
    assert_eq!(path_at(&node, 9, 9), "");
}

#[test]
fn did_you_mean_picks_the_closest_candidate_within_reach() {
    let cases = [
        ("buckts", Some("buckets")),
        ("TOKENS", Some("tokens")),
        ("zzzzzz", None),
        ("eur", Some("eu")),
    ];
    for (input, want) in cases {
        assert_eq!(
            did_you_mean(input, ["buckets", "tokens", "eu", "us"]),
            want,
            "{input}"
        );
    }
}

#[test]
fn typed_and_shape_passes_agree_on_scalar_corner_cases() {
    // (document, typed pass accepts). Where the typed pass accepts, the walk must find
    // nothing (load skips it then); where it refuses, the walk must say why.
    let cases = [
        "version: 1.0",
        "version: '1'",
        "version: 0x1",
        "version: '-1'",
        "version: '99999999999'",
        "version: 1\nsettings: {max_deletions: '0x10'}",
        "version: 1\nsettings: {prune: 'yes'}",
        "version: 1\nsettings: {max_deletions: '1_000'}",
        "version: 1\nsettings: {max_deletions: 1_000}",
        "version: 1\nsettings: {max_deletions: '+5'}",
        "version: 1\nsettings: {max_deletions: ' 5'}",
        "version: 1\nsettings: {max_deletions: 0o17}",
        "version: 1\nsettings: {prune: 'false'}",
        "version: 1\nsettings: {max_deletions: 0x10}",
        "version: 1\nsettings: {max_deletions: 1e3}",
        "version: 1\nsettings: {max_deletions: 4294967296}",
        "version: 1\nsettings: {prune: True}",
        "version: 1\nsettings: {prune: 'true'}",
        "version: 1\nsettings: {prune: 1}",
        "version: 1\nsettings: {token_name_prefix: 12}",
        "version: 1\nsettings: {token_name_prefix: true}",
        "version: 1\nsettings: {token_name_prefix: ~}",
        "version: 1\nbuckets: [{name: 2024}]",
        "version: 1\nbuckets: [{name: media, protect: ~}]",
        "version: 1\nbuckets: {}",
        "version: 1\nbuckets: [{name: media, jurisdiction: EU}]",
        "version: 1\nbuckets: [{name: media, storage_class: standard}]",
        "version: 1\nsettings: []",
        "version: 1\n1: x",
        "version: 1\n? [a]\n: x",
    ];
    let mut disagreements = Vec::new();
    for text in cases {
        let typed = serde_saphyr::from_str_with_options::<raw::RawDoc>(text, yaml::options());
        let Ok(Some(node)) = yaml::parse(text) else {
            if typed.is_ok() {
                disagreements.push(format!("{text:?}: typed accepts, tree refuses"));
            }
            continue;
        };
        let found = check(&node, raw::json_schema());
        if typed.is_ok() != found.is_empty() {
            disagreements.push(format!("{text:?}: typed {typed:?}, shape {found:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
