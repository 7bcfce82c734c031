//! Table tests of the rotation settings: `rotation_overlap` (settings and per token),
//! `readiness_timeout` and `token_watch`, with their locations and messages.

use super::*;

const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";
const HOUR: u64 = 3600;

/// A file with `settings` lines and one object-read token with `token_body` lines.
fn file(settings: &str, token_body: &str) -> String {
    format!(
        "version: 1\nsettings:\n  recipients: [{AGE}]\n{settings}buckets:\n  - name: media\ntokens:\n  - name: reader\n    access: object-read\n    buckets: [media]\n    output: {{file: reader.age, format: env}}\n{token_body}"
    )
}

fn load(yaml: &str) -> Result<Desired, Vec<String>> {
    let raw: RawDoc = serde_saphyr::from_str_with_options(yaml, crate::config::yaml::options())
        .unwrap_or_else(|e| panic!("raw parses: {e}\n{yaml}"));
    validate(&raw, &Facts::default(), Path::new("r2gitops.yaml")).map_err(|list| {
        list.into_parts()
            .0
            .into_iter()
            .map(|v| format!("{}:{}: {}: {}", v.line, v.column, v.path, v.message))
            .collect()
    })
}

fn warnings(d: &Desired) -> Vec<String> {
    d.warnings
        .iter()
        .map(|w| format!("{}:{}: {}: {}", w.line, w.column, w.path, w.message))
        .collect()
}

#[test]
fn rotation_overlap_resolves_from_the_token_then_the_settings_then_the_default() {
    // (settings, token lines, the token's overlap in seconds, warnings)
    let cases: &[(&str, &str, u64, &[&str])] = &[
        ("", "", HOUR, &[]),
        ("", "    rotate_every: 90d\n", HOUR, &[]),
        // The default never reaches rotate_every: half of it where it would.
        ("", "    rotate_every: 1h\n", HOUR / 2, &[]),
        (
            "  rotation_overlap: 24h\n",
            "    rotate_every: 90d\n",
            24 * HOUR,
            &[],
        ),
        (
            "  rotation_overlap: 24h\n",
            "    rotate_every: 90d\n    rotation_overlap: 2h\n",
            2 * HOUR,
            &[],
        ),
        ("  rotation_overlap: 0\n", "", 0, &[]),
        ("", "    rotation_overlap: 0s\n", 0, &[]),
        ("  rotation_overlap: 30d\n", "", 30 * 24 * HOUR, &[]),
        (
            "",
            "    rotate_every: 90d\n    rotation_overlap: 0\n",
            0,
            &[
                "12:23: tokens[0].rotation_overlap: rotation_overlap 0 with rotate_every: each rotation cuts consumers off until they re-read the file",
            ],
        ),
        (
            "  rotation_overlap: 0\n",
            "    rotate_every: 90d\n",
            0,
            &[
                "12:19: tokens[0].rotate_every: settings.rotation_overlap 0 with rotate_every: each rotation cuts consumers off until they re-read the file",
            ],
        ),
        // A token's own overlap silences the settings' zero.
        (
            "  rotation_overlap: 0\n",
            "    rotate_every: 90d\n    rotation_overlap: 1h\n",
            HOUR,
            &[],
        ),
    ];
    for (settings, token, want, warned) in cases {
        let d = load(&file(settings, token)).unwrap_or_else(|e| panic!("{settings}{token}: {e:?}"));
        assert_eq!(
            d.tokens[0].rotation_overlap,
            Duration::from_secs(*want),
            "{settings}{token}"
        );
        assert_eq!(warnings(&d), *warned, "{settings}{token}");
    }
}

#[test]
fn a_bad_rotation_overlap_is_located_and_explained() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "  rotation_overlap: 31d\n",
            "",
            "4:21: settings.rotation_overlap: rotation_overlap 31d is longer than 30d",
        ),
        (
            "  rotation_overlap: soon\n",
            "",
            "4:21: settings.rotation_overlap: 'soon' is not a duration",
        ),
        (
            "",
            "    rotation_overlap: -1h\n",
            "11:23: tokens[0].rotation_overlap: '-1h' is not a duration",
        ),
        (
            "",
            "    rotate_every: 2h\n    rotation_overlap: 2h\n",
            "12:23: tokens[0].rotation_overlap: rotation_overlap 2h is not shorter than rotate_every 2h",
        ),
        (
            "  rotation_overlap: 24h\n",
            "    rotate_every: 12h\n",
            "12:19: tokens[0].rotate_every: settings.rotation_overlap 1d is not shorter than rotate_every 12h",
        ),
    ];
    for (settings, token, want) in cases {
        assert_eq!(
            load(&file(settings, token)).unwrap_err(),
            [*want],
            "{settings}{token}"
        );
    }
}

