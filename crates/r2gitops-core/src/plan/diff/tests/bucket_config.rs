//! Table tests of the bucket-configuration rules of the diff. Declarations are written as
//! YAML (validated like a file); what Cloudflare holds is written as Cloudflare's JSON and
//! decoded by the kinds' own decoders, because the normalisation that keeps plans free of
//! false drift is that decoder and this comparison together.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use time::macros::datetime;

use super::*;
use crate::config::{Desired, Jurisdiction, StorageClass};
use crate::fixtures::ACCT;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::{ObservedBucket, PermissionGroupIds};
use crate::plan::ConfigWrite;
use crate::plan::Step;

const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";

/// The default rule exactly as Cloudflare shows it (a new bucket's GET).
fn default_rule() -> Value {
    json!({"id":"Default Multipart Abort Rule","enabled":true,"conditions":{},"abortMultipartUploadsTransition":{"condition":{"type":"Age","maxAge":604800}}})
}

/// A file declaring bucket `media` with `body` (its config keys), and `settings`.
pub(super) fn declared(settings: &str, body: &str) -> Desired {
    let yaml = format!(
        "version: 1\nsettings:\n  recipients: [{AGE}]\n{settings}buckets:\n  - name: media\n{body}"
    );
    let raw = serde_saphyr::from_str_with_options(&yaml, crate::config::yaml::options())
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    crate::config::validate::validate(
        &raw,
        &crate::config::validate::Facts::default(),
        Path::new("r2gitops.yaml"),
    )
    .unwrap_or_else(|e| panic!("{:?}", e.into_parts().0))
}

/// Cloudflare with bucket `media` holding `reads` (kind -> the GET's `result`), or with
/// no bucket at all.
pub(super) fn observed(reads: &[(ConfigKind, Value)], exists: bool) -> Observed {
    let mut o = Observed {
        account_id: ACCT.into(),
        listed_jurisdictions: Jurisdiction::ALL.into_iter().collect(),
        permission_groups: PermissionGroupIds::known(),
        ..Observed::default()
    };
    if exists {
        o.buckets.push(ObservedBucket {
            name: "media".into(),
            jurisdiction: Jurisdiction::Default,
            location: None,
            storage_class: StorageClass::Standard,
            creation_date: None,
        });
        o.bucket_configs.insert(
            (Jurisdiction::Default, "media".into()),
            reads
                .iter()
                .map(|(k, v)| (*k, ConfigValue::decode(*k, v).unwrap()))
                .collect(),
        );
    }
    o
}

pub(super) fn plan(d: &Desired, o: &Observed) -> Plan {
    let outputs = BTreeMap::new();
    let details = BTreeMap::new();
    diff(&Input {
        desired: d,
        observed: o,
        inventory: &crate::inventory::Inventory::default(),
        outputs: &outputs,
        details: &details,
        now: datetime!(2026-11-23 12:00 UTC),
        skip_outputs: false,
        temporary: &Default::default(),
    })
}

/// The plan's lines (steps, their detail lines, blocked), as `render::text` shows them,
/// without the summary and the plan id.
pub(super) fn lines(p: &Plan) -> Vec<String> {
    crate::plan::render::text(p, "f")
        .lines()
        .skip(1)
        .map(|l| l.trim_start().to_string())
        .filter(|l| !l.starts_with('=') && !l.starts_with("Plan") && !l.starts_with("No changes"))
        .collect()
}

