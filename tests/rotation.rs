//! Rotation with overlap through the binary against the emulator (its token propagation
//! delay on): a consumer reading with the old file's credentials keeps working through the
//! overlap, the new file works on its first request, the old key fails after `retire_at`
//! and one token remains; with `rotation_overlap: 0` the same consumer is cut off. A new
//! key that does not propagate within `readiness_timeout` is deleted and nothing else
//! changes.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Sandbox;
use r2gitops::cloudflare::ReadApi;
use r2gitops::config::Owner;
use r2gitops::secret::S3Secret;
use r2gitops::secrets::S3Credentials;
use r2gitops::secrets::probe::list_objects_request;

const NAME: &str = "r2gitops:reader";

fn file(overlap: &str, settings: &str) -> String {
    format!(
        "version: 1\nsettings:\n  recipients: [\"{{recipient}}\"]\n{settings}buckets:\n  - name: media\ntokens:\n  - name: reader\n    access: object-read\n    buckets: [media]\n    rotate_every: 1h\n    rotation_overlap: {overlap}\n    output: {{ file: reader.env.age, format: env }}\n"
    )
}

async fn sandbox(delay: Duration) -> Sandbox {
    Sandbox::with_behaviour(cf_emulator::Behaviour {
        propagation_delay: Some(delay),
        ..Default::default()
    })
    .await
}

/// The credentials the output holds, as a consumer reads them.
fn credentials(sb: &Sandbox) -> S3Credentials {
    let plain = common::age_decrypt(&sb.identity, &sb.out().join("reader.env.age"));
    let vars = common::env_vars(&plain);
    S3Credentials {
        access_key_id: vars["AWS_ACCESS_KEY_ID"].clone(),
        secret_access_key: S3Secret::new(vars["AWS_SECRET_ACCESS_KEY"].clone()),
        endpoint: vars["AWS_ENDPOINT_URL"].clone(),
        region: "auto",
    }
}

/// One signed ListObjectsV2 on `media` with `creds`: the HTTP status.
async fn read(creds: &S3Credentials) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let amz = r2gitops::secrets::sigv4::amz_date(time::OffsetDateTime::now_utc());
    let (url, headers) = list_objects_request(creds, "media", &amz).unwrap();
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

async fn tokens(sb: &Sandbox) -> Vec<String> {
    common::admin_client(&sb.emu)
        .await
        .list_tokens(Owner::Account)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.name == NAME)
        .map(|t| t.id)
        .collect()
}

fn reconcile(sb: &Sandbox) -> std::process::Output {
    sb.r2gitops(&["reconcile"]).output().unwrap()
}

