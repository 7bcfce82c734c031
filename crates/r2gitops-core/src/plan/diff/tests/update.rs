//! Table tests of a kept token's update in place, its replacement, and what blocks it: drift,
//! declared changes, owners, expiry, status, and restrictions Cloudflare may keep.

use super::*;

#[test]
fn token_drift_is_updated_in_place_and_reordering_is_not_drift() {
    type Edit = fn(&mut ObservedToken);
    let cases: Vec<(&str, Edit, Option<&str>)> = vec![
        (
            "CIDRs listed in another order",
            |o| o.condition.allow.reverse(),
            None,
        ),
        (
            "timestamps with sub-second noise",
            |o| o.expires_on = Some(datetime!(2027-06-30 00:00:00.5 UTC)),
            None,
        ),
        (
            "a bucket added out of band",
            |o| {
                let key = crate::plan::policy::bucket_key(ACCT, Jurisdiction::Default, "logs");
                o.policies[0]
                    .resources
                    .insert(key, crate::observed::ResourceValue::Str("*".into()));
            },
            Some(
                "~ update token uploader: buckets -logs, loses Workers R2 Storage Bucket Item Write on bucket logs",
            ),
        ),
        (
            "access downgraded out of band",
            |o| {
                o.policies[0].permission_groups = [PermissionGroupIds::known().object_read].into();
            },
            Some("~ update token uploader: access object-read -> object-read-write"),
        ),
        (
            "a foreign resource",
            |o| {
                o.policies[0].resources.insert(
                    "com.cloudflare.api.account.zone.1".into(),
                    crate::observed::ResourceValue::Str("*".into()),
                );
            },
            Some(
                "~ update token uploader: policies differ from the declaration (edited out of band), loses Workers R2 Storage Bucket Item Write on com.cloudflare.api.account.zone.1",
            ),
        ),
        (
            "disabled",
            |o| o.status = TokenStatus::Disabled,
            Some("~ update token uploader: status disabled -> active"),
        ),
        (
            "ip rule added",
            |o| o.condition.allow.push("198.51.100.0/24".parse().unwrap()),
            Some("~ update token uploader: ip allow -198.51.100.0/24"),
        ),
        (
            "expiry changed out of band",
            |o| o.expires_on = Some(datetime!(2027-01-01 00:00 UTC)),
            Some(
                "~ update token uploader: expires_on 2027-01-01T00:00:00Z -> 2027-06-30T00:00:00Z",
            ),
        ),
        (
            "renamed out of band (found by its inventory id)",
            |o| o.name = "someone-renamed-it".into(),
            Some("~ update token uploader: name 'someone-renamed-it' -> 'r2gitops:uploader'"),
        ),
    ];
    for (name, edit, want) in cases {
        let mut d = desired();
        d.buckets = vec![bucket("media"), bucket("logs")];
        d.tokens = vec![token("uploader", &["media"])];
        d.tokens[0].expires_on = Some(datetime!(2027-06-30 00:00 UTC));
        d.tokens[0].ip.allow = vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.0.2.0/24".parse().unwrap(),
        ];
        let (mut o, inv, outputs) = converged(&d);
        edit(&mut o.tokens[0]);
        let p = run(&d, &o, &inv, &outputs);
        let want: Vec<&str> = want.into_iter().collect();
        assert_eq!(lines(&p), want, "{name}");
        if let Some(Step::UpdateToken { id, request, .. }) = p.steps.first() {
            assert_eq!(id, &o.tokens[0].id, "{name}: updated in place");
            assert_eq!(request.status, Some(TokenStatus::Active), "{name}");
        }
    }
}

#[test]
fn declared_changes_show_as_updates() {
    let mut d = desired();
    d.buckets = vec![bucket("media"), bucket("logs")];
    d.tokens = vec![token("uploader", &["media"])];
    let (o, inv, outputs) = converged(&d);
    d.tokens[0].scope = TokenScope::Buckets(vec!["media".into(), "logs".into()]);
    d.tokens[0].ip.allow = vec!["203.0.113.0/24".parse().unwrap()];
    d.tokens[0].not_before = Some(datetime!(2026-12-01 00:00 UTC));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token uploader: buckets +logs, not_before (none) -> 2026-12-01T00:00:00Z, ip allow +203.0.113.0/24"
        ]
    );
}

#[test]
fn an_owner_change_creates_under_the_new_owner_and_orphans_the_old_token() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    let (o, inv, outputs) = converged(&d);
    d.tokens[0].owner = Owner::User;
    let p = run(&d, &o, &inv, &outputs);
    assert!(matches!(
        p.steps.as_slice(),
        [Step::CreateToken {
            owner: Owner::User,
            ..
        }]
    ));
    assert_eq!(p.orphans.len(), 1);
}

#[test]
fn a_declared_expiry_that_has_passed_blocks_the_token_and_sends_nothing() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    d.tokens[0].expires_on = Some(datetime!(2026-11-01 00:00 UTC));
    let want = "the declared expiry has passed (expires_on 2026-11-01T00:00:00Z); declare a later expires_on";

    // Missing: not created (it would be born dead, and again on every pass).
    let p = run(&d, &observed(), &Inventory::default(), &BTreeMap::new());
    assert_eq!(lines(&p), ["+ create bucket media (default)"]);
    assert_eq!(p.blocked[0].reason, want);

    // Present and expired, with a duplicate and a missing output: no update, roll or delete.
    let (mut o, inv, _) = converged(&d);
    o.tokens[0].status = TokenStatus::Expired;
    let mut dup = o.tokens[0].clone();
    dup.id = "d".repeat(32);
    o.tokens.push(dup);
    let p = run(&d, &o, &inv, &BTreeMap::new());
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(p.blocked.len(), 1);
    assert_eq!(p.blocked[0].reason, want);
    assert!(
        p.orphans.is_empty(),
        "the duplicate is claimed, not orphaned"
    );
}

