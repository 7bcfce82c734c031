//! Temporary credentials: the REST endpoint with its documented fields and
//! bounds, their enforcement on the S3 side through boto3 with the session token, and
//! Cloudflare's official Python SDK round-tripping against the endpoint.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use cf_emulator::Emulator;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const PATH: &str = "/accounts/:acct/r2/temp-access-credentials";

/// A bucket `media` (and `other`) and an object-read-write token covering both: (id, value).
async fn world(emu: &Emulator) -> (String, String) {
    let api = Api::admin(emu);
    for b in ["media", "other"] {
        assert_eq!(api.create_bucket("default", b).await.0, 200);
    }
    let mut resources = api.bucket_resource("default", "media");
    resources.as_object_mut().unwrap().extend(
        api.bucket_resource("default", "other")
            .as_object()
            .unwrap()
            .clone(),
    );
    api.create_token("parent", OBJECT_WRITE, resources).await
}

struct Temp {
    id: String,
    secret: String,
    session: String,
}

async fn issue(api: &Api<'_>, body: Value) -> Temp {
    let (status, v) = api.json(Method::POST, PATH, Some(body)).await;
    assert_eq!(status, 200, "{v}");
    let r = &v["result"];
    Temp {
        id: r["accessKeyId"].as_str().unwrap().into(),
        secret: r["secretAccessKey"].as_str().unwrap().into(),
        session: r["sessionToken"].as_str().unwrap().into(),
    }
}

