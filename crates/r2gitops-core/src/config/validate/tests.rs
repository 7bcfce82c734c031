//! Table tests of the validation rules: every rule, its location and its message.

mod bucket_config;
mod kubernetes;
mod outputs;
mod rotation;
mod rules;

use super::*;

// Real keys made with age-keygen and ssh-keygen for these tests; private halves discarded.
const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";

const AGE2: &str = "age1ea6ha4cng0drxeunfdc2h0vrpzxcgdndq24a6v8c9ynurn2ym5rs96qllw";

fn doc(yaml: &str) -> RawDoc {
    serde_saphyr::from_str_with_options(yaml, super::super::yaml::options()).expect("raw parses")
}

fn run(yaml: &str) -> Result<Desired, Vec<String>> {
    run_with(yaml, &Facts::default())
}

fn run_with(yaml: &str, facts: &Facts) -> Result<Desired, Vec<String>> {
    validate(&doc(yaml), facts, Path::new("r2gitops.yaml")).map_err(|list| {
        list.into_parts()
            .0
            .into_iter()
            .map(|v| format!("{}:{}: {}: {}", v.line, v.column, v.path, v.message))
            .collect()
    })
}

fn base(extra_settings: &str, buckets: &str, tokens: &str) -> String {
    format!(
        "version: 1\nsettings:\n  recipients: [{AGE}]\n{extra_settings}buckets:\n{buckets}tokens:\n{tokens}"
    )
}

const B: &str = "  - name: media\n  - name: logs\n  - name: eu-data\n    jurisdiction: eu\n";

fn token(body: &str) -> String {
    format!("  - name: t\n    output: {{file: t.age, format: env}}\n{body}")
}

#[test]
fn suggested_bucket_names_are_valid_or_absent() {
    for (name, want) in [
        ("App_Assets", Some("app-assets")),
        ("Media", Some("media")),
        ("my.bucket", Some("my-bucket")),
        ("__Logs__2026__", Some("logs-2026")),
        ("a b", Some("a-b")),
        ("ab", None),
        ("__x__", None),
        ("media", None),
    ] {
        assert_eq!(suggest_bucket_name(name).as_deref(), want, "{name}");
    }
}

#[test]
fn a_declared_expiry_that_has_passed_is_a_located_warning_not_an_error() {
    let yaml = base(
        "",
        B,
        &token(
            "    access: admin-read
    expires_on: 2026-01-01T00:00:00Z
",
        ),
    );
    let at = |now| Facts {
        now: Some(now),
        ..Facts::default()
    };
    let d = run_with(&yaml, &at(time::macros::datetime!(2026-06-01 00:00 UTC))).unwrap();
    let w: Vec<String> = d.warnings.iter().map(|w| w.located_message()).collect();
    assert_eq!(
        w,
        [
            "13:17: tokens[0].expires_on: the declared expiry has passed (2026-01-01T00:00:00Z): the token is blocked and nothing is sent for it"
        ]
    );
    assert_eq!(
        d.warnings[0].hint.as_deref(),
        Some("declare a later expires_on, or remove the token")
    );
    let d = run_with(&yaml, &at(time::macros::datetime!(2025-06-01 00:00 UTC))).unwrap();
    assert!(d.warnings.is_empty(), "not yet passed");
    assert!(
        run(&yaml).unwrap().warnings.is_empty(),
        "no clock, no warning"
    );
}

#[test]
fn a_committed_adopt_by_roll_grants_nothing_and_is_a_located_warning() {
    for value in ["true", "false"] {
        let yaml = base(&format!("  adopt_by_roll: {value}\n"), B, "");
        let d = run(&yaml).expect("a file that sets it still loads");
        assert_eq!(d.adopt_rolls, AdoptRolls::Refused, "{value}");
        let w: Vec<String> = d.warnings.iter().map(|w| w.located_message()).collect();
        assert_eq!(
            w,
            [
                "4:18: settings.adopt_by_roll: settings.adopt_by_roll is ignored: only the operator can allow adopting a token by rolling it"
            ]
        );
        assert!(
            d.warnings[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("--allow-adopt-roll")),
            "{:?}",
            d.warnings[0].hint
        );
    }
    assert!(run(&base("", B, "")).unwrap().warnings.is_empty());
}

