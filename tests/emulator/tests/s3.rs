//! The emulator's S3 endpoints, driven by boto3: SigV4 with derived credentials, and each
//! token's policies enforced the way R2 does.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use cf_emulator::Emulator;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

struct Creds {
    id: String,
    secret: String,
}

fn creds(id: &str, value: &str) -> Creds {
    Creds {
        id: id.to_string(),
        secret: s3_secret(value),
    }
}

/// Run operations through boto3; one result object per operation.
fn boto3(emu: &Emulator, jurisdiction: &str, creds: &Creds, ops: Vec<Value>) -> Vec<Value> {
    let ops: Vec<Value> = ops
        .into_iter()
        .map(|mut op| {
            op["endpoint"] = json!(emu.s3_urls()[jurisdiction]);
            op["key_id"] = json!(creds.id);
            op["secret"] = json!(creds.secret);
            op
        })
        .collect();
    let mut child = Command::new(python())
        .arg(workspace_root().join("tests/clients/s3_ops.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_vec(&ops).unwrap().as_slice())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "s3_ops.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn op(kind: &str, bucket: &str, key: &str) -> Value {
    json!({"op": kind, "bucket": bucket, "key": key, "body": "hello"})
}

#[tokio::test(flavor = "multi_thread")]
async fn read_write_token_puts_and_gets_and_a_read_only_token_is_denied_put() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let (id, value) = api
        .create_token("rw", OBJECT_WRITE, api.bucket_resource("default", "media"))
        .await;
    let rw = creds(&id, &value);
    let (id, value) = api
        .create_token("ro", OBJECT_READ, api.bucket_resource("default", "media"))
        .await;
    let ro = creds(&id, &value);
    let emu2 = &emu;
    let (a, b) = tokio::task::block_in_place(|| {
        (
            boto3(
                emu2,
                "default",
                &rw,
                vec![
                    op("put", "media", "a.txt"),
                    op("get", "media", "a.txt"),
                    op("list", "media", ""),
                ],
            ),
            boto3(
                emu2,
                "default",
                &ro,
                vec![
                    op("get", "media", "a.txt"),
                    op("put", "media", "b.txt"),
                    op("delete", "media", "a.txt"),
                ],
            ),
        )
    });
    assert_eq!(a[0]["ok"], true);
    assert_eq!(a[1]["body"], "hello");
    assert_eq!(a[2]["keys"], json!(["a.txt"]));
    assert_eq!(b[0]["body"], "hello");
    assert_eq!(b[1]["error"], "AccessDenied");
    assert_eq!(b[2]["error"], "AccessDenied");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_is_signature_does_not_match_and_roll_kills_the_old_secret() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let (id, value) = api
        .create_token("rw", OBJECT_WRITE, api.bucket_resource("default", "media"))
        .await;
    let wrong = Creds {
        id: id.clone(),
        secret: "0".repeat(64),
    };
    let r = tokio::task::block_in_place(|| {
        boto3(&emu, "default", &wrong, vec![op("put", "media", "a")])
    });
    assert_eq!(r[0]["error"], "SignatureDoesNotMatch");

    let (_, v) = api
        .json(
            Method::PUT,
            &format!("/accounts/:acct/tokens/{id}/value"),
            Some(json!({})),
        )
        .await;
    let new_value = v["result"].as_str().unwrap().to_string();
    let r = tokio::task::block_in_place(|| {
        (
            boto3(
                &emu,
                "default",
                &creds(&id, &value),
                vec![op("put", "media", "a")],
            ),
            boto3(
                &emu,
                "default",
                &creds(&id, &new_value),
                vec![op("put", "media", "a")],
            ),
        )
    });
    assert_eq!(r.0[0]["error"], "SignatureDoesNotMatch");
    assert_eq!(r.1[0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn object_tokens_are_scoped_to_their_buckets_and_jurisdiction_and_denied_bucket_listing() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    api.create_bucket("default", "other").await;
    api.create_bucket("eu", "media").await;
    let (id, value) = api
        .create_token("rw", OBJECT_WRITE, api.bucket_resource("default", "media"))
        .await;
    let c = creds(&id, &value);
    let (r_default, r_eu) = tokio::task::block_in_place(|| {
        (
            boto3(
                &emu,
                "default",
                &c,
                vec![
                    op("put", "media", "ok"),
                    op("put", "other", "no"),
                    op("list_buckets", "", ""),
                    op("head_bucket", "media", ""),
                ],
            ),
            boto3(&emu, "eu", &c, vec![op("put", "media", "no")]),
        )
    });
    assert_eq!(r_default[0]["ok"], true);
    assert_eq!(r_default[1]["error"], "AccessDenied");
    assert_eq!(r_default[2]["error"], "AccessDenied");
    assert_eq!(r_default[3]["ok"], false);
    assert_eq!(r_eu[0]["error"], "AccessDenied");

    // An admin token lists buckets of the endpoint's jurisdiction and reaches every bucket.
    let (id, value) = api
        .create_token("admin", ADMIN_WRITE, api.account_resource())
        .await;
    let r = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            "default",
            &creds(&id, &value),
            vec![op("list_buckets", "", ""), op("put", "other", "yes")],
        )
    });
    assert_eq!(r[0]["keys"], json!(["media", "other"]));
    assert_eq!(r[1]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn all_buckets_scope_multipart_and_missing_bucket() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "big").await;
    let resources = json!({ format!("com.cloudflare.api.account.{}", emu.account_id()): {"com.cloudflare.edge.r2.bucket.*": "*"} });
    let (id, value) = api.create_token("all", OBJECT_WRITE, resources).await;
    let r = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            "default",
            &creds(&id, &value),
            vec![op("multipart", "big", "blob"), op("get", "nope", "x")],
        )
    });
    assert_eq!(r[0]["ok"], true, "{}", r[0]);
    assert_eq!(r[0]["size"], 11 * 1024 * 1024);
    assert_eq!(r[1]["error"], "NoSuchBucket");
}

