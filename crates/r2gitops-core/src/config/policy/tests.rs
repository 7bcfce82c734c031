//! Table tests of the policy: how a policy file parses (every key, every mistake located
//! in the policy), and what it refuses of a desired-state file (one row per key, located in
//! the file and naming both files).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use time::macros::datetime;

use super::*;
use crate::config::validate::Facts;

const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";
const AGE2: &str = "age1ea6ha4cng0drxeunfdc2h0vrpzxcgdndq24a6v8c9ynurn2ym5rs96qllw";

fn policy(yaml: &str) -> Policy {
    parse(yaml.as_bytes(), "policy.yaml").unwrap_or_else(|d| panic!("{d}"))
}

fn problems(yaml: &str) -> Vec<String> {
    parse(yaml.as_bytes(), "policy.yaml")
        .unwrap_err()
        .0
        .iter()
        .map(|d| d.to_string().lines().next().unwrap().to_string())
        .collect()
}

/// The file under the policy, as `load` checks it (nothing read from disk; `now` fixed).
fn check_file(
    file: &str,
    p: &Policy,
) -> Result<crate::config::Desired, crate::config::Diagnostics> {
    let enforced = Enforced {
        policy: Arc::new(p.clone()),
        interval: Duration::from_secs(600),
    };
    crate::config::load::load_bytes_under(
        file.as_bytes(),
        "r2gitops.yaml",
        Path::new("."),
        Some(&enforced),
        &|_| Facts {
            now: Some(datetime!(2026-12-01 00:00 UTC)),
            ..Facts::default()
        },
    )
}

fn violations(file: &str, p: &Policy) -> Vec<String> {
    let d = check_file(file, p).expect_err("refused");
    assert!(d.is_policy(), "{d}");
    d.0.iter()
        .map(|d| d.to_string().lines().next().unwrap().to_string())
        .collect()
}

/// A file that passes the strict policy below.
fn good() -> String {
    format!(
        "version: 1
settings:
  recipients: [{AGE}]
buckets:
  - name: team-a-media
tokens:
  - name: reader
    access: object-read
    buckets: [team-a-media]
    expires_on: 2027-01-01T00:00:00Z
    rotate_every: 30d
    ip:
      allow: [10.0.0.0/8]
    output: {{file: reader.age, format: env}}
"
    )
}

const STRICT: &str = "version: 1
tokens:
  access: [object-read, object-read-write]
  max_validity: 90d
  max_rotate_every: 90d
  require_ip_rules: true
