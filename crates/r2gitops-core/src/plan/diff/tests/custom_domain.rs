//! Table tests of the custom-domain rules of the diff. Declarations are YAML
//! validated like a file; what Cloudflare holds is its JSON through the client's decoder;
//! zone lookups are what `GET /zones` answered.

use serde_json::{Value, json};

use super::bucket_config::{declared, lines, observed, plan};
use crate::config::{MinTls, ZoneRef};
use crate::fixtures::ACCT;
use crate::observed::Observed;
use crate::observed::bucket_config::ConfigKind;
use crate::observed::custom_domain::{Zone, ZoneKind, ZoneLookup};
use crate::plan::DomainWrite;
use crate::plan::Step;

const ZONE_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn zone(name: &str, account: &str, kind: ZoneKind) -> ZoneLookup {
    ZoneLookup::Found(Zone {
        id: if name == "example.com" {
            ZONE_ID.into()
        } else {
            format!("{:0>32}", name.len())
        },
        name: name.into(),
        account_id: account.into(),
        kind,
    })
}

/// Cloudflare holding `domains` (the list GET's `domains`), with `example.com` and
/// `cdn.example.com` full zones of the account, and `zones` on top.
fn with_domains(domains: Value, exists: bool, zones: &[(&str, ZoneLookup)]) -> Observed {
    let mut o = observed(
        &[(ConfigKind::CustomDomains, json!({ "domains": domains }))],
        exists,
    );
    for name in ["example.com", "cdn.example.com"] {
        o.zones
            .insert(ZoneRef::Name(name.into()), zone(name, ACCT, ZoneKind::Full));
    }
    o.zones.insert(
        ZoneRef::Id(ZONE_ID.into()),
        zone("example.com", ACCT, ZoneKind::Full),
    );
    for (name, found) in zones {
        o.zones.insert(ZoneRef::Name((*name).into()), found.clone());
    }
    o
}

fn attached(domain: &str, zone_name: &str, enabled: bool, tls: &str, ownership: &str) -> Value {
    let zone_id = if zone_name == "example.com" {
        ZONE_ID.to_string()
    } else {
        format!("{:0>32}", zone_name.len())
    };
    json!({"domain": domain, "enabled": enabled, "minTLS": tls, "zoneId": zone_id,
           "zoneName": zone_name, "status": {"ownership": ownership, "ssl": "active"}})
}

fn domains_block(entries: &str) -> String {
    format!("    custom_domains:\n{entries}")
}

