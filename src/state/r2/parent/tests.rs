use super::*;
use time::macros::datetime;

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

fn token(id: &str, name: &str, issued: time::OffsetDateTime) -> ObservedToken {
    ObservedToken {
        id: id.into(),
        name: name.into(),
        owner: crate::config::Owner::Account,
        status: TokenStatus::Active,
        issued_on: Some(issued),
        modified_on: None,
        not_before: None,
        expires_on: None,
        policies: request(
            ACCOUNT,
            "state",
            Jurisdiction::Default,
            &PermissionGroupIds::known(),
        )
        .policies,
        condition: Default::default(),
    }
}

#[test]
fn the_parent_is_object_write_on_the_state_bucket_alone() {
    let r = request(
        ACCOUNT,
        "state",
        Jurisdiction::Eu,
        &PermissionGroupIds::known(),
    );
    assert_eq!(r.name, "r2gitops:state");
    assert_eq!(r.policies.len(), 1);
    let p = &r.policies[0];
    assert_eq!(
        p.permission_groups,
        BTreeSet::from(["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()])
    );
    assert_eq!(
        p.resources.keys().collect::<Vec<_>>(),
        [&format!("com.cloudflare.edge.r2.bucket.{ACCOUNT}_eu_state")]
    );
    assert!(r.expires_on.is_none() && r.condition.is_empty());
}

#[test]
fn the_oldest_token_of_that_name_is_the_parent_and_others_are_ignored() {
    let t0 = datetime!(2026-12-01 10:00 UTC);
    let tokens = [
        token("b0", "r2gitops:state", t0),
        token("a0", "r2gitops:state", t0),
        token("00", "r2gitops:uploader", t0 - time::Duration::hours(1)),
        token("c0", "r2gitops:state", t0 + time::Duration::seconds(1)),
    ];
    assert_eq!(keeper(&tokens).unwrap().id, "a0");
    assert!(keeper(&tokens[2..3]).is_none());
}

#[test]
fn a_parent_changed_out_of_band_is_refused_not_repaired() {
    let want = request(
        ACCOUNT,
        "state",
        Jurisdiction::Default,
        &PermissionGroupIds::known(),
    );
    let t = token("a0", PARENT_NAME, datetime!(2026-12-01 10:00 UTC));
    assert_eq!(refusal(&t, &want, "state"), None);
    let mut disabled = t.clone();
    disabled.status = TokenStatus::Disabled;
    assert!(
        refusal(&disabled, &want, "state")
            .unwrap()
            .contains("is disabled; r2gitops does not re-enable it")
    );
    let other = request(
        ACCOUNT,
        "other",
        Jurisdiction::Default,
        &PermissionGroupIds::known(),
    );
    assert!(
        refusal(&t, &other, "other")
            .unwrap()
            .contains("does not grant exactly object read & write on the state bucket 'other'")
    );
}