recipients:
  allow: [\"age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w\"]
buckets:
  names: [\"team-a-*\", \"shared-*\"]
  public_dev_url: false
  custom_domain_zones: [example.com]
  delete: false
temporary_credentials:
  max: 1
  min_ttl: 30m
api:
  max_calls_per_hour: 3000
";

#[test]
fn every_key_of_the_issue_parses_with_the_position_of_its_value() {
    let p = policy(STRICT);
    assert_eq!(p.file, "policy.yaml");
    assert_eq!(p.sha256.len(), 64);
    let access = p.access.as_ref().unwrap();
    assert_eq!(access.value, [Access::ObjectRead, Access::ObjectReadWrite]);
    assert_eq!((access.line, access.column), (3, 11));
    assert_eq!(
        p.max_validity.as_ref().unwrap().value,
        Duration::from_secs(90 * 86400)
    );
    assert_eq!(
        p.max_rotate_every.as_ref().unwrap().value,
        Duration::from_secs(90 * 86400)
    );
    assert!(p.require_ip_rules.is_some());
    assert_eq!(p.recipients.as_ref().unwrap().value, [AGE]);
    assert_eq!(
        p.bucket_names.as_ref().unwrap().value,
        ["team-a-*", "shared-*"]
    );
    assert!(p.no_public_dev_url.is_some());
    assert_eq!(
        p.custom_domain_zones.as_ref().unwrap().value,
        ["example.com"]
    );
    assert!(p.no_bucket_deletes.is_some());
    assert_eq!(p.temporary_max.as_ref().unwrap().value, 1);
    assert_eq!(
        p.temporary_min_ttl.as_ref().unwrap().value,
        Duration::from_secs(1800)
    );
    assert_eq!(p.max_calls_per_hour.as_ref().unwrap().value, 3000);
}

#[test]
fn an_absent_key_bounds_nothing_and_permissive_values_are_no_bound() {
    let p = policy("version: 1\n");
    assert_eq!(
        Policy {
            file: String::new(),
            sha256: String::new(),
            ..p
        },
        Policy::default()
    );
    let p = policy(
        "tokens:\n  require_ip_rules: false\nbuckets:\n  public_dev_url: true\n  delete: true\n",
    );
    assert!(p.require_ip_rules.is_none() && p.no_public_dev_url.is_none());
    assert!(p.no_bucket_deletes.is_none());
}

#[test]
fn a_typo_or_a_wrong_value_is_an_error_located_in_the_policy_never_a_looser_policy() {
    let cases: &[(&str, &[&str])] = &[
        (
            "version: 1\ntokens:\n  acess: [object-read]\n",
            &["policy.yaml:3:3: tokens.acess: unknown field"],
        ),
        (
            "version: 1\nbucket:\n  names: [a]\n",
            &["policy.yaml:2:1: bucket: unknown field"],
        ),
        ("version: 2\n", &["policy.yaml:1:10: version: "]),
        (
            "tokens:\n  access: [admin]\n",
            &["policy.yaml:2:12: tokens.access[0]: "],
        ),
        (
            "tokens:\n  max_validity: 90 days\n",
            &["policy.yaml:2:17: tokens.max_validity: "],
        ),
        (
            "tokens:\n  max_rotate_every: 10m\n",
            &[
                "policy.yaml:2:21: tokens.max_rotate_every: max_rotate_every 10m is below the shortest rotate_every",
            ],
        ),
        (
            "recipients:\n  allow: [not-a-key]\n",
            &["policy.yaml:2:11: recipients.allow[0]: "],
        ),
        (
            "buckets:\n  names: [Team-*]\n",
            &["policy.yaml:2:11: buckets.names[0]: 'Team-*' is not a bucket-name glob"],
        ),
        (
            "buckets:\n  custom_domain_zones: [\"not a zone\"]\n",
            &[
                "policy.yaml:2:25: buckets.custom_domain_zones[0]: 'not a zone' is neither a zone name nor a zone id",
            ],
        ),
        (
            "temporary_credentials:\n  min_ttl: 0m\n",
            &[
                "policy.yaml:2:12: temporary_credentials.min_ttl: temporary_credentials.min_ttl must be more than 0",
            ],
        ),
        (
            "api:\n  max_calls_per_hour: -1\n",
            &["policy.yaml:2:23: api.max_calls_per_hour: "],
        ),
        ("", &["policy.yaml:1:1: the file is empty"]),
    ];
    for (yaml, want) in cases {
        let got = problems(yaml);
        assert_eq!(got.len(), want.len(), "{yaml}: {got:?}");
        for (g, w) in got.iter().zip(*want) {
            assert!(g.starts_with(w), "{yaml}:\n got {g}\nwant {w}…");
        }
    }
    // Every mistake at once.
    let all = problems("tokens:\n  acess: x\nbuckets:\n  nmes: [a]\n");
    assert_eq!(all.len(), 2, "{all:?}");
}

#[test]
fn a_file_inside_the_policy_passes_and_carries_the_policy_for_the_plan() {
    let p = policy(STRICT);
    let d = check_file(&good(), &p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        d.policy.as_deref().map(|p| p.sha256.as_str()),
        Some(p.sha256.as_str())
    );
}

/// One row per key: the edit to the good file, and the first line of the one violation,
/// located in the file and naming where the policy sets the bound.
#[test]
fn each_key_refuses_what_it_bounds_located_in_the_file_and_naming_the_policy() {
    let p = policy(STRICT);
    let good = good();
    let cases: Vec<(&str, String, String)> = vec![
        (
            "tokens.access",
            good.replace("access: object-read\n", "access: admin-read-write\n")
                .replace("    buckets: [team-a-media]\n", ""),
            // admin-* reaches the whole account: refused by access, and by names.
            "r2gitops.yaml:8:13: tokens[0].access: admin-read-write is not allowed by the policy (policy.yaml:3:11 allows object-read, object-read-write)".into(),
        ),
        (
            "tokens.max_validity",
            good.replace("2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"),
            "r2gitops.yaml:10:17: tokens[0].expires_on: expires_on 2028-01-01T00:00:00Z, more than 90d ahead, is not allowed by the policy (policy.yaml:4:17 allows at most 90d ahead)".into(),
        ),
        (
            "tokens.max_rotate_every",
            good.replace("rotate_every: 30d", "rotate_every: 120d"),
            "r2gitops.yaml:11:19: tokens[0].rotate_every: rotate_every 120d is not allowed by the policy (policy.yaml:5:21 allows at most 90d)".into(),
        ),
        (
            "tokens.require_ip_rules",
            good.replace("    ip:\n      allow: [10.0.0.0/8]\n", ""),
            "r2gitops.yaml:7:5: tokens[0].ip.allow: a token without ip.allow is not allowed by the policy (policy.yaml:6:21 requires ip.allow on every token)".into(),
        ),
        (
            "recipients.allow",
            good.replace(AGE, AGE2),
            "r2gitops.yaml:3:16: settings.recipients[0]: recipient 'age1ea6ha4cng0drxeun…' is not allowed by the policy (policy.yaml:8:10 allows age1p05a26tp9dn6m60q…)".into(),
        ),
        (
            "buckets.names",
            good.replace("team-a-media", "team-b-media"),
            "r2gitops.yaml:5:11: buckets[0].name: bucket 'team-b-media' is not allowed by the policy (policy.yaml:10:10 allows team-a-*, shared-*)".into(),
        ),
        (
            "buckets.public_dev_url",
            good.replace(
                "  - name: team-a-media\n",
                "  - name: team-a-media\n    public_dev_url: true\n",
            ),
            "r2gitops.yaml:6:21: buckets[0].public_dev_url: public_dev_url: true is not allowed by the policy (policy.yaml:11:19 allows no public r2.dev access)".into(),
        ),
        (
            "buckets.custom_domain_zones",
            good.replace(
                "  - name: team-a-media\n",
                "  - name: team-a-media\n    custom_domains:\n      - {domain: cdn.other.org, zone: other.org}\n",
            ),
            "r2gitops.yaml:7:39: buckets[0].custom_domains[0].zone: zone 'other.org' is not allowed by the policy (policy.yaml:12:24 allows example.com)".into(),
        ),
        (
            "buckets.delete",
            good.replace(
                "  - name: team-a-media\n",
                "  - name: team-a-media\n    protect: false\n",
            ),
            "r2gitops.yaml:6:14: buckets[0].protect: protect: false is not allowed by the policy (policy.yaml:13:11 delete: false: prune never deletes a bucket)".into(),
        ),
        (
            "temporary_credentials.max",
            format!(
                "{good}temporary_credentials:\n  - {{name: u1, parent: reader, bucket: team-a-media, access: object-read, ttl: 1h, output: {{file: u1.age, format: env}}}}\n  - {{name: u2, parent: reader, bucket: team-a-media, access: object-read, ttl: 1h, output: {{file: u2.age, format: env}}}}\n"
            ),
            "r2gitops.yaml:17:12: temporary_credentials[1]: 2 temporary credentials is not allowed by the policy (policy.yaml:15:8 allows at most 1)".into(),
        ),
        (
            "temporary_credentials.min_ttl",
            format!(
                "{good}temporary_credentials:\n  - {{name: u1, parent: reader, bucket: team-a-media, access: object-read, ttl: 15m, output: {{file: u1.age, format: env}}}}\n"
            ),
            "r2gitops.yaml:16:80: temporary_credentials[0].ttl: ttl 15m is not allowed by the policy (policy.yaml:16:12 allows at least 30m)".into(),
        ),
        (
            "api.max_calls_per_hour",
            good.clone(),
            // 6 passes an hour at 10m, 2 list pages each: 12 > 5.
            "r2gitops.yaml:1:10: a projected cost of about 72 API calls an hour at --interval 10m (12 list pages, 0 configuration reads, 0 renewals, 0 rotations, 60 token watch pages) is not allowed by the policy (policy.yaml:3:23 allows at most 5)".into(),
        ),
    ];
    for (key, file, want) in cases {
        let p = if key == "api.max_calls_per_hour" {
            policy("version: 1\napi:\n  max_calls_per_hour: 5\n")
        } else {
            p.clone()
        };
        let got = violations(&file, &p);
        assert_eq!(got.first(), Some(&want), "{key}:\n{got:#?}\n{file}");
        if key != "tokens.access" {
            assert_eq!(got.len(), 1, "{key}: {got:#?}");
        }
    }
}

#[test]
fn every_violation_is_reported_at_once_each_with_the_operators_hint() {
    let p = policy(STRICT);
    let file = good()
        .replace("team-a-media", "team-b-media")
        .replace("rotate_every: 30d", "rotate_every: 120d")
        .replace(AGE, AGE2);
    let d = check_file(&file, &p).unwrap_err();
    // The token's bucket is the declared one: refused once, where it is declared.
    assert_eq!(d.len(), 3, "{d}");
    for one in &d.0 {
        assert_eq!(one.file, "r2gitops.yaml");
        assert!(
            one.hint
                .as_deref()
                .is_some_and(|h| h.contains("policy.yaml is the operator's policy")),
            "{one}"
        );
    }
}

#[test]
fn a_file_that_breaks_the_rules_gets_those_first_not_the_policys() {
    let p = policy(STRICT);
    let d = check_file("version: 1\nbuckets:\n  - name: UPPER\n", &p).unwrap_err();
    assert!(!d.is_policy(), "{d}");
}

#[test]
fn a_recipient_is_one_key_whatever_its_ssh_comment_and_a_recipients_file_is_never_quoted() {
    let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmcvSUhYPbCYWCAa+EvVoGSZ+u5rnMOWz9x1T7WUpYz";
    let p = policy(&format!("recipients:\n  allow: [\"{ssh} ops@laptop\"]\n"));
    assert_eq!(p.recipient(&format!("{ssh} someone@else")), None);
    assert!(p.recipient(AGE).is_some());
    let m = p.recipient_unquoted(AGE).unwrap();
    assert!(!m.contains(AGE), "{m}");
}

#[test]
fn names_bound_what_tokens_reach_so_every_bucket_and_admin_scopes_are_refused() {
    let p = policy("buckets:\n  names: [\"team-a-*\"]\n");
    assert!(
        p.scope(Access::ObjectRead, &TokenScope::AllBuckets)
            .unwrap()
            .contains("every bucket")
    );
    assert!(
        p.scope(Access::AdminRead, &TokenScope::Account)
            .unwrap()
            .contains("whole account")
    );
    assert_eq!(
        p.scope(
            Access::ObjectRead,
            &TokenScope::Buckets(vec!["team-a-x".into()])
        ),
        None
    );
    assert!(
        p.grant(
            Access::ObjectRead,
            &TokenScope::Buckets(vec!["team-a-x".into(), "team-b-y".into()])
        )
        .unwrap()
        .contains("'team-b-y'")
    );
}

#[test]
fn under_delete_false_the_plan_keeps_a_bucket_prune_would_delete() {
    let p = policy("buckets:\n  delete: false\n");
    assert_eq!(
        p.bucket_delete().unwrap(),
        "no longer declared; kept because the policy never deletes a bucket (policy.yaml:2:11 delete: false)"
    );
    assert_eq!(policy("buckets:\n  delete: true\n").bucket_delete(), None);
}
