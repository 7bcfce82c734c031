//! Table tests of `adopt:`: with and without the value, within the operator's cap on rolls
//! and policy, and the tokens no file may take over.

use super::*;

/// A hand-made token for `t`'s declaration, under a dashboard name, with no IP rules.
fn hand_made(d: &Desired, t: &TokenSpec, id: &str) -> ObservedToken {
    let mut o = obs_token(d, t, id);
    o.name = "backup reader (made by hand)".into();
    o
}

fn adopting(t: &mut TokenSpec, id: &str) {
    t.adopt = Some(crate::config::Adopt {
        id: id.into(),
        line: 7,
        column: 12,
    });
}

const HAND: &str = "3f2a0000000000000000000000000000";

#[test]
fn adopting_without_the_value_is_blocked_unless_rolls_are_allowed() {
    for prune in [false, true] {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("backups")];
        let mut t = token("backup-reader", &["backups"]);
        adopting(&mut t, HAND);
        d.tokens = vec![t];
        let (mut o, inv, outputs) = converged(&Desired {
            tokens: Vec::new(),
            ..d.clone()
        });
        o.tokens.push(hand_made(&d, &d.tokens[0], HAND));
        let p = run(&d, &o, &inv, &outputs);
        assert!(p.steps.is_empty(), "{:?}", lines(&p));
        assert!(
            p.bookkeeping.is_empty(),
            "nothing recorded: the next pass must ask again"
        );
        assert_eq!(p.blocked.len(), 1);
        assert!(
            p.blocked[0]
                .reason
                .contains("r2gitops adopt backup-reader --value-from-stdin")
                && p.blocked[0].reason.contains("--allow-adopt-roll"),
            "{}",
            p.blocked[0].reason
        );
    }
}

#[test]
fn adopting_by_roll_renames_corrects_and_rolls_within_the_operators_cap() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    adopting(&mut t, HAND);
    t.ip.allow = vec!["10.0.0.0/8".parse().unwrap()];
    d.tokens = vec![t];
    let (mut o, inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    let mut hand = hand_made(&d, &d.tokens[0], HAND);
    hand.condition = IpRules::default();
    o.tokens.push(hand);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token backup-reader: name 'backup reader (made by hand)' -> 'r2gitops:backup-reader', ip allow +10.0.0.0/8".to_string(),
            format!(
                "↻ adopt token backup-reader ({HAND}): roll required to issue its credentials (existing S3 keys stop working)"
            ),
        ]
    );
    assert!(matches!(
        &p.bookkeeping[..],
        [Bookkeeping::AdoptToken { token, id, .. }] if token == "backup-reader" && id == HAND
    ));
    assert!(p.refused.is_none());

    // The file's max_deletions has no say (a committer could raise it); the operator's
    // cap does.
    d.settings.max_deletions = 0;
    assert!(run(&d, &o, &inv, &outputs).refused.is_none());
    d.adopt_rolls = AdoptRolls::Allowed { max: 0 };
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        p.refused.as_deref(),
        Some(
            "the plan rolls 1 adopted tokens whose S3 keys are in use, more than --max-adopt-rolls (0); nothing will be applied (raise --max-adopt-rolls, or hand values over with r2gitops adopt NAME --value-from-stdin)"
        )
    );
}

#[test]
fn adopting_the_daemons_own_token_or_one_the_file_cannot_express_refuses_the_plan() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 10 };
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (mut o, mut inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    let at = "r2gitops.yaml:7:12: tokens[0].adopt";

    // r2gitops' own token: observe never lists it, and the plan says why it is refused,
    // even where an inventory records it for this very name.
    o.own_token_id = Some(HAND.into());
    let own = format!(
        "{at}: token {HAND} is the API token r2gitops itself calls Cloudflare with (verify names it); taking it over would rewrite or roll r2gitops' own access, so no file may adopt it"
    );
    for recorded in [false, true] {
        if recorded {
            inv.tokens
                .insert("backup-reader".into(), written(&d.tokens[0], HAND));
        }
        let p = run(&d, &o, &inv, &outputs);
        assert_eq!(
            p.refused.as_deref(),
            Some(own.as_str()),
            "recorded: {recorded}"
        );
        assert!(p.steps.is_empty(), "{:?}", lines(&p));
    }
    inv.tokens.clear();
    o.own_token_id = Some("ffff0000000000000000000000000000".into());

    // A CI token that can also edit Workers scripts: no declaration says that.
    let mut ci = hand_made(&d, &d.tokens[0], HAND);
    ci.policies[0]
        .permission_groups
        .insert("e086da7e2179491d91ee5f35b3ca210a".into());
    o.tokens.push(ci);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        p.refused.as_deref(),
        Some(
            format!(
                "{at}: token {HAND} holds what no declaration can say (permission groups or resources other than R2's (another service, zone or account)); adopting it would drop that, so r2gitops leaves it alone"
            )
            .as_str()
        )
    );
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
}

