//! Table tests of the bucket configuration blocks: every rule, its location and its
//! message; the model they become; the default-lifecycle-rule warning.

use super::*;

const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";

fn run(bucket_body: &str) -> Result<Desired, Vec<String>> {
    run_settings("", bucket_body)
}

fn run_settings(settings: &str, bucket_body: &str) -> Result<Desired, Vec<String>> {
    let yaml = format!(
        "version: 1\nsettings:\n  recipients: [{AGE}]\n{settings}buckets:\n  - name: media\n{bucket_body}"
    );
    let raw: RawDoc = serde_saphyr::from_str_with_options(&yaml, crate::config::yaml::options())
        .unwrap_or_else(|e| panic!("raw parses: {e}\n{yaml}"));
    validate(&raw, &Facts::default(), Path::new("r2gitops.yaml")).map_err(|list| {
        list.into_parts()
            .0
            .into_iter()
            .map(|v| format!("{}:{}: {}: {}", v.line, v.column, v.path, v.message))
            .collect()
    })
}

fn config(bucket_body: &str) -> BucketConfig {
    run(bucket_body)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .buckets
        .remove(0)
        .config
}

#[test]
fn absent_blocks_are_unmanaged_and_an_empty_list_is_managed() {
    let c = config("");
    assert_eq!(c, BucketConfig::default());
    assert!(!c.manages_any());
    let c = config("    cors: []\n    lock: []\n    public_dev_url: false\n");
    assert_eq!(c.cors, Some(vec![]));
    assert_eq!(c.lock, Some(vec![]));
    assert_eq!(c.lifecycle, None);
    assert_eq!(c.public_dev_url, Some(false));
    assert!(c.manages_any());
}

