//! Bucket configuration end to end: the real binary against the emulator, the
//! emulator's state read directly. All four blocks set, then a second pass with no mutating
//! call; drift repaired; `[]` clears; an absent key leaves out-of-band rules alone; the
//! default-rule plan line; lock loosening refused without prune; an EU bucket; a preflight
//! through the S3 endpoint with curl honours the rules; a locked object cannot be deleted
//! with boto3; the daemon reads configuration once, and again only for what changed. The
//! emulator shows the post-create lag throughout (a new bucket's sub-resources answer
//! NoSuchBucket for a while, as the live API's do); a bucket created in the pass gets its
//! configuration through it.

mod common;

use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use r2gitops::cloudflare::WriteApi;
use r2gitops::config::Jurisdiction;
use r2gitops::observed::bucket_config::{ConfigValue, CorsRule};
use r2gitops::plan::ConfigWrite;
use serde_json::{Value, json};

struct World(common::Sandbox);

impl std::ops::Deref for World {
    type Target = common::Sandbox;
    fn deref(&self) -> &common::Sandbox {
        &self.0
    }
}

/// How long a new bucket's sub-resources do not know it in these tests.
const POST_CREATE_LAG: Duration = Duration::from_millis(1000);

impl World {
    /// A sandbox whose emulator shows the post-create lag.
    async fn new() -> Arc<World> {
        Arc::new(World(
            common::Sandbox::with_behaviour(cf_emulator::Behaviour {
                post_create_lag: Some(POST_CREATE_LAG),
                ..cf_emulator::Behaviour::default()
            })
            .await,
        ))
    }

