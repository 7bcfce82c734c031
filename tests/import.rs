//! `r2gitops import` end to end: an account seeded with Cloudflare's official
//! Python SDK, imported by the real binary from the emulator, gives exactly the golden file
//! (ids, account and date normalised), changes nothing in Cloudflare, refuses to overwrite,
//! and - recipients filled in - plans nothing; its commented entry, uncommented, adopts the
//! hand-made token with its value.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Output, Stdio};

use serde_json::Value;

use common::Sandbox;
use common::output::text;

const GOLDEN: &str = "tests/data/golden/import.yaml";

fn seed(sb: &Sandbox) -> Value {
    // The zone and queue the seeded custom domain and notification rules name.
    sb.emu
        .add_zone(cf_emulator::ZoneSeed::parse("example.com").unwrap());
    sb.emu.add_queue("uploads");
    let out = std::process::Command::new(common::python())
        .arg(common::root().join("tests/clients/cloudflare_sdk_seed_import.py"))
        .arg(sb.emu.api_url())
        .arg(sb.emu.account_id())
        .env("CLOUDFLARE_API_TOKEN", sb.emu.admin_token())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SDK seeding failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The file with what differs per run replaced: the account id, token ids (by name), the
/// date and the output path in the header, the r2.dev hostname.
fn normalised(file: &str, account: &str, ids: &BTreeMap<String, String>) -> String {
    let mut s = file.replace(account, "<account>");
    for (name, id) in ids {
        s = s.replace(id, &format!("<id of {name}>"));
    }
    s.lines()
        .map(|l| match l.strip_prefix("# Made by `") {
            Some(_) => "# Made by `r2gitops import -o <file>` on <date>".to_string(),
            // The r2.dev hostname is a hash of the (random) account.
            None => match l.find("https://pub-") {
                Some(at) => format!(
                    "{}https://pub-<hash>.r2.dev{}",
                    &l[..at],
                    if l.ends_with('"') { "\"" } else { "" }
                ),
                None => l.to_string(),
            },
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// What a user does to take the adoptable tokens over: uncomment each entry, from its
/// `# - name:` line to the blank line after it.
fn uncomment_entries(text: &str) -> String {
    let mut inside = false;
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("  # - name:") {
            inside = true;
        } else if line.trim().is_empty() {
            inside = false;
        }
        match (inside, line.strip_prefix("  # ")) {
            (true, Some(rest)) => out.push_str(&format!("  {rest}")),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_account_imports_exactly_and_plans_nothing() {
    let sb = Sandbox::new().await;
    let seeded = seed(&sb);
    let ids: BTreeMap<String, String> = seeded["ids"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let before = sb.emu.stats();
    let tokens_before = sb.emu.tokens();

    let path = sb.file();
    let o = sb
        .r2gitops_without_file(&["import", "-o", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("imported 3 buckets and 2 managed tokens from account")
            && text(&o).contains("1 tokens can be adopted (commented out), 1 cannot be expressed"),
        "{}",
        text(&o)
    );
    let after = sb.emu.stats();
    assert_eq!(
        after.mutating, before.mutating,
        "import changed something in Cloudflare"
    );
    assert_eq!(sb.emu.tokens(), tokens_before);

    let file = std::fs::read_to_string(&path).unwrap();
    let got = normalised(&file, sb.emu.account_id(), &ids);
    let golden = common::root().join(GOLDEN);
    if std::env::var_os("R2GITOPS_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert!(
        got == want,
        "import wrote (R2GITOPS_UPDATE_GOLDEN=1 to accept):\n{got}"
    );

    // Never over an existing file without --force.
    let o = sb
        .r2gitops_without_file(&["import", "-o", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("exists; nothing was written"),
        "{}",
        text(&o)
    );

    // As written, validate refuses the placeholder and says what to do.
    let o = sb.r2gitops(&["validate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the recipients are still the placeholder"),
        "{}",
        text(&o)
    );

    // Recipients filled in: nothing to change.
    sb.write(&file.replace("REPLACE-ME-with-age1-public-keys", "{recipient}"));
    let o = sb
        .r2gitops(&[
            "reconcile",
            "--dry-run",
            "--skip-outputs",
            "--detailed-exitcode",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Uncommenting the hand-made token's entry and handing over its value adopts it.
    let adopted =
        uncomment_entries(&file.replace("REPLACE-ME-with-age1-public-keys", "{recipient}"));
    sb.write(&adopted);
    let mut child = sb
        .r2gitops(&["adopt", "backup-reader-dashboard", "--value-from-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{}",
        seeded["hand_value"].as_str().unwrap()
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = sb.r2gitops(&["reconcile"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = sb
        .r2gitops(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_names_the_blocks_read_and_nothing_else_is_read() {
    let sb = Sandbox::new().await;
    seed(&sb);
    let reads = |args: &[&str]| {
        sb.emu.reset_stats();
        let mut all = vec!["import"];
        all.extend_from_slice(args);
        let o = sb.r2gitops_without_file(&all).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let mut routes: Vec<String> = sb
            .emu
            .stats()
            .by_route
            .keys()
            .filter(|r| r.contains("/:name/"))
            .cloned()
            .collect();
        routes.sort();
        (routes, String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (routes, file) = reads(&["--with", "cors,lock"]);
    assert_eq!(
        routes,
        [
            "GET /accounts/:id/r2/buckets/:name/cors",
            "GET /accounts/:id/r2/buckets/:name/lock"
        ]
    );
    assert!(file.contains("    cors:") && file.contains("    lock:"));
    assert!(!file.contains("lifecycle:") && !file.contains("public_dev_url"));
    let (routes, file) = reads(&["--with", "none"]);
    assert!(routes.is_empty(), "{routes:?}");
    assert!(!file.contains("    cors:"));

    let o = sb
        .r2gitops_without_file(&["import", "--with", "corz"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(64), "a usage error");
    assert!(
        text(&o).contains("'corz' is not a configuration block; one of cors, lifecycle, lock, public_dev_url, custom_domains, notifications, or none"),
        "{}",
        text(&o)
    );
}

/// Plan as JSON: (action, name, reason) of each change.
fn changes(o: &Output) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("name"), s("reason"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_of_an_imported_file_does_what_its_header_says() {
    let sb = Sandbox::new().await;
    let seeded = seed(&sb);
    let path = sb.file();
    let o = sb
        .r2gitops_without_file(&["import", "--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("the first `reconcile` rotates the 2 managed tokens"),
        "{}",
        text(&o)
    );
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(
        file.contains("# `r2gitops reconcile --dry-run --skip-outputs` shows nothing to change in Cloudflare\n")
            && file.contains("# The first `reconcile` rotates every token declared below: r2gitops has no record\n")
            && file.contains("#     r2gitops adopt NAME --value-file PATH\n"),
        "{file}"
    );
    sb.write(&file.replace("REPLACE-ME-with-age1-public-keys", "{recipient}"));

    // Exactly what the header says: no change in Cloudflare, and a rotation of each
    // managed token because there is no record of its output.
    let dry = |extra: &[&str]| {
        let mut args = vec![
            "reconcile",
            "--dry-run",
            "--detailed-exitcode",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        sb.r2gitops(&args).output().unwrap()
    };
    let o = dry(&["--skip-outputs"]);
    assert_eq!(
        (o.status.code(), changes(&o)),
        (Some(0), vec![]),
        "{}",
        text(&o)
    );
    let o = dry(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // A new key each, the one in use kept through the overlap.
    let roll = |name: &str| {
        (
            "rotate".to_string(),
            name.to_string(),
            "output_unrecorded".to_string(),
        )
    };
    assert_eq!(changes(&o), [roll("ops"), roll("uploader")]);

    // Handing over a value keeps it: `adopt` works on an imported entry (no `adopt:`).
    let value = seeded["values"]["r2gitops:ops"].as_str().unwrap();
    let value_file = sb.dir.path().join("ops.value");
    std::fs::write(&value_file, format!("{value}\n")).unwrap();
    let o = sb
        .r2gitops(&["adopt", "ops", "--value-file", value_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = dry(&[]);
    assert_eq!(changes(&o), [roll("uploader")], "{}", text(&o));
    // A value that belongs to another token is refused for an entry without `adopt:`.
    let other = sb.dir.path().join("uploader.value");
    std::fs::write(&other, seeded["hand_value"].as_str().unwrap()).unwrap();
    let o = sb
        .r2gitops(&["adopt", "uploader", "--value-file", other.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("manages only a token named 'r2gitops:uploader'; nothing was written"),
        "{}",
        text(&o)
    );

    // The run itself: ops keeps the secret in use (boto3 with the key derived from the
    // original value still lists), uploader is rotated.
    let o = sb.r2gitops(&["reconcile"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let secret = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(value.as_bytes()))
    };
    let vars = common::env_vars(&common::age_decrypt(
        &sb.identity,
        &sb.out().join("ops.env.age"),
    ));
    assert_eq!(
        vars["AWS_SECRET_ACCESS_KEY"], secret,
        "the output holds the value in use"
    );
    let listed = common::s3_ops(&serde_json::json!([{
        "endpoint": vars["AWS_ENDPOINT_URL"], "key_id": seeded["ids"]["r2gitops:ops"],
        "secret": secret, "op": "list_buckets",
    }]));
    assert_eq!(listed[0]["ok"], true, "{listed}");
    let o = dry(&[]);
    assert_eq!(
        (o.status.code(), changes(&o)),
        (Some(0), vec![]),
        "{}",
        text(&o)
    );
}
