//! What stops or limits a pass: a missing Zone Read or Queues Read, and removal without prune
//! or beyond max_deletions.

use std::collections::BTreeSet;

use r2gitops::cloudflare::{TokenRequest, WriteApi};
use r2gitops::config::{IpRules, Owner};
use r2gitops::observed::{Effect, Policy, ResourceValue};

use crate::common;
use crate::{BOTH, GET_DOMAINS, GET_QUEUES, GET_RULES, GET_ZONES, World, file, has, stderr};

/// A token with R2 write (and `extra` groups) on the account.
async fn token_with(w: &World, extra: &[&str]) -> String {
    let account = format!("com.cloudflare.api.account.{}", w.emu.account_id());
    let mut groups: BTreeSet<String> = BTreeSet::from(["bf7481a1826f439697cb59a20b22293e".into()]);
    groups.extend(extra.iter().map(|g| g.to_string()));
    let created = common::admin_client(&w.emu)
        .await
        .into_writer()
        .create_token(
            Owner::Account,
            &TokenRequest {
                name: "daemon".into(),
                policies: vec![Policy {
                    effect: Effect::Allow,
                    permission_groups: groups,
                    resources: [(account, ResourceValue::Str("*".into()))].into(),
                }],
                not_before: None,
                expires_on: None,
                condition: IpRules::default(),
                status: None,
            },
        )
        .await
        .unwrap();
    created.value.expose().to_string()
}

const ZONE_READ: &str = "c8fed203ed3043cba015a93ad1616f1f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_zone_read_or_queues_read_is_one_clear_error() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    let r2_only = token_with(&w, &[]).await;
    w.emu.reset_stats();
    let out = w.run_as(Some(r2_only), &["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("failed to look up zone 'example.com': the API token lacks the Zone Read permission group, which custom_domains need (HTTP 403, code 10000)\n  hint: add Zone Read to the daemon's token (Cloudflare dashboard, API Tokens, edit the token, Permissions); see README \"Cloudflare permissions\""),
        "{err}"
    );
    assert_eq!(
        err.matches("Zone Read permission group").count(),
        1,
        "one error: {err}"
    );
    assert_eq!(w.emu.stats().mutating, 0, "nothing was changed");

    let no_queues = token_with(&w, &[ZONE_READ]).await;
    let out = w.run_as(Some(no_queues), &["reconcile", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("failed to list the account's queues: the API token lacks the Queues Read permission group, which notifications need (HTTP 403, code 10000)"),
        "{err}"
    );
    assert_eq!(err.matches("permission group").count(), 1, "{err}");
    let both = token_with(&w, &[ZONE_READ, "51be10a1ad6b4d4ea5bbd7e4e0c5f3c8"]).await;
    let out = w.run_as(Some(both), &["reconcile", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_domain_or_a_queues_rules_needs_prune_and_counts_toward_max_deletions() {
    let w = World::new().await;
    w.write(&file("", BOTH));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let none = "    custom_domains: []\n    notifications: []\n";
    w.write(&file("", none));
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0));
    has(
        &out,
        "! blocked bucket media: custom domain assets.example.com is attached but not declared; removing it deletes its DNS record, so r2gitops removes custom domains only with settings.prune: true (each counts toward max_deletions)",
    );
    has(
        &out,
        "! blocked bucket media: notifications: queue 'uploads' has 1 rule(s) the file does not declare; r2gitops removes a queue's rules only with settings.prune: true (each queue counts toward max_deletions)",
    );
    assert_eq!(w.emu.stats().mutating, 0, "nothing removed without prune");
    assert_eq!(w.domains("media").len(), 1);

    w.write(&file("  prune: true\n  max_deletions: 2\n", none));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "3 deletions > 2");
    has(
        &out,
        "Refused: the plan deletes 3 objects (queues losing their notification rules, removed custom domains included), more than settings.max_deletions (2)",
    );
    assert_eq!(w.domains("media").len(), 1);

    w.write(&file("  prune: true\n", none));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    has(
        &out,
        "~ update bucket media: custom_domains -assets.example.com (its DNS record is deleted)",
    );
    has(
        &out,
        "~ update bucket media: notifications uploads -object-create:images/* (every rule of the queue removed)",
    );
    assert!(w.domains("media").is_empty());
    assert!(
        w.emu.dns_records("example.com").is_empty(),
        "its DNS record went too"
    );
    assert!(w.rules("media").is_empty());

    // Removing the keys stops management: nothing is read or written.
    w.write(&file("  prune: true\n", ""));
    w.emu.reset_stats();
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    for route in [GET_ZONES, GET_QUEUES, GET_DOMAINS, GET_RULES] {
        assert_eq!(
            w.calls(route),
            0,
            "{route}: an undeclared block is never read"
        );
    }
}