#[test]
fn an_adopted_tokens_update_names_the_permissions_it_loses() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.buckets = vec![bucket("backups"), bucket("logs")];
    let mut t = token("backup-reader", &["backups"]);
    t.access = crate::config::Access::ObjectRead;
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (mut o, inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    // By hand: read-write on backups and logs.
    let mut wide = d.tokens[0].clone();
    wide.access = crate::config::Access::ObjectReadWrite;
    wide.scope = crate::config::TokenScope::Buckets(vec!["backups".into(), "logs".into()]);
    let mut hand = hand_made(&d, &wide, HAND);
    hand.condition = IpRules::default();
    o.tokens.push(hand);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p)[0],
        "~ update token backup-reader: name 'backup reader (made by hand)' -> 'r2gitops:backup-reader', access object-read-write -> object-read, buckets -logs, loses Workers R2 Storage Bucket Item Write on bucket backups, bucket logs"
    );
}

#[test]
fn after_adopt_recorded_the_value_the_plan_only_renames_and_corrects() {
    let mut d = desired();
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (mut o, mut inv, outputs) = converged(&d);
    o.tokens = vec![hand_made(&d, &d.tokens[0], HAND)];
    inv.tokens
        .insert("backup-reader".into(), written(&d.tokens[0], HAND));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "~ update token backup-reader: name 'backup reader (made by hand)' -> 'r2gitops:backup-reader'"
        ]
    );
    assert!(p.blocked.is_empty() && p.bookkeeping.is_empty());

    // Renamed: `adopt:` may stay, and changes nothing.
    o.tokens[0].name = "r2gitops:backup-reader".into();
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty() && p.blocked.is_empty() && p.refused.is_none());
    assert_eq!(p.unchanged, 2);
}

#[test]
fn adopting_an_unknown_or_already_managed_token_refuses_the_plan_with_the_line() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.settings.prune = true;
    d.buckets = vec![bucket("backups")];
    d.tokens = vec![
        token("uploader", &["backups"]),
        token("backup-reader", &["backups"]),
    ];
    let (o, inv, outputs) = converged(&d);
    let uploader_id = o.tokens[0].id.clone();
    let cases = [
        (
            "ffff0000000000000000000000000000".to_string(),
            format!(
                "r2gitops.yaml:7:12: tokens[1].adopt: no account token with id ffff0000000000000000000000000000 in account {ACCT}"
            ),
        ),
        (
            uploader_id.clone(),
            format!(
                "r2gitops.yaml:7:12: tokens[1].adopt: token {uploader_id} is already managed as 'uploader'"
            ),
        ),
    ];
    for (id, want) in cases {
        let mut d = d.clone();
        adopting(&mut d.tokens[1], &id);
        let p = run(&d, &o, &inv, &outputs);
        let refused = p.refused.clone().unwrap_or_default();
        assert!(refused.starts_with(&want), "{refused}");
        assert!(
            !p.steps.iter().any(|s| s.is_delete()),
            "the entry's own token is never pruned: {:?}",
            lines(&p)
        );
    }
}

#[test]
fn adopting_a_token_that_holds_more_than_the_operators_policy_refuses_the_plan() {
    let mut d = desired();
    d.adopt_rolls = AdoptRolls::Allowed { max: 1 };
    d.policy = Some(operator_policy(
        "tokens:\n  access: [object-read]\nbuckets:\n  names: [\"back*\"]\n",
    ));
    d.buckets = vec![bucket("backups")];
    let mut t = token("backup-reader", &["backups"]);
    t.access = crate::config::Access::ObjectRead;
    adopting(&mut t, HAND);
    d.tokens = vec![t];
    let (o, inv, outputs) = converged(&Desired {
        tokens: Vec::new(),
        ..d.clone()
    });
    // What it holds now, as the dashboard made it: admin on the whole account, or object
    // read on a bucket outside the names; the declaration is inside the policy either way.
    let mut admin = d.tokens[0].clone();
    admin.access = crate::config::Access::AdminReadWrite;
    admin.scope = TokenScope::Account;
    let mut wider = d.tokens[0].clone();
    wider.scope = TokenScope::Buckets(vec!["backups".into(), "payroll".into()]);
    let at = "r2gitops.yaml:7:12: tokens[0].adopt";
    for (held, why) in [
        (
            &admin,
            "admin-read-write is not allowed by the policy (policy.yaml:2:11 allows object-read)",
        ),
        (
            &wider,
            "bucket 'payroll' is not allowed by the policy (policy.yaml:4:10 allows back*)",
        ),
    ] {
        let mut o = o.clone();
        o.tokens.push(hand_made(&d, held, HAND));
        let p = run(&d, &o, &inv, &outputs);
        assert_eq!(
            p.refused.as_deref(),
            Some(
                format!("{at}: token {HAND} holds more than the policy allows: {why}; adopting it would hand that over")
                    .as_str()
            )
        );
        assert!(p.steps.is_empty(), "{:?}", lines(&p));
    }
    // A token inside the policy is adopted as without one.
    let mut o = o.clone();
    o.tokens.push(hand_made(&d, &d.tokens[0], HAND));
    assert!(run(&d, &o, &inv, &outputs).refused.is_none());
}
