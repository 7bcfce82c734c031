//! Taking over hand-made tokens, end to end against the emulator with the real
//! binary, the `age` CLI and boto3: with the value (`r2gitops adopt`, the S3 keys in use
//! keep working) and by roll (same key id, new secret, old one dead), and the guard that
//! keeps a roll from happening unasked.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use r2gitops::cloudflare::{ReadApi, WriteApi};
use r2gitops::config::{Jurisdiction, Owner, StorageClass};
use serde_json::json;
use sha2::{Digest, Sha256};

use common::Sandbox;
use common::output::text;

/// A token made by hand in the dashboard: object read-write on `backups`.
struct HandMade {
    id: String,
    value: String,
}

impl HandMade {
    fn secret(&self) -> String {
        hex::encode(Sha256::digest(self.value.as_bytes()))
    }
}

async fn backups(sb: &Sandbox) {
    common::admin_client(&sb.emu)
        .await
        .into_writer()
        .create_bucket(
            Jurisdiction::Default,
            "backups",
            None,
            StorageClass::Standard,
        )
        .await
        .unwrap();
}

async fn hand_made(sb: &Sandbox, name: &str) -> HandMade {
    let admin = common::admin_client(&sb.emu).await;
    let mut policy = common::object_read_policy(&sb.emu, "backups");
    policy.permission_groups = ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into();
    let created = admin
        .into_writer()
        .create_token(Owner::Account, &common::token_request(name, policy))
        .await
        .unwrap();
    HandMade {
        id: created.token.id.clone(),
        value: created.value.expose().to_string(),
    }
}

/// put then get through boto3 with `key_id`/`secret`: `Ok(())`, or the first error code.
fn s3_round_trip(sb: &Sandbox, key_id: &str, secret: &str, key: &str) -> Result<(), String> {
    let endpoint = &sb.emu.s3_urls()["default"];
    let op = |op: &str| {
        json!({
            "endpoint": endpoint, "key_id": key_id, "secret": secret, "op": op,
            "bucket": "backups", "key": key, "body": "kept",
        })
    };
    let results = common::s3_ops(&json!([op("put"), op("get")]));
    for r in results.as_array().unwrap() {
        if r["ok"] != true {
            return Err(r["error"].as_str().unwrap_or("?").to_string());
        }
    }
    Ok(())
}

/// `file` with `settings.rotation_overlap: 0`: rolls in place instead of rotating.
fn roll_in_place(file: &str) -> String {
    file.replace("settings:\n", "settings:\n  rotation_overlap: 0\n")
}

const FILE: &str = r#"
version: 1
settings:
  recipients: ["{recipient}"]
buckets:
  - name: backups
tokens:
  - name: backup-reader
    adopt: ID
    access: object-read-write
    buckets: [backups]
    output: { file: backup-reader.env.age, format: env }
"#;

