//! Unit tests of `observed::custom_domain`.

use super::*;

fn observed(zone_id: Option<&str>, zone_name: Option<&str>, tls: MinTls) -> CustomDomain {
    CustomDomain {
        domain: "assets.example.com".into(),
        zone_id: zone_id.map(Into::into),
        zone_name: zone_name.map(Into::into),
        enabled: true,
        min_tls: Some(tls),
        status: Some(DomainStatus {
            ownership: "pending".into(),
            ssl: "initializing".into(),
        }),
    }
}

fn declared(zone: ZoneRef, tls: Option<MinTls>) -> CustomDomain {
    CustomDomain::declared(&config::CustomDomain {
        domain: "assets.example.com".into(),
        zone,
        enabled: true,
        min_tls: tls,
    })
}

#[test]
fn a_declaration_matches_by_zone_id_or_name_and_ignores_status() {
    let id = "a".repeat(32);
    let have = observed(Some(&id), Some("example.com"), MinTls::V10);
    for want in [
        declared(ZoneRef::Name("example.com".into()), None),
        declared(ZoneRef::Id(id.clone()), None),
        declared(ZoneRef::Id(id.clone()), Some(MinTls::V10)),
    ] {
        assert!(
            same_set(std::slice::from_ref(&want), std::slice::from_ref(&have)),
            "{want:?}"
        );
        assert!(same_set(std::slice::from_ref(&have), &[want]), "symmetric");
    }
    for want in [
        declared(ZoneRef::Name("example.org".into()), None),
        declared(ZoneRef::Id("b".repeat(32)), None),
        declared(ZoneRef::Name("example.com".into()), Some(MinTls::V12)),
    ] {
        assert!(
            !same_set(std::slice::from_ref(&want), std::slice::from_ref(&have)),
            "{want:?}"
        );
    }
    // A degraded answer without a zone name is compared by the id the lookup found.
    let degraded = observed(Some(&id), None, MinTls::V10);
    let mut want = declared(ZoneRef::Name("example.com".into()), None);
    want.resolve(&Zone {
        id: id.clone(),
        name: "example.com".into(),
        account_id: "acct".into(),
        kind: ZoneKind::Full,
    });
    assert!(same_set(&[want], &[degraded]));
}

#[test]
fn what_cloudflare_holds_renders_back_to_a_declaration_that_matches_it() {
    let id = "a".repeat(32);
    for have in [
        observed(Some(&id), Some("example.com"), MinTls::V10),
        observed(Some(&id), Some("example.com"), MinTls::V13),
        observed(Some(&id), None, MinTls::V12),
    ] {
        let back = CustomDomain::declared(&declare(&have));
        assert!(same_set(&[back], std::slice::from_ref(&have)), "{have:?}");
    }
    assert_eq!(
        declare(&observed(Some(&id), Some("example.com"), MinTls::V10)).min_tls,
        None,
        "the default is not written"
    );
}