#[test]
fn an_expired_token_with_a_later_declared_expiry_is_updated_and_replaced_if_it_stays_expired() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    d.tokens[0].expires_on = Some(datetime!(2026-11-01 00:00 UTC));
    let (mut o, inv, outputs) = converged(&d);
    o.tokens[0].status = TokenStatus::Expired;
    d.tokens[0].expires_on = Some(datetime!(2027-11-01 00:00 UTC));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token uploader: expires_on 2026-11-01T00:00:00Z -> 2027-11-01T00:00:00Z, status expired -> active (replaced if Cloudflare keeps it expired)"
        ]
    );
    let Step::UpdateToken {
        fallback, request, ..
    } = &p.steps[0]
    else {
        panic!()
    };
    assert_eq!(*fallback, Some(ReplaceReason::StaysExpired));
    assert_eq!(request.status, Some(TokenStatus::Active));
}

#[test]
fn a_token_revoked_as_exposed_is_replaced_and_never_re_enabled() {
    let d = sample();
    let (mut o, inv, outputs) = converged(&d);
    o.tokens[0].status = TokenStatus::RevokedExposed;
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["± replace token uploader: Cloudflare revoked it as exposed"]
    );
    let Step::ReplaceToken {
        old_id,
        request,
        output,
        ..
    } = &p.steps[0]
    else {
        panic!()
    };
    assert_eq!(old_id, &o.tokens[0].id);
    assert_eq!(request.name, "r2gitops:uploader");
    assert_eq!(output, &PathBuf::from("uploader.env.age"));
    assert_eq!(p.summary().replace, 1);
    assert_eq!(p.deletions(), 0, "a replacement is not a deletion");
}

#[test]
fn an_unknown_status_is_blocked_with_its_words_and_never_read_as_disabled() {
    let d = sample();
    let (mut o, inv, outputs) = converged(&d);
    o.tokens[0].status = TokenStatus::Other("suspended (billing)".into());
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(
        p.blocked[0].reason,
        "Cloudflare reports status 'suspended (billing)', which r2gitops does not know; nothing is changed"
    );
}

#[test]
fn removing_a_restriction_updates_with_a_replace_fallback_until_cloudflare_is_known_to_keep_it() {
    type Edit = fn(&mut TokenSpec);
    // (what the token had, what the update line says, the field)
    let cases: Vec<(Edit, &str, TokenField)> = vec![
        (
            |t| {
                t.ip = IpRules {
                    allow: vec!["10.0.0.0/8".parse().unwrap()],
                    deny: vec![],
                }
            },
            "~ update token uploader: ip allow -10.0.0.0/8 (replaced if Cloudflare keeps the removed IP rules)",
            TokenField::IpRules,
        ),
        (
            |t| t.expires_on = Some(datetime!(2027-01-01 00:00 UTC)),
            "~ update token uploader: expires_on 2027-01-01T00:00:00Z -> (none) (replaced if Cloudflare keeps the removed expires_on)",
            TokenField::ExpiresOn,
        ),
        (
            |t| t.not_before = Some(datetime!(2026-01-01 00:00 UTC)),
            "~ update token uploader: not_before 2026-01-01T00:00:00Z -> (none) (replaced if Cloudflare keeps the removed not_before)",
            TokenField::NotBefore,
        ),
    ];
    for (had, line, field) in cases {
        let mut before = sample();
        had(&mut before.tokens[0]);
        let (o, mut inv, outputs) = converged(&before);
        let now = sample();
        let p = run(&now, &o, &inv, &outputs);
        assert_eq!(lines(&p), [line]);

        inv.learned.keeps_removed.insert(field);
        let p = run(&now, &o, &inv, &outputs);
        let replace = format!(
            "± replace token uploader: {}",
            ReplaceReason::KeepsRemoved(field).describe()
        );
        assert_eq!(lines(&p), [replace], "learned: {field:?}");
    }
    assert_eq!(
        ReplaceReason::KeepsRemoved(TokenField::IpRules).describe(),
        "Cloudflare keeps IP rules that the file removed"
    );
}

#[test]
fn changing_ip_rules_without_removing_them_needs_no_fallback() {
    let mut before = sample();
    before.tokens[0].ip.allow = vec!["10.0.0.0/8".parse().unwrap()];
    let (o, mut inv, outputs) = converged(&before);
    inv.learned.keeps_removed.insert(TokenField::IpRules);
    let mut now = sample();
    now.tokens[0].ip.allow = vec!["10.1.0.0/16".parse().unwrap()];
    let p = run(&now, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["~ update token uploader: ip allow +10.1.0.0/16 -10.0.0.0/8"]
    );
}

#[test]
fn an_edited_bucket_list_updates_the_token_and_never_rolls_it() {
    let d = sample();
    let (o, inv, outputs) = converged(&d);
    let mut edited = sample();
    edited.buckets.push(bucket("extra"));
    edited.tokens[0].scope = TokenScope::Buckets(vec!["media".into(), "extra".into()]);
    let p = run(&edited, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "+ create bucket extra (default)",
            "~ update token uploader: buckets +extra"
        ]
    );
}