const CORS: &str = "    cors:
      - id: web
        allowed_origins: [https://app.example.com]
        allowed_methods: [GET, HEAD, PUT]
        allowed_headers: [content-type]
        expose_headers: [etag]
        max_age: 1h
";

fn web_rule() -> Value {
    json!({"id":"web","allowed":{"origins":["https://app.example.com"],"methods":["GET","HEAD","PUT"],"headers":["content-type"]},"exposeHeaders":["etag"],"maxAgeSeconds":3600})
}

#[test]
fn an_undeclared_block_is_never_compared_so_out_of_band_rules_stay() {
    // Cloudflare holds CORS, lifecycle and lock rules and a public r2.dev; the file
    // declares none of them.
    let d = declared("", "    storage_class: Standard\n");
    let o = observed(
        &[
            (ConfigKind::Cors, json!({"rules": [web_rule()]})),
            (
                ConfigKind::Lock,
                json!({"rules": [{"id":"x","enabled":true,"condition":{"type":"Indefinite"}}]}),
            ),
        ],
        true,
    );
    let p = plan(&d, &o);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(p.unchanged, 1);
    // Declaring one block manages that one only.
    let d = declared("", "    public_dev_url: false\n");
    let o = observed(
        &[
            (ConfigKind::Cors, json!({"rules": [web_rule()]})),
            (
                ConfigKind::PublicDevUrl,
                json!({"bucketId":"b","domain":"pub-1.r2.dev","enabled":false}),
            ),
        ],
        true,
    );
    assert!(plan(&d, &o).steps.is_empty());
}

#[test]
fn what_cloudflare_normalises_is_not_drift() {
    // (case, declared body, what Cloudflare answers)
    let cases: Vec<(&str, &str, ConfigKind, Value)> = vec![
        (
            "reordered CORS rules and lists, header case, upper-case methods, extra fields",
            "    cors:
      - id: a
        allowed_origins: [https://a.example, https://b.example]
        allowed_methods: [GET, PUT]
        allowed_headers: [Content-Type, X-Upload]
      - allowed_origins: ['*']
        allowed_methods: [GET]
",
            ConfigKind::Cors,
            json!({"rules": [
                {"allowed": {"origins": ["*"], "methods": ["get"], "headers": null}, "exposeHeaders": null, "maxAgeSeconds": null},
                {"id": "a", "allowed": {"methods": ["put", "GET"], "origins": ["https://b.example", "https://a.example"], "headers": ["x-upload", "content-type"]}, "exposeHeaders": [], "createdAt": "2026-01-01"}
            ], "extra": true}),
        ),
        (
            "max age as a float, in seconds",
            "    cors:\n      - {id: w, allowed_origins: ['*'], allowed_methods: [GET], max_age: 1h}\n",
            ConfigKind::Cors,
            json!({"rules": [{"id":"w","allowed":{"origins":["*"],"methods":["GET"]},"maxAgeSeconds":3600.0}]}),
        ),
        (
            "cors: [] against a bucket without a policy (10059 reads as no rules)",
            "    cors: []\n",
            ConfigKind::Cors,
            json!({"rules": []}),
        ),
        (
            "the default rule kept, shown with conditions: {} and no prefix",
            "    lifecycle:\n      - { id: \"Default Multipart Abort Rule\", abort_multipart_after: 7d }\n",
            ConfigKind::Lifecycle,
            json!({"rules": [default_rule()]}),
        ),
        (
            "reordered lifecycle rules, ages in seconds, dates in another offset, empty transitions",
            "    lifecycle:
      - {id: expire-tmp, prefix: tmp/, expire_after: 7d, transition_to_infrequent_access_after: 2d}
      - {id: dated, expire_on: 2027-01-01T00:00:00Z, abort_multipart_after: 24h}
",
            ConfigKind::Lifecycle,
            json!({"rules": [
                {"id":"dated","enabled":true,"conditions":{"prefix":""},"deleteObjectsTransition":{"condition":{"type":"Date","date":"2027-01-01T01:00:00+01:00"}},"abortMultipartUploadsTransition":{"condition":{"type":"Age","maxAge":86400}},"storageClassTransitions":[]},
                {"id":"expire-tmp","enabled":true,"conditions":{"prefix":"tmp/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":604800}},"storageClassTransitions":[{"condition":{"type":"Age","maxAge":172800},"storageClass":"InfrequentAccess"}],"abortMultipartUploadsTransition":{}}
            ]}),
        ),
        (
            "reordered lock rules, absent prefix, extra fields",
            "    lock:\n      - {id: a, retain: indefinite}\n      - {id: b, prefix: c/, retain_for: 365d}\n",
            ConfigKind::Lock,
            json!({"rules": [
                {"id":"b","enabled":true,"prefix":"c/","condition":{"type":"Age","maxAgeSeconds":31536000},"note":"x"},
                {"id":"a","enabled":true,"condition":{"type":"Indefinite"}}
            ]}),
        ),
        (
            "r2.dev: only the flag is compared, not Cloudflare's hostname",
            "    public_dev_url: true\n",
            ConfigKind::PublicDevUrl,
            json!({"bucketId":"0f1e","domain":"pub-abc.r2.dev","enabled":true}),
        ),
    ];
    for (case, body, kind, answer) in cases {
        let p = plan(&declared("", body), &observed(&[(kind, answer)], true));
        assert!(
            p.steps.is_empty() && p.blocked.is_empty(),
            "{case}: {:?}",
            lines(&p)
        );
        assert_eq!(p.unchanged, 1, "{case}");
    }
}

#[test]
fn each_change_is_one_step_with_its_line() {
    let cases: Vec<(&str, &str, &str, ConfigKind, Value, &str)> = vec![
        (
            "a CORS rule added and one removed",
            "",
            "    cors:
      - {id: web, allowed_origins: [https://app.example.com], allowed_methods: [GET, HEAD, PUT], allowed_headers: [content-type], expose_headers: [etag], max_age: 1h}
",
            ConfigKind::Cors,
            json!({"rules": [{"id":"legacy","allowed":{"origins":["http://old.example"],"methods":["GET"]}}]}),
            "~ update bucket media: cors +web -legacy",
        ),
        (
            "a CORS rule changed in place",
            "",
            "    cors:\n      - {id: web, allowed_origins: [https://app.example.com], allowed_methods: [GET]}\n",
            ConfigKind::Cors,
            json!({"rules": [web_rule()]}),
            "~ update bucket media: cors ~web",
        ),
        (
            "an unnamed CORS rule is named by its origins",
            "",
            "    cors:\n      - {allowed_origins: ['*'], allowed_methods: [GET]}\n",
            ConfigKind::Cors,
            json!({"rules": []}),
            "~ update bucket media: cors +[*]",
        ),
        (
            "a lifecycle age shown in the file's unit",
            "",
            "    lifecycle:
      - {id: expire-tmp, prefix: tmp/, expire_after: 3d}
      - { id: \"Default Multipart Abort Rule\", abort_multipart_after: 7d }
",
            ConfigKind::Lifecycle,
            json!({"rules": [default_rule(), {"id":"expire-tmp","enabled":true,"conditions":{"prefix":"tmp/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":604800}}}]}),
            "~ update bucket media: lifecycle expire-tmp 7d→3d",
        ),
        (
            "several fields of one lifecycle rule are named",
            "",
            "    lifecycle:
      - {id: r, enabled: false, abort_multipart_after: 12h}
",
            ConfigKind::Lifecycle,
            json!({"rules": [{"id":"r","enabled":true,"conditions":{},"abortMultipartUploadsTransition":{"condition":{"type":"Age","maxAge":86400}}}]}),
            "~ update bucket media: lifecycle r enabled true→false, abort_multipart 24h→12h",
        ),
        (
            "a lock tightened is an ordinary update",
            "",
            "    lock:\n      - {id: contracts, prefix: contracts/, retain_for: 730d}\n      - {id: new, retain: indefinite}\n",
            ConfigKind::Lock,
            json!({"rules": [{"id":"contracts","enabled":true,"prefix":"contracts/","condition":{"type":"Age","maxAgeSeconds":31536000}}]}),
            "~ update bucket media: lock contracts 365d→730d +new",
        ),
        (
            "r2.dev on, with the address it becomes public at",
            "",
            "    public_dev_url: true\n",
            ConfigKind::PublicDevUrl,
            json!({"bucketId":"0f1e","domain":"pub-0123abcd.r2.dev","enabled":false}),
            "~ update bucket media: public_dev_url false→true (bucket becomes public at https://pub-0123abcd.r2.dev)",
        ),
        (
            "r2.dev off",
            "",
            "    public_dev_url: false\n",
            ConfigKind::PublicDevUrl,
            json!({"bucketId":"0f1e","domain":"pub-0123abcd.r2.dev","enabled":true}),
            "~ update bucket media: public_dev_url true→false",
        ),
    ];
    for (case, settings, body, kind, answer, want) in cases {
        let p = plan(
            &declared(settings, body),
            &observed(&[(kind, answer)], true),
        );
        assert_eq!(lines(&p), [want], "{case}");
        assert_eq!(p.steps.len(), 1, "{case}");
        assert_eq!(
            p.unchanged, 0,
            "{case}: a bucket with a change is not unchanged"
        );
        assert_eq!(p.deletions(), 0, "{case}");
        let Step::ConfigureBucket { write, .. } = &p.steps[0] else {
            panic!("{case}")
        };
        let want =
            ConfigValue::declared(&declared(settings, body).buckets[0].config, kind).unwrap();
        assert_eq!(
            write,
            &ConfigWrite::Put(want),
            "{case}: one PUT of the declared whole"
        );
    }
}

#[test]
fn an_empty_cors_list_deletes_the_policy_and_other_empty_lists_put_nothing() {
    let d = declared(
        "  prune: true\n",
        "    cors: []\n    lifecycle: []\n    lock: []\n",
    );
    let o = observed(
        &[
            (ConfigKind::Cors, json!({"rules": [web_rule()]})),
            (
                ConfigKind::Lifecycle,
                json!({"rules": [{"id":"x","enabled":true,"conditions":{"prefix":"a/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":86400}}}]}),
            ),
            (
                ConfigKind::Lock,
                json!({"rules": [{"id":"l","enabled":false,"condition":{"type":"Indefinite"}}]}),
            ),
        ],
        true,
    );
    let p = plan(&d, &o);
    assert_eq!(
        lines(&p),
        [
            "~ update bucket media: cors -web",
            "~ update bucket media: lifecycle -x",
            "~ update bucket media: lock -l",
        ]
    );
    let writes: Vec<&ConfigWrite> = p
        .steps
        .iter()
        .map(|s| match s {
            Step::ConfigureBucket { write, .. } => write,
            _ => panic!(),
        })
        .collect();
    assert_eq!(writes[0], &ConfigWrite::Delete(ConfigKind::Cors));
    assert_eq!(writes[1], &ConfigWrite::Put(ConfigValue::Lifecycle(vec![])));
    assert_eq!(writes[2], &ConfigWrite::Put(ConfigValue::Lock(vec![])));
    assert_eq!(p.deletions(), 0, "a disabled lock rule retains nothing");
}

#[test]
fn a_lifecycle_list_without_the_default_rule_says_it_removes_it() {
    let d = declared(
        "",
        "    lifecycle:\n      - {id: expire-tmp, prefix: tmp/, expire_after: 7d}\n",
    );
    let o = observed(
        &[(ConfigKind::Lifecycle, json!({"rules": [default_rule()]}))],
        true,
    );
    let p = plan(&d, &o);
    assert_eq!(
        lines(&p),
        [
            "~ update bucket media: lifecycle +expire-tmp",
            "- lifecycle rule \"Default Multipart Abort Rule\" (Cloudflare's default)",
        ]
    );
    let json = crate::plan::render::json(&p, "f");
    assert_eq!(json["changes"][0]["removes_default_rule"], true);
    assert_eq!(
        json["changes"][0]["details"],
        json!(["- lifecycle rule \"Default Multipart Abort Rule\" (Cloudflare's default)"])
    );
    let md = crate::plan::render::markdown(&p, "f");
    assert!(
        md.contains("~ update bucket media: lifecycle +expire-tmp\n  - lifecycle rule \"Default Multipart Abort Rule\" (Cloudflare's default)\n"),
        "{md}"
    );
    // `lifecycle: []` removes only it.
    let p = plan(&declared("", "    lifecycle: []\n"), &o);
    assert_eq!(
        lines(&p),
        [
            "~ update bucket media: lifecycle without Cloudflare's default rule",
            "- lifecycle rule \"Default Multipart Abort Rule\" (Cloudflare's default)",
        ]
    );
}

#[test]
fn a_bucket_to_create_is_compared_with_what_cloudflare_gives_a_new_bucket() {
    let body = format!(
        "{CORS}    lifecycle:\n      - {{id: expire-tmp, prefix: tmp/, expire_after: 7d}}\n    lock: []\n    public_dev_url: false\n"
    );
    let p = plan(&declared("", &body), &observed(&[], false));
    assert_eq!(
        lines(&p),
        [
            "+ create bucket media (default)",
            "~ update bucket media: cors +web",
            "~ update bucket media: lifecycle +expire-tmp",
            "- lifecycle rule \"Default Multipart Abort Rule\" (Cloudflare's default)",
        ],
        "an empty lock list and r2.dev off are what a new bucket has"
    );
    let p = plan(
        &declared("", "    public_dev_url: true\n"),
        &observed(&[], false),
    );
    assert_eq!(
        lines(&p)[1],
        "~ update bucket media: public_dev_url false→true (bucket becomes public at its r2.dev address)"
    );
}

#[test]
fn a_bucket_whose_jurisdiction_was_not_listed_gets_no_configuration_step() {
    let d = declared("", &format!("    jurisdiction: eu\n{CORS}"));
    let mut o = observed(&[], false);
    o.listed_jurisdictions.remove(&Jurisdiction::Eu);
    let p = plan(&d, &o);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
}

#[test]
fn loosening_a_lock_is_blocked_without_prune_and_counted_as_a_deletion_with_it() {
    let held = json!({"rules": [
        {"id":"contracts","enabled":true,"prefix":"contracts/","condition":{"type":"Age","maxAgeSeconds":31536000}},
        {"id":"legal","enabled":true,"prefix":"","condition":{"type":"Indefinite"}},
        {"id":"until","enabled":true,"prefix":"","condition":{"type":"Date","date":"2030-01-01T00:00:00Z"}},
        {"id":"wide","enabled":true,"prefix":"a/","condition":{"type":"Indefinite"}},
        {"id":"off","enabled":false,"prefix":"","condition":{"type":"Indefinite"}}
    ]});
    // (case, declared lock list, what is loosened)
    let cases = [
        (
            "shortened, removed, moved earlier, narrowed; a disabled rule dropped is not loosening",
            "      - {id: contracts, prefix: contracts/, retain_for: 30d}
      - {id: until, retain_until: 2029-01-01T00:00:00Z}
      - {id: wide, prefix: a/b/, retain: indefinite}
",
            vec![
                "contracts 365d→30d",
                "-legal",
                "until 2030-01-01T00:00:00Z→2029-01-01T00:00:00Z",
                "wide prefix \"a/\"→\"a/b/\"",
            ],
        ),
        (
            "turned off; an age replaced by a date cannot be proven longer",
            "      - {id: contracts, prefix: contracts/, retain_until: 2099-01-01T00:00:00Z}
      - {id: legal, retain: indefinite, enabled: false}
      - {id: until, retain_until: 2030-01-01T00:00:00Z}
      - {id: wide, prefix: a/, retain: indefinite}
",
            vec![
                "contracts 365d→2099-01-01T00:00:00Z",
                "legal enabled true→false",
            ],
        ),
    ];
    for (case, list, want) in cases {
        let body = format!("    lock:\n{list}");
        let o = observed(&[(ConfigKind::Lock, held.clone())], true);
        let p = plan(&declared("  max_deletions: 10\n", &body), &o);
        assert!(p.steps.is_empty(), "{case}: refused without prune");
        assert_eq!(
            p.blocked[0].reason,
            format!(
                "lock {} loosens retention; r2gitops shortens or removes lock rules only with settings.prune: true (each counts toward max_deletions)",
                want.join(" ")
            ),
            "{case}"
        );
        let p = plan(&declared("  prune: true\n", &body), &o);
        assert_eq!(p.deletions(), want.len(), "{case}");
        assert!(p.blocked.is_empty(), "{case}");
        let line = &lines(&p)[0];
        assert!(line.ends_with(" ! loosens retention"), "{case}: {line}");
        let json = crate::plan::render::json(&p, "f");
        assert_eq!(
            json["changes"][0]["loosens_retention"],
            json!(want),
            "{case}"
        );
        let p = plan(&declared("  prune: true\n  max_deletions: 1\n", &body), &o);
        assert_eq!(
            p.refused.as_deref(),
            Some(
                format!(
                    "the plan deletes {} objects (loosened lock rules included), more than settings.max_deletions (1); nothing will be applied (raise max_deletions, or declare what should stay)",
                    want.len()
                )
                .as_str()
            ),
            "{case}: counted toward max_deletions"
        );
    }
    // Lengthening, widening (a shorter prefix) and adding never loosen.
    let body = "    lock:
      - {id: contracts, prefix: contract, retain_for: 400d}
      - {id: legal, retain: indefinite}
      - {id: until, retain_until: 2031-01-01T00:00:00Z}
      - {id: wide, prefix: '', retain: indefinite}
      - {id: off, retain: indefinite}
";
    let p = plan(
        &declared("", body),
        &observed(&[(ConfigKind::Lock, held)], true),
    );
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    assert_eq!(p.deletions(), 0);
    assert!(!lines(&p)[0].contains("loosens"), "{:?}", lines(&p));
}

#[test]
fn every_block_of_one_bucket_is_a_step_of_its_own() {
    let body = format!(
        "{CORS}    lifecycle: []\n    lock:\n      - {{id: l, retain: indefinite}}\n    public_dev_url: true\n"
    );
    let o = observed(
        &[
            (ConfigKind::Cors, json!({"rules": []})),
            (ConfigKind::Lifecycle, json!({"rules": [default_rule()]})),
            (ConfigKind::Lock, json!({"rules": []})),
            (
                ConfigKind::PublicDevUrl,
                json!({"bucketId":"x","domain":"pub-x.r2.dev","enabled":false}),
            ),
        ],
        true,
    );
    let p = plan(&declared("", &body), &o);
    let kinds: Vec<ConfigKind> = p
        .steps
        .iter()
        .map(|s| match s {
            Step::ConfigureBucket { write, .. } => write.kind(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(kinds, ConfigKind::ALL[..4], "the four written whole");
    assert_eq!(p.summary().update, 4);
}

#[test]
fn a_listed_bucket_whose_configuration_could_not_be_read_is_blocked_not_passed_over() {
    // Its configuration endpoints answered NoSuchBucket / BucketNotFound (created moments
    // ago by another pass, or just deleted): neither "no rules" nor silence.
    let d = declared("", CORS);
    let mut o = observed(&[], true);
    o.bucket_configs.clear();
    let p = plan(&d, &o);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(
        lines(&p),
        [
            "! blocked bucket media: configuration of bucket media was not read: Cloudflare lists the bucket, but its configuration endpoints answered that there is no such bucket (it was created moments ago, or deleted since the list); the next pass reads it again"
        ]
    );
    assert!(p.differs());
}