#[test]
fn a_valid_file_becomes_the_model_with_defaults() {
    let d = run(&base(
        "",
        B,
        &token("    access: object-read\n    buckets: [media, logs]\n"),
    ))
    .unwrap();
    assert_eq!(d.settings.token_name_prefix, "r2gitops:");
    assert_eq!(d.settings.max_deletions, 10);
    assert_eq!(d.settings.output_dir, PathBuf::from("secrets"));
    assert_eq!(
        d.settings.state_file,
        PathBuf::from("secrets/.r2gitops-state.json")
    );
    assert!(!d.settings.prune && !d.settings.suspend);
    assert_eq!(d.buckets.len(), 3);
    assert!(d.buckets[0].protect);
    assert_eq!(d.buckets[2].jurisdiction, Jurisdiction::Eu);
    let t = &d.tokens[0];
    assert_eq!(
        t.scope,
        TokenScope::Buckets(vec!["logs".into(), "media".into()])
    );
    assert_eq!(t.jurisdiction, Jurisdiction::Default);
    assert_eq!(t.owner, Owner::Account);
    assert_eq!(t.output.recipients, vec![AGE.to_string()]);
    assert!(!t.output.armor && !t.output.include_api_token && !t.output.verify);
}

#[test]
fn token_jurisdiction_comes_from_its_buckets_or_its_own_field() {
    let d = run(&base(
        "",
        B,
        &token("    access: object-read\n    buckets: [eu-data]\n"),
    ))
    .unwrap();
    assert_eq!(d.tokens[0].jurisdiction, Jurisdiction::Eu);
    let d = run(&base(
        "",
        B,
        &token("    access: admin-read\n    jurisdiction: fedramp\n"),
    ))
    .unwrap();
    assert_eq!(
        (d.tokens[0].scope.clone(), d.tokens[0].jurisdiction),
        (TokenScope::Account, Jurisdiction::Fedramp)
    );
    let d = run(&base(
        "",
        B,
        &token("    access: object-read-write\n    buckets: ['*']\n    jurisdiction: eu\n"),
    ))
    .unwrap();
    assert_eq!(
        (d.tokens[0].scope.clone(), d.tokens[0].jurisdiction),
        (TokenScope::AllBuckets, Jurisdiction::Eu)
    );
}

#[test]
fn several_problems_are_all_reported() {
    let yaml = base(
        "",
        "  - name: A\n  - name: b\n",
        &token("    access: object-read\n    buckets: [c]\n    rotate_every: 1s\n"),
    );
    let got = run(&yaml).unwrap_err();
    assert_eq!(got.len(), 4, "{got:#?}");
}

#[test]
fn durations_parse_units_and_refuse_garbage_and_overflow() {
    let cases = [
        ("90d", Some(90 * 86_400)),
        ("1h", Some(3600)),
        ("30m", Some(1800)),
        ("7200s", Some(7200)),
        ("1.5h", None),
        ("h", None),
        ("10", None),
        ("-1h", None),
        ("99999999999999999999d", None),
        ("213503982334601d", Some(213503982334601 * 86_400)),
        ("213503982334602d", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_duration(text).map(|d| d.as_secs()), want, "{text}");
    }
}

#[test]
fn bucket_names_follow_r2_rules() {
    for ok in ["abc", "a-b", "0ab", &"a".repeat(63)] {
        assert_eq!(bucket_name_problem(ok), None, "{ok}");
    }
    for bad in [
        "ab",
        &"a".repeat(64),
        "a_b",
        "ab-",
        "-ab",
        "a.b",
        "ABC",
        "ábc",
    ] {
        assert!(bucket_name_problem(bad).is_some(), "{bad}");
    }
}

#[test]
fn the_state_parent_tokens_name_is_reserved_whatever_the_prefix() {
    let state = |prefix: &str, name: &str| {
        base(
            &format!("  token_name_prefix: '{prefix}'\n"),
            B,
            &format!(
                "  - name: {name}\n    access: object-read\n    buckets: [media]\n    output: {{file: t.age, format: env}}\n"
            ),
        )
    };
    for (prefix, name) in [
        ("r2gitops:", "state"),
        ("r2gitops:st", "ate"),
        ("r", "2gitops:state"),
    ] {
        let got = run(&state(prefix, name)).expect_err(name);
        assert!(
            got.iter()
                .any(|g| g
                    .contains("token name 'r2gitops:state' (prefix and name) is r2gitops' own")),
            "{prefix}{name}: {got:?}"
        );
    }
    for (prefix, name) in [("acme:", "state"), ("r2gitops:", "states")] {
        assert!(run(&state(prefix, name)).is_ok(), "{prefix}{name}");
    }
}
