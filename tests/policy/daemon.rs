//! `watch` under a policy: a violating commit refused with the last good state kept, and
//! SIGHUP with a tightened or a broken policy.

use std::time::Duration;

use r2gitops::cloudflare::WriteApi;
use r2gitops::config::Jurisdiction;
use sha2::{Digest, Sha256};

use crate::common;
use crate::{LIMIT, Ops, buckets, status, until, watch};

const TEAM_A: &str = "version: 1
settings: { recipients: [\"{recipient}\"] }
buckets:
  - { name: team-a-media }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_violating_commit_is_refused_with_the_last_good_state_kept_and_a_fixed_one_applied() {
    let s = common::Sandbox::new().await;
    let ops = Ops::new();
    ops.write("version: 1\nbuckets:\n  names: [\"team-a-*\"]\n");
    s.write(TEAM_A);
    let w = watch(&s, &ops.policy());
    until(LIMIT, "ready", || w.get("/readyz").0 == 200).await;
    assert_eq!(buckets(&s).await, ["team-a-media"]);
    let st = status(&w);
    let sha = hex::encode(Sha256::digest(std::fs::read(ops.policy()).unwrap()));
    assert_eq!(st["policy"]["sha256"], sha.as_str(), "{st}");
    assert_eq!(
        st["policy"]["path"],
        ops.policy().display().to_string().as_str()
    );
    let keys: Vec<&String> = st["policy"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["path", "reload_error", "sha256", "violations"],
        "never its content"
    );
    assert_eq!(w.metric("r2gitops_policy_violations"), 0.0);

    // A commit that adds another team's bucket: refused whole, the last good state kept.
    s.emu.reset_stats();
    s.write(&TEAM_A.replace(
        "  - { name: team-a-media }\n",
        "  - { name: team-a-media }\n  - { name: team-b-media }\n",
    ));
    until(LIMIT, "refused", || w.get("/readyz").0 == 503).await;
    let (_, body) = w.get("/readyz");
    assert!(body.starts_with("not ready: policy: "), "{body}");
    let st = status(&w);
    let errors = st["config_errors"].to_string();
    assert!(
        errors.contains("buckets[1].name: bucket 'team-b-media' is not allowed by the policy"),
        "{st}"
    );
    assert_eq!(w.metric("r2gitops_policy_violations"), 1.0);
    // The last good state still drives passes: SIGHUP starts one, and it creates nothing.
    let before = w.successes();
    w.signal("-HUP");
    until(LIMIT, "a pass on the last good state", || {
        w.successes() > before
    })
    .await;
    assert_eq!(s.emu.stats().mutating, 0, "{}", w.log());
    assert_eq!(buckets(&s).await, ["team-a-media"]);

    // The fixed commit is applied.
    s.write(&TEAM_A.replace(
        "  - { name: team-a-media }\n",
        "  - { name: team-a-media }\n  - { name: team-a-logs }\n",
    ));
    until(LIMIT, "ready again", || w.get("/readyz").0 == 200).await;
    let mut names = buckets(&s).await;
    names.sort();
    assert_eq!(names, ["team-a-logs", "team-a-media"]);
    assert_eq!(w.metric("r2gitops_policy_violations"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_tightened_policy_refuses_the_file_from_the_next_pass_and_a_broken_one_keeps_the_old()
 {
    let s = common::Sandbox::new().await;
    let ops = Ops::new();
    ops.write("version: 1\n");
    s.write(
        "version: 1\nsettings: { recipients: [\"{recipient}\"] }\nbuckets:\n  - { name: media }\n",
    );
    let w = watch(&s, &ops.policy());
    until(LIMIT, "ready", || w.get("/readyz").0 == 200).await;
    assert_eq!(buckets(&s).await, ["media"]);

    // A broken policy on SIGHUP: logged, the old one kept, the file still applied.
    let permissive = status(&w)["policy"]["sha256"].clone();
    ops.write("version: 1\nbuckets:\n  nmes: [\"team-a-*\"]\n");
    let before = w.successes();
    w.signal("-HUP");
    until(LIMIT, "a pass under the old policy", || {
        w.successes() > before
    })
    .await;
    assert!(
        w.log()
            .contains("the policy does not load; keeping the last good one"),
        "{}",
        w.log()
    );
    let st = status(&w);
    assert_eq!(st["policy"]["sha256"], permissive, "{st}");
    assert!(
        st["policy"]["reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("buckets.nmes")),
        "{st}"
    );
    assert_eq!(w.get("/readyz").0, 200);

    // A tightened policy on SIGHUP: the file that passed is refused from the next pass,
    // and nothing of it is applied any more (its bucket, deleted out of band, stays gone).
    common::admin_client(&s.emu)
        .await
        .into_writer()
        .delete_bucket(Jurisdiction::Default, "media")
        .await
        .unwrap();
    s.emu.reset_stats();
    ops.write("version: 1\nbuckets:\n  names: [\"team-a-*\"]\n");
    w.signal("-HUP");
    until(LIMIT, "refused under the new policy", || {
        w.get("/readyz").0 == 503
    })
    .await;
    let (_, body) = w.get("/readyz");
    assert!(body.starts_with("not ready: policy: "), "{body}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(s.emu.stats().mutating, 0, "{}", w.log());
    assert!(buckets(&s).await.is_empty());
    let st = status(&w);
    assert_ne!(st["policy"]["sha256"], permissive);
    assert!(st["policy"]["reload_error"].is_null(), "{st}");
}
