//! Tests of the temporary_credentials: checks: a valid entry and its defaults, the
//! jurisdiction, every rule with its location, the renewal cadence, the count, unique names
//! and outputs, and no API token in a temporary credential's output.

use super::*;

// A real key made with age-keygen for these tests; private half discarded.
const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";
const B: &str = "  - name: media\n  - name: logs\n  - name: eu-data\n    jurisdiction: eu\n";

fn run(yaml: &str) -> Result<Desired, Vec<String>> {
    run_with(yaml, OperatorLimits::default())
}

fn run_with(yaml: &str, limits: OperatorLimits) -> Result<Desired, Vec<String>> {
    let raw: RawDoc =
        serde_saphyr::from_str_with_options(yaml, super::super::super::yaml::options())
            .expect("raw parses");
    let facts = Facts {
        limits,
        ..Facts::default()
    };
    validate(&raw, &facts, Path::new("r2gitops.yaml")).map_err(|list| {
        list.into_parts()
            .0
            .into_iter()
            .map(|v| format!("{}:{}: {}: {}", v.line, v.column, v.path, v.message))
            .collect()
    })
}

fn base(buckets: &str, tokens: &str) -> String {
    format!("version: 1\nsettings:\n  recipients: [{AGE}]\nbuckets:\n{buckets}tokens:\n{tokens}")
}

const TOKENS: &str = "  - name: uploader\n    access: object-read-write\n    buckets: [media]\n    output: {file: up.age, format: env}\n  - name: all-reader\n    access: object-read\n    buckets: [\"*\"]\n    output: {file: all.age, format: env}\n  - name: eu-admin\n    access: admin-read\n    jurisdiction: eu\n    output: {file: admin.age, format: env}\n";

fn file(temporary: &str) -> String {
    format!("{}temporary_credentials:\n{temporary}", base(B, TOKENS))
}

fn temp(body: &str) -> String {
    format!("  - name: p\n    output: {{file: p.age, format: env}}\n{body}")
}

#[test]
fn a_valid_entry_becomes_the_model_with_its_defaults() {
    let d = run(&file(&temp(
            "    parent: uploader\n    bucket: media\n    prefixes: [inbound/b/, inbound/a/]\n    access: object-read-write\n    ttl: 12h\n",
        )))
        .unwrap();
    let t = &d.temporary_credentials[0];
    assert_eq!(t.parent, "uploader");
    assert_eq!(t.jurisdiction, Jurisdiction::Default);
    assert_eq!(t.scope.prefixes, ["inbound/a/", "inbound/b/"]);
    assert!(t.scope.objects.is_empty());
    assert_eq!(t.scope.ttl, Duration::from_secs(12 * 3600));
    assert_eq!(t.refresh_before, Duration::from_secs(4 * 3600), "ttl/3");
    assert_eq!(t.output.recipients, [AGE]);
}

#[test]
fn the_jurisdiction_is_the_buckets_else_the_parents() {
    let cases = [
        ("all-reader", "eu-data", Jurisdiction::Eu),
        ("eu-admin", "media", Jurisdiction::Default),
        ("eu-admin", "not-declared", Jurisdiction::Eu),
    ];
    for (parent, bucket, want) in cases {
        let d = run(&file(&temp(&format!(
            "    parent: {parent}\n    bucket: {bucket}\n    access: object-read\n    ttl: 1h\n"
        ))))
        .unwrap_or_else(|e| panic!("{parent} {bucket}: {e:?}"));
        assert_eq!(d.temporary_credentials[0].jurisdiction, want, "{parent}");
    }
}

