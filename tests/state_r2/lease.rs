//! The lease: two applies never both apply, a live lease refuses, an old holder is fenced by
//! epoch, a standby daemon takes over, a long plan keeps its lease.

use std::sync::Arc;

use common::output::{run, text};
use serde_json::{Value, json};

use crate::common;
use crate::{KEY, STATE, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_one_shot_applies_started_together_never_both_apply() {
    let sb = common::Sandbox::new().await;
    let w = Arc::new(World::with(sb).await);
    // Slow answers keep the first apply inside its lease while the second starts.
    w.sb.emu.set_faults(cf_emulator::Faults {
        latency_ms: 150,
        ..Default::default()
    });
    let (a, b) = (w.runner("a"), w.runner("b"));
    let mut one = w.cmd(&a, &["reconcile", "--state", STATE]);
    let mut two = w.cmd(&b, &["reconcile", "--state", STATE]);
    let outs = tokio::task::spawn_blocking(move || {
        let p1 = one
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let p2 = two
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        [
            p1.wait_with_output().unwrap(),
            p2.wait_with_output().unwrap(),
        ]
    })
    .await
    .unwrap();
    let texts: Vec<String> = outs.iter().map(text).collect();
    eprintln!("{texts:#?}");
    let applied = texts
        .iter()
        .filter(|t| t.contains("Apply complete: 3 done"))
        .count();
    assert_eq!(applied, 1, "exactly one applies");
    let refused: Vec<&String> = texts.iter().filter(|t| t.contains("is locked")).collect();
    assert_eq!(refused.len(), 1, "the other is refused");
    assert!(
        refused[0].contains("its lease is held by '") && refused[0].contains(" until 20"),
        "the refusal names the holder and its expiry: {}",
        refused[0]
    );
    assert_eq!(
        outs.iter().filter(|o| o.status.code() == Some(0)).count(),
        1
    );
    w.sb.emu.set_faults(cf_emulator::Faults::default());
    assert_eq!(w.tokens_named("r2gitops:uploader").await, 1);
    assert_eq!(w.tokens_named("r2gitops:reader").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_lease_refuses_an_apply_by_holder_and_expiry_and_a_dry_run_takes_none() {
    let w = Arc::new(World::new().await);
    let lease = json!({
        "holder": "laptop/4242/beef",
        "epoch": 3,
        "acquired_at": "2026-01-01T00:00:00Z",
        "expires_at": "2999-01-01T00:00:00Z",
    });
    w.s3(json!([{"op": "put", "key": format!("{KEY}.lease"), "body": lease.to_string()}]));
    let a = w.runner("a");
    let w2 = w.clone();
    let (apply, dry) = tokio::task::spawn_blocking(move || {
        (
            run(w2.cmd(&a, &["reconcile", "--state", STATE])),
            run(w2.cmd(&a, &["reconcile", "--dry-run", "--state", STATE])),
        )
    })
    .await
    .unwrap();
    assert_eq!(apply.status.code(), Some(1));
    assert!(
        text(&apply).contains(
            "the state r2://state/teams/r2gitops.json is locked: its lease is held by 'laptop/4242/beef' until 2999-01-01T00:00:00Z"
        ),
        "{}",
        text(&apply)
    );
    assert_eq!(dry.status.code(), Some(0), "a dry run takes no lease");
    assert!(text(&dry).contains("Plan: 3 to create"));
    assert_eq!(w.sb.emu.stats().mutating, 0);
    let got = w.s3(json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(
        serde_json::from_str::<Value>(got[0]["body"].as_str().unwrap()).unwrap(),
        lease,
        "a refused run leaves the holder's lease alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_old_holder_stops_and_its_late_inventory_write_is_refused_by_epoch() {
    use r2gitops::state::r2::session::Session;
    use r2gitops::state::r2::{R2State, StateCredentials, StateError, StateUrl};
    let w = World::new().await;
    let open = |ttl: i64| {
        let url = StateUrl::parse(STATE).unwrap().unwrap();
        let creds =
            StateCredentials::from_env(STATE, Some(w.key_id.clone()), Some(w.secret.clone()), None)
                .unwrap();
        let endpoint = w.sb.emu.s3_urls()["default"].clone();
        Session::new(
            R2State::new(url, endpoint, creds).unwrap(),
            time::Duration::seconds(ttl),
        )
    };
    let (old, new) = (open(3), open(3));
    old.take_lease("old/1/a", time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(old.epoch(), 1);
    assert_eq!(old.load().await.unwrap(), None);
    old.save("{\"version\": 1, \"tokens\": {}}").await.unwrap();
    // What the old holder last saw: its ETag, at epoch 1.
    let (_, mut stale) = old.state.read().await.unwrap();
    assert_eq!(stale.stored_epoch, 1);
    // The new one waits for the old lease, which is never renewed (a partition).
    new.take_lease("new/2/b", time::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(new.epoch(), 2, "a takeover increments the epoch");
    assert!(new.load().await.unwrap().is_some());
    assert!(!old.may_mutate(), "an overdue holder starts nothing");
    assert!(matches!(
        old.save("{\"version\": 1, \"tokens\": {}}").await,
        Err(StateError::LeaseLost { .. })
    ));
    // Were it to write anyway (its own clock wrong), the object has moved on: 412, and
    // after a re-read the fence refuses before sending anything.
    let late = old.state.save("{\"version\": 1}", 1, &mut stale).await;
    assert!(matches!(late, Err(StateError::Conflict { .. })), "{late:?}");
    let (_, mut fresh) = old.state.read().await.unwrap();
    assert_eq!(fresh.stored_epoch, 2);
    let late = old.state.save("{\"version\": 1}", 1, &mut fresh).await;
    assert!(
        matches!(late, Err(StateError::Fenced { .. })),
        "a write under an older epoch is refused: {late:?}"
    );
    let got = w.s3(json!([{"op": "get", "key": KEY}]));
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["epoch"], 2, "the new holder's write stands");
    new.save("{\"version\": 1, \"tokens\": {}}").await.unwrap();
    new.release().await;
    let got = w.s3(json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(
        got[0]["error"], "NoSuchKey",
        "released by a conditional delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_daemons_one_leads_and_the_standby_takes_over_a_killed_leader_rolling_nothing() {
    use common::{Watch, until};
    use std::time::{Duration, Instant};
    let w = Arc::new(World::new().await);
    let (a, b) = (w.runner("a"), w.runner("b"));
    let shared = w.sb.dir.path().join("shared-volume");
    let args = [
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "1h",
        "--state",
        STATE,
        "--lease-ttl",
        "3s",
    ];
    let leader = Watch::spawn(w.cmd_out(&a, &shared, &args));
    until(
        Duration::from_secs(60),
        "the first daemon converges",
        || async { leader.successes() >= 1.0 },
    )
    .await;
    assert_eq!(leader.metric("r2gitops_leader "), 1.0);
    let mut standby = Watch::spawn(w.cmd_out(&b, &shared, &args));
    until(Duration::from_secs(30), "the second stands by", || async {
        standby.metric("r2gitops_passes_total{result=\"standby\"}") >= 1.0
    })
    .await;
    assert_eq!(standby.metric("r2gitops_leader "), 0.0);
    assert_eq!(standby.get("/readyz").0, 200, "a standby is ready");
    assert_eq!(standby.successes(), 0.0, "a standby reconciles nothing");
    let (_, status) = standby.get("/status");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["role"], "standby");
    let ids: Vec<String> = w.sb.emu.tokens().iter().map(|t| t.id.clone()).collect();

    w.sb.emu.reset_stats();
    let mut leader = leader;
    leader.signal("-KILL");
    let killed = Instant::now();
    let _ = leader.wait_exit(Duration::from_secs(10)).await;
    until(
        Duration::from_secs(30),
        "the standby takes over and converges",
        || async { standby.metric("r2gitops_leader ") == 1.0 && standby.successes() >= 1.0 },
    )
    .await;
    let failover = killed.elapsed();
    eprintln!(
        "failover: {:.1} s (TTL 3 s, poll 1 s)",
        failover.as_secs_f64()
    );
    assert!(
        failover < Duration::from_secs(3 + 1 + 6),
        "within TTL + poll (and a loaded machine's pass): {failover:?}"
    );
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "the takeover rolls and rotates nothing"
    );
    let after: Vec<String> = w.sb.emu.tokens().iter().map(|t| t.id.clone()).collect();
    assert_eq!(after, ids, "one token per name, the same ones");

    // SIGTERM releases the lease at once.
    standby.signal("-TERM");
    assert_eq!(standby.wait_exit(Duration::from_secs(20)).await, Some(0));
    let got = w.s3(json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(
        got[0]["error"], "NoSuchKey",
        "released by a conditional delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_apply_whose_planning_outlasts_the_lease_ttl_keeps_its_lease_and_applies() {
    let w = Arc::new(World::new().await);
    // Each API call takes 700 ms: observing alone outlasts two thirds of a 3 s lease.
    w.sb.emu.set_faults(cf_emulator::Faults {
        latency_ms: 700,
        ..Default::default()
    });
    let a = w.runner("a");
    let w2 = w.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(w2.cmd(&a, &["reconcile", "--state", STATE, "--lease-ttl", "3s"]))
    })
    .await
    .unwrap();
    w.sb.emu.set_faults(cf_emulator::Faults::default());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Apply complete: 3 done, 0 failed"),
        "{}",
        text(&out)
    );
}
