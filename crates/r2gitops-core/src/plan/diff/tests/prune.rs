//! Table tests of what goes: duplicates, undeclared tokens and buckets with and without
//! prune, the deletion budget, another file's tokens, a lost inventory, and a policy that
//! forbids deletes.

use super::*;

#[test]
fn duplicates_keep_the_inventory_id_else_the_oldest() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    let (mut o, mut inv, outputs) = converged(&d);
    let mut newer = obs_token(&d, &d.tokens[0], "ffffffffffffffffffffffffffffffff");
    newer.issued_on = Some(datetime!(2026-11-10 00:00 UTC));
    let mut older = obs_token(&d, &d.tokens[0], "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    older.issued_on = Some(datetime!(2026-10-01 00:00 UTC));
    o.tokens.push(newer);
    o.tokens.push(older);

    // The inventory's id wins, whatever the age.
    let p = run(&d, &o, &inv, &outputs);
    let deleted: Vec<(&str, &DeleteReason)> = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::DeleteToken { id, reason, .. } => Some((id.as_str(), reason)),
            _ => None,
        })
        .collect();
    let kept = o.tokens[0].id.clone();
    assert_eq!(
        deleted,
        [
            (
                "ffffffffffffffffffffffffffffffff",
                &DeleteReason::Duplicate { kept: kept.clone() }
            ),
            (
                "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                &DeleteReason::Duplicate { kept }
            ),
        ]
    );
    assert_eq!(p.steps.len(), 2, "the kept token is as declared");

    // Without an inventory: the oldest stays, is adopted, and rolled (its output is unknown).
    inv.tokens.clear();
    let p = run(&d, &o, &inv, &outputs);
    let kept: Vec<&str> = p
        .bookkeeping
        .iter()
        .filter_map(|b| match b {
            Bookkeeping::AdoptToken { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(kept, ["eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"]);
    assert_eq!(p.deletions(), 2);
    assert!(p.steps.iter().any(|s| matches!(
        s,
        Step::RollToken { id, reason: RollReason::OutputUnrecorded, .. } if id == "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
    )));
}

#[test]
fn undeclared_tokens_are_pruned_only_when_asked_and_unmanaged_ones_never() {
    for prune in [false, true] {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("media")];
        d.tokens = vec![token("uploader", &["media"]), token("old-ci", &["media"])];
        let (mut o, inv, outputs) = converged(&d);
        let mut foreign = obs_token(&d, &d.tokens[0], "abababababababababababababababab");
        foreign.name = "ci-deploy".into();
        o.tokens.push(foreign);
        d.tokens.pop();
        let p = run(&d, &o, &inv, &outputs);
        if prune {
            assert_eq!(
                lines(&p),
                [format!(
                    "- delete token old-ci ({}): no longer declared (prune); its output old-ci.env.age is removed",
                    o.tokens[1].id
                )]
            );
            assert!(p.orphans.is_empty());
        } else {
            assert!(p.steps.is_empty());
            assert_eq!(p.orphans.len(), 1);
            assert_eq!(p.orphans[0].name, "r2gitops:old-ci");
        }
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s, Step::DeleteToken { name, .. } if name == "ci-deploy")),
            "an unmanaged token is never touched"
        );
    }
}

#[test]
fn undeclared_buckets() {
    // (prune, in inventory, last protect, still exists) -> outcome
    let cases = [
        (true, true, false, true, "delete"),
        (true, true, true, true, "orphan"),
        (false, true, false, true, "orphan"),
        (true, false, false, true, "untouched"),
        (true, true, false, false, "forget"),
    ];
    for (prune, managed, protect, exists, want) in cases {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("keep")];
        let (mut o, mut inv, outputs) = converged(&d);
        if exists {
            o.buckets.push(obs_bucket(&bucket("gone")));
        }
        if managed {
            inv.buckets.insert(
                (Jurisdiction::Default, "gone".into()),
                BucketRecord::new(protect),
            );
        }
        let p = run(&d, &o, &inv, &outputs);
        let got = if p
            .steps
            .iter()
            .any(|s| matches!(s, Step::DeleteBucket { .. }))
        {
            "delete"
        } else if !p.orphans.is_empty() {
            "orphan"
        } else if p
            .bookkeeping
            .iter()
            .any(|b| matches!(b, Bookkeeping::ForgetBucket { .. }))
        {
            "forget"
        } else {
            "untouched"
        };
        assert_eq!(
            got, want,
            "prune={prune} managed={managed} protect={protect} exists={exists}"
        );
        assert_eq!(p.steps.len(), usize::from(want == "delete"));
    }
}

