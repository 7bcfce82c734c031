//! A leader killed after each kind of mutating call is replaced with nothing lost or rolled,
//! and a replica that leads again rereads what the other configured.

use std::time::{Duration, Instant};

use common::output::{run, text};
use common::until;

use crate::common;
use crate::{BEFORE, CALLS, DECLARED, World, before_after, delivered, mutating_routes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uninterrupted_pass_makes_one_call_of_each_kind_in_the_order_the_kill_points_assume() {
    let w = before_after().await;
    let out = run(w.cmd(&["reconcile", "--concurrency", "1"], None));
    assert!(out.status.success(), "{}", text(&out));
    let want: Vec<&str> = CALLS.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(mutating_routes(&w), want);
    w.one_token_per_name("uninterrupted");
    w.outputs_work("uninterrupted");
}

/// Kill the leader right after call `k` has taken effect, and check what the standby makes
/// of it.
async fn kill_after(k: usize) {
    let w = before_after().await;
    let (route, cut_off, recovery) = CALLS[k - 1];
    w.sb.emu.hold_after_mutating(k as u64);
    let mut leader = w.daemon(None);
    until(
        Duration::from_secs(60),
        &format!("k={k}: the leader reaches call {k}"),
        || async { w.sb.emu.holding() },
    )
    .await;
    let standby = w.daemon(None);
    until(
        Duration::from_secs(30),
        &format!("k={k}: the second daemon stands by"),
        || async { standby.metric("r2gitops_passes_total{result=\"standby\"}") >= 1.0 },
    )
    .await;
    leader.signal("-KILL");
    let killed = Instant::now();
    let _ = leader.wait_exit(Duration::from_secs(10)).await;
    w.sb.emu.release();
    let made_by_leader = mutating_routes(&w);
    assert_eq!(made_by_leader.len(), k, "k={k}: the leader made {k} calls");
    let at_kill = delivered(&w);

    until(
        Duration::from_secs(60),
        &format!("k={k}: the standby takes over and converges"),
        || async { standby.metric("r2gitops_leader ") == 1.0 && standby.successes() >= 1.0 },
    )
    .await;
    eprintln!(
        "k={k}: failover and convergence in {:.1} s",
        killed.elapsed().as_secs_f64()
    );
    let what = format!("k={k} ({route})");
    w.one_token_per_name(&what);
    w.outputs_work(&what);
    // What the leader had delivered, and the plan does not change after call k, stands:
    // the same token, the same file, not rolled by the takeover.
    let ids = w.managed();
    let acted_on_later = |name: &str| CALLS[k..].iter().any(|(_, on, _)| *on == Some(name));
    for (name, id, rel, bytes) in &at_kill {
        let cut = recovery.is_some() && cut_off == Some(name.as_str());
        if cut || acted_on_later(name) || !DECLARED.contains(&name.as_str()) {
            continue;
        }
        let now = ids.iter().find(|(n, _)| n == name).map(|(_, i)| i);
        assert_eq!(now, Some(id), "{what}: {name} was replaced");
        assert_eq!(
            w.file(rel).as_ref(),
            Some(bytes),
            "{what}: {name}'s output was rewritten by the takeover"
        );
    }
    assert!(
        at_kill.iter().any(|(n, ..)| n == "keep"),
        "{what}: keep was delivered before the kill"
    );
    // The standby's calls: the rest of the plan, and the one call that recovers what the
    // kill cut off.
    let all = mutating_routes(&w);
    let mut got: Vec<&str> = all[k..].iter().map(String::as_str).collect();
    let mut expected: Vec<&str> = CALLS[k..].iter().map(|(r, _, _)| *r).collect();
    expected.extend(recovery);
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{what}: the standby's calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_after_each_kind_of_mutating_call_is_replaced_with_nothing_lost_or_rolled()
{
    let only: Option<usize> = std::env::var("R2GITOPS_FAILOVER_K")
        .ok()
        .and_then(|k| k.parse().ok());
    for k in 1..=CALLS.len() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        kill_after(k).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_leads_again_rereads_what_the_other_leader_configured_meanwhile() {
    let w = World::new().await;
    let with_cors = |origin: &str| {
        BEFORE.replace(
            "  - { name: media }\n",
            &format!(
                "  - name: media\n    cors: [{{ allowed_origins: [\"https://{origin}\"], allowed_methods: [GET] }}]\n"
            ),
        )
    };
    let origins = || -> Vec<String> {
        w.sb.emu.bucket_config("default", "media").unwrap()["cors"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| {
                r["allowed"]["origins"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|o| o.as_str().map(str::to_string))
            .collect()
    };
    w.sb.write(&with_cors("x.example.com"));
    let mut b = w.daemon(None);
    until(Duration::from_secs(60), "b leads and converges", || async {
        b.successes() >= 1.0
    })
    .await;
    // A second pass reads back what the first wrote: b's cache holds x now.
    b.signal("-HUP");
    until(Duration::from_secs(30), "b passes again", || async {
        b.successes() >= 2.0
    })
    .await;
    let mut a = w.daemon(None);
    until(Duration::from_secs(30), "a stands by", || async {
        a.metric("r2gitops_passes_total{result=\"standby\"}") >= 1.0
    })
    .await;
    // b pauses (a stalled node); a takes over and applies a change of the file.
    b.signal("-STOP");
    until(Duration::from_secs(30), "a takes over", || async {
        a.metric("r2gitops_leader ") == 1.0 && a.successes() >= 1.0
    })
    .await;
    w.sb.write(&with_cors("y.example.com"));
    until(Duration::from_secs(30), "a applies y", || async {
        origins() == ["https://y.example.com"]
    })
    .await;
    // a dies, the file goes back to x, and b wakes up: to b the file is as it last knew it,
    // but the bucket holds what a wrote.
    a.signal("-KILL");
    let _ = a.wait_exit(Duration::from_secs(10)).await;
    w.sb.write(&with_cors("x.example.com"));
    b.signal("-CONT");
    until(
        Duration::from_secs(30),
        "b leads again and puts x back",
        || async { origins() == ["https://x.example.com"] },
    )
    .await;
    b.signal("-KILL");
    let _ = b.wait_exit(Duration::from_secs(10)).await;
}
