//! Table tests of the validation rules: every rule, its location and its message.

mod bucket_config;
mod kubernetes;
mod rotation;

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
fn a_pinned_output_dir_keeps_the_inventory_in_it() {
    let yaml = base(
        "  state_file: inv/state.json\n",
        B,
        &token("    access: admin-read\n"),
    );
    assert!(
        run(&yaml).is_ok(),
        "not pinned: the file decides, inside its tree"
    );
    let pinned = Facts {
        output_dir_pinned: true,
        ..Facts::default()
    };
    assert_eq!(
        run_with(&yaml, &pinned).unwrap_err(),
        [
            "4:15: settings.state_file: state_file cannot be set while the operator pins the output directory (--output-dir or R2GITOPS_OUTPUT_DIR): the inventory lives there"
        ]
    );
}

/// An absolute `output_dir` replaced a `.bashrc` with ciphertext: unpinned, the file keeps
/// its outputs and inventory in its own directory tree, as it does its recipients file.
#[test]
fn unpinned_output_dir_and_state_file_stay_inside_the_files_tree() {
    let link = |field: &'static str| Facts {
        escaping_settings: BTreeMap::from([(field, "'out' -> /home/ops".to_string())]),
        ..Facts::default()
    };
    let none = Facts::default();
    let cases: &[(&str, &Facts, Option<&str>)] = &[
        ("  output_dir: out/secrets\n", &none, None),
        ("  output_dir: ./out\n", &none, None),
        ("  state_file: inv/state.json\n", &none, None),
        (
            "  output_dir: /home/ops\n",
            &none,
            Some("4:15: settings.output_dir: output directory '/home/ops' is an absolute path"),
        ),
        (
            "  output_dir: ../ops\n",
            &none,
            Some("4:15: settings.output_dir: output directory '../ops' contains '..'"),
        ),
        (
            "  output_dir: out/../../ops\n",
            &none,
            Some("4:15: settings.output_dir: output directory 'out/../../ops' contains '..'"),
        ),
        (
            "  output_dir: out\n",
            &link("settings.output_dir"),
            Some(
                "4:15: settings.output_dir: output directory 'out' leads out of the directory of this file through the symlink 'out' -> /home/ops",
            ),
        ),
        (
            "  state_file: /etc/cron.d/x\n",
            &none,
            Some("4:15: settings.state_file: state file '/etc/cron.d/x' is an absolute path"),
        ),
        (
            "  state_file: ../x.json\n",
            &none,
            Some("4:15: settings.state_file: state file '../x.json' contains '..'"),
        ),
        (
            "  state_file: out/x.json\n",
            &link("settings.state_file"),
            Some(
                "4:15: settings.state_file: state file 'out/x.json' leads out of the directory of this file through the symlink 'out' -> /home/ops",
            ),
        ),
    ];
    for (settings, facts, want) in cases {
        let yaml = base(settings, B, &token("    access: admin-read\n"));
        match (run_with(&yaml, facts), want) {
            (Ok(_), None) => {}
            (Err(got), Some(want)) => assert_eq!(got, [want.to_string()], "{settings}"),
            (got, want) => panic!("{settings}: want {want:?}, got {:?}", got.err()),
        }
        // The operator's pin decides instead: the file's output_dir is never written.
        if settings.contains("output_dir") {
            let pinned = Facts {
                output_dir_pinned: true,
                ..Facts::default()
            };
            assert!(run_with(&yaml, &pinned).is_ok(), "pinned: {settings}");
        }
    }
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
fn output_recipients_replace_the_defaults_and_recipients_file_adds_to_them() {
    let facts = Facts {
        recipients_file: Some(Ok(format!("# ops\n\n{AGE2}\n{AGE}\n"))),
        ..Facts::default()
    };
    let yaml = base(
        "  recipients_file: keys/ops.txt\n",
        B,
        &token("    access: admin-read\n"),
    );
    let d = run_with(&yaml, &facts).unwrap();
    assert_eq!(
        d.tokens[0].output.recipients,
        vec![AGE.to_string(), AGE2.to_string()]
    );
    let own = token(&format!(
        "    access: admin-read\n    output: {{file: t.age, format: env, recipients: [{AGE2}]}}\n"
    ))
    .replace("    output: {file: t.age, format: env}\n", "");
    let d = run_with(&base("  recipients_file: keys/ops.txt\n", B, &own), &facts).unwrap();
    assert_eq!(d.tokens[0].output.recipients, vec![AGE2.to_string()]);
}

