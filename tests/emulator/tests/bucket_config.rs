//! The bucket-configuration routes (https://developers.cloudflare.com/r2/buckets/): the
//! default lifecycle rule, the
//! CORS error of a bucket without a policy, whole-set PUTs, no DELETE for lifecycle and
//! lock, the managed r2.dev domain, the jurisdiction header on every call; on the S3 side,
//! lock rules refusing deletes and overwrites, and CORS preflights answered from the rules.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn call(
    api: &Api<'_>,
    method: Method,
    path: &str,
    j: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = api.req(method, &format!("/accounts/:acct/r2/buckets/{path}"));
    if let Some(j) = j {
        r = r.header("cf-r2-jurisdiction", j);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn codes(v: &Value) -> Vec<i64> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_new_bucket_has_the_default_rule_no_cors_policy_no_lock_and_r2_dev_off() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let (s, v) = call(&api, Method::GET, "media/lifecycle", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        v["result"]["rules"],
        json!([{"id":"Default Multipart Abort Rule","enabled":true,"conditions":{},"abortMultipartUploadsTransition":{"condition":{"type":"Age","maxAge":604800}}}])
    );
    let (s, v) = call(&api, Method::GET, "media/cors", None, None).await;
    assert_eq!((s, codes(&v)), (404, vec![10059]));
    assert_eq!(
        v["errors"][0]["message"],
        "The CORS configuration does not exist."
    );
    let (s, v) = call(&api, Method::GET, "media/lock", None, None).await;
    assert_eq!((s, &v["result"]["rules"]), (200, &json!([])));
    let (s, v) = call(&api, Method::GET, "media/domains/managed", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["result"]["enabled"], false);
    let domain = v["result"]["domain"].as_str().unwrap();
    assert!(
        domain.starts_with("pub-") && domain.ends_with(".r2.dev") && domain.len() == 4 + 32 + 7,
        "{domain}"
    );
}