#[test]
fn more_deletions_than_max_deletions_refuse_the_plan() {
    let mut d = desired();
    d.settings.prune = true;
    d.settings.max_deletions = 2;
    d.buckets = vec![bucket("media")];
    d.tokens = (0..3)
        .map(|i| token(&format!("t{i}"), &["media"]))
        .collect();
    let (o, inv, outputs) = converged(&d);
    d.tokens.clear();
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(p.deletions(), 3);
    assert!(
        p.refused
            .as_deref()
            .unwrap()
            .starts_with("the plan deletes 3 objects, more than settings.max_deletions (2)")
    );
    d.settings.max_deletions = 3;
    assert!(run(&d, &o, &inv, &outputs).refused.is_none());
}

#[test]
fn a_token_another_file_manages_is_never_pruned_or_orphaned_only_shown() {
    // (prune, recorded in this inventory) -> (deleted, orphaned, shown as elsewhere)
    let cases = [
        (true, false, (false, false, true)),
        (false, false, (false, false, true)),
        (true, true, (true, false, false)),
        (false, true, (false, true, false)),
    ];
    for (prune, recorded, want) in cases {
        let mut d = desired();
        d.settings.prune = prune;
        d.buckets = vec![bucket("media")];
        d.tokens = vec![token("uploader", &["media"])];
        let (mut o, mut inv, outputs) = converged(&d);
        let theirs = token("assets-writer", &["media"]);
        let id = "abababababababababababababababab";
        o.tokens.push(obs_token(&d, &theirs, id));
        if recorded {
            inv.tokens.insert(theirs.name.clone(), written(&theirs, id));
        }
        let p = run(&d, &o, &inv, &outputs);
        let deleted = p
            .steps
            .iter()
            .any(|s| matches!(s, Step::DeleteToken { id: i, .. } if i == id));
        let got = (deleted, !p.orphans.is_empty(), !p.elsewhere.is_empty());
        assert_eq!(got, want, "prune={prune} recorded={recorded}: {p:?}");
        if !recorded {
            assert_eq!(p.steps, [], "nothing is done about it");
            assert_eq!(p.elsewhere[0].name, "r2gitops:assets-writer");
            assert_eq!(p.elsewhere[0].detail, id);
            assert!(!p.differs(), "another file's token is no difference");
        }
    }
}

#[test]
fn a_lost_inventory_deletes_nothing_even_with_prune() {
    let mut d = sample();
    d.settings.prune = true;
    let (mut o, _, outputs) = converged(&d);
    let gone = token("old-ci", &["media"]);
    o.tokens
        .push(obs_token(&d, &gone, "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"));
    let p = run(&d, &o, &Inventory::default(), &outputs);
    assert!(!p.steps.iter().any(Step::is_delete), "{:?}", lines(&p));
    assert_eq!(p.deletions(), 0);
    assert_eq!(p.elsewhere.len(), 1);
    // The declared tokens are taken back by their names (and rolled: no record of output).
    assert_eq!(
        p.steps
            .iter()
            .filter(|s| matches!(s, Step::RollToken { .. }))
            .count(),
        2
    );
}

#[test]
fn under_a_policy_with_delete_false_prune_keeps_an_unprotected_bucket() {
    let mut d = desired();
    d.settings.prune = true;
    d.buckets = vec![bucket("old")];
    d.buckets[0].protect = false;
    let (o, inv, outputs) = converged(&d);
    d.buckets.clear();
    assert_eq!(run(&d, &o, &inv, &outputs).deletions(), 1);
    d.policy = Some(operator_policy("buckets:\n  delete: false\n"));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(p.deletions(), 0, "{:?}", lines(&p));
    assert_eq!(
        p.orphans[0].reason,
        "no longer declared; kept because the policy never deletes a bucket (policy.yaml:2:11 delete: false)"
    );
}