fn writes(p: &crate::plan::Plan) -> Vec<Vec<DomainWrite>> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::ConfigureDomain { writes, .. } => Some(writes.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_missing_domain_is_added_in_its_zone_and_then_a_pass_changes_nothing() {
    let d = declared(
        "",
        &domains_block(
            "      - {domain: assets.example.com, zone: example.com, min_tls: \"1.2\"}\n",
        ),
    );
    let p = plan(&d, &with_domains(json!([]), true, &[]));
    assert_eq!(
        writes(&p),
        [vec![DomainWrite::Add {
            domain: "assets.example.com".into(),
            zone_id: ZONE_ID.into(),
            enabled: true,
            min_tls: Some(MinTls::V12),
        }]]
    );
    assert_eq!(
        lines(&p),
        [
            "~ update bucket media: custom_domains +assets.example.com (zone example.com, min_tls 1.2)"
        ]
    );
    assert_eq!((p.deletions(), p.summary().update), (0, 1));

    // Attached as declared: no step, whatever its status (information, never drift).
    let held = with_domains(
        json!([attached(
            "assets.example.com",
            "example.com",
            true,
            "1.2",
            "pending"
        )]),
        true,
        &[],
    );
    let p = plan(&d, &held);
    assert!(
        p.steps.is_empty() && p.blocked.is_empty(),
        "{:?}",
        lines(&p)
    );
    assert_eq!(p.unchanged, 1);
    assert_eq!(
        lines(&p),
        ["· custom domain assets.example.com (bucket media): ownership pending, ssl active"]
    );
    assert!(!p.differs(), "a pending status is not a difference");
    let active = with_domains(
        json!([attached(
            "assets.example.com",
            "example.com",
            true,
            "1.2",
            "active"
        )]),
        true,
        &[],
    );
    let p = plan(&d, &active);
    assert!(lines(&p).is_empty(), "an active domain needs no line");
    assert_eq!(p.domains.len(), 1, "but is reported");
}

#[test]
fn a_zone_named_by_id_or_by_name_matches_what_cloudflare_reports() {
    let held = with_domains(
        json!([attached(
            "assets.example.com",
            "example.com",
            true,
            "1.0",
            "active"
        )]),
        true,
        &[],
    );
    for zone in [ZONE_ID, "example.com", "Example.COM"] {
        let d = declared(
            "",
            &domains_block(&format!(
                "      - {{domain: Assets.example.com, zone: {zone}}}\n"
            )),
        );
        let p = plan(&d, &held);
        assert!(p.steps.is_empty(), "{zone}: {:?}", lines(&p));
    }
    // A degraded answer without zoneName still matches through the id the lookup found.
    let mut degraded = attached("assets.example.com", "example.com", true, "1.0", "active");
    degraded.as_object_mut().unwrap().remove("zoneName");
    let d = declared(
        "",
        &domains_block("      - {domain: assets.example.com, zone: example.com}\n"),
    );
    assert!(
        plan(&d, &with_domains(json!([degraded]), true, &[]))
            .steps
            .is_empty()
    );
}

#[test]
fn the_zone_is_create_only_so_a_change_removes_then_adds_in_one_step() {
    let d = declared(
        "",
        &domains_block("      - {domain: cdn.example.com, zone: cdn.example.com}\n"),
    );
    let held = with_domains(
        json!([attached(
            "cdn.example.com",
            "example.com",
            true,
            "1.0",
            "active"
        )]),
        true,
        &[],
    );
    let p = plan(&d, &held);
    let w = writes(&p);
    assert_eq!(w.len(), 1, "one step");
    assert!(matches!(
        w[0].as_slice(),
        [DomainWrite::Remove { .. }, DomainWrite::Add { zone_id, .. }] if *zone_id == format!("{:0>32}", 15)
    ));
    assert_eq!(
        lines(&p),
        [
            "~ update bucket media: custom_domains cdn.example.com zone example.com→cdn.example.com (removed, then added: the zone is create-only)"
        ]
    );
    assert_eq!(p.deletions(), 0, "the domain stays: not a deletion");
}

#[test]
fn enabled_and_a_declared_min_tls_update_in_place_and_an_absent_min_tls_is_not_managed() {
    let held = with_domains(
        json!([attached(
            "assets.example.com",
            "example.com",
            true,
            "1.3",
            "active"
        )]),
        true,
        &[],
    );
    let cases = [
        // (declaration, the update sent, the line)
        (
            "enabled: false",
            Some((false, None)),
            "assets.example.com enabled true→false",
        ),
        (
            "min_tls: \"1.2\"",
            Some((true, Some(MinTls::V12))),
            "assets.example.com min_tls 1.3→1.2",
        ),
        ("min_tls: \"1.3\"", None, ""),
        ("enabled: true", None, ""),
    ];
    for (extra, want, line) in cases {
        let d = declared(
            "",
            &domains_block(&format!(
                "      - {{domain: assets.example.com, zone: example.com, {extra}}}\n"
            )),
        );
        let p = plan(&d, &held);
        match want {
            None => assert!(p.steps.is_empty(), "{extra}: {:?}", lines(&p)),
            Some((enabled, min_tls)) => {
                assert_eq!(
                    writes(&p),
                    [vec![DomainWrite::Update {
                        domain: "assets.example.com".into(),
                        enabled,
                        min_tls,
                    }]],
                    "{extra}"
                );
                assert_eq!(
                    lines(&p),
                    [format!("~ update bucket media: custom_domains {line}")]
                );
            }
        }
    }
}

#[test]
fn an_unknown_zone_another_accounts_zone_or_a_partial_zone_is_blocked_and_the_rest_goes_on() {
    let other = "f".repeat(32);
    let zones = [
        ("missing.example", ZoneLookup::NotFound),
        (
            "theirs.example",
            zone("theirs.example", &other, ZoneKind::Full),
        ),
        (
            "cname.example",
            zone("cname.example", ACCT, ZoneKind::Partial),
        ),
    ];
    let d = declared(
        "",
        &format!(
            "    public_dev_url: true\n{}",
            domains_block(
                "      - {domain: a.missing.example, zone: missing.example}\n      - {domain: a.theirs.example, zone: theirs.example}\n      - {domain: a.cname.example, zone: cname.example}\n      - {domain: ok.example.com, zone: example.com}\n"
            )
        ),
    );
    let mut o = with_domains(json!([]), true, &zones);
    o.bucket_configs
        .get_mut(&(crate::config::Jurisdiction::Default, "media".into()))
        .unwrap()
        .insert(
            ConfigKind::PublicDevUrl,
            crate::observed::bucket_config::ConfigValue::decode(
                ConfigKind::PublicDevUrl,
                &json!({"enabled": false, "domain": "pub-x.r2.dev"}),
            )
            .unwrap(),
        );
    let p = plan(&d, &o);
    let reasons: Vec<&str> = p.blocked.iter().map(|b| b.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            format!("custom domain a.missing.example: unknown zone 'missing.example' (not found in account {ACCT}; if it exists, the daemon's token may lack Zone Read on it)"),
            format!("custom domain a.theirs.example: zone 'theirs.example' is in another account ({other}); R2 custom domains need a zone of the bucket's account"),
            "custom domain a.cname.example: zone 'cname.example' has a partial (CNAME) setup; R2 custom domains need a zone with a full setup".to_string(),
        ]
    );
    assert!(p.blocked.iter().all(|b| b.name == "media"));
    let l = lines(&p);
    assert!(
        l.contains(
            &"~ update bucket media: custom_domains +ok.example.com (zone example.com)".to_string()
        ),
        "{l:?}"
    );
    assert!(
        l.iter()
            .any(|l| l.starts_with("~ update bucket media: public_dev_url false→true")),
        "{l:?}"
    );
}

