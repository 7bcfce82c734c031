//! Two desired-state files on one account, through the real binary against the emulator:
//! two directories, each with its own file and inventory, default settings and `prune: true`
//! in both. Neither ever deletes, rolls or changes the other's tokens; each plan says that
//! it sees them; and a lost inventory deletes nothing. boto3 proves the other file's
//! credentials still work.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::Sandbox;
use serde_json::{Value, json};

fn file(bucket: &str, token: &str) -> String {
    format!(
        r#"version: 1
settings: {{ recipients: ["{{recipient}}"], prune: true }}
buckets: [{{ name: {bucket} }}]
tokens:
  - {{ name: {token}, access: object-read-write, buckets: [{bucket}], output: {{ file: {token}.env.age, format: env }} }}
"#
    )
}

struct Two {
    s: Sandbox,
}

impl Two {
    fn dir(&self, which: &str) -> PathBuf {
        self.s.dir.path().join(which)
    }

    fn write(&self, which: &str, yaml: &str) {
        std::fs::create_dir_all(self.dir(which)).unwrap();
        std::fs::write(
            self.dir(which).join("r2gitops.yaml"),
            yaml.replace("{recipient}", &self.s.recipient),
        )
        .unwrap();
    }

    fn run(&self, which: &str, args: &[&str]) -> Output {
        let f = self.dir(which).join("r2gitops.yaml");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-f", f.to_str().unwrap()]);
        let out = self.s.r2gitops_without_file(&all).output().unwrap();
        eprintln!(
            "{which}: r2gitops {args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn plan(&self, which: &str) -> Value {
        let out = self.run(
            which,
            &[
                "reconcile",
                "--dry-run",
                "--detailed-exitcode",
                "--output",
                "json",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{which}: nothing to change");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Token name -> id, as the emulator stores them.
    fn ids(&self) -> BTreeMap<String, String> {
        self.s
            .emu
            .tokens()
            .into_iter()
            .map(|t| (t.name, t.id))
            .collect()
    }

    /// boto3 puts and gets an object with the credentials in `which`'s output.
    fn prove(&self, which: &str, token: &str, bucket: &str) {
        let out = self
            .dir(which)
            .join("secrets")
            .join(format!("{token}.env.age"));
        let vars = common::env_vars(&common::age_decrypt(&self.s.identity, &out));
        let op = |op: &str| {
            json!({
                "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": vars["AWS_ACCESS_KEY_ID"],
                "secret": vars["AWS_SECRET_ACCESS_KEY"], "op": op, "bucket": bucket,
                "key": "proof.txt", "body": which,
            })
        };
        let r = common::s3_ops(&json!([op("put"), op("get")]));
        assert_eq!(r[1]["body"], which, "{which}'s credentials: {r}");
    }
}

fn state(dir: &Path) -> PathBuf {
    dir.join("secrets/.r2gitops-state.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_on_one_account_never_touch_each_others_tokens() {
    let two = Two {
        s: Sandbox::new().await,
    };
    two.write("a", &file("assets", "assets-writer"));
    two.write("b", &file("media", "media-reader"));
    for which in ["a", "b"] {
        assert_eq!(two.run(which, &["reconcile"]).status.code(), Some(0));
    }
    let ids = two.ids();
    assert_eq!(ids.len(), 2, "{ids:?}");

    // Each plan sees the other's token, says so, and plans nothing for it.
    for (which, theirs) in [("a", "media-reader"), ("b", "assets-writer")] {
        let plan = two.plan(which);
        assert_eq!(plan["changes"], json!([]), "{which}: {plan}");
        assert_eq!(plan["orphans"], json!([]), "{which}: {plan}");
        let cf_name = format!("r2gitops:{theirs}");
        assert_eq!(plan["elsewhere"][0]["name"], cf_name, "{which}: {plan}");
        assert_eq!(plan["elsewhere"][0]["id"], ids[&cf_name], "{which}: {plan}");
        let text = two.run(which, &["reconcile", "--dry-run"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("· 1 token managed elsewhere (") && text.contains(&cf_name),
            "{which}: {text}"
        );
        assert!(!text.contains("delete token"), "{which}: {text}");
    }
    // Applying both again changes nothing of the other's.
    for which in ["a", "b", "a"] {
        assert_eq!(two.run(which, &["reconcile"]).status.code(), Some(0));
    }
    assert_eq!(two.ids(), ids);
    two.prove("a", "assets-writer", "assets");
    two.prove("b", "media-reader", "media");

    // A lost inventory deletes nothing, even with prune: the declared token is taken back
    // by its name (and rotated: there is no record of its output, and the key in use keeps
    // working through the overlap); the other's is shown.
    std::fs::remove_file(state(&two.dir("a"))).unwrap();
    let dry = two.run("a", &["reconcile", "--dry-run", "--output", "json"]);
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let actions: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["rotate"], "{plan}");
    assert_eq!(plan["elsewhere"][0]["name"], "r2gitops:media-reader");
    assert_eq!(two.run("a", &["reconcile"]).status.code(), Some(0));
    let tokens = two.s.emu.tokens();
    let ids_of = |name: &str| -> Vec<String> {
        tokens
            .iter()
            .filter(|t| t.name == name)
            .map(|t| t.id.clone())
            .collect()
    };
    assert_eq!(
        ids_of("r2gitops:media-reader"),
        [ids["r2gitops:media-reader"].clone()],
        "the other file's token is untouched"
    );
    let a_ids = ids_of("r2gitops:assets-writer");
    assert_eq!(
        a_ids.len(),
        2,
        "a new key, and the old one through its overlap"
    );
    assert!(a_ids.contains(&ids["r2gitops:assets-writer"]));
    // b sees a's new key and a's retiring one as another file's: never touched.
    assert_eq!(two.run("b", &["reconcile"]).status.code(), Some(0));
    assert_eq!(two.s.emu.tokens().len(), 3);
    two.prove("b", "media-reader", "media");
    two.prove("a", "assets-writer", "assets");
}