#[tokio::test]
async fn a_put_replaces_the_whole_set_and_only_cors_has_a_delete() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let rule = |id: &str| json!({"id": id, "allowed": {"origins": ["https://a.example"], "methods": ["GET"]}});
    for rules in [json!([rule("a"), rule("b")]), json!([rule("c")])] {
        let (s, _) = call(
            &api,
            Method::PUT,
            "media/cors",
            None,
            Some(json!({"rules": rules})),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (_, v) = call(&api, Method::GET, "media/cors", None, None).await;
    assert_eq!(
        v["result"]["rules"],
        json!([rule("c")]),
        "replaced, not merged"
    );
    let (s, _) = call(&api, Method::DELETE, "media/cors", None, None).await;
    assert_eq!(s, 200);
    let (s, v) = call(&api, Method::GET, "media/cors", None, None).await;
    assert_eq!((s, codes(&v)), (404, vec![10059]));

    let lc = json!({"rules": [{"id": "x", "enabled": true, "conditions": {"prefix": "tmp/"}, "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 86400}}}]});
    assert_eq!(
        call(&api, Method::PUT, "media/lifecycle", None, Some(lc.clone()))
            .await
            .0,
        200
    );
    let (_, v) = call(&api, Method::GET, "media/lifecycle", None, None).await;
    assert_eq!(
        v["result"], lc,
        "the default rule is gone: the PUT was the whole set"
    );
    for sub in ["lifecycle", "lock"] {
        let (s, v) = call(&api, Method::DELETE, &format!("media/{sub}"), None, None).await;
        assert_eq!((s, codes(&v)), (405, vec![7001]), "{sub}");
    }
    assert_eq!(
        call(
            &api,
            Method::PUT,
            "media/lifecycle",
            None,
            Some(json!({"rules": []}))
        )
        .await
        .0,
        200
    );
    let (_, v) = call(&api, Method::GET, "media/lifecycle", None, None).await;
    assert_eq!(v["result"]["rules"], json!([]), "cleared with an empty PUT");
}

#[tokio::test]
async fn bodies_are_checked_as_the_spec_types_them() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let cases = [
        (
            "cors",
            json!({"rules": [{"allowed": {"origins": ["*"], "methods": ["PATCH"]}}]}),
        ),
        (
            "cors",
            json!({"rules": [{"allowed": {"methods": ["GET"]}}]}),
        ),
        (
            "cors",
            json!({"rules": [{"allowed": {"origins": ["*"], "methods": ["GET"]}, "maxAgeSeconds": 86401}]}),
        ),
        (
            "lifecycle",
            json!({"rules": [{"id": "x", "enabled": true}]}),
        ),
        (
            "lifecycle",
            json!({"rules": [{"id": "x", "enabled": true, "conditions": {"prefix": ""}, "abortMultipartUploadsTransition": {"condition": {"type": "Date", "date": "2030-01-01T00:00:00Z"}}}]}),
        ),
        (
            "lock",
            json!({"rules": [{"id": "x", "enabled": true, "condition": {"type": "Age"}}]}),
        ),
        (
            "lock",
            json!({"rules": [{"id": "x", "condition": {"type": "Indefinite"}}]}),
        ),
        ("domains/managed", json!({})),
    ];
    for (sub, body) in cases {
        let (s, _) = call(
            &api,
            Method::PUT,
            &format!("media/{sub}"),
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 400, "{sub} {body}");
    }
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"id": format!("r{i}"), "enabled": true, "condition": {"type": "Indefinite"}}))
        .collect();
    let (s, _) = call(
        &api,
        Method::PUT,
        "media/lock",
        None,
        Some(json!({"rules": many})),
    )
    .await;
    assert_eq!(s, 400, "at most 1,000 lock rules");
}

#[tokio::test]
async fn the_managed_domain_toggles_and_its_hostname_is_stable() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    api.create_bucket("eu", "media").await;
    let (s, v) = call(
        &api,
        Method::PUT,
        "media/domains/managed",
        None,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["result"]["enabled"], true);
    let (_, again) = call(&api, Method::GET, "media/domains/managed", None, None).await;
    assert_eq!(again["result"], v["result"]);
    let (_, eu) = call(&api, Method::GET, "media/domains/managed", Some("eu"), None).await;
    assert_eq!(eu["result"]["enabled"], false, "another bucket");
    assert_ne!(eu["result"]["domain"], v["result"]["domain"]);
    // Derived from account, jurisdiction and name: another emulator of the same account
    // gives the same name.
    let same = cf_emulator::Emulator::start(cf_emulator::EmulatorConfig {
        account_id: Some(emu.account_id().to_string()),
        ..Default::default()
    })
    .await
    .unwrap();
    let api2 = Api::admin(&same);
    api2.create_bucket("default", "media").await;
    let (_, v2) = call(&api2, Method::GET, "media/domains/managed", None, None).await;
    assert_eq!(v2["result"]["domain"], v["result"]["domain"]);
}

#[tokio::test]
async fn an_eu_bucket_answers_10006_without_the_jurisdiction_header_on_every_route() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("eu", "vault").await;
    let lock =
        json!({"rules": [{"id": "l", "enabled": true, "condition": {"type": "Indefinite"}}]});
    for (method, sub, body) in [
        (Method::GET, "cors", None),
        (Method::PUT, "cors", Some(json!({"rules": []}))),
        (Method::DELETE, "cors", None),
        (Method::GET, "lifecycle", None),
        (Method::PUT, "lifecycle", Some(json!({"rules": []}))),
        (Method::GET, "lock", None),
        (Method::PUT, "lock", Some(lock.clone())),
        (Method::GET, "domains/managed", None),
        (
            Method::PUT,
            "domains/managed",
            Some(json!({"enabled": true})),
        ),
    ] {
        let path = format!("vault/{sub}");
        let (s, v) = call(&api, method.clone(), &path, None, body.clone()).await;
        assert_eq!(
            (s, codes(&v)),
            (404, vec![10006]),
            "{method} {sub} without the header"
        );
        let (s, _) = call(&api, method.clone(), &path, Some("eu"), body).await;
        assert!(
            s == 200 || (sub == "cors" && s == 404),
            "{method} {sub} with it: {s}"
        );
    }
    assert_eq!(
        emu.bucket_config("eu", "vault").unwrap()["lock"],
        lock["rules"]
    );
}