#[tokio::test(flavor = "multi_thread")]
async fn ip_conditions_deleted_and_future_tokens_are_enforced_on_s3() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let mk = |name: &str, extra: Value| {
        let mut body = json!({
            "name": name,
            "policies": [{"effect": "allow", "resources": api.bucket_resource("default", "media"),
                          "permission_groups": [{"id": OBJECT_WRITE}]}],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let mut made = Vec::new();
    for (name, extra) in [
        (
            "loopback-denied",
            json!({"condition": {"request.ip": {"not_in": ["127.0.0.0/8"]}}}),
        ),
        (
            "elsewhere-only",
            json!({"condition": {"request.ip": {"in": ["203.0.113.0/24"]}}}),
        ),
        (
            "loopback-allowed",
            json!({"condition": {"request.ip": {"in": ["127.0.0.1/32"]}}}),
        ),
        ("not-yet", json!({"not_before": "2999-01-01T00:00:00Z"})),
        ("to-delete", json!({})),
    ] {
        let (s, v) = api
            .json(
                Method::POST,
                "/accounts/:acct/tokens",
                Some(mk(name, extra)),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        made.push(creds(
            v["result"]["id"].as_str().unwrap(),
            v["result"]["value"].as_str().unwrap(),
        ));
    }
    api.json(
        Method::DELETE,
        &format!("/accounts/:acct/tokens/{}", made[4].id),
        None,
    )
    .await;
    let results: Vec<Value> = tokio::task::block_in_place(|| {
        made.iter()
            .map(|c| boto3(&emu, "default", c, vec![op("put", "media", "k")])[0].clone())
            .collect()
    });
    assert_eq!(results[0]["error"], "AccessDenied");
    assert_eq!(results[1]["error"], "AccessDenied");
    assert_eq!(results[2]["ok"], true);
    assert_eq!(results[3]["error"], "AccessDenied");
    assert_eq!(results[4]["ok"], false, "a deleted token still works");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_bucket_that_holds_objects_is_refused_with_409() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "full").await;
    let (id, value) = api
        .create_token("rw", OBJECT_WRITE, api.bucket_resource("default", "full"))
        .await;
    let c = creds(&id, &value);
    tokio::task::block_in_place(|| boto3(&emu, "default", &c, vec![op("put", "full", "k")]));
    let (s, v) = api
        .json(Method::DELETE, "/accounts/:acct/r2/buckets/full", None)
        .await;
    assert_eq!(s, 409);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is not empty")
    );
    tokio::task::block_in_place(|| boto3(&emu, "default", &c, vec![op("delete", "full", "k")]));
    assert_eq!(
        api.json(Method::DELETE, "/accounts/:acct/r2/buckets/full", None)
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_or_rolled_token_is_an_unknown_key_on_s3_until_it_has_propagated() {
    let emu = Emulator::start(cf_emulator::EmulatorConfig {
        behaviour: cf_emulator::Behaviour {
            // Long enough that two boto3 runs (a second each on a loaded machine) fit inside it.
            propagation_delay: Some(std::time::Duration::from_secs(6)),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let (id, value) = api
        .create_token("rw", OBJECT_WRITE, api.bucket_resource("default", "media"))
        .await;
    let put = |c: &Creds| {
        tokio::task::block_in_place(|| boto3(&emu, "default", c, vec![op("put", "media", "a")]))
            .remove(0)
    };
    let fresh = put(&creds(&id, &value));
    assert_eq!(
        (fresh["error"].as_str(), fresh["status"].as_u64()),
        (Some("InvalidAccessKeyId"), Some(403)),
        "{fresh}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(6100)).await;
    assert_eq!(put(&creds(&id, &value))["ok"], true, "propagated");

    // A roll: the old secret dies at once, the new one propagates like a new token.
    let (_, v) = api
        .json(
            Method::PUT,
            &format!("/accounts/:acct/tokens/{id}/value"),
            Some(json!({})),
        )
        .await;
    let rolled = v["result"].as_str().unwrap().to_string();
    assert_eq!(put(&creds(&id, &value))["error"], "InvalidAccessKeyId");
    assert_eq!(put(&creds(&id, &rolled))["error"], "InvalidAccessKeyId");
    tokio::time::sleep(std::time::Duration::from_millis(6100)).await;
    assert_eq!(put(&creds(&id, &value))["error"], "SignatureDoesNotMatch");
    assert_eq!(put(&creds(&id, &rolled))["ok"], true);

    // A deleted token's key stops working at once.
    let (status, _) = api
        .json(
            Method::DELETE,
            &format!("/accounts/:acct/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(put(&creds(&id, &rolled))["error"], "InvalidAccessKeyId");
}

/// A put or delete with boto3's own conditional parameters.
fn cond(kind: &str, key: &str, body: &str, field: &str, value: &str) -> Value {
    json!({"op": kind, "bucket": "state", "key": key, "body": body, field: value})
}

async fn state_bucket(emu: &Emulator) -> Creds {
    let api = Api::admin(emu);
    api.create_bucket("default", "state").await;
    let resources = json!({ format!("com.cloudflare.api.account.{}", emu.account_id()): {"com.cloudflare.edge.r2.bucket.*": "*"} });
    let (id, value) = api.create_token("state", OBJECT_WRITE, resources).await;
    creds(&id, &value)
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_puts_create_once_and_replace_only_the_etag_they_read() {
    let emu = start().await;
    let c = state_bucket(&emu).await;
    let r = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            "default",
            &c,
            vec![
                cond("put", "inv.json", "v1", "if_none_match", "*"),
                cond("put", "inv.json", "other", "if_none_match", "*"),
                op("get", "state", "inv.json"),
            ],
        )
    });
    assert_eq!(r[0]["ok"], true, "{}", r[0]);
    assert_eq!(
        (&r[1]["error"], &r[1]["status"]),
        (&json!("PreconditionFailed"), &json!(412)),
        "If-None-Match: * on an existing key"
    );
    assert_eq!(
        r[2]["body"], "v1",
        "a refused write leaves the object alone"
    );
    let e1 = r[0]["etag"].as_str().unwrap().to_string();
    assert_eq!(
        r[2]["etag"],
        e1.as_str(),
        "GET answers the ETag the PUT gave"
    );
    assert!(e1.starts_with('"') && !e1.starts_with("W/"), "strong: {e1}");

    let r = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            "default",
            &c,
            vec![
                cond("put", "inv.json", "v2", "if_match", &e1),
                cond("put", "inv.json", "stale", "if_match", &e1),
                cond("put", "absent.json", "x", "if_match", &e1),
                cond("put", "absent.json", "x", "if_match", "*"),
                op("get", "state", "inv.json"),
            ],
        )
    });
    assert_eq!(r[0]["ok"], true, "{}", r[0]);
    let e2 = r[0]["etag"].as_str().unwrap();
    assert_ne!(e2, e1, "a write that changes the object changes its ETag");
    assert_eq!(r[1]["status"], 412, "If-Match with a stale ETag: {}", r[1]);
    assert_eq!(r[1]["error"], "PreconditionFailed");
    assert_eq!(r[2]["status"], 412, "If-Match on an absent key fails");
    assert_eq!(r[3]["status"], 412, "If-Match: * on an absent key fails");
    assert_eq!((&r[4]["body"], &r[4]["etag"]), (&json!("v2"), &json!(e2)));
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_delete_removes_only_the_etag_it_names() {
    let emu = start().await;
    let c = state_bucket(&emu).await;
    let r = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            "default",
            &c,
            vec![
                cond("put", "inv.lease", "a", "if_none_match", "*"),
                op("put", "state", "inv.lease"),
            ],
        )
    });
    let (old, current) = (
        r[0]["etag"].as_str().unwrap().to_string(),
        r[1]["etag"].as_str().unwrap().to_string(),
    );
    assert_ne!(old, current);
    let r = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            "default",
            &c,
            vec![
                cond("delete", "inv.lease", "", "if_match", &old),
                op("get", "state", "inv.lease"),
                cond("delete", "inv.lease", "", "if_match", &current),
                op("get", "state", "inv.lease"),
                cond("delete", "inv.lease", "", "if_match", &current),
            ],
        )
    });
    assert_eq!(
        (&r[0]["error"], &r[0]["status"]),
        (&json!("PreconditionFailed"), &json!(412)),
        "stale ETag: {}",
        r[0]
    );
    assert_eq!(r[1]["body"], "hello", "the refused delete kept the object");
    assert_eq!(r[2]["ok"], true, "{}", r[2]);
    assert_eq!(r[3]["error"], "NoSuchKey");
    assert_eq!(r[4]["error"], "NoSuchKey", "If-Match on an absent key");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_conditional_puts_on_one_key_serialize_and_exactly_one_wins() {
    let emu = start().await;
    let c = state_bucket(&emu).await;
    let threads = 12;
    // Each race writes bodies of its own: an ETag is the MD5 of the body (as R2's for a
    // single-part object), so a takeover writing the body already stored would keep the
    // ETag, and a second If-Match on it would rightly pass.
    let race = |extra: (&str, &str)| {
        let body = if extra.0 == "if_match" {
            "taker-"
        } else {
            "holder-"
        };
        let mut o = json!({"op": "race_put", "bucket": "state", "key": "inv.lease", "body": body, "threads": threads});
        o[extra.0] = json!(extra.1);
        o
    };
    let r = tokio::task::block_in_place(|| {
        boto3(&emu, "default", &c, vec![race(("if_none_match", "*"))])
    });
    let results = r[0]["results"].as_array().unwrap();
    let won: Vec<&Value> = results.iter().filter(|x| x["ok"] == true).collect();
    assert_eq!(won.len(), 1, "creates: {results:?}");
    assert!(
        results
            .iter()
            .filter(|x| x["ok"] != true)
            .all(|x| x["status"] == 412),
        "{results:?}"
    );
    let got = tokio::task::block_in_place(|| {
        boto3(&emu, "default", &c, vec![op("get", "state", "inv.lease")])
    });
    assert_eq!(
        got[0]["body"], won[0]["body"],
        "the winner's body is stored"
    );

    // Takeovers: every thread read the same ETag; one replaces it.
    let etag = got[0]["etag"].as_str().unwrap().to_string();
    let r =
        tokio::task::block_in_place(|| boto3(&emu, "default", &c, vec![race(("if_match", &etag))]));
    let results = r[0]["results"].as_array().unwrap();
    let won: Vec<&Value> = results.iter().filter(|x| x["ok"] == true).collect();
    assert_eq!(won.len(), 1, "takeovers: {results:?}");
    let got = tokio::task::block_in_place(|| {
        boto3(&emu, "default", &c, vec![op("get", "state", "inv.lease")])
    });
    assert_eq!(got[0]["body"], won[0]["body"]);
}
