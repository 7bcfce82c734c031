//! What stops before any change: bad state input, and a file that could write or delete the
//! state bucket.

use std::sync::Arc;

use common::output::{run, text};
use serde_json::json;

use crate::common;
use crate::{KEY, STATE, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_state_input_is_an_error_naming_the_url_with_no_change_and_no_empty_inventory() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let w2 = w.clone();
    let a2 = a.clone();
    let cases = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        // Unreachable: the state's endpoint is a closed port.
        let mut cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        cmd.env("R2GITOPS_S3_ENDPOINTS", format!("default=http://{closed}"));
        out.push(("unreachable", run(cmd), "cannot be reached"));
        // Wrong credentials.
        let mut cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        cmd.env("AWS_SECRET_ACCESS_KEY", "0".repeat(64));
        out.push(("wrong credentials", run(cmd), "SignatureDoesNotMatch"));
        // A bucket that does not exist.
        let cmd = w2.cmd(&a2, &["reconcile", "--state", "r2://nothere/k.json"]);
        out.push(("missing bucket", run(cmd), "r2://nothere/k.json"));
        // No credentials at all.
        let mut cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        cmd.env_remove("AWS_ACCESS_KEY_ID");
        out.push(("no credentials", run(cmd), "needs S3 credentials"));
        // A corrupt state object, for an apply and for a dry run.
        w2.s3(json!([{"op": "put", "key": KEY, "body": "{\"version\": 1, \"tokens\": "}]));
        let cmd = w2.cmd(&a2, &["reconcile", "--state", STATE]);
        out.push(("corrupt", run(cmd), "is not a valid r2gitops state object"));
        let cmd = w2.cmd(&a2, &["reconcile", "--dry-run", "--state", STATE]);
        out.push((
            "corrupt, dry run",
            run(cmd),
            "is not a valid r2gitops state object",
        ));
        out
    })
    .await
    .unwrap();
    for (what, out, words) in cases {
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {t}");
        assert!(t.contains(words), "{what}: {t}");
        let url = if what == "missing bucket" {
            "r2://nothere/k.json"
        } else {
            STATE
        };
        assert!(t.contains(url), "{what} names the URL: {t}");
        assert!(
            !t.contains("Plan:"),
            "{what}: no plan from an empty inventory: {t}"
        );
        assert!(!t.contains(&w.secret), "{what}: no secret in the error");
    }
    assert_eq!(w.sb.emu.stats().mutating, 0, "no Cloudflare write at all");
    assert!(!a.join("secrets").exists(), "no output written");
    let got = w.s3(json!([{"op": "get", "key": KEY}]));
    assert_eq!(
        got[0]["body"], "{\"version\": 1, \"tokens\": ",
        "the corrupt object is left as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_could_write_or_delete_the_state_bucket_is_refused_before_any_change() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let yaml = std::fs::read_to_string(a.join("r2gitops.yaml"))
        .unwrap()
        .replace(
            "buckets: [media]\n    output: { file: uploader",
            "buckets: [media, state]\n    output: { file: uploader",
        )
        .replace(
            "  - name: media\n",
            "  - name: media\n  - name: state\n    protect: false\n",
        );
    let cases = [
        (yaml.clone(), "with protect: false"),
        (
            yaml.replace("  - name: state\n    protect: false\n", "  - name: state\n"),
            "token 'uploader' (object-read-write) could write the state bucket 'state' (default)",
        ),
    ];
    for (file, words) in cases {
        std::fs::write(a.join("r2gitops.yaml"), &file).unwrap();
        let w2 = w.clone();
        let a2 = a.clone();
        let out =
            tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &["reconcile", "--state", STATE])))
                .await
                .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(words), "{}", text(&out));
    }
    assert_eq!(w.sb.emu.stats().mutating, 0);
}