#[test]
fn rules_are_reported_with_position_path_and_message() {
    let admin = "    access: admin-read\n";
    let cases: Vec<(String, &str)> = vec![
        (
            base("", B, &token(admin)).replace("version: 1", "version: 2"),
            "1:10: version: unsupported version 2",
        ),
        (
            format!("account_id: ABC\n{}", base("", B, &token(admin))),
            "1:13: account_id: 'ABC' is not an account id (32 lowercase hex characters)",
        ),
        (
            base("", "  - name: ab\n", &token(admin)),
            "5:11: buckets[0].name: bucket name 'ab' is 2 characters long; R2 allows 3 to 63",
        ),
        (
            base("", "  - name: Media\n", &token(admin)),
            "5:11: buckets[0].name: bucket name 'Media' contains 'M'",
        ),
        (
            base("", "  - name: -media\n", &token(admin)),
            "5:11: buckets[0].name: bucket name '-media' must start and end with a letter or digit",
        ),
        (
            base("", "  - name: media\n  - name: media\n", &token(admin)),
            "6:11: buckets[1].name: bucket 'media' is declared twice",
        ),
        (
            base(
                "",
                B,
                &format!("{}{}", token(admin), token(admin).replace("t.age", "u.age")),
            ),
            "13:11: tokens[1].name: token 'tokens' is declared twice"
                .replace("'tokens'", "'t'")
                .leak(),
        ),
        (
            base("", B, &token(admin).replace("name: t", "name: ' '")),
            "10:11: tokens[0].name: token name must not be empty",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("name: t", &format!("name: {}", "x".repeat(112))),
            ),
            "10:11: tokens[0].name: token name is too long: 'r2gitops:' + 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is 121 characters; Cloudflare allows 120",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [medai]\n"),
            ),
            "13:15: tokens[0].buckets[0]: unknown bucket 'medai'",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [media, eu-data]\n"),
            ),
            "13:14: tokens[0].buckets: buckets span several jurisdictions: default (media), eu (eu-data)",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    buckets: [media]\n"),
            ),
            "13:14: tokens[0].buckets: admin-read tokens cover the whole account and take no buckets",
        ),
        (
            base("", B, &token("    access: object-read\n")),
            "12:13: tokens[0].buckets: object-read tokens need buckets",
        ),
        (
            base("", B, &token("    access: object-read\n    buckets: []\n")),
            "13:14: tokens[0].buckets: buckets is empty",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: ['*', media]\n"),
            ),
            "13:14: tokens[0].buckets: \"*\" must be the only entry",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [media, media]\n"),
            ),
            "13:22: tokens[0].buckets[1]: bucket 'media' is listed twice",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [media]\n    jurisdiction: eu\n"),
            ),
            "14:19: tokens[0].jurisdiction: jurisdiction is only allowed on admin-* tokens and on buckets: [\"*\"]",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    ip: {allow: [203.0.113.0/33]}\n"),
            ),
            "13:18: tokens[0].ip.allow[0]: '203.0.113.0/33' is not a CIDR",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    ip: {deny: ['2001:db8::1/32']}\n"),
            ),
            "13:17: tokens[0].ip.deny[0]: '2001:db8::1/32' has host bits set",
        ),
        (
            base(
                "",
                B,
                &token(
                    "    access: admin-read\n    not_before: 2027-01-01T00:00:00Z\n    expires_on: 2026-01-01T00:00:00Z\n",
                ),
            ),
            "14:17: tokens[0].expires_on: expires_on must be later than not_before",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    not_before: tomorrow\n"),
            ),
            "13:17: tokens[0].not_before: 'tomorrow' is not an RFC 3339 timestamp",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    rotate_every: 30m\n"),
            ),
            "13:19: tokens[0].rotate_every: rotate_every '30m' is shorter than 1h",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    rotate_every: 3 days\n"),
            ),
            "13:19: tokens[0].rotate_every: '3 days' is not a duration",
        ),
        (
            base("", B, &token(admin)).replace(&format!("recipients: [{AGE}]"), "prune: false"),
            "11:20: tokens[0].output: this token has no recipient: nobody could decrypt its file",
        ),
        (
            base("", B, &token(admin)).replace(AGE, "age1notakey"),
            "3:16: settings.recipients[0]: 'age1notakey' is not a valid age X25519 recipient",
        ),
        (
            base("", B, &token(admin)).replace(AGE, "'ssh-dss AAAAB3NzaC1kc3MAAACBAP'"),
            "3:16: settings.recipients[0]: SSH key type 'ssh-dss' is not supported",
        ),
        (
            base("", B, &token(admin)).replace(AGE, "AGE-SECRET-KEY-1QQQQ"),
            "3:16: settings.recipients[0]: this is a private key, not a recipient (value not shown)",
        ),
        (
            base("", B, &token(admin).replace("t.age", "../t.age")),
            "11:20: tokens[0].output.file: output file '../t.age' contains '..'",
        ),
        (
            base("", B, &token(admin).replace("t.age", "/etc/t.age")),
            "11:20: tokens[0].output.file: output file '/etc/t.age' is an absolute path",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", ".r2gitops-state.json"),
            ),
            "11:20: tokens[0].output.file: '.r2gitops-state.json' is the state file",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", ".r2gitops-state.json.lock"),
            ),
            "11:20: tokens[0].output.file: '.r2gitops-state.json.lock' is the inventory lock file",
        ),
        (
            base(
                "  state_file: secrets/inv.json\n",
                B,
                &token(admin).replace("t.age", "./inv.json.lock"),
            ),
            "12:20: tokens[0].output.file: './inv.json.lock' is the inventory lock file",
        ),
        (
            base(
                "  state_file: elsewhere/inv.json\n",
                B,
                &token(admin).replace("t.age", "team/.r2gitops-state.json"),
            ),
            "12:20: tokens[0].output.file: output file 'team/.r2gitops-state.json' is named like the state file",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", "team/.r2gitops-state.json.lock"),
            ),
            "11:20: tokens[0].output.file: output file 'team/.r2gitops-state.json.lock' is named like the inventory lock file",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", "team/.t.age.r2gitops-tmp-0123456789abcdef"),
            ),
            "11:20: tokens[0].output.file: output file 'team/.t.age.r2gitops-tmp-0123456789abcdef' is named like an r2gitops temp file",
        ),
        (
            base(
                "",
                B,
                &format!(
                    "{}{}",
                    token(admin),
                    token(admin)
                        .replace("name: t", "name: u")
                        .replace("t.age", "./t.age")
                ),
            ),
            "14:20: tokens[1].output.file: output file './t.age' is used twice",
        ),
        (
            base("  prune: true\n", "", "").replace("buckets:\ntokens:\n", ""),
            "4:10: settings.prune: refusing to plan the deletion of everything: prune is on and the file declares no bucket and no token",
        ),
        (
            base("  token_name_prefix: ''\n", B, &token(admin)),
            "4:22: settings.token_name_prefix: token name prefix must not be empty",
        ),
    ];
    let mut failures = Vec::new();
    for (yaml, want) in cases {
        let got = run(&yaml).expect_err(want);
        if !got.iter().any(|g| g == want) {
            failures.push(format!("want {want}\n got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn recipients_file_problems_name_the_file_and_line() {
    let yaml = base(
        "  recipients_file: keys/ops.txt\n",
        B,
        &token("    access: admin-read\n"),
    );
    let cases = [
        (
            Some(Err(Unread::Failed(
                "No such file or directory (os error 2)".to_string(),
            ))),
            "4:20: settings.recipients_file: cannot read 'keys/ops.txt': No such file or directory (os error 2)",
        ),
        (
            Some(Err(Unread::Escapes("'keys' -> /run/secrets".to_string()))),
            "4:20: settings.recipients_file: 'keys/ops.txt' leads out of the directory of this file through the symlink 'keys' -> /run/secrets",
        ),
        (
            Some(Ok(format!("{AGE}\nnot-a-key\n"))),
            "4:20: settings.recipients_file: keys/ops.txt line 2: not an age or SSH public key (text not shown)",
        ),
        (
            Some(Ok("# only a comment\n".into())),
            "4:20: settings.recipients_file: 'keys/ops.txt' holds no recipient",
        ),
    ];
    for (file, want) in cases {
        let facts = Facts {
            recipients_file: file,
            ..Facts::default()
        };
        let got = run_with(&yaml, &facts).expect_err(want);
        assert_eq!(got, vec![want.to_string()]);
    }
}

/// Issue 12: `recipients_file` pointed at the daemon's API token file printed the token.
#[test]
fn no_line_of_a_recipients_file_is_ever_quoted() {
    let token_like = "Zq3vX9kLm2Np8Rt5Wy7Bc4Df6Gh1Jk0Lm3Np5Qr7St";
    let lines = [
        token_like.to_string(),
        format!("age1{token_like}"),
        format!("age1plugin1{token_like}"),
        format!("ssh-{token_like} AAAA"),
        format!("ssh-ed25519 {token_like}"),
        format!("AGE-SECRET-KEY-1{token_like}"),
        format!("ecdsa-{token_like}"),
    ];
    let yaml = base(
        "  recipients_file: keys/ops.txt\n",
        B,
        &token("    access: admin-read\n"),
    );
    for line in lines {
        let facts = Facts {
            recipients_file: Some(Ok(format!("# keys\n{line}\n"))),
            ..Facts::default()
        };
        let got = run_with(&yaml, &facts).expect_err(&line);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("keys/ops.txt line 2: "), "{got:?}");
        assert!(got[0].ends_with(" (text not shown)"), "{got:?}");
        // Not the value, nor any 8 characters of it.
        for window in token_like.as_bytes().windows(8) {
            let piece = std::str::from_utf8(window).unwrap();
            assert!(!got[0].contains(piece), "{piece} quoted in {got:?}");
        }
    }
}

#[test]
fn a_recipients_file_outside_the_files_directory_is_refused_unread() {
    let cases = [
        (
            "/run/secrets/cloudflare/token",
            "recipients file '/run/secrets/cloudflare/token' is an absolute path",
        ),
        ("../../token", "recipients file '../../token' contains '..'"),
        (
            "keys/../../token",
            "recipients file 'keys/../../token' contains '..'",
        ),
    ];
    for (path, want) in cases {
        let yaml = base(
            &format!("  recipients_file: {path}\n"),
            B,
            &token("    access: admin-read\n"),
        );
        // `load` gathers nothing for such a path; a text here would be ignored.
        let facts = Facts {
            recipients_file: Some(Ok(AGE.to_string())),
            ..Facts::default()
        };
        let got = run_with(&yaml, &facts).expect_err(path);
        assert_eq!(
            got,
            [format!("4:20: settings.recipients_file: {want}")],
            "{path}"
        );
    }
}

#[test]
fn an_output_through_an_escaping_symlink_is_refused() {
    let facts = Facts {
        escaping_symlinks: BTreeMap::from([(
            "link/t.age".to_string(),
            "'link' -> /etc".to_string(),
        )]),
        ..Facts::default()
    };
    let yaml = base(
        "",
        B,
        &token("    access: admin-read\n").replace("t.age", "link/t.age"),
    );
    let got = run_with(&yaml, &facts).unwrap_err();
    assert_eq!(
        got,
        [
            "11:20: tokens[0].output.file: 'link/t.age' leads out of the output directory through the symlink 'link' -> /etc"
        ]
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
fn recipients_accept_age_and_ssh_keys_and_never_echo_private_keys() {
    let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJir+V9+nE/+H/UqYAOe+xgp1oRlczIIbCNuWaZ66sCD ops@example";
    assert_eq!(parse_recipient(AGE), Ok(()));
    assert_eq!(parse_recipient(ed), Ok(()));
    let secret = "AGE-SECRET-KEY-1NOTAREALKEYNOTAREALKEYNOTAREALKEY";
    let (message, _) = parse_recipient(secret).unwrap_err();
    assert!(!message.contains("NOTAREAL"), "{message}");
    assert!(
        parse_recipient("age1yubikey1qwerty")
            .unwrap_err()
            .0
            .contains("plugin")
    );
    assert!(parse_recipient("ssh-ed25519 AAAA").is_err());
}

#[test]
fn output_files_stay_inside_the_output_directory() {
    for ok in ["a.age", "team/a.age", "./a.age", "a..b.age"] {
        assert_eq!(output_file_problem(ok), None, "{ok}");
    }
    for bad in [
        "",
        "../a",
        "a/../../b",
        "/abs",
        "dir/",
        ".",
        "a\u{7}b",
        ".a.age.r2gitops-tmp-0123456789abcdef",
    ] {
        assert!(output_file_problem(bad).is_some(), "{bad:?}");
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
