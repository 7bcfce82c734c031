//! Tests of the policies a declared token stands for and of their description in the
//! file's terms: each scope's resource form and group, foreign policies, what a change of
//! policies takes away, and declarations that read back exactly or say why not.

use super::*;
use crate::config::{IpRules, OutputFormat, OutputSpec, Owner};

const ACCT: &str = "0123456789abcdef0123456789abcdef";

fn token(access: Access, scope: TokenScope, j: Jurisdiction) -> TokenSpec {
    TokenSpec {
        name: "t".into(),
        owner: Owner::Account,
        access,
        scope,
        jurisdiction: j,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: OutputSpec {
            file: "t.env.age".into(),
            format: OutputFormat::Env,
            recipients: vec!["age1x".into()],
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: None,
        },
    }
}

#[test]
fn each_scope_maps_to_its_resource_form_and_group() {
    let g = PermissionGroupIds::known();
    let cases = [
        (
            token(
                Access::ObjectReadWrite,
                TokenScope::Buckets(vec!["a".into(), "b".into()]),
                Jurisdiction::Eu,
            ),
            vec![
                format!("com.cloudflare.edge.r2.bucket.{ACCT}_eu_a"),
                format!("com.cloudflare.edge.r2.bucket.{ACCT}_eu_b"),
            ],
            g.object_write.clone(),
        ),
        (
            token(
                Access::ObjectRead,
                TokenScope::AllBuckets,
                Jurisdiction::Default,
            ),
            vec![format!("com.cloudflare.api.account.{ACCT}")],
            g.object_read.clone(),
        ),
        (
            token(Access::AdminRead, TokenScope::Account, Jurisdiction::Us),
            vec![format!("com.cloudflare.api.account.{ACCT}")],
            g.admin_read.clone(),
        ),
    ];
    for (t, keys, group) in cases {
        let p = desired_policies(&t, ACCT, &g);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].resources.keys().cloned().collect::<Vec<_>>(), keys);
        assert_eq!(p[0].permission_groups, BTreeSet::from([group]));
        let d = describe(&p, ACCT, &g);
        assert_eq!(d.access, Some(t.access), "{t:?}");
    }
}

#[test]
fn description_reads_back_buckets_and_flags_foreign_policies() {
    let g = PermissionGroupIds::known();
    let t = token(
        Access::ObjectRead,
        TokenScope::Buckets(vec!["logs".into(), "media-1".into()]),
        Jurisdiction::Default,
    );
    let p = desired_policies(&t, ACCT, &g);
    assert_eq!(
        describe(&p, ACCT, &g).buckets,
        Some(BTreeSet::from(["logs".to_string(), "media-1".to_string()]))
    );
    let all = desired_policies(
        &token(
            Access::ObjectRead,
            TokenScope::AllBuckets,
            Jurisdiction::Default,
        ),
        ACCT,
        &g,
    );
    assert_eq!(
        describe(&all, ACCT, &g).buckets,
        Some(BTreeSet::from(["*".to_string()]))
    );
    let mut foreign = p.clone();
    foreign[0].resources.insert(
        "com.cloudflare.api.account.zone.x".into(),
        ResourceValue::Str("*".into()),
    );
    assert_eq!(describe(&foreign, ACCT, &g).buckets, None);
    let mut two = p.clone();
    two[0].permission_groups.insert(g.object_write.clone());
    assert_eq!(describe(&two, ACCT, &g).access, None);
}