#[test]
fn every_rule_is_located_with_its_message() {
    let cases: &[(&str, &str)] = &[
        (
            "    parent: uplaoder\n    bucket: media\n    access: object-read\n    ttl: 1h\n",
            "25:13: temporary_credentials[0].parent: unknown parent token 'uplaoder'",
        ),
        (
            "    parent: uploader\n    bucket: logs\n    access: object-read\n    ttl: 1h\n",
            "26:13: temporary_credentials[0].bucket: the parent token 'uploader' does not cover bucket 'logs' (it covers: media)",
        ),
        (
            "    parent: all-reader\n    bucket: media\n    access: object-read-write\n    ttl: 1h\n",
            "27:13: temporary_credentials[0].access: object-read-write is more than the parent token 'all-reader' grants (object-read)",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: admin-read\n    ttl: 1h\n",
            "27:13: temporary_credentials[0].access: admin-read is more than the parent token 'uploader' grants (object-read-write)",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 8d\n",
            "28:10: temporary_credentials[0].ttl: ttl '8d' is longer than 7d",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 30s\n",
            "28:10: temporary_credentials[0].ttl: ttl '30s' is shorter than 15m",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    refresh_before: 1h\n",
            "29:21: temporary_credentials[0].refresh_before: refresh_before '1h' is not less than ttl '1h'",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    refresh_before: 0s\n",
            "29:21: temporary_credentials[0].refresh_before: refresh_before must be more than 0",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    prefixes: [/inbound/]\n",
            "29:16: temporary_credentials[0].prefixes[0]: prefix '/inbound/' starts with '/'",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    prefixes: [\"\"]\n",
            "29:16: temporary_credentials[0].prefixes[0]: prefix must not be empty",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    prefixes: []\n",
            "29:15: temporary_credentials[0].prefixes: prefixes is empty",
        ),
        (
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    objects: [a.json, a.json]\n",
            "29:23: temporary_credentials[0].objects[1]: object 'a.json' is listed twice",
        ),
    ];
    for (body, want) in cases {
        let got = run(&file(&temp(body))).unwrap_err();
        assert!(
            got.iter().any(|g| g == want),
            "{body}\nwant {want}\ngot {got:?}"
        );
    }
}

/// 60 credentials with ttl 1m and refresh_before 59s drove 3-4 times Cloudflare's limit:
/// the ttl and the time between two issues of one credential are bounded, and only the
/// operator lowers the bounds.
#[test]
fn the_renewal_cadence_is_bounded_unless_the_operator_allows_less() {
    let one_minute = OperatorLimits::parse_min_temporary_ttl("1m").unwrap();
    let default = OperatorLimits::default();
    // (ttl, refresh_before, limits, the diagnostic or None)
    let cases: &[(&str, Option<&str>, OperatorLimits, Option<&str>)] = &[
        ("15m", None, default, None),
        ("15m", Some("10m"), default, None),
        (
            "14m",
            None,
            default,
            Some("28:10: temporary_credentials[0].ttl: ttl '14m' is shorter than 15m"),
        ),
        (
            "1m",
            Some("59s"),
            default,
            Some("28:10: temporary_credentials[0].ttl: ttl '1m' is shorter than 15m"),
        ),
        (
            "15m",
            Some("11m"),
            default,
            Some(
                "29:21: temporary_credentials[0].refresh_before: refresh_before '11m' renews every 4m (ttl 15m - refresh_before), more often than every 5m",
            ),
        ),
        ("12h", Some("715m"), default, None),
        (
            "12h",
            Some("716m"),
            default,
            Some(
                "29:21: temporary_credentials[0].refresh_before: refresh_before '716m' renews every 4m (ttl 12h - refresh_before), more often than every 5m",
            ),
        ),
        ("1m", None, one_minute, None),
        ("1m", Some("40s"), one_minute, None),
        (
            "1m",
            Some("59s"),
            one_minute,
            Some(
                "29:21: temporary_credentials[0].refresh_before: refresh_before '59s' renews every 1s (ttl 1m - refresh_before), more often than every 20s",
            ),
        ),
        (
            "30s",
            None,
            one_minute,
            Some("28:10: temporary_credentials[0].ttl: ttl '30s' is shorter than 1m"),
        ),
    ];
    for (ttl, refresh, limits, want) in cases {
        let refresh = refresh.map_or(String::new(), |r| format!("    refresh_before: {r}\n"));
        let yaml = file(&temp(&format!(
            "    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: {ttl}\n{refresh}"
        )));
        match (run_with(&yaml, *limits), want) {
            (Ok(_), None) => {}
            (Err(got), Some(want)) => assert_eq!(got, [want.to_string()], "{ttl} {refresh}"),
            (got, want) => panic!("{ttl} {refresh}: want {want:?}, got {:?}", got.err()),
        }
    }
}

#[test]
fn at_most_100_temporary_credentials_may_be_declared() {
    let entry = |i: usize| {
        format!(
            "  - {{ name: p{i}, parent: uploader, bucket: media, access: object-read, ttl: 1h, output: {{ file: p{i}.age, format: env }} }}\n"
        )
    };
    let list = |n: usize| file(&(0..n).map(entry).collect::<String>());
    assert_eq!(run(&list(100)).unwrap().temporary_credentials.len(), 100);
    assert_eq!(
        run(&list(101)).unwrap_err(),
        [
            "123:13: temporary_credentials[100]: 101 temporary credentials; a file may declare at most 100"
        ]
    );
}

#[test]
fn names_are_unique_and_an_output_is_never_shared_with_a_token() {
    let entry = |name: &str, out: &str| {
        format!(
            "  - name: {name}\n    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    output: {{file: {out}, format: env}}\n"
        )
    };
    let twice = file(&format!("{}{}", entry("a", "a.age"), entry("a", "b.age")));
    let got = run(&twice).unwrap_err();
    assert!(
        got.iter().any(|g| g.ends_with(
            "temporary_credentials[1].name: temporary credential 'a' is declared twice"
        )),
        "{got:?}"
    );
    let shared = file(&entry("a", "up.age"));
    let got = run(&shared).unwrap_err();
    assert!(
        got.iter().any(|g| g
            .ends_with("temporary_credentials[0].output.file: output file 'up.age' is used twice")),
        "{got:?}"
    );
}

#[test]
fn a_temporary_credential_carries_no_api_token() {
    let got = run(&file(
            "  - name: p\n    parent: uploader\n    bucket: media\n    access: object-read\n    ttl: 1h\n    output: {file: p.age, format: env, include_api_token: true}\n",
        ))
        .unwrap_err();
    assert!(
            got.iter().any(|g| g.ends_with(
                "temporary_credentials[0].output.include_api_token: a temporary credential has no Cloudflare API token to include"
            )),
            "{got:?}"
        );
}