#[test]
fn readiness_timeout_defaults_to_a_minute_between_a_second_and_ten_minutes() {
    let cases: &[(&str, Result<u64, &str>)] = &[
        ("", Ok(60)),
        ("  readiness_timeout: 3s\n", Ok(3)),
        ("  readiness_timeout: 10m\n", Ok(600)),
        (
            "  readiness_timeout: 0s\n",
            Err("4:22: settings.readiness_timeout: readiness_timeout 0s is shorter than 1s"),
        ),
        (
            "  readiness_timeout: 11m\n",
            Err("4:22: settings.readiness_timeout: readiness_timeout 11m is longer than 10m"),
        ),
        (
            "  readiness_timeout: fast\n",
            Err("4:22: settings.readiness_timeout: 'fast' is not a duration"),
        ),
    ];
    for (settings, want) in cases {
        match (load(&file(settings, "")), want) {
            (Ok(d), Ok(secs)) => assert_eq!(
                d.settings.readiness_timeout,
                Duration::from_secs(*secs),
                "{settings}"
            ),
            (Err(e), Err(msg)) => assert_eq!(e, [*msg], "{settings}"),
            (got, want) => panic!("{settings}: {got:?} against {want:?}"),
        }
    }
}

/// A committed `token_watch: 15s` must not raise the daemon's rate: 15s is the floor the
/// file cannot go under, and with many tokens the cadence is raised to what 5% of
/// Cloudflare's budget pays for.
#[test]
fn token_watch_is_at_least_15s_and_raised_to_what_five_percent_of_the_budget_pays_for() {
    let many = |n: usize, settings: &str| {
        let tokens: String = (0..n)
            .map(|i| {
                format!(
                    "  - {{ name: t{i:04}, access: object-read, buckets: [media], output: {{ file: t{i:04}.age, format: env }} }}\n"
                )
            })
            .collect();
        format!(
            "version: 1\nsettings:\n  recipients: [{AGE}]\n{settings}buckets:\n  - name: media\ntokens:\n{tokens}"
        )
    };
    // (settings, tokens, the cadence the daemon runs by, the warning)
    let cases: &[(&str, usize, u64, Option<&str>)] = &[
        ("", 1, 60, None),
        ("  token_watch: 15s\n", 1, 15, None),
        ("  token_watch: 15s\n", 150, 15, None),
        (
            "  token_watch: 15s\n",
            151,
            20,
            Some(
                "4:16: settings.token_watch: token_watch 15s is raised to 20s: listing 4 pages of tokens more often would spend more than 5% of Cloudflare's 1,200 calls per 5 minutes",
            ),
        ),
        ("", 600, 60, None),
        // The default is raised too, without a warning: the file did not ask for it.
        ("", 1000, 100, None),
    ];
    for (settings, n, want, warning) in cases {
        let d = load(&many(*n, settings)).unwrap();
        assert_eq!(
            d.settings.token_watch,
            Duration::from_secs(*want),
            "{settings} {n}"
        );
        let got: Vec<String> = warnings(&d)
            .into_iter()
            .filter(|w| w.contains("settings.token_watch"))
            .collect();
        assert_eq!(
            got,
            warning.map(|w| vec![w.to_string()]).unwrap_or_default()
        );
        let cost = crate::config::cost::estimate(&d, crate::config::cost::DEFAULT_INTERVAL);
        assert!(
            cost.token_watch_calls_per_hour()
                <= crate::config::cost::TOKEN_WATCH_CALLS_PER_HOUR as f64,
            "{settings} {n}: {}",
            cost.line()
        );
    }
    assert_eq!(
        load(&file("  token_watch: 5s\n", "")).unwrap_err(),
        ["4:16: settings.token_watch: token_watch 5s is shorter than 15s"]
    );
}