    /// The real binary (off the runtime's workers: it blocks).
    async fn run(self: &Arc<Self>, args: &[&str]) -> Output {
        let w = self.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = w.r2gitops(&args).output().unwrap();
            eprintln!(
                "r2gitops {args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            out
        })
        .await
        .unwrap()
    }

    fn config(&self, j: &str, bucket: &str) -> Value {
        self.emu
            .bucket_config(j, bucket)
            .expect("the bucket exists")
    }

    /// Calls to a route template since the last reset.
    fn calls(&self, route: &str) -> u64 {
        self.emu.stats().by_route.get(route).copied().unwrap_or(0)
    }

    /// Change a bucket's configuration out of band, as a person with wrangler would.
    async fn out_of_band(&self, j: Jurisdiction, bucket: &str, write: ConfigWrite) {
        common::admin_client(&self.emu)
            .await
            .into_writer()
            .write_config(j, bucket, &write)
            .await
            .unwrap();
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ALL_FOUR: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: media
    cors:
      - id: web
        allowed_origins: [https://app.example.com]
        allowed_methods: [GET, HEAD, PUT]
        allowed_headers: [content-type]
        expose_headers: [etag]
        max_age: 1h
    lifecycle:
      - id: expire-tmp
        prefix: tmp/
        expire_after: 7d
        transition_to_infrequent_access_after: 2d
      - { id: "Default Multipart Abort Rule", abort_multipart_after: 7d }
    lock:
      - id: contracts
        prefix: contracts/
        retain_for: 365d
    public_dev_url: true
"#;

const GET_CORS: &str = "GET /accounts/:id/r2/buckets/:name/cors";
const PUT_CORS: &str = "PUT /accounts/:id/r2/buckets/:name/cors";
const DELETE_CORS: &str = "DELETE /accounts/:id/r2/buckets/:name/cors";
const PUT_LIFECYCLE: &str = "PUT /accounts/:id/r2/buckets/:name/lifecycle";
const PUT_LOCK: &str = "PUT /accounts/:id/r2/buckets/:name/lock";
const PUT_MANAGED: &str = "PUT /accounts/:id/r2/buckets/:name/domains/managed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_are_set_a_second_pass_changes_nothing_and_drift_is_repaired() {
    let w = World::new().await;
    w.write(ALL_FOUR);
    let apply = w.run(&["reconcile"]).await;
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    let text = stdout(&apply);
    for line in [
        "+ create bucket media (default)",
        "~ update bucket media: cors +web",
        "~ update bucket media: lifecycle +expire-tmp",
        "~ update bucket media: lock +contracts",
        "~ update bucket media: public_dev_url false→true (bucket becomes public at its r2.dev address)",
        "Apply complete: 5 done, 0 failed",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let c = w.config("default", "media");
    assert_eq!(
        c["cors"],
        json!([{"id":"web","allowed":{"origins":["https://app.example.com"],"methods":["GET","HEAD","PUT"],"headers":["content-type"]},"exposeHeaders":["etag"],"maxAgeSeconds":3600}])
    );
    assert_eq!(c["lifecycle"][0]["id"], "expire-tmp");
    assert_eq!(
        c["lifecycle"][0]["deleteObjectsTransition"]["condition"],
        json!({"type": "Age", "maxAge": 604800}),
        "ages are sent in seconds"
    );
    assert_eq!(c["lifecycle"][1]["id"], "Default Multipart Abort Rule");
    assert_eq!(
        c["lock"],
        json!([{"id":"contracts","enabled":true,"prefix":"contracts/","condition":{"type":"Age","maxAgeSeconds":31536000}}])
    );
    assert_eq!(c["public_dev_url"], true);

    // Converged: one GET per declared sub-resource, nothing else.
    w.emu.reset_stats();
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("No changes. 1 unchanged."));
    let again = w.run(&["reconcile"]).await;
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        w.emu.stats().mutating,
        0,
        "a converged pass makes no mutating call"
    );
    assert_eq!(w.calls(GET_CORS), 2, "one read per pass");

    // Drift: a rule changed out of band, r2.dev switched off.
    w.out_of_band(
        Jurisdiction::Default,
        "media",
        ConfigWrite::Put(ConfigValue::Cors(vec![CorsRule::new(
            Some("web".into()),
            ["https://evil.example"],
            ["GET"],
            [],
            [],
            None,
        )])),
    )
    .await;
    w.out_of_band(
        Jurisdiction::Default,
        "media",
        ConfigWrite::Put(ConfigValue::PublicDevUrl(
            r2gitops::observed::bucket_config::ManagedDomain {
                enabled: false,
                domain: None,
            },
        )),
    )
    .await;
    let domain = c["domain"].as_str().unwrap();
    let repair = w.run(&["reconcile"]).await;
    assert_eq!(repair.status.code(), Some(0));
    let text = stdout(&repair);
    assert!(text.contains("~ update bucket media: cors ~web"), "{text}");
    assert!(
        text.contains(&format!(
            "~ update bucket media: public_dev_url false→true (bucket becomes public at https://{domain})"
        )),
        "{text}"
    );
    let repaired = w.config("default", "media");
    assert_eq!(repaired["cors"], c["cors"]);
    assert_eq!(repaired["public_dev_url"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_of_a_bucket_created_this_pass_survives_the_post_create_lag() {
    let w = World::new().await;
    w.write(ALL_FOUR);
    let apply = w.run(&["reconcile"]).await;
    assert_eq!(apply.status.code(), Some(0), "{}", stdout(&apply));
    assert!(
        stdout(&apply).contains("Apply complete: 5 done, 0 failed"),
        "{}",
        stdout(&apply)
    );
    // Every kind's write met the lag (404 / 10006) before it went through.
    let stats = w.emu.stats();
    for route in [PUT_CORS, PUT_LIFECYCLE, PUT_LOCK, PUT_MANAGED] {
        let answers: Vec<u16> = stats
            .calls
            .iter()
            .filter(|c| c.route == route)
            .map(|c| c.status)
            .collect();
        assert!(
            answers.first() == Some(&404) && answers.last() == Some(&200),
            "{route}: {answers:?}"
        );
    }
    let c = w.config("default", "media");
    assert_eq!(c["cors"][0]["id"], "web");
    assert_eq!(c["lifecycle"][0]["id"], "expire-tmp");
    assert_eq!(c["lock"][0]["id"], "contracts");
    assert_eq!(c["public_dev_url"], true);
    let again = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_list_clears_and_an_absent_key_leaves_out_of_band_rules_alone() {
    let w = World::new().await;
    w.write(ALL_FOUR);
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));

    // Removing the keys stops management: nothing is read or written.
    w.write("version: 1\nsettings:\n  recipients: [\"{recipient}\"]\nbuckets:\n  - name: media\n");
    let before = w.config("default", "media");
    w.emu.reset_stats();
    let out = w
        .run(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    assert_eq!(
        w.config("default", "media"),
        before,
        "rules left as they were"
    );
    assert_eq!(
        w.emu
            .stats()
            .by_route
            .keys()
            .filter(|r| r.contains("/buckets/:name/"))
            .count(),
        0,
        "an undeclared sub-resource is never read"
    );

    // `[]` clears: the CORS policy is deleted, the lock set emptied.
    w.write(
        "version: 1\nsettings:\n  recipients: [\"{recipient}\"]\n  prune: true\nbuckets:\n  - name: media\n    cors: []\n    lock: []\n",
    );
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("~ update bucket media: cors -web"));
    assert!(stdout(&out).contains("~ update bucket media: lock -contracts ! loosens retention"));
    assert_eq!(w.calls(DELETE_CORS), 1);
    assert_eq!(w.calls(PUT_CORS), 0);
    let after = w.config("default", "media");
    assert_eq!(after["cors"], Value::Null, "no policy at all");
    assert_eq!(after["lock"], json!([]));
    assert_eq!(
        after["lifecycle"], before["lifecycle"],
        "lifecycle is not declared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_says_when_a_lifecycle_list_drops_cloudflares_default_rule() {
    let w = World::new().await;
    let yaml = "version: 1\nsettings:\n  recipients: [\"{recipient}\"]\nbuckets:\n  - name: media\n    lifecycle:\n      - {id: expire-tmp, prefix: tmp/, expire_after: 7d}\n";
    w.write(yaml);
    let validate = w.run(&["validate"]).await;
    assert_eq!(validate.status.code(), Some(0));
    assert!(
        stderr(&validate).contains("hint: to keep it, add: - { id: \"Default Multipart Abort Rule\", abort_multipart_after: 7d }"),
        "{}",
        stderr(&validate)
    );
    for args in [&["reconcile", "--dry-run"][..], &["reconcile"][..]] {
        let out = w.run(args).await;
        assert_eq!(out.status.code(), Some(0));
        assert!(
            stdout(&out).contains(
                "  ~ update bucket media: lifecycle +expire-tmp\n    - lifecycle rule \"Default Multipart Abort Rule\" (Cloudflare's default)\n"
            ),
            "{}",
            stdout(&out)
        );
    }
    let rules = w.config("default", "media")["lifecycle"].clone();
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    let json = w.run(&["reconcile", "--dry-run", "--output", "json"]).await;
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["changes"], json!([]), "converged without it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loosening_a_lock_is_refused_without_prune_and_applied_with_it() {
    let w = World::new().await;
    w.write(ALL_FOUR);
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let shorter = ALL_FOUR.replace("retain_for: 365d", "retain_for: 30d");
    w.write(&shorter);
    w.emu.reset_stats();
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("! blocked bucket media: lock contracts 365d→30d loosens retention; r2gitops shortens or removes lock rules only with settings.prune: true"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.emu.stats().mutating, 0);
    assert_eq!(
        w.config("default", "media")["lock"][0]["condition"]["maxAgeSeconds"],
        31536000
    );
    // With prune it is a deletion: refused above max_deletions, applied within it.
    w.write(&shorter.replace(
        "settings:\n",
        "settings:\n  prune: true\n  max_deletions: 0\n",
    ));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(1), "refused: 1 deletion > 0");
    assert!(stdout(&out).contains("more than settings.max_deletions (0)"));
    w.write(&shorter.replace("settings:\n", "settings:\n  prune: true\n"));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("~ update bucket media: lock contracts 365d→30d ! loosens retention"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        w.config("default", "media")["lock"][0]["condition"]["maxAgeSeconds"],
        2592000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eu_bucket_gets_its_configuration_in_its_own_jurisdiction() {
    let w = World::new().await;
    w.write(&ALL_FOUR.replace(
        "  - name: media\n",
        "  - name: media\n    jurisdiction: eu\n",
    ));
    let out = w.run(&["reconcile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(w.emu.bucket_config("default", "media").is_none());
    let c = w.config("eu", "media");
    assert_eq!(c["cors"][0]["id"], "web");
    assert_eq!(c["lock"][0]["id"], "contracts");
    assert_eq!(c["public_dev_url"], true);
    w.emu.reset_stats();
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    assert_eq!(w.emu.stats().mutating, 0);
    assert_eq!(w.calls(GET_CORS), 1);
    // Past the post-create lag, without the header every one of those calls would have
    // been 10006.
    assert!(w.emu.stats().calls.iter().all(|c| c.status < 300));
}

/// `curl -i -X OPTIONS` against an S3 endpoint: status and the `Access-Control-*` lines.
fn curl_preflight(url: &str, origin: &str, method: &str) -> (u16, Vec<String>) {
    let out = common::tool("curl")
        .args(["-s", "-i", "-X", "OPTIONS"])
        .args(["-H", &format!("Origin: {origin}")])
        .args(["-H", &format!("Access-Control-Request-Method: {method}")])
        .args(["-H", "Access-Control-Request-Headers: content-type"])
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("access-control-"))
        .map(|l| l.trim().to_ascii_lowercase())
        .collect();
    (status, headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_through_the_s3_endpoint_honours_the_declared_rules() {
    let w = World::new().await;
    w.write(ALL_FOUR);
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let url = format!("{}/media/upload.bin", w.emu.s3_urls()["default"]);
    let (ok, bad_origin, bad_method) = tokio::task::spawn_blocking(move || {
        (
            curl_preflight(&url, "https://app.example.com", "PUT"),
            curl_preflight(&url, "https://other.example", "PUT"),
            curl_preflight(&url, "https://app.example.com", "DELETE"),
        )
    })
    .await
    .unwrap();
    assert_eq!(ok.0, 200, "{ok:?}");
    for h in [
        "access-control-allow-origin: https://app.example.com",
        "access-control-allow-methods: get, head, put",
        "access-control-allow-headers: content-type",
        "access-control-max-age: 3600",
    ] {
        assert!(ok.1.iter().any(|l| l == h), "{h} not in {:?}", ok.1);
    }
    assert_eq!(bad_origin.0, 403, "an origin the file does not list");
    assert_eq!(bad_method.0, 403, "a method the file does not list");
    assert!(bad_origin.1.is_empty() && bad_method.1.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_object_cannot_be_deleted_through_boto3() {
    let w = World::new().await;
    let with_token = |lock: &str| {
        format!(
            "version: 1\nsettings:\n  recipients: [\"{{recipient}}\"]\nbuckets:\n  - name: vault\n{lock}tokens:\n  - name: app\n    access: object-read-write\n    buckets: [vault]\n    output: {{ file: app.env.age, format: env }}\n"
        )
    };
    w.write(&with_token(""));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let vars = common::env_vars(&common::age_decrypt(
        &w.identity,
        &w.out().join("app.env.age"),
    ));
    let op = |op: &str, key: &str| {
        json!({
            "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": vars["AWS_ACCESS_KEY_ID"],
            "secret": vars["AWS_SECRET_ACCESS_KEY"], "op": op, "bucket": "vault",
            "key": key, "body": "signed",
        })
    };
    let put = json!([op("put", "contracts/2026.pdf"), op("put", "drafts/x.pdf")]);
    let r = tokio::task::spawn_blocking(move || common::s3_ops(&put))
        .await
        .unwrap();
    assert!(r[0]["ok"] == true && r[1]["ok"] == true, "{r}");

    // The first pass created the bucket moments ago: until its configuration endpoints know
    // it, a pass could only say it did not read its configuration.
    tokio::time::sleep(POST_CREATE_LAG).await;
    w.write(&with_token(
        "    lock:\n      - {id: contracts, prefix: contracts/, retain_for: 365d}\n",
    ));
    assert_eq!(w.run(&["reconcile"]).await.status.code(), Some(0));
    let ops = json!([
        op("delete", "contracts/2026.pdf"),
        op("put", "contracts/2026.pdf"),
        op("delete", "drafts/x.pdf"),
        op("get", "contracts/2026.pdf"),
    ]);
    let r = tokio::task::spawn_blocking(move || common::s3_ops(&ops))
        .await
        .unwrap();
    assert_eq!(r[0]["error"], "ObjectLockedByBucketPolicy", "{r}");
    assert_eq!(r[0]["status"], 403, "{r}");
    assert_eq!(
        r[1]["error"], "ObjectLockedByBucketPolicy",
        "an overwrite: {r}"
    );
    assert_eq!(r[2]["ok"], true, "outside the prefix: {r}");
    assert_eq!(r[3]["body"], "signed", "still there, unchanged: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reads_configuration_once_then_only_what_the_file_or_a_write_changed() {
    let w = World::new().await;
    let two = |origin: &str| {
        format!(
            "version: 1\nsettings:\n  recipients: [\"{{recipient}}\"]\nbuckets:\n  - name: aaa\n    cors:\n      - {{id: web, allowed_origins: ['{origin}'], allowed_methods: [GET]}}\n  - name: bbb\n    cors:\n      - {{id: web, allowed_origins: ['https://b.example'], allowed_methods: [GET]}}\n"
        )
    };
    w.write(&two("https://a.example"));
    let d =
        common::Watch::spawn(w.r2gitops(&["watch", "--interval", "1s", "--listen", "127.0.0.1:0"]));
    // Pass 1 writes both buckets' CORS; pass 2 reads them afresh (r2gitops wrote them).
    common::until(Duration::from_secs(20), "three passes", || async {
        d.successes() >= 3.0
    })
    .await;
    assert_eq!(
        w.config("default", "aaa")["cors"][0]["allowed"]["origins"],
        json!(["https://a.example"])
    );

    // Steady state: passes list buckets, but read no configuration within config_resync.
    w.emu.reset_stats();
    let start = d.successes();
    common::until(Duration::from_secs(20), "two more passes", || async {
        d.successes() >= start + 2.0
    })
    .await;
    assert_eq!(w.calls(GET_CORS), 0, "re-read within config_resync");
    assert!(w.calls("GET /accounts/:id/r2/buckets") >= 2);

    // A file change touching one bucket: that bucket is read, written, read back, and read
    // afresh by the next pass; the other is not read at all.
    w.emu.reset_stats();
    let start = d.successes();
    w.write(&two("https://a2.example"));
    common::until(Duration::from_secs(20), "the change applied", || async {
        w.emu.bucket_config("default", "aaa").unwrap()["cors"][0]["allowed"]["origins"]
            == json!(["https://a2.example"])
    })
    .await;
    common::until(Duration::from_secs(20), "two passes after it", || async {
        d.successes() >= start + 3.0
    })
    .await;
    assert_eq!(w.calls(PUT_CORS), 1);
    assert_eq!(
        w.calls(GET_CORS),
        3,
        "read, read back, fresh read after the write"
    );
    assert_eq!(w.calls(PUT_LIFECYCLE), 0);
}

#[test]
fn the_full_example_declares_all_four_blocks_and_keeps_the_default_rule() {
    let full = r2gitops::config::load(&common::root().join("examples/full.yaml")).unwrap();
    let c = &full.buckets[0].config;
    assert!(c.cors.is_some() && c.lifecycle.is_some() && c.lock.is_some());
    assert_eq!(c.public_dev_url, Some(false));
    assert_eq!(full.settings.config_resync, Duration::from_secs(3600));
    assert!(full.warnings.is_empty(), "{:?}", full.warnings);
    assert!(
        !full.buckets[1].config.manages_any(),
        "the other bucket manages none"
    );
}