#[test]
fn removing_a_domain_needs_prune_and_counts_toward_max_deletions() {
    let held = with_domains(
        json!([
            attached("assets.example.com", "example.com", true, "1.0", "active"),
            attached("old.example.com", "example.com", true, "1.0", "active"),
        ]),
        true,
        &[],
    );
    let body = domains_block("      - {domain: assets.example.com, zone: example.com}\n");
    let p = plan(&declared("", &body), &held);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.blocked[0].reason,
        "custom domain old.example.com is attached but not declared; removing it deletes its DNS record, so r2gitops removes custom domains only with settings.prune: true (each counts toward max_deletions)"
    );
    let p = plan(&declared("  prune: true\n", &body), &held);
    assert_eq!(
        writes(&p),
        [vec![DomainWrite::Remove {
            domain: "old.example.com".into()
        }]]
    );
    assert_eq!(
        lines(&p),
        ["~ update bucket media: custom_domains -old.example.com (its DNS record is deleted)"]
    );
    assert_eq!(p.deletions(), 1);
    assert!(p.refused.is_none());
    let p = plan(
        &declared("  prune: true\n  max_deletions: 0\n", &body),
        &held,
    );
    assert!(
        p.refused
            .as_deref()
            .unwrap()
            .starts_with("the plan deletes 1 objects (removed custom domains included), more than settings.max_deletions (0)"),
        "{:?}",
        p.refused
    );
    // `custom_domains: []` with prune removes every one.
    let p = plan(
        &declared("  prune: true\n", "    custom_domains: []\n"),
        &held,
    );
    assert_eq!(p.deletions(), 2);
}

#[test]
fn a_bucket_about_to_be_created_gets_its_domains_added_after_it() {
    let d = declared(
        "",
        &domains_block("      - {domain: assets.example.com, zone: example.com}\n"),
    );
    let p = plan(&d, &with_domains(json!([]), false, &[]));
    let l = lines(&p);
    assert_eq!(
        l,
        [
            "+ create bucket media (default)",
            "~ update bucket media: custom_domains +assets.example.com (zone example.com)"
        ]
    );
}

#[test]
fn a_degraded_answer_plans_nothing_for_what_it_leaves_out_and_says_degraded() {
    // The certificate backend did not answer: status unknown, no minTLS and no zoneName
    // (TF #7046). A declared min_tls 1.2 is not drift against an unknown one, the zone is
    // compared by id, and the status line says why those were not compared.
    let degraded = json!([{"domain": "assets.example.com", "enabled": true, "zoneId": ZONE_ID,
                           "status": {"ownership": "unknown", "ssl": "unknown"}}]);
    let d = declared(
        "",
        &domains_block(
            "      - {domain: assets.example.com, zone: example.com, min_tls: \"1.2\"}\n",
        ),
    );
    let p = plan(&d, &with_domains(degraded.clone(), true, &[]));
    assert!(
        p.steps.is_empty() && p.blocked.is_empty(),
        "{:?}",
        lines(&p)
    );
    assert!(!p.differs());
    assert_eq!(
        lines(&p),
        [
            "· custom domain assets.example.com (bucket media): ownership unknown, ssl unknown (degraded answer: Cloudflare's certificate backend did not answer, so min_tls and the zone name are unknown and not compared)"
        ]
    );
    let json = crate::plan::render::domain_json(&p.domains[0]);
    assert_eq!(json["degraded"], true);
    assert!(
        json["note"]
            .as_str()
            .unwrap()
            .starts_with("degraded answer")
    );

    // What the answer does carry still counts: `enabled` differs, one PUT that patches it
    // and names the declared min_tls (the PUT keeps what it leaves out).
    let disabled = json!([{"domain": "assets.example.com", "enabled": false, "zoneId": ZONE_ID,
                           "status": {"ownership": "unknown", "ssl": "unknown"}}]);
    let p = plan(&d, &with_domains(disabled, true, &[]));
    assert_eq!(
        writes(&p),
        [vec![DomainWrite::Update {
            domain: "assets.example.com".into(),
            enabled: true,
            min_tls: Some(MinTls::V12),
        }]]
    );
    assert_eq!(
        lines(&p)[0],
        "~ update bucket media: custom_domains assets.example.com enabled false→true"
    );
}
