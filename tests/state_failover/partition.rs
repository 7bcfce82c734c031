//! A partition between a runner and the state bucket, and a pending record refused by a 412.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::output::{run, text};
use common::until;
use serde_json::json;

use crate::common;
use crate::{BEFORE, CALLS, KEY, World, before_after, mutating_routes};

/// A TCP proxy in front of the emulator's S3 listener that, once blocked, forwards nothing
/// more in either direction and holds new connections: packets swallowed, not refused.
struct Partition {
    url: String,
    blocked: Arc<AtomicBool>,
}

impl Partition {
    async fn start(upstream: &str) -> Partition {
        let target = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let blocked = Arc::new(AtomicBool::new(false));
        let b = blocked.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (b, target) = (b.clone(), target.clone());
                tokio::spawn(async move {
                    while b.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, b.clone()), pipe(sr, cw, b));
                });
            }
        });
        Partition { url, blocked }
    }

    fn block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    blocked: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while blocked.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_state_never_overwrites_the_new_leaders_output() {
    let w = before_after().await;
    let proxy = Partition::start(&w.sb.emu.s3_urls()["eu"]).await;
    // The leader holds the answer to its token create (call 6) when the partition starts.
    w.sb.emu.hold_after_mutating(6);
    let mut leader = w.daemon(Some(&proxy.url));
    until(
        Duration::from_secs(60),
        "the leader reaches its token create",
        || async { w.sb.emu.holding() },
    )
    .await;
    let standby = w.daemon(None);
    proxy.block();
    until(
        Duration::from_secs(60),
        "the standby takes the lease over and converges",
        || async { standby.metric("r2gitops_leader ") == 1.0 && standby.successes() >= 1.0 },
    )
    .await;
    let theirs = w
        .file("fresh.env.age")
        .expect("the new leader delivered fresh");
    let inv = w.inventory();
    // The first apply held epoch 1, the old leader 2.
    assert_eq!(inv["epoch"], 3, "the new leader writes at epoch 3");

    // The old leader's create answers now: its value must go nowhere.
    w.sb.emu.release();
    until(
        Duration::from_secs(30),
        "the old leader's pass ends",
        || async { leader.log().contains("result=\"failure\"") },
    )
    .await;
    assert_eq!(
        w.file("fresh.env.age").as_deref(),
        Some(theirs.as_slice()),
        "the new leader's output stands"
    );
    assert_eq!(
        w.inventory(),
        inv,
        "the old leader wrote nothing to the state"
    );
    w.one_token_per_name("after the partition");
    w.outputs_work("after the partition");
    assert!(
        leader.log().contains("so its output was not written"),
        "the old leader says why its create failed"
    );
    leader.signal("-KILL");
    let _ = leader.wait_exit(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_apply_cut_off_from_the_state_starts_no_step_once_its_lease_lapses() {
    let w = before_after().await;
    let proxy = Partition::start(&w.sb.emu.s3_urls()["eu"]).await;
    // Held on its configuration write (call 2), after which no inventory is saved: only
    // the lease's own standing can stop the token delete that comes next.
    w.sb.emu.hold_after_mutating(2);
    let mut cmd = w.cmd(
        &["reconcile", "--concurrency", "1", "--lease-ttl", "3s"],
        Some(&proxy.url),
    );
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until(
        Duration::from_secs(60),
        "the apply reaches call 2",
        || async { w.sb.emu.holding() },
    )
    .await;
    proxy.block();
    // Past the lease's TTL: its renewals hang in the partition.
    tokio::time::sleep(Duration::from_secs(4)).await;
    w.sb.emu.release();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    eprintln!("{}", text(&out));
    assert!(!out.status.success(), "the apply reports the lost lease");
    assert_eq!(
        mutating_routes(&w),
        vec![CALLS[0].0, CALLS[1].0],
        "no step started after the lease lapsed:\n{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_pending_record_is_refused_by_a_412_is_not_created() {
    let w = World::new().await;
    w.sb.write(BEFORE);
    let first = run(w.cmd(&["reconcile"], None));
    assert!(first.status.success(), "{}", text(&first));
    // Only a configuration write (no inventory save after it), then a token create, whose
    // pending record is the next save.
    w.sb.write(&BEFORE.replace(
        "  - { name: media }\n",
        "  - name: media\n    cors: [{ allowed_origins: [\"https://app.example.com\"], allowed_methods: [GET] }]\n",
    ).replace(
        "tokens:\n",
        "tokens:\n  - { name: fresh, access: object-read, buckets: [media], output: { file: fresh.env.age, format: env } }\n",
    ));
    w.sb.emu.reset_stats();
    w.sb.emu.hold_after_mutating(1);
    let mut cmd = w.cmd(&["reconcile", "--concurrency", "1"], None);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until(
        Duration::from_secs(60),
        "the apply reaches its CORS write",
        || async { w.sb.emu.holding() },
    )
    .await;
    // Another writer rewrites the inventory object meanwhile: its ETag changes.
    let got = w.s3(json!([{"op": "get", "key": KEY}]));
    let body = format!("{}\n", got[0]["body"].as_str().unwrap().trim_end());
    let put = w.s3(json!([{"op": "put", "key": KEY, "body": format!("{body} ")}]));
    assert_eq!(put[0]["ok"], true);
    w.sb.emu.release();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    eprintln!("{}", text(&out));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("412"),
        "the conflict is named:\n{}",
        text(&out)
    );
    assert_eq!(
        mutating_routes(&w),
        vec![CALLS[1].0],
        "no token was created"
    );
    assert!(w.managed().iter().all(|(n, _)| n != "fresh"));
}