fn adopt_with(sb: &Sandbox, value: &str, extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = sb.r2gitops(&["adopt", "backup-reader", "--value-from-stdin"]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{value}").unwrap();
    child.wait_with_output().unwrap()
}

async fn token_name(sb: &Sandbox, id: &str) -> String {
    common::admin_client(&sb.emu)
        .await
        .get_token(Owner::Account, id)
        .await
        .unwrap()
        .expect("the token exists")
        .name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_with_the_value_keeps_the_s3_keys_in_use_working() {
    let sb = Sandbox::new().await;
    backups(&sb).await;
    let hand = hand_made(&sb, "backup reader (dashboard)").await;
    let other = hand_made(&sb, "someone else").await;
    s3_round_trip(&sb, &hand.id, &hand.secret(), "before").expect("the hand-made keys work");
    sb.write(&FILE.replace("ID", &hand.id));

    // A value that is not a token, then another token's value: refused, nothing written.
    let o = adopt_with(&sb, "not-a-token-value-at-all-0000000000000", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the value did not verify"),
        "{}",
        text(&o)
    );
    let o = adopt_with(&sb, &other.value, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "the value verifies as token {}, not {}",
            other.id, hand.id
        )),
        "{}",
        text(&o)
    );
    assert!(!sb.out().join("backup-reader.env.age").exists());

    // The right value, logged at trace: it and its S3 secret appear nowhere.
    let o = adopt_with(&sb, &hand.value, &[("RUST_LOG", "trace")]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("adopted token backup-reader"), "{all}");
    assert!(
        !all.contains(&hand.value) && !all.contains(&hand.secret()),
        "a secret was printed"
    );
    assert!(
        all.contains("name 'backup reader (dashboard)' -> 'r2gitops:backup-reader'"),
        "the next plan is shown: {all}"
    );

    let plain = common::age_decrypt(&sb.identity, &sb.out().join("backup-reader.env.age"));
    let vars = common::env_vars(&plain);
    assert_eq!(vars["AWS_ACCESS_KEY_ID"], hand.id);
    assert_eq!(
        vars["AWS_SECRET_ACCESS_KEY"],
        hand.secret(),
        "the existing secret"
    );

    // The reconcile renames it in place; the keys in use never stop working.
    let o = sb.r2gitops(&["reconcile"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("↻"), "no roll: {}", text(&o));
    assert_eq!(token_name(&sb, &hand.id).await, "r2gitops:backup-reader");
    s3_round_trip(&sb, &hand.id, &hand.secret(), "after").expect("the same keys still work");
    let o = sb
        .r2gitops(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "converged: {}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_by_roll_needs_consent_and_keeps_the_key_id() {
    let sb = Sandbox::new().await;
    backups(&sb).await;
    let hand = hand_made(&sb, "backup reader (dashboard)").await;
    // Rolled in place (overlap 0): the roll path of an adoption without its value.
    sb.write(&roll_in_place(&FILE.replace("ID", &hand.id)));

    // Without consent: blocked, with the way out, and nothing changes.
    let o = sb.r2gitops(&["reconcile"]).output().unwrap();
    assert!(
        text(&o).contains("r2gitops adopt backup-reader --value-from-stdin"),
        "{}",
        text(&o)
    );
    assert_eq!(token_name(&sb, &hand.id).await, "backup reader (dashboard)");
    s3_round_trip(&sb, &hand.id, &hand.secret(), "untouched").expect("still working");
    assert!(!sb.out().join("backup-reader.env.age").exists());

    let o = sb
        .r2gitops(&["reconcile", "--allow-adopt-roll"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "↻ adopt token backup-reader ({}): roll required to issue its credentials (existing S3 keys stop working)",
            hand.id
        )),
        "{}",
        text(&o)
    );
    let plain = common::age_decrypt(&sb.identity, &sb.out().join("backup-reader.env.age"));
    let vars = common::env_vars(&plain);
    assert_eq!(vars["AWS_ACCESS_KEY_ID"], hand.id, "the same key id");
    assert_ne!(vars["AWS_SECRET_ACCESS_KEY"], hand.secret());
    s3_round_trip(
        &sb,
        &vars["AWS_ACCESS_KEY_ID"],
        &vars["AWS_SECRET_ACCESS_KEY"],
        "new",
    )
    .expect("the new secret works");
    assert!(
        s3_round_trip(&sb, &hand.id, &hand.secret(), "old").is_err(),
        "the old secret is dead"
    );
    let o = sb
        .r2gitops(&["reconcile", "--dry-run", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "adopt: may stay: {}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_an_id_that_does_not_exist_is_a_located_error() {
    let sb = Sandbox::new().await;
    backups(&sb).await;
    sb.write(&FILE.replace("ID", "0123456789abcdef0123456789abcdef"));
    let o = sb.r2gitops(&["reconcile", "--dry-run"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("r2gitops.yaml:9:12: tokens[0].adopt: no account token with id 0123456789abcdef0123456789abcdef"),
        "{}",
        text(&o)
    );
}

/// A token the daemon can run with (Account API Tokens Write + Workers R2 Storage Write on
/// the account), minted with the emulator's admin token: (id, value).
async fn daemon_token(sb: &Sandbox) -> (String, String) {
    use r2gitops::observed::{Effect, Policy, ResourceValue};
    let policy = Policy {
        effect: Effect::Allow,
        permission_groups: [
            "5bc3f8b21c554832afc660159ab75fa4".to_string(), // Account API Tokens Write
            "bf7481a1826f439697cb59a20b22293e".to_string(), // Workers R2 Storage Write
        ]
        .into(),
        resources: [(
            format!("com.cloudflare.api.account.{}", sb.emu.account_id()),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    let created = common::admin_client(&sb.emu)
        .await
        .into_writer()
        .create_token(
            Owner::Account,
            &common::token_request("r2gitops daemon", policy),
        )
        .await
        .unwrap();
    (created.token.id, created.value.expose().to_string())
}

/// The file of `FILE`, adopting `id`, with the committed key that used to grant the roll.
fn committing_adopt_by_roll(id: &str) -> String {
    FILE.replace("ID", id).replace(
        "  recipients: [\"{recipient}\"]\n",
        "  recipients: [\"{recipient}\"]\n  adopt_by_roll: true\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_of_the_daemons_own_token_is_refused_with_0_mutating_calls() {
    let sb = Sandbox::new().await;
    backups(&sb).await;
    let (own_id, own_value) = daemon_token(&sb).await;
    let before = common::admin_client(&sb.emu)
        .await
        .get_token(Owner::Account, &own_id)
        .await
        .unwrap()
        .unwrap();
    sb.write(&committing_adopt_by_roll(&own_id));
    sb.emu.reset_stats();

    // Even with the operator's consent to rolls, the plan is refused, located.
    let o = sb
        .r2gitops(&["reconcile", "--allow-adopt-roll"])
        .env("CLOUDFLARE_API_TOKEN", &own_value)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "r2gitops.yaml:10:12: tokens[0].adopt: token {own_id} is the API token r2gitops itself calls Cloudflare with"
        )),
        "{}",
        text(&o)
    );
    // The value handed over is refused as well, before it is used.
    let mut cmd = sb.r2gitops(&["adopt", "backup-reader", "--value-from-stdin"]);
    cmd.env("CLOUDFLARE_API_TOKEN", &own_value);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{own_value}").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("is the API token r2gitops itself calls Cloudflare with")
            && text(&o).contains("nothing was written"),
        "{}",
        text(&o)
    );
    assert!(!sb.out().join("backup-reader.env.age").exists());

    assert_eq!(sb.emu.stats().mutating, 0, "{:?}", sb.emu.stats().calls);
    let after = common::admin_client(&sb.emu)
        .await
        .get_token(Owner::Account, &own_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.name, after.policies, after.modified_on),
        (before.name, before.policies, before.modified_on)
    );
    // And the daemon's token still works.
    let o = sb
        .r2gitops(&["reconcile", "--dry-run"])
        .env("CLOUDFLARE_API_TOKEN", &own_value)
        .output()
        .unwrap();
    assert!(!text(&o).contains("Invalid API Token"), "{}", text(&o));
    // `import` run with it does not offer it either.
    let o = sb
        .r2gitops_without_file(&["import"])
        .env("CLOUDFLARE_API_TOKEN", &own_value)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let file = String::from_utf8_lossy(&o.stdout);
    assert_eq!(file.matches(own_id.as_str()).count(), 1, "{file}");
    assert!(
        file.contains(&format!(
            "# Not listed: token \"{own_id}\" (the API token this import ran with; r2gitops never adopts its own token)"
        )),
        "{file}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_adopt_by_roll_grants_nothing() {
    let sb = Sandbox::new().await;
    backups(&sb).await;
    let hand = hand_made(&sb, "ci deploy (dashboard)").await;
    sb.write(&committing_adopt_by_roll(&hand.id));

    sb.emu.reset_stats();
    let o = sb.r2gitops(&["reconcile"]).output().unwrap();
    assert_eq!(sb.emu.stats().mutating, 0, "{}", text(&o));
    assert_eq!(token_name(&sb, &hand.id).await, "ci deploy (dashboard)");
    s3_round_trip(&sb, &hand.id, &hand.secret(), "untouched").expect("its keys still work");
    assert!(!sb.out().join("backup-reader.env.age").exists());
    assert!(
        text(&o).contains("! blocked token backup-reader: adopting")
            && text(&o).contains(
                "or an operator allows the roll with --allow-adopt-roll (the file cannot)"
            ),
        "{}",
        text(&o)
    );

    let o = sb.r2gitops(&["validate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("settings.adopt_by_roll is ignored: only the operator can allow adopting a token by rolling it"),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_a_token_with_permissions_the_file_cannot_express_is_refused_with_0_mutating_calls()
 {
    use r2gitops::observed::{Effect, Policy, ResourceValue};
    let sb = Sandbox::new().await;
    backups(&sb).await;
    // A CI token: object read-write on backups, and it may read the account's tokens.
    let mut object = common::object_read_policy(&sb.emu, "backups");
    object.permission_groups = ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into();
    let tokens_read = Policy {
        effect: Effect::Allow,
        permission_groups: ["0cc3a61731504c89b99ec1be78b77aa0".to_string()].into(),
        resources: [(
            format!("com.cloudflare.api.account.{}", sb.emu.account_id()),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    let mut request = common::token_request("ci", object);
    request.policies.push(tokens_read);
    let ci = common::admin_client(&sb.emu)
        .await
        .into_writer()
        .create_token(Owner::Account, &request)
        .await
        .unwrap()
        .token;
    sb.write(&FILE.replace("ID", &ci.id));
    sb.emu.reset_stats();
    let o = sb
        .r2gitops(&["reconcile", "--allow-adopt-roll"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "r2gitops.yaml:9:12: tokens[0].adopt: token {} holds what no declaration can say (2 policies; r2gitops declares one)",
            ci.id
        )),
        "{}",
        text(&o)
    );
    assert_eq!(sb.emu.stats().mutating, 0, "{:?}", sb.emu.stats().calls);
    let after = common::admin_client(&sb.emu)
        .await
        .get_token(Owner::Account, &ci.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.policies.len(), 2, "it kept both policies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_tokens_plan_line_names_the_permissions_it_loses() {
    let sb = Sandbox::new().await;
    backups(&sb).await;
    let hand = hand_made(&sb, "backup reader (dashboard)").await;
    sb.write(
        &FILE
            .replace("ID", &hand.id)
            .replace("access: object-read-write", "access: object-read"),
    );
    let o = sb
        .r2gitops(&["reconcile", "--dry-run", "--allow-adopt-roll"])
        .output()
        .unwrap();
    assert!(
        text(&o).contains(
            "~ update token backup-reader: name 'backup reader (dashboard)' -> 'r2gitops:backup-reader', access object-read-write -> object-read, loses Workers R2 Storage Bucket Item Write on bucket backups"
        ),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_caps_the_adopt_rolls_of_a_pass_with_max_adopt_rolls() {
    let sb = Sandbox::new().await;
    backups(&sb).await;
    let a = hand_made(&sb, "reader a").await;
    let b = hand_made(&sb, "reader b").await;
    let second = FILE
        .split_once("tokens:\n")
        .unwrap()
        .1
        .replace("backup-reader", "other-reader")
        .replace("ID", &b.id);
    sb.write(&roll_in_place(&(FILE.replace("ID", &a.id) + &second)));

    sb.emu.reset_stats();
    let o = sb
        .r2gitops(&["reconcile", "--allow-adopt-roll"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "the plan rolls 2 adopted tokens whose S3 keys are in use, more than --max-adopt-rolls (1); nothing will be applied"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(sb.emu.stats().mutating, 0, "{:?}", sb.emu.stats().calls);

    let o = sb
        .r2gitops(&["reconcile", "--allow-adopt-roll", "--max-adopt-rolls", "2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(token_name(&sb, &a.id).await, "r2gitops:backup-reader");
    assert_eq!(token_name(&sb, &b.id).await, "r2gitops:other-reader");
}
