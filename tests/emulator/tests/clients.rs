//! Real clients nobody here wrote drive the emulator: Cloudflare's official Python SDK,
//! wrangler (npm) and rclone (Debian). boto3 is in `s3.rs`.

mod support;

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_python_sdk_manages_buckets_and_tokens() {
    let emu = start().await;
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .arg(workspace_root().join("tests/clients/cloudflare_sdk.py"))
            .arg(emu.api_url())
            .arg(emu.account_id())
            .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "SDK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["created_bucket"],
        json!({"name": "sdk-bucket", "location": "WEUR"})
    );
    assert_eq!(seen["default_buckets"], json!(["sdk-bucket"]));
    assert_eq!(seen["eu_buckets"], json!(["sdk-eu"]));
    assert_eq!(seen["after_delete"], json!([]));
    assert_eq!(seen["value_prefix"], "cfat_");
    assert_eq!(
        seen["listed_tokens"].as_array().unwrap().len(),
        7,
        "auto-paging over per_page=5"
    );
    assert_eq!(seen["rolled_changed"], true);
    assert_eq!(seen["tokens_after_delete"], json!([]));
}

fn wrangler(emu: &cf_emulator::Emulator, args: &[&str]) -> String {
    let bin = workspace_root().join("tests/clients/node_modules/.bin/wrangler");
    assert!(
        bin.exists(),
        "{} is missing: run `bash scripts/setup-test-tools.sh` first",
        bin.display()
    );
    let out = Command::new(bin)
        .args(args)
        .env("CLOUDFLARE_API_BASE_URL", emu.api_url())
        .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "wrangler {args:?} failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn wrangler_creates_lists_and_deletes_buckets_with_and_without_a_jurisdiction() {
    let emu = start().await;
    let api = Api::admin(&emu);
    tokio::task::block_in_place(|| {
        wrangler(&emu, &["r2", "bucket", "create", "wr-default"]);
        wrangler(
            &emu,
            &["r2", "bucket", "create", "wr-eu", "--jurisdiction", "eu"],
        );
    });
    let (_, v) = api
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!(v["result"]["buckets"][0]["name"], "wr-default");
    assert_eq!(v["result"]["buckets"].as_array().unwrap().len(), 1);

    let (default_list, eu_list) = tokio::task::block_in_place(|| {
        (
            wrangler(&emu, &["r2", "bucket", "list"]),
            wrangler(&emu, &["r2", "bucket", "list", "--jurisdiction", "eu"]),
        )
    });
    assert!(
        default_list.contains("wr-default") && !default_list.contains("wr-eu"),
        "{default_list}"
    );
    assert!(
        eu_list.contains("wr-eu") && !eu_list.contains("wr-default"),
        "{eu_list}"
    );

    tokio::task::block_in_place(|| {
        wrangler(
            &emu,
            &["r2", "bucket", "delete", "wr-eu", "--jurisdiction", "eu"],
        );
        wrangler(&emu, &["r2", "bucket", "delete", "wr-default"]);
    });
    for j in ["default", "eu"] {
        let r = api
            .req(Method::GET, "/accounts/:acct/r2/buckets")
            .header("cf-r2-jurisdiction", j)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["result"]["buckets"], json!([]), "{j}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rclone_copies_a_file_with_an_object_scoped_token() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "rclone-target").await;
    let (id, value) = api
        .create_token(
            "rclone",
            OBJECT_WRITE,
            api.bucket_resource("default", "rclone-target"),
        )
        .await;
    let dir = std::env::temp_dir().join(format!("cf-emulator-rclone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("rclone.conf");
    std::fs::write(
        &conf,
        format!(
            "[r2]\ntype = s3\nprovider = Cloudflare\naccess_key_id = {id}\nsecret_access_key = {}\nendpoint = {}\nregion = auto\nacl = private\nno_check_bucket = true\n",
            s3_secret(&value),
            emu.s3_urls()["default"]
        ),
    )
    .unwrap();
    let src = dir.join("hello.txt");
    std::fs::write(&src, "hello from rclone").unwrap();
    let rclone = |args: &[&str]| {
        // This machine exports AWS_CA_BUNDLE, which breaks rclone even over plain http.
        Command::new("rclone")
            .args(args)
            .arg("--config")
            .arg(&conf)
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("rclone is missing: run `bash scripts/setup-test-tools.sh` first")
    };
    let (copy, cat, denied) = tokio::task::block_in_place(|| {
        (
            rclone(&[
                "copyto",
                src.to_str().unwrap(),
                "r2:rclone-target/dir/hello.txt",
            ]),
            rclone(&["cat", "r2:rclone-target/dir/hello.txt"]),
            rclone(&["lsd", "r2:"]),
        )
    });
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        copy.status.success(),
        "rclone copyto: {}",
        String::from_utf8_lossy(&copy.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&cat.stdout), "hello from rclone");
    // Listing buckets is an admin operation: an object-scoped token is refused, as on R2.
    assert!(!denied.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_python_sdk_round_trips_cors_lifecycle_locks_and_the_managed_domain() {
    let emu = start().await;
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .arg(workspace_root().join("tests/clients/cloudflare_sdk_bucket_config.py"))
            .arg(emu.api_url())
            .arg(emu.account_id())
            .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "SDK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["default_rule"],
        json!([{"id": "Default Multipart Abort Rule", "enabled": true, "abort": 604800}])
    );
    assert_eq!(
        seen["cors"],
        json!([{"id": "web", "origins": ["https://app.example.com"], "methods": ["GET", "PUT"], "headers": ["content-type"], "expose": ["etag"], "max_age": 3600.0}])
    );
    assert_eq!(
        seen["lifecycle"],
        json!([{"id": "expire-tmp", "prefix": "tmp/", "expire": 604800, "transition": [86400], "abort": 86400}])
    );
    assert_eq!(
        seen["locks"],
        json!([
            {"id": "contracts", "prefix": "contracts/", "type": "Age", "max_age": 31536000},
            {"id": "legal", "prefix": null, "type": "Indefinite", "max_age": null}
        ])
    );
    let managed = &seen["managed"];
    assert_eq!(managed["updated"], true);
    assert_eq!(managed["listed"], true);
    assert_eq!(managed["same"], true);
    assert_eq!(
        emu.bucket_config("default", "sdk-config").unwrap()["domain"],
        managed["domain"]
    );
    assert_eq!(seen["cors_after_delete"], json!(["NotFoundError", 404]));
    // What the SDK wrote is what the emulator holds, in the EU namespace for the locks.
    assert_eq!(
        emu.bucket_config("eu", "sdk-config-eu").unwrap()["lock"][1],
        json!({"id": "legal", "enabled": true, "condition": {"type": "Indefinite"}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_python_sdk_round_trips_custom_domains_and_event_notifications() {
    let emu = cf_emulator::Emulator::start(cf_emulator::EmulatorConfig {
        zones: vec![cf_emulator::ZoneSeed::parse("example.com").unwrap()],
        queues: vec!["uploads".into(), "audit".into()],
        ..cf_emulator::EmulatorConfig::default()
    })
    .await
    .unwrap();
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .arg(workspace_root().join("tests/clients/cloudflare_sdk_domains.py"))
            .arg(emu.api_url())
            .arg(emu.account_id())
            .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "SDK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["zones"],
        json!([{"name": "example.com", "type": "full", "account": true}])
    );
    assert_eq!(seen["queues"], json!(["uploads", "audit"]));
    assert_eq!(
        seen["created"],
        json!({"domain": "assets.example.com", "enabled": true, "zone": true, "min_tls": "1.2"})
    );
    assert_eq!(
        seen["listed"],
        json!([{"domain": "assets.example.com", "zone_name": "example.com", "min_tls": "1.2", "ownership": "pending", "ssl": "initializing"}])
    );
    assert_eq!(
        seen["updated"],
        json!({"answer": false, "read": false, "min_tls_kept": "1.2"})
    );
    assert_eq!(
        seen["duplicate"],
        json!(["ConflictError", 409]),
        "a hostname attached to another bucket"
    );
    assert_eq!(seen["deleted"], "assets.example.com");
    assert_eq!(seen["after_delete"], json!([]));
    assert_eq!(emu.dns_records("example.com"), Vec::<String>::new());
    assert_eq!(
        seen["rules"],
        json!([
            {"actions": ["CompleteMultipartUpload", "CopyObject", "PutObject"], "prefix": "images/", "suffix": ".jpg", "description": "thumbnails", "has_id": true},
            {"actions": ["DeleteObject"], "prefix": "logs/", "suffix": null, "description": null, "has_id": true}
        ])
    );
    assert_eq!(seen["queue_name"], "uploads");
    assert_eq!(
        seen["overlap"],
        json!(["ConflictError", 409]),
        "the PUT adds, and refuses an overlapping rule"
    );
    assert_eq!(
        seen["config"],
        json!({"bucket": "sdk-domains", "queues": [["uploads", 2]]})
    );
    assert_eq!(seen["after_rule_delete"], json!(["images/"]));
    assert_eq!(seen["after_delete_all"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrangler_adds_a_lifecycle_rule_next_to_the_default_one_it_sends_back_unchanged() {
    // wrangler's `lifecycle add` GETs the rules and PUTs them back with its own appended:
    // the default rule goes back exactly as the GET showed it, `conditions: {}` without a
    // prefix, which the live API accepts (wrangler's `r2/lifecycle.ts` sends it so).
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "wr-lifecycle").await;
    let listed = tokio::task::block_in_place(|| {
        wrangler(
            &emu,
            &[
                "r2",
                "bucket",
                "lifecycle",
                "add",
                "wr-lifecycle",
                "expire-logs",
                "logs/",
                "--expire-days",
                "30",
                "--force",
            ],
        );
        wrangler(
            &emu,
            &[
                "r2",
                "bucket",
                "lifecycle",
                "add",
                "wr-lifecycle",
                "all",
                "--expire-days",
                "90",
                "--force",
            ],
        );
        wrangler(&emu, &["r2", "bucket", "lifecycle", "list", "wr-lifecycle"])
    });
    let rules = emu.bucket_config("default", "wr-lifecycle").unwrap()["lifecycle"].clone();
    let by_id = |id: &str| {
        rules
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no rule {id} in {rules}"))
    };
    assert_eq!(rules.as_array().unwrap().len(), 3, "{rules}");
    assert_eq!(
        by_id("Default Multipart Abort Rule")["conditions"],
        json!({})
    );
    assert_eq!(
        by_id("expire-logs")["conditions"],
        json!({"prefix": "logs/"})
    );
    assert_eq!(
        by_id("expire-logs")["deleteObjectsTransition"]["condition"],
        json!({"type": "Age", "maxAge": 30 * 86400})
    );
    assert_eq!(
        by_id("all")["conditions"],
        json!({}),
        "no prefix: the whole bucket"
    );
    for id in ["Default Multipart Abort Rule", "expire-logs", "all"] {
        assert!(listed.contains(id), "{listed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_python_sdk_reads_the_live_notification_answers() {
    let emu = cf_emulator::Emulator::start(cf_emulator::EmulatorConfig {
        queues: vec!["uploads".into(), "audit".into()],
        behaviour: cf_emulator::Behaviour {
            overlap_by_keys: true,
            ..cf_emulator::Behaviour::default()
        }
        .live_notifications(),
        ..cf_emulator::EmulatorConfig::default()
    })
    .await
    .unwrap();
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .arg(workspace_root().join("tests/clients/cloudflare_sdk_notifications_live.py"))
            .arg(emu.api_url())
            .arg(emu.account_id())
            .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "SDK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let uploads = emu.add_queue("uploads");
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &uploads[..8],
        &uploads[8..12],
        &uploads[12..16],
        &uploads[16..20],
        &uploads[20..]
    );
    assert!(
        seen["listed_ids"]
            .as_array()
            .unwrap()
            .iter()
            .all(|id| id.as_str().unwrap().len() == 32),
        "the queue list keeps 32 hex: {seen}"
    );
    assert_eq!(seen["empty_list"], json!(["NotFoundError", 404]));
    let generated = "DeleteObject on logs/*";
    assert_eq!(
        seen["config"],
        json!([{"queue_id": dashed, "queue_name": "uploads", "descriptions": [generated, "thumbnails"]}])
    );
    assert_eq!(
        seen["get"],
        json!({"queue_id": dashed, "descriptions": [generated, "thumbnails"]})
    );
    assert_eq!(seen["queue_without_rules"], json!(["NotFoundError", 404]));
    assert_eq!(
        seen["overlap_by_keys"],
        json!(["ConflictError", 409]),
        "disjoint actions on overlapping keys, under the stricter rule"
    );
    assert_eq!(seen["after_delete"], json!(["NotFoundError", 404]));
}