#[test]
fn a_full_declaration_becomes_the_model_with_seconds_and_units() {
    let c = config(
        "    cors:
      - id: web
        allowed_origins: [https://app.example.com, 'http://localhost:3000']
        allowed_methods: [GET, HEAD, PUT]
        allowed_headers: [content-type]
        expose_headers: [etag]
        max_age: 1h
    lifecycle:
      - id: expire-tmp
        prefix: tmp/
        expire_after: 7d
        transition_to_infrequent_access_after: 72h
        abort_multipart_after: 1d
      - id: dated
        enabled: false
        expire_on: 2027-01-01T00:00:00Z
    lock:
      - id: contracts
        prefix: contracts/
        retain_for: 365d
      - id: legal
        retain: indefinite
      - id: until
        retain_until: 2030-01-01T00:00:00Z
        enabled: false
    public_dev_url: true
",
    );
    let cors = c.cors.unwrap();
    assert_eq!(cors[0].id.as_deref(), Some("web"));
    assert_eq!(
        cors[0].allowed_origins,
        ["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(
        cors[0].allowed_methods,
        [CorsMethod::Get, CorsMethod::Head, CorsMethod::Put]
    );
    assert_eq!(
        cors[0].max_age,
        Some(Age {
            secs: 3600,
            unit: 'h'
        })
    );
    let lc = c.lifecycle.unwrap();
    assert_eq!(lc[0].prefix, "tmp/");
    assert!(lc[0].enabled);
    assert_eq!(
        lc[0].expire,
        Some(When::After(Age {
            secs: 604_800,
            unit: 'd'
        }))
    );
    assert_eq!(
        lc[0].transition_to_infrequent_access,
        Some(When::After(Age {
            secs: 259_200,
            unit: 'h'
        }))
    );
    assert_eq!(lc[0].abort_multipart_after.map(|a| a.secs), Some(86_400));
    assert_eq!(lc[1].prefix, "", "absent prefix is the whole bucket");
    assert!(!lc[1].enabled);
    assert_eq!(
        lc[1].expire,
        Some(When::On(time::macros::datetime!(2027-01-01 00:00 UTC)))
    );
    let lock = c.lock.unwrap();
    assert_eq!(
        lock[0].retention,
        Retention::For(Age {
            secs: 365 * 86_400,
            unit: 'd'
        })
    );
    assert_eq!(lock[1].retention, Retention::Indefinite);
    assert_eq!(
        lock[2].retention,
        Retention::Until(time::macros::datetime!(2030-01-01 00:00 UTC))
    );
    assert!(lock[0].enabled && !lock[2].enabled);
    assert_eq!(c.public_dev_url, Some(true));
}

#[test]
fn every_cors_rule_is_checked_where_it_is_written() {
    let got = run("    cors:
      - id: web
        allowed_origins: [https://app.example.com/, example.com, 'https://a.com:99999', '*']
        allowed_methods: []
        allowed_headers: ['content type']
        max_age: 2d
      - id: web
        allowed_origins: []
        allowed_methods: [GET]
        max_age: 0s
")
    .unwrap_err();
    assert_eq!(
        got,
        [
            "8:27: buckets[0].cors[0].allowed_origins[0]: 'https://app.example.com/' is not an origin: it has a path",
            "8:53: buckets[0].cors[0].allowed_origins[1]: 'example.com' is not an origin: no scheme",
            "8:66: buckets[0].cors[0].allowed_origins[2]: 'https://a.com:99999' is not an origin: bad port",
            "9:26: buckets[0].cors[0].allowed_methods: a CORS rule needs at least one method",
            "10:27: buckets[0].cors[0].allowed_headers[0]: 'content type' is not a header name",
            "11:18: buckets[0].cors[0].max_age: max_age 2d is longer than 1d",
            "12:13: buckets[0].cors[1].id: CORS rule id 'web' is used twice",
            "13:26: buckets[0].cors[1].allowed_origins: a CORS rule needs at least one origin",
            "15:18: buckets[0].cors[1].max_age: must be longer than 0",
        ]
    );
}

#[test]
fn origins_are_scheme_host_and_port_only() {
    for (origin, ok) in [
        ("https://app.example.com", true),
        ("http://localhost:3000", true),
        ("http://[::1]:8080", true),
        ("*", true),
        ("https://app.example.com/", false),
        ("https://app.example.com/path", false),
        ("https://app.example.com?x", false),
        ("app.example.com", false),
        ("https://", false),
        ("https://user@host", false),
        ("https://host:0", false),
        ("1http://host", false),
    ] {
        assert_eq!(origin_problem(origin).is_none(), ok, "{origin}");
    }
    let (_, hint) = origin_problem("https://app.example.com/x/y").unwrap();
    assert!(hint.ends_with("write 'https://app.example.com'"), "{hint}");
}

#[test]
fn every_lifecycle_rule_is_checked_where_it_is_written() {
    let got = run("    lifecycle:
      - id: a
        expire_after: 7d
        expire_on: 2027-01-01T00:00:00Z
      - id: a
        expire_after: 3d
        transition_to_infrequent_access_after: 30d
      - id: dates
        expire_on: 2027-01-01T00:00:00Z
        transition_to_infrequent_access_on: 2027-06-01T00:00:00Z
      - id: idle
        prefix: x/
      - id: bad
        abort_multipart_after: soon
        transition_to_infrequent_access_after: 1d
        transition_to_infrequent_access_on: 2027-01-01T00:00:00Z
        expire_on: yesterday
")
    .unwrap_err();
    assert_eq!(
        got,
        [
            "9:20: buckets[0].lifecycle[0].expire_on: expire_after and expire_on are exclusive",
            "10:13: buckets[0].lifecycle[1].id: lifecycle rule id 'a' is used twice",
            "12:48: buckets[0].lifecycle[1].transition_to_infrequent_access_after: the transition (30d) is not earlier than the expiry (3d)",
            "15:45: buckets[0].lifecycle[2].transition_to_infrequent_access_on: the transition date is not earlier than the expiry date",
            "16:13: buckets[0].lifecycle[3]: lifecycle rule 'idle' does nothing",
            "19:32: buckets[0].lifecycle[4].abort_multipart_after: 'soon' is not a duration",
            "21:45: buckets[0].lifecycle[4].transition_to_infrequent_access_on: transition_to_infrequent_access_after and transition_to_infrequent_access_on are exclusive",
            "22:20: buckets[0].lifecycle[4].expire_on: 'yesterday' is not an RFC 3339 timestamp",
        ]
    );
}

#[test]
fn every_lock_rule_is_checked_where_it_is_written() {
    let got = run("    lock:
      - id: a
        retain_for: 30d
        retain: indefinite
      - id: a
        retain_until: 2030-01-01T00:00:00Z
      - id: none
      - id: ''
        retain_for: forever
")
    .unwrap_err();
    assert_eq!(
        got,
        [
            "9:17: buckets[0].lock[0].retain: retain_for and retain are exclusive",
            "10:13: buckets[0].lock[1].id: lock rule id 'a' is used twice",
            "12:13: buckets[0].lock[2]: lock rule 'none' does not say how long to retain",
            "13:13: buckets[0].lock[3].id: lock rule id must not be empty",
            "14:21: buckets[0].lock[3].retain_for: 'forever' is not a duration",
        ]
    );
}

#[test]
fn more_than_1000_lifecycle_or_lock_rules_are_refused() {
    let rules = |n: usize, body: &str| {
        (0..n)
            .map(|i| format!("      - {{id: r{i}, {body}}}\n"))
            .collect::<String>()
    };
    assert!(
        run(&format!(
            "    lifecycle:\n{}",
            rules(1000, "expire_after: 1d")
        ))
        .is_ok()
    );
    assert_eq!(
        run(&format!(
            "    lifecycle:\n{}",
            rules(1001, "expire_after: 1d")
        ))
        .unwrap_err(),
        [
            "7:7: buckets[0].lifecycle: 1001 lifecycle rules; Cloudflare allows at most 1000 per bucket"
        ]
    );
    assert_eq!(
        run(&format!("    lock:\n{}", rules(1001, "retain: indefinite"))).unwrap_err(),
        ["7:7: buckets[0].lock: 1001 lock rules; Cloudflare allows at most 1000 per bucket"]
    );
}

#[test]
fn a_lifecycle_list_without_a_whole_bucket_abort_warns_with_the_line_that_keeps_the_default() {
    let warnings = |body: &str| -> Vec<(String, Option<String>)> {
        run(body)
            .unwrap()
            .warnings
            .into_iter()
            .map(|w| (w.located_message(), w.hint))
            .collect()
    };
    let got =
        warnings("    lifecycle:\n      - {id: expire-tmp, prefix: tmp/, expire_after: 7d}\n");
    assert_eq!(
        got,
        [(
            "7:7: buckets[0].lifecycle: this list replaces Cloudflare's default rule \"Default Multipart Abort Rule\" (abort incomplete multipart uploads after 7d): it has no whole-bucket abort_multipart_after".to_string(),
            Some("to keep it, add: - { id: \"Default Multipart Abort Rule\", abort_multipart_after: 7d }".to_string())
        )]
    );
    assert_eq!(
        warnings("    lifecycle: []\n").len(),
        1,
        "[] removes it too"
    );
    // The suggested line, added, silences it; so does any whole-bucket abort of one's own.
    assert!(warnings(
        "    lifecycle:\n      - {id: expire-tmp, prefix: tmp/, expire_after: 7d}\n      - { id: \"Default Multipart Abort Rule\", abort_multipart_after: 7d }\n"
    )
    .is_empty());
    assert!(warnings("    lifecycle:\n      - {id: mine, abort_multipart_after: 2d}\n").is_empty());
    // A prefixed or disabled abort does not cover the whole bucket.
    assert_eq!(
        warnings("    lifecycle:\n      - {id: mine, prefix: a/, abort_multipart_after: 2d}\n")
            .len(),
        1
    );
    assert_eq!(
        warnings("    lifecycle:\n      - {id: mine, enabled: false, abort_multipart_after: 2d}\n")
            .len(),
        1
    );
    assert!(warnings("").is_empty(), "unmanaged lifecycle: no warning");
}

#[test]
fn config_resync_defaults_to_an_hour_and_is_at_least_a_minute() {
    let d = run("").unwrap();
    assert_eq!(d.settings.config_resync, Duration::from_secs(3600));
    let d = run_settings("  config_resync: 30m\n", "").unwrap();
    assert_eq!(d.settings.config_resync, Duration::from_secs(1800));
    assert_eq!(
        run_settings("  config_resync: 30s\n", "").unwrap_err(),
        ["4:18: settings.config_resync: config_resync 30s is shorter than 1m"]
    );
}

/// 300 fully configured buckets with `config_resync: 1m` used Cloudflare's whole budget in
/// seconds: the period is raised to what a quarter of the limit pays for.
#[test]
fn config_resync_is_raised_to_what_its_re_reads_cost_against_a_quarter_of_the_limit() {
    let file = |settings: &str, n: usize| {
        let buckets: String = (0..n)
            .map(|i| {
                format!(
                    "  - {{ name: b{i:04}, cors: [], lifecycle: [], lock: [], public_dev_url: false, custom_domains: [], notifications: [] }}\n"
                )
            })
            .collect();
        format!("version: 1\nsettings:\n  recipients: [{AGE}]\n{settings}buckets:\n{buckets}")
    };
    let load = |yaml: &str| {
        let raw: RawDoc = serde_saphyr::from_str_with_options(yaml, crate::config::yaml::options())
            .unwrap_or_else(|e| panic!("{e}"));
        validate(&raw, &Facts::default(), Path::new("r2gitops.yaml"))
            .unwrap_or_else(|e| panic!("{:?}", e.into_parts().0))
    };
    // (settings, buckets, the period the daemon runs by, the warning)
    let cases: &[(&str, usize, u64, Option<&str>)] = &[
        ("  config_resync: 1m\n", 5, 60, None),
        (
            "  config_resync: 1m\n",
            300,
            30 * 60,
            Some(
                "4:18: settings.config_resync: config_resync 1m is raised to 30m: re-reading 1800 configuration blocks, zones and queue lists more often would spend more than a quarter of Cloudflare's 1,200 calls per 5 minutes",
            ),
        ),
        ("  config_resync: 2h\n", 300, 2 * 3600, None),
        // The default is raised too, without a warning: the file did not ask for it.
        ("", 1000, 100 * 60, None),
        ("", 300, 3600, None),
    ];
    for (settings, n, want, warning) in cases {
        let d = load(&file(settings, *n));
        assert_eq!(
            d.settings.config_resync,
            Duration::from_secs(*want),
            "{settings} {n}"
        );
        let got: Vec<String> = d
            .warnings
            .iter()
            .filter(|w| w.path == "settings.config_resync")
            .map(|w| format!("{}:{}: {}: {}", w.line, w.column, w.path, w.message))
            .collect();
        assert_eq!(
            got,
            warning.map(|w| vec![w.to_string()]).unwrap_or_default()
        );
        let cost = crate::config::cost::estimate(&d, crate::config::cost::DEFAULT_INTERVAL);
        assert!(
            cost.config_calls_per_hour() <= crate::config::cost::CONFIG_READS_PER_HOUR as f64,
            "{settings} {n}: {}",
            cost.line()
        );
    }
}