/// boto3 with the session token (`session: false` leaves it out).
fn boto3(emu: &Emulator, t: &Temp, session: bool, ops: Vec<Value>) -> Vec<String> {
    let ops: Vec<Value> = ops
        .into_iter()
        .map(|mut op| {
            op["endpoint"] = json!(emu.s3_urls()["default"]);
            op["key_id"] = json!(t.id);
            op["secret"] = json!(t.secret);
            if session {
                op["session_token"] = json!(t.session);
            }
            op
        })
        .collect();
    let mut child = Command::new(python())
        .arg(workspace_root().join("tests/clients/s3_ops.py"))
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&ops).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "s3_ops.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    results
        .iter()
        .map(|r| match r["ok"].as_bool() {
            Some(true) => "ok".to_string(),
            _ => r["error"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}

fn op(kind: &str, bucket: &str, key: &str) -> Value {
    json!({"op": kind, "bucket": bucket, "key": key, "body": "hello"})
}

#[tokio::test(flavor = "multi_thread")]
async fn the_endpoint_answers_the_documented_fields_and_refuses_what_the_parent_cannot_grant() {
    let emu = start().await;
    let (parent, parent_value) = world(&emu).await;
    let api = Api::admin(&emu);
    let (status, v) = api
        .json(
            Method::POST,
            PATH,
            Some(json!({
                "bucket": "media", "parentAccessKeyId": parent, "permission": "object-read-write",
                "ttlSeconds": 3600, "prefixes": ["in/"], "objects": ["x.json"],
            })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let mut keys: Vec<&String> = v["result"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["accessKeyId", "secretAccessKey", "sessionToken"]);
    let seen = emu.temporary_credentials();
    assert_eq!(seen.len(), 1);
    let t = &seen[0];
    assert_eq!(
        (
            t.parent_access_key_id.as_str(),
            t.bucket.as_str(),
            t.permission.as_str(),
            t.ttl_seconds
        ),
        (parent.as_str(), "media", "object-read-write", 3600)
    );
    assert_eq!(
        (t.prefixes.clone(), t.objects.clone()),
        (vec!["in/".to_string()], vec!["x.json".to_string()])
    );
    assert_eq!(t.access_key_id, v["result"]["accessKeyId"]);

    let read_only = api
        .create_token("ro", OBJECT_READ, api.bucket_resource("default", "media"))
        .await
        .0;
    let base = json!({"bucket": "media", "parentAccessKeyId": parent, "permission": "object-read-only", "ttlSeconds": 60});
    let with = |k: &str, val: Value| {
        let mut b = base.clone();
        b[k] = val;
        b
    };
    let refused = [
        (with("ttlSeconds", json!(604_801)), 400, 400),
        (with("ttlSeconds", json!(0)), 400, 400),
        (with("permission", json!("read")), 400, 400),
        (with("bucket", json!("nope")), 404, 10006),
        (with("parentAccessKeyId", json!("0".repeat(32))), 400, 400),
        // More than the parent may do: write under a read-only parent, admin under an
        // object parent.
        (
            json!({"bucket": "media", "parentAccessKeyId": read_only, "permission": "object-read-write", "ttlSeconds": 60}),
            403,
            10000,
        ),
        (with("permission", json!("admin-read-only")), 403, 10000),
        // A bucket the parent does not cover.
        (
            json!({"bucket": "other", "parentAccessKeyId": read_only, "permission": "object-read-only", "ttlSeconds": 60}),
            403,
            10000,
        ),
    ];
    for (body, status, code) in refused {
        let (s, v) = api.json(Method::POST, PATH, Some(body.clone())).await;
        assert_eq!(
            (s, v["errors"][0]["code"].as_i64()),
            (status, Some(code)),
            "{body} -> {v}"
        );
    }
    // The caller: the parent itself may mint; a token that is neither it nor an R2 writer
    // may not.
    let own = Api::with_token(&emu, &parent_value);
    assert_eq!(
        own.json(Method::POST, PATH, Some(base.clone())).await.0,
        200
    );
    let other = api
        .create_token(
            "other",
            OBJECT_WRITE,
            api.bucket_resource("default", "media"),
        )
        .await
        .1;
    let (s, v) = Api::with_token(&emu, &other)
        .json(Method::POST, PATH, Some(base))
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (403, Some(10000)));
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_with_the_session_token_is_held_to_its_bucket_and_prefixes() {
    let emu = start().await;
    let (parent, _) = world(&emu).await;
    let api = Api::admin(&emu);
    let t = issue(
        &api,
        json!({"bucket": "media", "parentAccessKeyId": parent, "permission": "object-read-write", "ttlSeconds": 600, "prefixes": ["in/partner-a/"]}),
    )
    .await;
    let got = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            &t,
            true,
            vec![
                op("put", "media", "in/partner-a/x.txt"),
                op("get", "media", "in/partner-a/x.txt"),
                json!({"op": "list", "bucket": "media", "prefix": "in/partner-a/"}),
                op("put", "media", "in/partner-b/x.txt"),
                op("put", "media", "x.txt"),
                json!({"op": "list", "bucket": "media"}),
                op("get", "other", "x.txt"),
                op("put", "other", "in/partner-a/x.txt"),
                json!({"op": "list_buckets"}),
            ],
        )
    });
    assert_eq!(
        got,
        [
            "ok",
            "ok",
            "ok",
            "AccessDenied",
            "AccessDenied",
            "AccessDenied",
            "AccessDenied",
            "AccessDenied",
            "AccessDenied"
        ]
    );
    // The session token is required, and must be signed.
    let got = tokio::task::block_in_place(|| {
        let mut unsigned = json!({"op": "list_token_unsigned", "bucket": "media"});
        unsigned["session_token"] = json!(t.session);
        (
            boto3(
                &emu,
                &t,
                false,
                vec![op("put", "media", "in/partner-a/y.txt")],
            ),
            boto3(&emu, &t, false, vec![unsigned]),
        )
    });
    assert_eq!(
        got,
        (
            vec!["Unauthorized".to_string()],
            vec!["Unauthorized".to_string()]
        )
    );

    // Exact objects: that key and nothing else; read-only cannot write it.
    let o = issue(
        &api,
        json!({"bucket": "media", "parentAccessKeyId": parent, "permission": "object-read-only", "ttlSeconds": 600, "objects": ["in/partner-a/x.txt"]}),
    )
    .await;
    let got = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            &o,
            true,
            vec![
                op("get", "media", "in/partner-a/x.txt"),
                op("get", "media", "in/partner-a/x.txt.bak"),
                op("put", "media", "in/partner-a/x.txt"),
            ],
        )
    });
    assert_eq!(got, ["ok", "AccessDenied", "AccessDenied"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_credentials_and_those_of_a_rolled_or_deleted_parent_are_refused() {
    let emu = start().await;
    let (parent, _) = world(&emu).await;
    let api = Api::admin(&emu);
    let body = |ttl: u64| json!({"bucket": "media", "parentAccessKeyId": parent, "permission": "object-read-write", "ttlSeconds": ttl});
    let short = issue(&api, body(1)).await;
    let long = issue(&api, body(600)).await;
    let put = || vec![op("put", "media", "k.txt")];
    let got = tokio::task::block_in_place(|| boto3(&emu, &long, true, put()));
    assert_eq!(got, ["ok"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = tokio::task::block_in_place(|| boto3(&emu, &short, true, put()));
    assert_eq!(got, ["Unauthorized"], "expired");

    let (s, _) = api
        .json(
            Method::PUT,
            &format!("/accounts/:acct/tokens/{parent}/value"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200);
    let after_roll = issue(&api, body(600)).await;
    let got = tokio::task::block_in_place(|| {
        (
            boto3(&emu, &long, true, put()),
            boto3(&emu, &after_roll, true, put()),
        )
    });
    assert_eq!(
        got,
        (vec!["Unauthorized".to_string()], vec!["ok".to_string()]),
        "rolled"
    );

    let (s, _) = api
        .json(
            Method::DELETE,
            &format!("/accounts/:acct/tokens/{parent}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let got = tokio::task::block_in_place(|| boto3(&emu, &after_roll, true, put()));
    assert_eq!(got, ["Unauthorized"], "deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_python_sdk_issues_temporary_credentials_that_boto3_uses() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "sdk-temp").await;
    let (parent, _) = api
        .create_token(
            "sdk-parent",
            OBJECT_WRITE,
            api.bucket_resource("default", "sdk-temp"),
        )
        .await;
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .arg(workspace_root().join("tests/clients/cloudflare_sdk_temporary.py"))
            .arg(emu.api_url())
            .arg(emu.account_id())
            .arg(&emu.s3_urls()["default"])
            .arg(&parent)
            .env("CLOUDFLARE_API_TOKEN", emu.admin_token())
            .env_remove("AWS_SESSION_TOKEN")
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
        seen,
        json!({
            "access_key_id_length": 32, "has_secret": true, "has_session_token": true,
            "inside": "ok", "outside": "AccessDenied",
        })
    );
    // What the SDK sent reached the emulator field by field.
    let t = &emu.temporary_credentials()[0];
    assert_eq!(
        (
            t.bucket.as_str(),
            t.parent_access_key_id.as_str(),
            t.permission.as_str(),
            t.ttl_seconds,
            t.prefixes.clone()
        ),
        (
            "sdk-temp",
            parent.as_str(),
            "object-read-write",
            900,
            vec!["in/".to_string()]
        )
    );
}
