//! Self-verifying writes against the emulator in each live-API world it can
//! show: whichever IP-condition key Cloudflare keeps, whether removed fields stick, tokens
//! revoked as exposed, expiry while the daemon runs, bucket names unique per account, and
//! a refused storage-class change. Results are read from the emulator's own state, never
//! through the product; credentials are proven with the age CLI and boto3.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cf_emulator::{Behaviour, ConditionKey, TokenView};
use r2gitops::cloudflare::WriteApi;
use r2gitops::config::{Jurisdiction, StorageClass};
use r2gitops::reconcile;
use r2gitops::secrets::S3Endpoints;
use serde_json::json;

struct World(common::Sandbox);

impl std::ops::Deref for World {
    type Target = common::Sandbox;
    fn deref(&self) -> &common::Sandbox {
        &self.0
    }
}

impl World {
    async fn new(behaviour: Behaviour) -> World {
        World(common::Sandbox::with_behaviour(behaviour).await)
    }

    fn endpoints(&self) -> S3Endpoints {
        S3Endpoints::from_args(&self.s3_pairs(), None).unwrap()
    }

    /// One full pass through the library (the code path the CLI and the daemon share).
    async fn pass(&self) -> (r2gitops::plan::Plan, r2gitops::apply::Report) {
        let desired =
            reconcile::load_desired(&self.file(), None, r2gitops::config::AdoptRolls::Refused)
                .unwrap();
        let client = common::admin_client(&self.emu).await;
        common::library_pass(&desired, client, &self.endpoints()).await
    }

