//! Configuration steps against the fake: one write then its read-back per step, a
//! read-back that differs fails loudly, one failure blocks no other step, a bucket that
//! was not created skips its configuration.

use super::*;
use crate::observed::bucket_config::{CorsRule, LockRule, ManagedDomain, Retention};

fn configure(bucket: &str, write: ConfigWrite) -> Step {
    Step::ConfigureBucket {
        bucket: bref(bucket),
        write,
        changes: vec!["+x".into()],
        loosens: Vec::new(),
        removes_default_rule: false,
        public_url: None,
    }
}

fn cors() -> ConfigValue {
    ConfigValue::Cors(vec![CorsRule::new(
        Some("web".into()),
        ["https://app.example.com"],
        ["GET"],
        [],
        [],
        None,
    )])
}

fn lock() -> ConfigValue {
    ConfigValue::Lock(vec![LockRule {
        id: "l".into(),
        enabled: true,
        prefix: String::new(),
        retention: Retention::Indefinite,
    }])
}

fn public() -> ConfigValue {
    ConfigValue::PublicDevUrl(ManagedDomain {
        enabled: true,
        domain: None,
    })
}

#[tokio::test]
async fn each_configuration_step_writes_once_and_reads_back_by_its_get() {
    let s = setup(&[]);
    let fake = Fake::default();
    holding_buckets(&fake, &["media"]);
    let p = plan(vec![
        configure("media", ConfigWrite::Put(cors())),
        configure("media", ConfigWrite::Put(lock())),
        configure("media", ConfigWrite::Put(public())),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert!(!report.has_errors(), "{:?}", report.steps);
    assert_eq!(
        fake.calls(),
        [
            "PUT cors media",
            "read cors media",
            "PUT lock media",
            "read lock media",
            "PUT public_dev_url media",
            "read public_dev_url media",
        ]
    );
    assert_eq!(report.steps[0].line, "~ update bucket media: cors +x");
}

#[tokio::test]
async fn an_empty_cors_list_is_the_delete_and_reads_back_as_no_rules() {
    let s = setup(&[]);
    let fake = Fake::default();
    holding_buckets(&fake, &["media"]);
    fake.set(Jurisdiction::Default, "media", cors());
    let p = plan(vec![configure(
        "media",
        ConfigWrite::Delete(ConfigKind::Cors),
    )]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(report.steps[0].outcome, Outcome::Done);
    assert_eq!(fake.calls(), ["DELETE cors media", "read cors media"]);
}

#[tokio::test]
async fn a_write_cloudflare_did_not_keep_fails_with_what_was_sent_and_read() {
    let s = setup(&[]);
    let fake = Fake {
        ignore_config_writes: true,
        ..Fake::default()
    };
    holding_buckets(&fake, &["media"]);
    let p = plan(vec![
        configure("media", ConfigWrite::Put(cors())),
        configure("media", ConfigWrite::Put(public())),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Failed(
            "Cloudflare did not store the CORS rules of bucket media as sent (sent 1 rule (web), read back no rule); the next pass tries again".into()
        )
    );
    assert_eq!(
        report.steps[1].outcome,
        Outcome::Failed(
            "Cloudflare did not store the r2.dev access of bucket media as sent (sent enabled, read back disabled); the next pass tries again".into()
        )
    );
    assert!(report.has_errors());
}

#[tokio::test]
async fn one_failed_configuration_step_blocks_no_other() {
    let s = setup(&[("t", "fine")]);
    let fake = Fake {
        fail_config: ["broken".to_string()].into(),
        fail_buckets: ["unborn".to_string()].into(),
        ..Fake::default()
    };
    holding_buckets(&fake, &["broken", "fine"]);
    let p = plan(vec![
        create_bucket("unborn"),
        configure("broken", ConfigWrite::Put(cors())),
        configure("fine", ConfigWrite::Put(cors())),
        configure("fine", ConfigWrite::Put(lock())),
        configure("unborn", ConfigWrite::Put(public())),
        create_token("t", "fine"),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(
        outcomes(&report),
        [
            ("create bucket unborn".to_string(), "failed"),
            ("update bucket broken".to_string(), "failed"),
            ("update bucket fine".to_string(), "done"),
            ("update bucket fine".to_string(), "done"),
            ("update bucket unborn".to_string(), "skipped"),
            ("create token t".to_string(), "done"),
        ]
    );
    assert_eq!(
        report.steps[4].outcome,
        Outcome::Skipped("bucket unborn was not created".into())
    );
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.ends_with(" unborn") && c.starts_with("PUT")),
        "nothing is written to a bucket that does not exist"
    );
}