#[test]
fn a_change_of_policies_names_what_it_takes_away_and_nothing_it_keeps() {
    use Access::*;
    use TokenScope::{Account as Acct, AllBuckets as Every, Buckets};
    let g = PermissionGroupIds::known();
    let b = |names: &[&str]| Buckets(names.iter().map(|n| n.to_string()).collect());
    let of = |a, s, j| desired_policies(&token(a, s, j), ACCT, &g);
    let d = Jurisdiction::Default;
    let cases: Vec<(Vec<Policy>, Vec<Policy>, Vec<&str>)> = vec![
        (
            of(ObjectRead, b(&["a"]), d),
            of(ObjectRead, b(&["a"]), d),
            vec![],
        ),
        // More is never a loss: write includes read, every bucket includes each.
        (
            of(ObjectRead, b(&["a"]), d),
            of(ObjectReadWrite, b(&["a"]), d),
            vec![],
        ),
        (
            of(ObjectRead, b(&["a"]), d),
            of(ObjectRead, Every, d),
            vec![],
        ),
        (
            of(ObjectReadWrite, Every, d),
            of(AdminReadWrite, Acct, d),
            vec![],
        ),
        (of(ObjectRead, b(&["a"]), d), of(AdminRead, Acct, d), vec![]),
        (
            of(AdminReadWrite, Acct, d),
            of(ObjectRead, b(&["a"]), d),
            vec!["loses Workers R2 Storage Write on the account"],
        ),
        (
            of(ObjectReadWrite, b(&["a", "b"]), d),
            of(ObjectRead, b(&["a"]), d),
            vec!["loses Workers R2 Storage Bucket Item Write on bucket a, bucket b"],
        ),
        (
            of(ObjectRead, Every, d),
            of(ObjectRead, b(&["a"]), d),
            vec!["loses Workers R2 Storage Bucket Item Read on every bucket"],
        ),
        (
            of(ObjectRead, b(&["a"]), Jurisdiction::Eu),
            of(ObjectRead, b(&["a"]), d),
            vec!["loses Workers R2 Storage Bucket Item Read on bucket a (eu)"],
        ),
        (
            of(AdminRead, Acct, d),
            of(ObjectReadWrite, Every, d),
            vec!["loses Workers R2 Storage Read on the account"],
        ),
    ];
    for (have, want, lose) in cases {
        assert_eq!(lost(&have, &want, ACCT, &g), lose, "{have:?} -> {want:?}");
    }

    // A grant in another form is kept only by the same grant; a deny grants nothing.
    let mut foreign = of(ObjectRead, b(&["a"]), d);
    foreign[0]
        .permission_groups
        .insert("c8fed203ed3043cba015a93ad1616f1f".into());
    foreign[0].resources.insert(
        "com.cloudflare.api.account.zone.z1".into(),
        ResourceValue::Str("*".into()),
    );
    assert_eq!(
        lost(&foreign, &of(AdminReadWrite, Acct, d), ACCT, &g),
        [
            "loses Workers R2 Storage Bucket Item Read on com.cloudflare.api.account.zone.z1",
            "loses permission group c8fed203ed3043cba015a93ad1616f1f on com.cloudflare.api.account.zone.z1, bucket a",
        ]
    );
    let mut deny = of(AdminReadWrite, Acct, d);
    deny[0].effect = Effect::Deny;
    assert!(lost(&deny, &of(ObjectRead, b(&["a"]), d), ACCT, &g).is_empty());
}

#[test]
fn declarations_read_back_exactly_or_say_why_not() {
    let g = PermissionGroupIds::known();
    for (access, scope, j) in [
        (
            Access::ObjectReadWrite,
            TokenScope::Buckets(vec!["a".into(), "b".into()]),
            Jurisdiction::Eu,
        ),
        (
            Access::ObjectRead,
            TokenScope::AllBuckets,
            Jurisdiction::Default,
        ),
        (
            Access::AdminReadWrite,
            TokenScope::Account,
            Jurisdiction::Default,
        ),
    ] {
        let p = desired_policies(&token(access, scope.clone(), j), ACCT, &g);
        assert_eq!(declaration(&p, ACCT, &g), Ok((access, scope, j)));
    }

    let base = desired_policies(
        &token(
            Access::ObjectRead,
            TokenScope::Buckets(vec!["a".into()]),
            Jurisdiction::Default,
        ),
        ACCT,
        &g,
    );
    let with = |f: &dyn Fn(&mut Vec<Policy>)| {
        let mut p = base.clone();
        f(&mut p);
        declaration(&p, ACCT, &g).unwrap_err()
    };
    let cases: Vec<(String, &str)> = vec![
        (with(&|p| p.push(p[0].clone())), "2 policies"),
        (with(&|p| p[0].effect = Effect::Deny), "a deny policy"),
        (
            with(&|p| p[0].permission_groups = ["c8fed203ed3043cba015a93ad1616f1f".into()].into()),
            "a permission group other than",
        ),
        (
            with(&|p| {
                p[0].resources.insert(
                    bucket_key(ACCT, Jurisdiction::Eu, "b"),
                    ResourceValue::Str("*".into()),
                );
            }),
            "buckets in more than one jurisdiction",
        ),
        (
            with(&|p| {
                p[0].resources.insert(
                    "com.cloudflare.api.account.zone.abc".into(),
                    ResourceValue::Str("*".into()),
                );
            }),
            "permission groups or resources other than R2's",
        ),
    ];
    for (got, want) in cases {
        assert!(got.starts_with(want), "{got} / {want}");
    }
}
