//! A token's IP rules and validity window as Cloudflare keeps them: a create that comes back
//! without them, an update whose removal does not stick, and the replacement of a revoked
//! token.

use super::*;

fn ip_rules(allow: &str) -> IpRules {
    IpRules {
        allow: vec![allow.parse().unwrap()],
        deny: Vec::new(),
    }
}

fn update_removing_ip_rules(name: &str, id: &str, fallback: bool) -> Step {
    Step::UpdateToken {
        token: name.into(),
        id: id.into(),
        owner: Owner::Account,
        request: TokenRequest {
            name: format!("r2gitops:{name}"),
            policies: Vec::new(),
            not_before: None,
            expires_on: None,
            condition: IpRules::default(),
            status: Some(TokenStatus::Active),
        },
        changes: vec!["ip allow -10.0.0.0/8".into()],
        buckets: vec![bref("media")],
        fallback: fallback.then_some(crate::plan::ReplaceReason::KeepsRemoved(
            TokenField::IpRules,
        )),
    }
}

#[tokio::test]
async fn a_created_token_that_comes_back_without_its_ip_rules_is_deleted_and_never_written() {
    let s = setup(&[("a", "media")]);
    let fake = Fake {
        drop_condition: true,
        ..Fake::default()
    };
    let mut step = create_token("a", "media");
    if let Step::CreateToken { request, .. } = &mut step {
        request.condition = ip_rules("10.0.0.0/8");
    }
    let (report, inv) = run(&fake, &s, &plan(vec![step]), &Stop::new()).await;
    let Outcome::Failed(text) = &report.steps[0].outcome else {
        panic!("{}", report.text())
    };
    assert_eq!(
        text,
        &format!(
            "Cloudflare did not store the IP condition of token a (sent request_ip allow 10.0.0.0/8, read back none); the new token {:032x} was deleted at once and its value never written",
            1
        )
    );
    assert_eq!(
        fake.calls(),
        [
            "create token r2gitops:a".to_string(),
            format!("delete token {:032x}", 1)
        ]
    );
    assert!(fake.tokens.lock().unwrap().is_empty(), "no token survives");
    assert!(!s.dir.path().join("secrets/a.env.age").exists());
    assert!(inv.tokens.is_empty(), "nothing recorded");
    assert!(report.has_errors());
}

#[tokio::test]
async fn an_update_whose_removed_ip_rules_are_kept_becomes_a_replacement_and_is_learned() {
    let s = setup(&[("a", "media")]);
    let fake = Fake {
        keeps_removed: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", ip_rules("10.0.0.0/8"));
    let p = plan(vec![
        update_removing_ip_rules("a", &old, true),
        Step::RollToken {
            token: "a".into(),
            id: old.clone(),
            owner: Owner::Account,
            reason: crate::plan::RollReason::OutputMissing,
        },
    ]);
    let (report, inv) = run_on(&fake, &s, &p, inv).await;
    let new = format!("{:032x}", 1);
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Replaced(format!(
            "Cloudflare keeps IP rules that the file removed; replaced by {new}, output written, old token {old} deleted"
        )),
        "{}",
        report.text()
    );
    assert_eq!(
        report.steps[1].outcome,
        Outcome::AlreadyDone("the replacement's output was written".into()),
        "the old id is not rolled"
    );
    assert_eq!(
        fake.calls(),
        [
            format!("update token {old}"),
            "create token r2gitops:a".to_string(),
            format!("delete token {old}"),
        ],
        "the new token exists and its output is written before the old one goes"
    );
    let server = fake.tokens.lock().unwrap();
    assert_eq!(server.keys().collect::<Vec<_>>(), [&new]);
    assert!(server[&new].condition.is_empty());
    assert_eq!(inv.tokens["a"].id, new);
    assert!(inv.tokens["a"].output.is_some());
    assert!(s.dir.path().join("secrets/a.env.age").exists());
    assert_eq!(
        inv.learned.keeps_removed,
        BTreeSet::from([TokenField::IpRules])
    );
    assert!(!report.has_errors());
}

#[tokio::test]
async fn an_update_that_does_not_stick_fails_loudly_and_changes_nothing_else() {
    let s = setup(&[("a", "media")]);
    // Kept removal, but the plan allowed no replacement.
    let fake = Fake {
        keeps_removed: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", ip_rules("10.0.0.0/8"));
    let p = plan(vec![update_removing_ip_rules("a", &old, false)]);
    let (report, _) = run_on(&fake, &s, &p, inv).await;
    assert_eq!(
        report.steps[0].outcome,
        Outcome::Failed("Cloudflare did not store the IP condition of token a (sent no condition, read back allow 10.0.0.0/8); the next pass tries again".into())
    );

    // A condition dropped on update: the token may now be less restricted; it says so.
    let fake = Fake {
        drop_condition: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", IpRules::default());
    let mut step = update_removing_ip_rules("a", &old, true);
    if let Step::UpdateToken { request, .. } = &mut step {
        request.condition = ip_rules("10.0.0.0/8");
    }
    let (report, _) = run_on(&fake, &s, &plan(vec![step]), inv).await;
    let Outcome::Failed(text) = &report.steps[0].outcome else {
        panic!("{}", report.text())
    };
    assert!(
        text.contains("(sent request_ip allow 10.0.0.0/8, read back none)")
            && text.contains("less restricted than the file declares"),
        "{text}"
    );
    assert_eq!(
        fake.calls(),
        [format!("update token {old}")],
        "no replacement"
    );
}

#[tokio::test]
async fn a_revoked_token_is_replaced_and_a_failed_replacement_keeps_the_old_one() {
    let s = setup(&[("a", "media")]);
    let fake = Fake::default();
    let (old, inv) = seeded(&fake, "a", IpRules::default());
    let replace = |condition: IpRules| Step::ReplaceToken {
        token: "a".into(),
        old_id: old.clone(),
        owner: Owner::Account,
        access: Access::ObjectRead,
        request: TokenRequest {
            name: "r2gitops:a".into(),
            policies: Vec::new(),
            not_before: None,
            expires_on: None,
            condition,
            status: None,
        },
        buckets: vec![bref("media")],
        output: PathBuf::from("a.env.age"),
        reason: crate::plan::ReplaceReason::RevokedExposed,
        rotate_every: None,
    };
    let (report, inv) = run_on(&fake, &s, &plan(vec![replace(IpRules::default())]), inv).await;
    assert_eq!(report.steps[0].outcome.as_str(), "replaced");
    let new = inv.tokens["a"].id.clone();
    assert_ne!(new, old);
    assert_eq!(
        fake.tokens.lock().unwrap().keys().collect::<Vec<_>>(),
        [&new]
    );

    // The replacement comes back less restricted: it is deleted, the old token stays.
    let fake = Fake {
        drop_condition: true,
        ..Fake::default()
    };
    let (old, inv) = seeded(&fake, "a", ip_rules("10.0.0.0/8"));
    let (report, inv) = run_on(&fake, &s, &plan(vec![replace(ip_rules("10.0.0.0/8"))]), inv).await;
    let Outcome::Failed(text) = &report.steps[0].outcome else {
        panic!("{}", report.text())
    };
    assert!(
        text.starts_with("Cloudflare revoked it as exposed; creating its replacement failed: Cloudflare did not store the IP condition"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("the old token {old} is kept")),
        "{text}"
    );
    assert_eq!(
        fake.tokens.lock().unwrap().keys().collect::<Vec<_>>(),
        [&old]
    );
    assert_eq!(inv.tokens["a"].id, old);
}