    /// The real binary (blocking: call from spawn_blocking).
    fn cli(&self, args: &[&str]) -> Output {
        let out = self.r2gitops(args).output().unwrap();
        eprintln!(
            "r2gitops {args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    async fn run(self: &Arc<Self>, args: &'static [&'static str]) -> Output {
        let w = self.clone();
        tokio::task::spawn_blocking(move || w.cli(args))
            .await
            .unwrap()
    }

    /// Tokens of this name as the emulator stores them (expired and revoked included).
    fn stored(&self, name: &str) -> Vec<TokenView> {
        self.emu
            .tokens()
            .into_iter()
            .filter(|t| t.name == name)
            .collect()
    }

    /// Decrypt an env output with the age CLI and put then get an object with boto3.
    fn prove_env_output(&self, file: &str, bucket: &str, key: &str) {
        let plain = common::age_decrypt(&self.identity, &self.out().join(file));
        let vars = common::env_vars(&plain);
        let op = |op: &str| {
            json!({
                "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": vars["AWS_ACCESS_KEY_ID"],
                "secret": vars["AWS_SECRET_ACCESS_KEY"], "op": op, "bucket": bucket,
                "key": key, "body": "read back",
            })
        };
        let results = common::s3_ops(&json!([op("put"), op("get")]));
        assert_eq!(results[0]["ok"], true, "put: {results}");
        assert_eq!(results[1]["body"], "read back", "get: {results}");
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn with_ip(ip: &str) -> String {
    format!(
        r#"
version: 1
settings: {{ recipients: ["{{recipient}}"] }}
buckets: [{{ name: media }}]
tokens:
  - name: reader
    access: object-read-write
    buckets: [media]
    output: {{ file: reader.env.age, format: env }}
{ip}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_rules_end_exactly_as_declared_in_every_condition_key_mode_and_with_sticky_fields() {
    for sticky in [false, true] {
        for key in [
            ConditionKey::RequestIp,
            ConditionKey::RequestDotIp,
            ConditionKey::Both,
        ] {
            let world = format!("condition key {key:?}, sticky fields {sticky}");
            let w = World::new(Behaviour {
                condition_key: key,
                sticky_token_fields: sticky,
                ..Behaviour::default()
            })
            .await;
            let check = |allow: &[&str], deny: &[&str], when: &str| {
                let tokens = w.stored("r2gitops:reader");
                assert_eq!(tokens.len(), 1, "{world}, {when}: {tokens:?}");
                assert_eq!(
                    (tokens[0].allow_ips.clone(), tokens[0].deny_ips.clone()),
                    (
                        allow.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                        deny.iter().map(|s| s.to_string()).collect::<Vec<_>>()
                    ),
                    "{world}, {when}"
                );
            };

            w.write(&with_ip(
                "    ip: { allow: [10.0.0.0/8, 192.0.2.0/24], deny: [10.0.0.7/32] }\n",
            ));
            let (_, report) = w.pass().await;
            assert!(!report.has_errors(), "{world}: {}", report.text());
            check(
                &["10.0.0.0/8", "192.0.2.0/24"],
                &["10.0.0.7/32"],
                "after creation",
            );

            w.write(&with_ip("    ip: { allow: [198.51.100.0/24] }\n"));
            let (_, report) = w.pass().await;
            assert!(!report.has_errors(), "{world}: {}", report.text());
            check(&["198.51.100.0/24"], &[], "after a change");

            w.write(&with_ip(""));
            let (plan, report) = w.pass().await;
            assert!(!report.has_errors(), "{world}: {}", report.text());
            check(&[], &[], "after the rules were removed from the file");
            let outcome = report.steps[0].outcome.as_str();
            assert_eq!(
                outcome,
                if sticky { "replaced" } else { "done" },
                "{world}: {:?}",
                plan.steps
            );

            w.emu.reset_stats();
            let (plan, _) = w.pass().await;
            assert!(plan.steps.is_empty(), "{world}: {:?}", plan.steps);
            assert_eq!(w.emu.stats().mutating, 0, "{world}: converged");
            // The file in the consumers' hands works, whichever token now serves it.
            w.prove_env_output("reader.env.age", "media", "ip.txt");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_condition_key_is_learned_once_and_never_shown_in_the_plan() {
    let w = Arc::new(
        World::new(Behaviour {
            condition_key: ConditionKey::RequestDotIp,
            ..Behaviour::default()
        })
        .await,
    );
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }]
tokens:
  - { name: a, access: object-read, buckets: [media], ip: { allow: [10.0.0.0/8] }, output: { file: a.env.age, format: env } }
  - { name: b, access: object-read, buckets: [media], ip: { allow: [10.1.0.0/16] }, output: { file: b.env.age, format: env } }
  - { name: c, access: object-read, buckets: [media], ip: { allow: [10.2.0.0/16] }, output: { file: c.env.age, format: env } }
"#,
    );
    let dry = w.run(&["reconcile", "--dry-run"]).await;
    assert!(!stdout(&dry).contains("request"), "{}", stdout(&dry));
    let out = {
        let w = w.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = w.r2gitops(&["reconcile", "--concurrency", "1", "--output", "json"]);
            cmd.env("RUST_LOG", "r2gitops=debug").output().unwrap()
        })
        .await
        .unwrap()
    };
    assert_eq!(out.status.code(), Some(0));
    assert!(!stdout(&out).contains("request_ip") && !stdout(&out).contains("request.ip"));
    let log = String::from_utf8_lossy(&out.stderr);
    // Internal detail: at debug, once.
    assert!(
        log.lines()
            .filter(|l| l.contains("Cloudflare keeps token IP conditions"))
            .all(|l| l.contains("DEBUG")),
        "{log}"
    );
    assert_eq!(
        log.matches("Cloudflare keeps token IP conditions under 'request.ip'")
            .count(),
        1,
        "{log}"
    );
    for (name, cidr) in [
        ("a", "10.0.0.0/8"),
        ("b", "10.1.0.0/16"),
        ("c", "10.2.0.0/16"),
    ] {
        let t = w.stored(&format!("r2gitops:{name}"));
        assert_eq!(t.len(), 1, "{name}: the dropped first try was deleted");
        assert_eq!(t[0].allow_ips, [cidr]);
    }
    // One wasted create and delete at most: the first try of the first token.
    let stats = w.emu.stats();
    assert_eq!(stats.by_route["POST /accounts/:id/tokens"], 4, "{stats:?}");
    assert_eq!(stats.by_route["DELETE /accounts/:id/tokens/:token_id"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_ip_rules_cloudflare_drops_is_deleted_at_once_and_never_written() {
    let w = Arc::new(
        World::new(Behaviour {
            condition_key: ConditionKey::None,
            ..Behaviour::default()
        })
        .await,
    );
    w.write(&with_ip("    ip: { allow: [10.0.0.0/8] }\n"));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "a loud failure");
    let text = stdout(&out);
    assert!(
        text.contains("Cloudflare did not store the IP condition of token reader (sent request_ip and request.ip allow 10.0.0.0/8, read back none)"),
        "{text}"
    );
    assert!(
        text.contains("was deleted at once and its value never written"),
        "{text}"
    );
    assert!(
        w.stored("r2gitops:reader").is_empty(),
        "no token less restricted than declared survives"
    );
    assert!(!w.out().join("reader.env.age").exists());
    assert_eq!(
        w.emu.bucket_names("default"),
        ["media"],
        "other steps went on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_as_exposed_is_replaced_and_the_consumers_new_file_works() {
    let w = Arc::new(World::new(Behaviour::default()).await);
    w.write(&with_ip(""));
    let (_, report) = w.pass().await;
    assert!(!report.has_errors(), "{}", report.text());
    let old = w.stored("r2gitops:reader")[0].id.clone();
    assert!(w.emu.revoke_exposed(&old));

    let dry = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(dry.status.code(), Some(2));
    assert!(
        stdout(&dry).contains("± replace token reader: Cloudflare revoked it as exposed"),
        "{}",
        stdout(&dry)
    );
    assert!(stdout(&dry).contains("1 to replace"), "{}", stdout(&dry));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0));

    let tokens = w.stored("r2gitops:reader");
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_ne!(tokens[0].id, old, "the revoked token is gone");
    assert_eq!(tokens[0].status, "active");
    w.prove_env_output("reader.env.age", "media", "after-revocation.txt");
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_while_the_daemon_runs_is_never_duplicated() {
    let w = World::new(Behaviour::default()).await;
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(5);
    let expires = expires
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    w.write(&with_ip(&format!("    expires_on: {expires}\n")));
    let mut child = w
        .r2gitops(&[
            "watch",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1s",
            "--debounce",
            "100ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("daemon: {line}");
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    let passes = || {
        log.lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains(" pass ") && l.contains("result="))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.stored("r2gitops:reader").is_empty() {
        assert!(Instant::now() < deadline, "never created");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while w.stored("r2gitops:reader")[0].status != "expired" {
        assert!(Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expired_at = passes();
    while passes() < expired_at + 3 {
        assert!(
            Instant::now() < deadline,
            "fewer than 3 passes after expiry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let tokens = w.stored("r2gitops:reader");
    assert_eq!(tokens.len(), 1, "never duplicated: {tokens:?}");
    assert_eq!(tokens[0].status, "expired");
    let text = log.lock().unwrap().clone();
    let last = text
        .lines()
        .rev()
        .find(|l| l.contains(" pass ") && l.contains("result="))
        .unwrap();
    assert!(
        last.contains("create=0") && last.contains("blocked=1"),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_name_taken_in_another_jurisdiction_fails_its_step_and_the_rest_go_on() {
    let w = Arc::new(
        World::new(Behaviour {
            global_bucket_names: true,
            ..Behaviour::default()
        })
        .await,
    );
    common::admin_client(&w.emu)
        .await
        .into_writer()
        .create_bucket(Jurisdiction::Eu, "media", None, StorageClass::Standard)
        .await
        .unwrap();
    w.write(
        r#"
version: 1
settings: { recipients: ["{recipient}"] }
buckets: [{ name: media }, { name: logs }]
tokens:
  - { name: logger, access: object-read-write, buckets: [logs], output: { file: logger.env.age, format: env } }
"#,
    );
    for _ in 0..2 {
        let out = w.run(&["reconcile"]).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stdout(&out).contains("bucket name media is taken (another jurisdiction or another account); R2 names are unique per account"),
            "{}",
            stdout(&out)
        );
    }
    assert_eq!(w.emu.bucket_names("default"), ["logs"], "never adopted");
    assert_eq!(w.stored("r2gitops:logger").len(), 1);
    w.prove_env_output("logger.env.age", "logs", "x.txt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_storage_class_change_is_blocked_and_not_asked_again() {
    let w = Arc::new(
        World::new(Behaviour {
            storage_class_patch: Some(405),
            ..Behaviour::default()
        })
        .await,
    );
    let file = |class: &str| {
        format!(
            "version: 1\nsettings: {{ recipients: [\"{{recipient}}\"] }}\nbuckets: [{{ name: cold, storage_class: {class} }}]\n"
        )
    };
    w.write(&file("Standard"));
    w.pass().await;
    w.write(&file("InfrequentAccess"));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "blocked, not failed");
    assert!(
        stdout(&out).contains("[blocked] ~ update bucket cold: storage class Standard -> InfrequentAccess: Cloudflare refused to change the storage class (HTTP 405, code 7001: Method not allowed); not asked again for 24h"),
        "{}",
        stdout(&out)
    );
    w.emu.reset_stats();
    let again = w.run(&["reconcile"]).await;
    assert!(
        stdout(&again).contains("! blocked bucket cold: Cloudflare refused to change the storage class to InfrequentAccess (HTTP 405, code 7001: Method not allowed)"),
        "{}",
        stdout(&again)
    );
    assert_eq!(w.emu.stats().mutating, 0, "not retried every pass");
}
