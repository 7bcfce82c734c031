//! Custom-domain steps against the fake: an add then its GET, a zone change as a removal
//! then an add, a 409 on a domain of this bucket adopts it, a 409 on a domain attached
//! elsewhere is blocked and blocks nothing else, a read-back that differs fails loudly.

use super::*;
use crate::config::MinTls;

fn add(domain: &str, min_tls: Option<MinTls>) -> DomainWrite {
    DomainWrite::Add {
        domain: domain.into(),
        zone_id: "z1".into(),
        enabled: true,
        min_tls,
    }
}

fn configure(bucket: &str, writes: Vec<DomainWrite>) -> Step {
    let domain = writes[0].domain().to_string();
    Step::ConfigureDomain {
        bucket: bref(bucket),
        domain,
        writes,
        changes: vec!["+x".into()],
    }
}

fn attached(domain: &str, zone_id: &str, min_tls: MinTls) -> CustomDomain {
    CustomDomain {
        domain: domain.into(),
        zone_id: Some(zone_id.into()),
        zone_name: Some("example.com".into()),
        enabled: true,
        min_tls: Some(min_tls),
        status: None,
    }
}

#[tokio::test]
async fn an_add_is_read_back_and_a_zone_change_removes_then_adds() {
    let s = setup(&[]);
    let fake = Fake::default();
    holding_buckets(&fake, &["media"]);
    fake.set(
        Jurisdiction::Default,
        "media",
        ConfigValue::CustomDomains(vec![attached("old.example.com", "z0", MinTls::V10)]),
    );
    let p = plan(vec![
        configure("media", vec![add("assets.example.com", Some(MinTls::V12))]),
        configure(
            "media",
            vec![
                DomainWrite::Remove {
                    domain: "old.example.com".into(),
                },
                add("old.example.com", None),
            ],
        ),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert!(!report.has_errors(), "{:?}", report.steps);
    assert_eq!(
        fake.calls(),
        [
            "POST domain media assets.example.com",
            "GET domain media assets.example.com",
            "DELETE domain media old.example.com",
            "GET domain media old.example.com",
            "POST domain media old.example.com",
            "GET domain media old.example.com",
        ]
    );
    let d = fake.domains(Jurisdiction::Default, "media");
    assert_eq!(d.len(), 2);
    assert!(d.iter().all(|d| d.zone_id.as_deref() == Some("z1")));
    assert_eq!(
        d.iter()
            .find(|d| d.domain == "assets.example.com")
            .unwrap()
            .min_tls,
        Some(MinTls::V12)
    );
}

#[tokio::test]
async fn a_409_adopts_a_domain_of_this_bucket_and_blocks_one_attached_elsewhere() {
    let s = setup(&[]);
    let fake = Fake {
        attached_elsewhere: BTreeSet::from(["taken.example.com".to_string()]),
        ..Fake::default()
    };
    holding_buckets(&fake, &["media"]);
    fake.set(
        Jurisdiction::Default,
        "media",
        ConfigValue::CustomDomains(vec![attached("ours.example.com", "z1", MinTls::V10)]),
    );
    let p = plan(vec![
        configure("media", vec![add("ours.example.com", Some(MinTls::V12))]),
        configure("media", vec![add("taken.example.com", None)]),
        configure("media", vec![add("fine.example.com", None)]),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    let o = outcomes(&report);
    assert_eq!(o[0].1, "already_done", "{:?}", report.steps);
    assert!(
        report.steps[0]
            .outcome
            .detail()
            .unwrap()
            .contains("adopted and updated")
    );
    assert_eq!(o[1].1, "blocked");
    assert_eq!(
        report.steps[1].outcome.detail().unwrap(),
        "custom domain taken.example.com is attached to another bucket (Cloudflare answered 409); remove it there, or declare it on that bucket"
    );
    assert_eq!(o[2].1, "done", "the other steps go on");
    assert!(!report.has_errors(), "a blocked step is not an error");
    let ours = fake.domains(Jurisdiction::Default, "media");
    assert_eq!(
        ours.iter()
            .find(|d| d.domain == "ours.example.com")
            .unwrap()
            .min_tls,
        Some(MinTls::V12),
        "adopted, then patched to the declared min_tls"
    );
    assert!(!ours.iter().any(|d| d.domain == "taken.example.com"));
}

#[tokio::test]
async fn a_write_that_does_not_stick_fails_with_both_sides_named() {
    let s = setup(&[]);
    let fake = Fake {
        ignore_config_writes: true,
        ..Fake::default()
    };
    holding_buckets(&fake, &["media"]);
    fake.set(
        Jurisdiction::Default,
        "media",
        ConfigValue::CustomDomains(vec![attached("a.example.com", "z1", MinTls::V10)]),
    );
    let p = plan(vec![
        configure(
            "media",
            vec![DomainWrite::Update {
                domain: "a.example.com".into(),
                enabled: false,
                min_tls: Some(MinTls::V13),
            }],
        ),
        configure(
            "media",
            vec![DomainWrite::Remove {
                domain: "a.example.com".into(),
            }],
        ),
    ]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert!(report.has_errors());
    assert_eq!(
        report.steps[0].outcome.detail().unwrap(),
        "Cloudflare did not store custom domain a.example.com of bucket media as sent (sent disabled, min_tls 1.3, read back zone example.com, enabled, min_tls 1.0); the next pass tries again"
    );
    assert_eq!(
        report.steps[1].outcome.detail().unwrap(),
        "Cloudflare still lists custom domain a.example.com on bucket media after removing it; the next pass tries again"
    );
}
