//! Minted state credentials converge: an apply and a daemon with no S3 key anywhere, and two
//! runners starting together leave one parent token.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use common::output::text;

use crate::common;
use crate::{KEY, STATE, World, run, tail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_and_a_daemon_with_minted_state_credentials_converge_with_no_s3_key_anywhere() {
    use common::{Watch, until};
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let out = a.join("secrets");
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let (first, second) = tokio::task::spawn_blocking(move || {
        let args = [
            "reconcile",
            "--state",
            STATE,
            "--state-credentials",
            "temporary",
        ];
        let first = run(w2.cmd(&a2, &o2, &args));
        w2.sb.emu.reset_stats();
        // AWS keys in the environment (another tool's) are not the state's: the flag wins.
        let mut second = w2.cmd(&a2, &o2, &args);
        second
            .env("AWS_ACCESS_KEY_ID", "AKIDOFANOTHERTOOL")
            .env("AWS_SECRET_ACCESS_KEY", "not-for-the-state");
        let second = run(second);
        (first, second)
    })
    .await
    .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(text(&first).contains("Apply complete: 3 done, 0 failed"));
    assert!(
        text(&first).contains("created the parent token 'r2gitops:state'"),
        "{}",
        tail(&text(&first))
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(text(&second).contains("No changes."), "{}", text(&second));
    assert!(
        text(&second).contains("ignored=AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"),
        "{}",
        tail(&text(&second))
    );
    let stats = w.sb.emu.stats();
    eprintln!("second run: {:?}", stats.by_route);
    assert_eq!(
        stats.mutating, 1,
        "the second run's one write is its mint: {:?}",
        stats.by_route
    );
    assert_eq!(
        stats
            .by_route
            .get("POST /accounts/:id/r2/temp-access-credentials"),
        Some(&1),
        "{:?}",
        stats.by_route
    );
    let parents = w.parents();
    assert_eq!(parents.len(), 1, "one parent after two runs");
    let parent = parents[0].clone();
    let view =
        w.sb.emu
            .tokens()
            .into_iter()
            .find(|t| t.id == parent)
            .unwrap();
    assert_eq!(
        view.policies,
        vec![(
            "allow".to_string(),
            vec!["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()],
            vec![format!(
                "com.cloudflare.edge.r2.bucket.{}_default_state",
                w.sb.emu.account_id()
            )]
        )],
        "object read & write on the state bucket alone"
    );

    // Every credential minted: under the parent, on the state bucket, for KEY and KEY.lease.
    let minted = w.sb.emu.temporary_credentials();
    assert_eq!(minted.len(), 2, "one per run");
    for m in &minted {
        assert_eq!(m.parent_access_key_id, parent);
        assert_eq!(m.bucket, "state");
        assert_eq!(m.permission, "object-read-write");
        assert!(m.prefixes.is_empty());
        assert_eq!(m.objects, vec![KEY.to_string(), format!("{KEY}.lease")]);
        assert_eq!(m.ttl_seconds, 3600);
    }
    // The state object is there, and the credentials reach nothing else (boto3's own
    // conditional put, plain put and delete).
    let cred = w.sb.emu.temporary_secrets().pop().unwrap();
    let got = w.s3_as(
        &cred,
        json!([
            {"op": "get", "key": KEY},
            {"op": "put", "key": "teams/other.json", "body": "{}", "if_none_match": "*"},
            // Absent, so If-Match alone would answer 412: the scope answers first.
            {"op": "put", "key": format!("{KEY}.bak"), "body": "{}", "if_match": "\"stale\""},
            {"op": "get", "key": "teams/other.json"},
            {"op": "put", "key": "x", "body": "{}", "bucket": "media"},
            {"op": "delete", "key": "teams/other.json", "if_match": "\"stale\""},
        ]),
    );
    let doc: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert!(
        doc["inventory"]["tokens"]["uploader"]["id"].is_string(),
        "{doc}"
    );
    for (i, r) in got.as_array().unwrap().iter().enumerate().skip(1) {
        assert_eq!(r["error"], "AccessDenied", "op {i} outside the scope: {r}");
    }
    w.assert_no_secret_in("the runs' output", &(text(&first) + &text(&second)));

    // A daemon on another runner (the outputs on a shared volume), minting 15 s
    // credentials and renewing its 3 s lease every second: it leads and converges, mints
    // again before the first ones expire, and still leads after they have.
    let b = w.runner("b");
    w.sb.emu.reset_stats();
    let mut daemon = Watch::spawn(w.cmd(
        &b,
        &out,
        &[
            "watch",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1h",
            "--state",
            STATE,
            "--state-credentials",
            "temporary",
            "--state-credentials-ttl",
            "15s",
            "--lease-ttl",
            "3s",
        ],
    ));
    until(Duration::from_secs(60), "the daemon converges", || async {
        daemon.successes() >= 1.0
    })
    .await;
    assert_eq!(daemon.metric("r2gitops_leader "), 1.0);
    let started = std::time::Instant::now();
    until(
        Duration::from_secs(40),
        "the daemon mints anew before expiry",
        || async { w.sb.emu.temporary_credentials().len() >= minted.len() + 2 },
    )
    .await;
    // Renewed ahead of time (at two thirds of the TTL, 5 s before expiry), not at the
    // last moment or after a failure.
    let at = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let views = w.sb.emu.temporary_credentials();
    let (first, next) = (&views[minted.len()], &views[minted.len() + 1]);
    assert_eq!(first.ttl_seconds, 15);
    let ahead = at(&first.expires_at) - at(&next.issued_at);
    assert!(
        ahead >= time::Duration::seconds(4),
        "minted anew {ahead} before the old ones expired"
    );
    // Past the first daemon credential's expiry (15 s) its lease renewals still succeed.
    tokio::time::sleep(Duration::from_secs(16).saturating_sub(started.elapsed())).await;
    assert_eq!(
        daemon.metric("r2gitops_leader "),
        1.0,
        "still the leader once its first credentials expired:\n{}",
        tail(&daemon.log())
    );
    let stats = w.sb.emu.stats();
    assert_eq!(
        stats.mutating,
        stats
            .by_route
            .get("POST /accounts/:id/r2/temp-access-credentials")
            .copied()
            .unwrap_or(0),
        "the daemon's only writes are its mints (no second parent, no roll): {:?}",
        stats.by_route
    );
    assert_eq!(w.parents(), vec![parent.clone()], "still one parent");
    daemon.signal("-TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)).await, Some(0));
    let cred = w.sb.emu.temporary_secrets().pop().unwrap();
    let got = w.s3_as(&cred, json!([{"op": "get", "key": format!("{KEY}.lease")}]));
    assert_eq!(got[0]["error"], "NoSuchKey", "released at exit");
    w.assert_no_secret_in("the daemon's log", &daemon.log());
    w.assert_no_secret_on_disk();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_starting_together_leave_one_parent_token() {
    let w = Arc::new(World::new().await);
    // Slow answers: both look for the parent before either has created it.
    w.sb.emu.set_faults(cf_emulator::Faults {
        latency_ms: 100,
        ..Default::default()
    });
    let (a, b) = (w.runner("a"), w.runner("b"));
    let args = [
        "reconcile",
        "--state",
        STATE,
        "--state-credentials",
        "temporary",
        "--lock-timeout",
        "60s",
    ];
    let mut one = w.cmd(&a, &a.join("secrets"), &args);
    let mut two = w.cmd(&b, &a.join("secrets"), &args);
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
    w.sb.emu.set_faults(cf_emulator::Faults::default());
    let stats = w.sb.emu.stats();
    eprintln!("{:?}", stats.by_route);
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", tail(&text(o)));
    }
    let parents = w.parents();
    assert_eq!(parents.len(), 1, "one parent: {parents:?}");
    let creates = outs
        .iter()
        .filter(|o| text(o).contains("created the parent token"))
        .count();
    let deleted = stats
        .by_route
        .get("DELETE /accounts/:id/tokens/:token_id")
        .copied()
        .unwrap_or(0);
    eprintln!("parents created: {creates}, duplicates deleted: {deleted}");
    assert_eq!(
        creates as u64 - 1,
        deleted,
        "each duplicate deleted by its maker"
    );
    for m in
        w.sb.emu
            .temporary_credentials()
            .iter()
            .skip(creates.saturating_sub(1))
    {
        assert_eq!(m.parent_access_key_id, parents[0]);
    }
}