/// Move the inventory's record of `reader` two hours back, so that `rotate_every: 1h`
/// has elapsed (the clock the daemon reads is the real one).
fn backdate(state: &Path) {
    let text = std::fs::read_to_string(state).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let then = time::OffsetDateTime::now_utc() - Duration::from_secs(7200);
    v["tokens"]["reader"]["created_at"] = serde_json::json!(
        then.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    std::fs::write(state, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// Set up `reader`, wait until its first key works, make its rotation due and start the
/// daemon. Returns the daemon and the old credentials.
async fn due(sb: &Sandbox, overlap: &str) -> (common::Watch, S3Credentials) {
    sb.write(&file(overlap, ""));
    let out = reconcile(sb);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let old = credentials(sb);
    common::until(
        Duration::from_secs(15),
        "the first key propagates",
        || async { read(&old).await == 200 },
    )
    .await;
    backdate(&sb.out().join(".r2gitops-state.json"));
    // A long interval: the rotation is the start pass's, the retirement its own trigger's.
    let d = common::Watch::start(sb.r2gitops(&[
        "watch",
        "--interval",
        "10m",
        "--listen",
        "127.0.0.1:0",
    ]));
    (d, old)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_of_the_old_file_keeps_working_through_the_overlap_and_the_new_file_works_at_once()
 {
    let sb = sandbox(Duration::from_secs(3)).await;
    let (d, old) = due(&sb, "20s").await;
    let old_id = old.access_key_id.clone();

    // Once a second with the old file's credentials, until the output changes.
    let started = Instant::now();
    let mut old_failures = Vec::new();
    let new = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no rotation:\n{}",
            d.log()
        );
        let status = read(&old).await;
        if status != 200 {
            old_failures.push(status);
        }
        let now = credentials(&sb);
        if now.access_key_id != old_id {
            break now;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    // The new file's credentials were proven before they were written.
    assert_eq!(read(&new).await, 200, "the new key on its first request");
    assert_eq!(
        tokens(&sb).await.len(),
        2,
        "both keys live through the overlap"
    );
    let (code, status) = d.get("/status");
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["retiring"][0]["id"], old_id.as_str(), "{status}");
    assert!(status["retiring"][0]["retire_at"].is_string(), "{status}");
    assert_eq!(d.metric("r2gitops_tokens_retiring"), 1.0);
    // Proven after the emulator's 3 s propagation delay.
    assert_eq!(d.metric("r2gitops_rotation_readiness_seconds_count"), 1.0);
    assert!(d.metric("r2gitops_rotation_readiness_seconds_sum") >= 2.5);

    // The old key keeps working until retire_at, then fails; one token remains.
    let rotated = Instant::now();
    let mut retired_after = None;
    while rotated.elapsed() < Duration::from_secs(45) {
        let status = read(&old).await;
        if status == 200 {
            assert!(retired_after.is_none(), "the old key came back");
        } else if retired_after.is_none() {
            retired_after = Some(rotated.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let retired_after =
        retired_after.unwrap_or_else(|| panic!("the old key was never retired:\n{}", d.log()));
    assert!(
        old_failures.is_empty(),
        "the old key failed before the overlap ended: {old_failures:?}"
    );
    assert!(
        retired_after >= Duration::from_secs(18),
        "retired {retired_after:?} after the new output, before the 20s overlap ended"
    );
    assert_eq!(read(&new).await, 200);
    common::until(Duration::from_secs(10), "one token left", || async {
        tokens(&sb).await == [new.access_key_id.clone()]
    })
    .await;
    assert!(
        d.log().contains("trigger=\"retirement\""),
        "retired by its own trigger, not the 10m interval:\n{}",
        d.log()
    );
    common::until(Duration::from_secs(5), "no key retiring", || async {
        d.metric("r2gitops_tokens_retiring") == 0.0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_rotation_overlap_0_the_same_consumer_is_cut_off() {
    let sb = sandbox(Duration::from_secs(3)).await;
    let (d, old) = due(&sb, "0").await;
    let first = std::fs::read(sb.out().join("reader.env.age")).unwrap();
    let started = Instant::now();
    let mut failures = 0;
    while started.elapsed() < Duration::from_secs(40) {
        if read(&old).await != 200 {
            failures += 1;
        }
        let changed = std::fs::read(sb.out().join("reader.env.age")).unwrap() != first;
        if changed && failures > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        failures > 0,
        "a roll in place cuts the old secret off:\n{}",
        d.log()
    );
    // A roll keeps the key id: one token, and the old file's secret is dead.
    assert_eq!(tokens(&sb).await, std::slice::from_ref(&old.access_key_id));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_key_not_ready_within_readiness_timeout_is_deleted_and_the_old_one_and_the_file_are_untouched()
 {
    let sb = sandbox(Duration::from_secs(10)).await;
    sb.write(&file("30m", "  readiness_timeout: 3s\n"));
    let out = reconcile(&sb);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let before = std::fs::read(sb.out().join("reader.env.age")).unwrap();
    let old = credentials(&sb);
    backdate(&sb.out().join(".r2gitops-state.json"));

    let started = Instant::now();
    let out = reconcile(&sb);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stdout.contains("± rotate token reader: rotate_every 1h elapsed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("was not ready: ListObjectsV2 on bucket 'media' did not succeed within 3s"),
        "{stdout}"
    );
    assert!(stdout.contains("InvalidAccessKeyId (HTTP 403)"), "{stdout}");
    assert_eq!(
        std::fs::read(sb.out().join("reader.env.age")).unwrap(),
        before
    );
    assert_eq!(tokens(&sb).await, std::slice::from_ref(&old.access_key_id));

    // Given time, the same rotation passes once the key has propagated (about 10 s).
    sb.write(&file("30m", "  readiness_timeout: 30s\n"));
    let started = Instant::now();
    let out = reconcile(&sb);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(25),
        "{took:?}"
    );
    let new = credentials(&sb);
    assert_ne!(new.access_key_id, old.access_key_id);
    assert_eq!(read(&new).await, 200);
    assert_eq!(
        read(&old).await,
        200,
        "the old key works through its overlap"
    );
    assert_eq!(tokens(&sb).await.len(), 2);
}

/// With the defaults (`--interval 10m`, `token_watch: 1m`), a token Cloudflare revokes as
/// exposed is replaced within one token watch: a working file within `token_watch` + 5 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_revoked_as_exposed_is_replaced_within_one_token_watch() {
    let sb = sandbox(Duration::from_millis(500)).await;
    sb.write(&file("30m", ""));
    assert!(reconcile(&sb).status.success());
    let old = credentials(&sb);
    common::until(
        Duration::from_secs(10),
        "the first key propagates",
        || async { read(&old).await == 200 },
    )
    .await;
    let d = common::Watch::start(sb.r2gitops(&["watch", "--listen", "127.0.0.1:0"]));
    common::until(Duration::from_secs(30), "the start pass", || async {
        d.successes() >= 1.0
    })
    .await;

    assert!(sb.emu.revoke_exposed(&old.access_key_id));
    let revoked = Instant::now();
    let new = loop {
        assert!(
            revoked.elapsed() < Duration::from_secs(65),
            "no working replacement within token_watch + 5 s:\n{}",
            d.log()
        );
        let now = credentials(&sb);
        if now.access_key_id != old.access_key_id && read(&now).await == 200 {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_ne!(read(&old).await, 200, "the exposed key is dead");
    assert_eq!(tokens(&sb).await, std::slice::from_ref(&new.access_key_id));
    assert!(d.log().contains("trigger=\"token watch\""), "{}", d.log());
    assert_eq!(d.metric("r2gitops_exposure_to_delivery_seconds_count"), 1.0);
    let (_, status) = d.get("/status");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["token_watch"]["interval_seconds"], 60, "{status}");
    assert_eq!(status["token_watch"]["stretched"], false, "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn r2gitops_rotate_rotates_one_token_now_and_revoke_old_deletes_the_old_key_once_delivered() {
    let sb = sandbox(Duration::from_millis(500)).await;
    sb.write(&file("30m", ""));
    assert!(reconcile(&sb).status.success());
    let first = credentials(&sb);

    // Nothing is due: `rotate` plans the rotation anyway, and nothing else.
    let dry = sb
        .r2gitops(&["rotate", "reader", "--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "± rotate token reader: rotation requested (r2gitops rotate); new key issued, old key {} retired after 30m overlap",
            &first.access_key_id[..8]
        )),
        "{text}"
    );
    assert_eq!(
        tokens(&sb).await,
        std::slice::from_ref(&first.access_key_id)
    );

    let out = sb.r2gitops(&["rotate", "reader"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let second = credentials(&sb);
    assert_ne!(second.access_key_id, first.access_key_id);
    assert_eq!(read(&second).await, 200);
    assert_eq!(
        read(&first).await,
        200,
        "the old key works through the overlap"
    );
    assert_eq!(tokens(&sb).await.len(), 2);

    // A leaked secret: the old key goes as soon as the new one is delivered.
    let out = sb
        .r2gitops(&["rotate", "reader", "--revoke-old"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("deleted once the new output is written (--revoke-old)"),
        "{text}"
    );
    let third = credentials(&sb);
    assert_eq!(read(&third).await, 200);
    assert_ne!(read(&second).await, 200, "revoked at once");
    // The first rotation's old key is still in its overlap.
    let mut left = tokens(&sb).await;
    left.sort();
    let mut want = vec![first.access_key_id.clone(), third.access_key_id.clone()];
    want.sort();
    assert_eq!(left, want);

    let out = sb.r2gitops(&["rotate", "nobody"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no token named 'nobody' is declared"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