fn boto3(emu: &cf_emulator::Emulator, id: &str, value: &str, ops: Value) -> Vec<Value> {
    use std::io::Write;
    let ops: Vec<Value> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            let mut op = op.clone();
            op["endpoint"] = json!(emu.s3_urls()["default"]);
            op["key_id"] = json!(id);
            op["secret"] = json!(s3_secret(value));
            op
        })
        .collect();
    let mut child = std::process::Command::new(python())
        .arg(workspace_root().join("tests/clients/s3_ops.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
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
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_under_a_lock_rule_cannot_be_deleted_or_overwritten_through_s3() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "vault").await;
    let (id, value) = api
        .create_token("rw", OBJECT_WRITE, api.bucket_resource("default", "vault"))
        .await;
    let put = |key: &str| json!({"op": "put", "bucket": "vault", "key": key, "body": "v1"});
    let delete = |key: &str| json!({"op": "delete", "bucket": "vault", "key": key});
    let setup = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            &id,
            &value,
            json!([put("contracts/a"), put("tmp/b"), put("old/c")]),
        )
    });
    assert!(setup.iter().all(|r| r["ok"] == true), "{setup:?}");
    let lock = json!({"rules": [
        {"id": "contracts", "enabled": true, "prefix": "contracts/", "condition": {"type": "Age", "maxAgeSeconds": 86400}},
        {"id": "past", "enabled": true, "prefix": "old/", "condition": {"type": "Date", "date": "2020-01-01T00:00:00Z"}},
        {"id": "off", "enabled": false, "prefix": "tmp/", "condition": {"type": "Indefinite"}}
    ]});
    assert_eq!(
        call(&api, Method::PUT, "vault/lock", None, Some(lock))
            .await
            .0,
        200
    );
    let got = tokio::task::block_in_place(|| {
        boto3(
            &emu,
            &id,
            &value,
            json!([
                delete("contracts/a"),
                put("contracts/a"),
                put("contracts/new"),
                delete("tmp/b"),
                delete("old/c")
            ]),
        )
    });
    for r in &got[..2] {
        assert_eq!(r["error"], "ObjectLockedByBucketPolicy", "{got:?}");
        assert_eq!(r["status"], 403, "{got:?}");
    }
    assert_eq!(got[2]["ok"], true, "a new key is not an overwrite");
    assert_eq!(got[3]["ok"], true, "a disabled rule retains nothing");
    assert_eq!(got[4]["ok"], true, "a date in the past retains nothing");
}

/// A raw HTTP/1.1 request to an S3 listener: (status, headers in lower case).
fn raw(url: &str, request: &str) -> (u16, Vec<(String, String)>) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request.replace("{host}", addr).as_bytes())
        .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let status = head[9..12].parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_options_preflight_is_answered_from_the_cors_rules() {
    let emu = start().await;
    let api = Api::admin(&emu);
    api.create_bucket("default", "media").await;
    let url = emu.s3_urls()["default"].clone();
    let preflight = |origin: &str, method: &str, headers: &str| {
        let mut r = format!(
            "OPTIONS /media/photo.jpg HTTP/1.1\r\nHost: {{host}}\r\nConnection: close\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: {method}\r\n"
        );
        if !headers.is_empty() {
            r.push_str(&format!("Access-Control-Request-Headers: {headers}\r\n"));
        }
        r.push_str("\r\n");
        // A blocking socket: off the runtime's worker, which serves the emulator.
        tokio::task::block_in_place(|| raw(&url, &r))
    };
    assert_eq!(
        preflight("https://app.example.com", "GET", "").0,
        403,
        "no policy"
    );
    let rules = json!({"rules": [{"id": "web", "allowed": {"origins": ["https://app.example.com"], "methods": ["GET", "PUT"], "headers": ["content-type"]}, "exposeHeaders": ["etag"], "maxAgeSeconds": 3600}]});
    assert_eq!(
        call(&api, Method::PUT, "media/cors", None, Some(rules))
            .await
            .0,
        200
    );
    let (s, h) = preflight("https://app.example.com", "PUT", "Content-Type");
    assert_eq!(s, 200);
    let get = |name: &str| h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(
        get("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(get("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(get("access-control-allow-headers"), Some("Content-Type"));
    assert_eq!(get("access-control-expose-headers"), Some("etag"));
    assert_eq!(get("access-control-max-age"), Some("3600"));
    assert_eq!(
        preflight("https://evil.example", "GET", "").0,
        403,
        "origin"
    );
    assert_eq!(
        preflight("https://app.example.com", "DELETE", "").0,
        403,
        "method"
    );
    assert_eq!(
        preflight("https://app.example.com", "GET", "x-secret").0,
        403,
        "header"
    );
    assert_eq!(
        preflight("https://app.example.com/", "GET", "").0,
        403,
        "origins match exactly"
    );
}
