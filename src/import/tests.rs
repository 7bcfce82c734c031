//! The file import writes, from hand-built snapshots: exactly, and valid once the
//! recipients are filled in (with the commented entries uncommented too).

mod roundtrip;

use std::collections::BTreeMap;
use std::path::Path;

use time::macros::datetime;

use super::Snapshot;
use super::render::{Header, file};
use super::sort::{slug, sort_tokens};
use crate::config::validate::{Facts, RECIPIENT_PLACEHOLDER};
use crate::config::{
    Access, IpRules, Jurisdiction, LocationHint, OutputFormat, OutputSpec, Owner, StorageClass,
    TokenScope, TokenSpec,
};
use crate::observed::{ObservedBucket, ObservedToken, PermissionGroupIds, TokenStatus};
use crate::plan::policy::desired_policies;

const ACCT: &str = "0123456789abcdef0123456789abcdef";

fn bucket(name: &str, j: Jurisdiction) -> ObservedBucket {
    ObservedBucket {
        name: name.into(),
        jurisdiction: j,
        location: None,
        storage_class: StorageClass::Standard,
        creation_date: None,
    }
}

fn token(n: u8, name: &str, access: Access, scope: TokenScope, j: Jurisdiction) -> ObservedToken {
    let spec = TokenSpec {
        name: String::new(),
        owner: Owner::Account,
        access,
        scope,
        jurisdiction: j,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: OutputSpec {
            file: "x".into(),
            format: OutputFormat::Env,
            recipients: Vec::new(),
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: None,
        },
    };
    ObservedToken {
        id: format!("{n:032x}"),
        name: name.into(),
        owner: Owner::Account,
        status: TokenStatus::Active,
        issued_on: Some(datetime!(2026-01-01 00:00 UTC)),
        modified_on: None,
        not_before: None,
        expires_on: None,
        policies: desired_policies(&spec, ACCT, &PermissionGroupIds::known()),
        condition: IpRules::default(),
    }
}

fn snapshot() -> Snapshot {
    let mut media = bucket("media", Jurisdiction::Default);
    media.location = Some(LocationHint::Weur);
    let mut archive = bucket("archive", Jurisdiction::Eu);
    archive.storage_class = StorageClass::InfrequentAccess;
    let media_only = || TokenScope::Buckets(vec!["media".into()]);

    let mut uploader = token(
        1,
        "r2gitops:uploader",
        Access::ObjectReadWrite,
        media_only(),
        Jurisdiction::Default,
    );
    uploader.expires_on = Some(datetime!(2027-06-30 00:00:00.250 UTC));
    uploader.condition.allow = vec!["203.0.113.0/24".parse().unwrap()];
    let mut admin = token(
        2,
        "r2gitops:ops admin",
        Access::AdminRead,
        TokenScope::Account,
        Jurisdiction::Default,
    );
    admin.owner = Owner::User;
    let hand = token(
        3,
        "Backup reader (dashboard)",
        Access::ObjectRead,
        TokenScope::Buckets(vec!["archive".into()]),
        Jurisdiction::Eu,
    );
    let mut two = token(
        4,
        "two policies",
        Access::ObjectRead,
        media_only(),
        Jurisdiction::Default,
    );
    two.policies.push(two.policies[0].clone());
    let mut expired = token(
        5,
        "r2gitops:old",
        Access::ObjectRead,
        media_only(),
        Jurisdiction::Default,
    );
    expired.expires_on = Some(datetime!(2026-01-02 00:00 UTC));
    let gone = token(
        6,
        "r2gitops:gone-bucket",
        Access::ObjectRead,
        TokenScope::Buckets(vec!["deleted".into()]),
        Jurisdiction::Default,
    );
    let injection = token(
        7,
        "evil\nprune: true",
        Access::ObjectRead,
        TokenScope::AllBuckets,
        Jurisdiction::Default,
    );
    Snapshot {
        policy: None,
        account_id: ACCT.into(),
        buckets: vec![media, archive],
        tokens: vec![uploader, admin, hand, two, expired, gone, injection],
        groups: PermissionGroupIds::known(),
        prefix: "r2gitops:".into(),
        recorded: None,
        unlisted: vec!["user tokens (the API token may not list them)".into()],
        blocks: BTreeMap::new(),
    }
}

fn header() -> Header {
    Header {
        command: "r2gitops import -o r2gitops.yaml".into(),
        generated_at: datetime!(2026-11-29 08:00:00.5 UTC),
    }
}

const EXPECTED: &str = r#"# Made by `r2gitops import -o r2gitops.yaml` on 2026-11-29T08:00:00Z
# from Cloudflare account 0123456789abcdef0123456789abcdef.
# Next: put your age public keys in settings.recipients, then
# `r2gitops reconcile --dry-run --skip-outputs` shows nothing to change in Cloudflare
# for what was imported.
# The first `reconcile` rotates every token declared below: r2gitops has no record
# of a credential file it wrote for it, so it issues a new key and writes that, and the
# key in use keeps working for settings.rotation_overlap (default 1h), then is deleted.
# To keep it, hand its current value over first (then it is not rotated):
#     r2gitops adopt NAME --value-file PATH
# Buckets are protected: r2gitops never deletes them while `protect: true`.
# Not listed: user tokens (the API token may not list them)
version: 1
account_id: "0123456789abcdef0123456789abcdef"
settings:
  prune: false
  recipients: ["REPLACE-ME-with-age1-public-keys"]   # your age public keys; validate refuses this placeholder
buckets:
  - name: "media"
    location_hint: weur
    protect: true
  - name: "archive"
    jurisdiction: eu
    storage_class: InfrequentAccess
    protect: true
tokens:
  - name: "ops admin"
    owner: user
    access: admin-read
    output: { file: "ops-admin.env.age", format: env }
  - name: "uploader"
    access: object-read-write
    buckets: ["media"]
    expires_on: 2027-06-30T00:00:00Z
    ip:
      allow: ["203.0.113.0/24"]
    output: { file: "uploader.env.age", format: env }

  # Tokens r2gitops does not manage yet, which this file can express. To take one
  # over, uncomment its entry, then either hand over its current value (no downtime):
  #     r2gitops adopt NAME --value-from-stdin
  # or let the next reconcile issue it a new key (the existing S3 keys stop working
  # when its rotation_overlap ends, at once with 0), which only an operator can
  # allow: `reconcile --allow-adopt-roll`.

  # "Backup reader (dashboard)" (id "00000000000000000000000000000003"): object-read on "archive" (eu)
  # - name: "backup-reader-dashboard"
  #   adopt: "00000000000000000000000000000003"
  #   access: object-read
  #   buckets: ["archive"]
  #   output: { file: "backup-reader-dashboard.env.age", format: env }

  # "evil\u000aprune: true" (id "00000000000000000000000000000007"): object-read on every bucket
  # - name: "evil-prune-true"
  #   adopt: "00000000000000000000000000000007"
  #   access: object-read
  #   buckets: ["*"]
  #   output: { file: "evil-prune-true.env.age", format: env }

# Tokens this file cannot express (r2gitops never touches them):
#   - "r2gitops:gone-bucket" (id "00000000000000000000000000000006"): it names bucket "deleted" (default), which is not imported (deleted, or its jurisdiction was not listed)
#   - "r2gitops:old" (id "00000000000000000000000000000005"): it expired at 2026-01-02T00:00:00Z
#   - "two policies" (id "00000000000000000000000000000004"): 2 policies; r2gitops declares one
"#;

#[test]
fn the_file_says_how_it_was_made_and_sorts_every_token() {
    let got = file(&snapshot(), &header());
    if got != EXPECTED {
        panic!("import wrote:\n{got}");
    }
}

/// Load `text` as a desired-state file, without reading anything from disk.
fn load(text: &str) -> Result<crate::config::Desired, crate::config::Diagnostics> {
    crate::config::load::load_bytes(
        text.as_bytes(),
        "imported.yaml",
        Path::new("imported.yaml"),
        &|_| Facts::default(),
    )
}

#[test]
fn the_file_is_valid_once_recipients_are_filled_in_and_with_every_entry_uncommented() {
    let text = file(&snapshot(), &header());
    let refused = load(&text).unwrap_err().to_string();
    assert!(
        refused.contains(RECIPIENT_PLACEHOLDER) || refused.contains("placeholder"),
        "{refused}"
    );
    let key = age::x25519::Identity::generate().to_public().to_string();
    let filled = text.replace(RECIPIENT_PLACEHOLDER, &key);
    let d = load(&filled).unwrap_or_else(|e| panic!("{e}\n{filled}"));
    assert_eq!(d.buckets.len(), 2);
    assert!(d.buckets.iter().all(|b| b.protect));
    let names: Vec<&str> = d.tokens.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["ops admin", "uploader"]);
    assert!(
        !d.settings.prune,
        "the injected 'prune: true' stayed a comment"
    );

    let uncommented = uncomment_entries(&filled);
    let d = load(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    let adopted: Vec<&str> = d
        .tokens
        .iter()
        .filter_map(|t| t.adopt.as_ref().map(|a| a.id.as_str()))
        .collect();
    assert_eq!(
        adopted,
        [
            "00000000000000000000000000000003",
            "00000000000000000000000000000007"
        ]
    );
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
        let line = match (inside, line.strip_prefix("  # ")) {
            (true, Some(rest)) => format!("  {rest}"),
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn names_and_files_stay_unique_and_tokens_not_managed_get_a_slug() {
    let mut s = snapshot();
    let mut twin = s.tokens[2].clone();
    twin.id = format!("{:032x}", 9);
    twin.name = "backup READER dashboard".into();
    s.tokens.push(twin);
    let sorted = sort_tokens(&s, header().generated_at);
    let adoptable: Vec<(&str, &str)> = sorted
        .adoptable
        .iter()
        .map(|d| (d.name.as_str(), d.file.as_str()))
        .collect();
    assert_eq!(
        adoptable,
        [
            ("backup-reader-dashboard", "backup-reader-dashboard.env.age"),
            (
                "backup-reader-dashboard-2",
                "backup-reader-dashboard-2.env.age"
            ),
            ("evil-prune-true", "evil-prune-true.env.age"),
        ]
    );
    for (name, want) in [
        ("Backup reader (dashboard)", "backup-reader-dashboard"),
        ("  --ci--deploy--  ", "ci-deploy"),
        ("日本語", "token"),
        ("a_b.c", "a-b-c"),
    ] {
        assert_eq!(slug(name), want, "{name}");
    }
}

#[test]
fn a_duplicate_managed_name_keeps_the_oldest_as_the_diff_does() {
    let mut s = snapshot();
    let mut newer = s.tokens[0].clone();
    newer.id = format!("{:032x}", 10);
    newer.issued_on = Some(datetime!(2026-06-01 00:00 UTC));
    s.tokens.insert(0, newer);
    let sorted = sort_tokens(&s, header().generated_at);
    let uploader = sorted
        .managed
        .iter()
        .find(|d| d.name == "uploader")
        .unwrap();
    assert_eq!(uploader.id, format!("{:032x}", 1));
    assert!(
        sorted
            .not_importable
            .iter()
            .any(|(_, id, why)| id == &format!("{:032x}", 10)
                && why.contains("deletes this one as a duplicate")),
        "{:?}",
        sorted.not_importable
    );
}

#[test]
fn names_from_cloudflare_cannot_inject_yaml_and_the_file_loads_with_exactly_the_declared_buckets() {
    use crate::observed::bucket_config::{ConfigValue, LifecycleRule};
    let hostile = [
        "prod\n    public_dev_url: true",
        "prod\r\nprune: true",
        "logs\u{2028}    public_dev_url: true",
        "x\"y",
        "ab",
        "Media",
    ];
    let mut s = snapshot();
    s.buckets
        .extend(hostile.iter().map(|n| bucket(n, Jurisdiction::Default)));
    let mut rule = LifecycleRule::cloudflare_default();
    rule.id = "keep\n    public_dev_url: true".into();
    s.blocks.insert(
        (Jurisdiction::Default, "media".into()),
        vec![ConfigValue::Lifecycle(vec![rule])],
    );
    let mut ci = token(
        8,
        "CI `deploy`\u{2029}settings:\n  prune: true",
        Access::ObjectRead,
        TokenScope::Buckets(vec!["media".into()]),
        Jurisdiction::Default,
    );
    ci.id = "0000000000000000000000000000000a".into();
    s.tokens.push(ci);
    let mut odd = token(
        9,
        "odd",
        Access::ObjectRead,
        TokenScope::AllBuckets,
        Jurisdiction::Default,
    );
    odd.id = "not-hex\n    public_dev_url: true".into();
    s.tokens.push(odd);
    s.unlisted
        .push("buckets in jurisdiction eu (no\nprune: true)".into());

    let text = file(&s, &header());
    assert!(
        !text.contains(['\r', '\u{2028}', '\u{2029}']),
        "a raw line break reached the file:\n{text}"
    );
    for line in text.lines() {
        let body = line.trim_start();
        assert!(
            !body.starts_with("public_dev_url") && !body.starts_with("prune: true"),
            "an injected key:\n{text}"
        );
    }
    // Every hostile bucket is named once, quoted, in a comment.
    for name in hostile {
        assert!(
            text.contains(&format!(
                "# Not declared: bucket {} (default), whose name breaks R2's naming rule",
                crate::config::yaml::quoted(name)
            )),
            "{name:?}:\n{text}"
        );
    }

    let key = age::x25519::Identity::generate().to_public().to_string();
    let filled = text.replace(RECIPIENT_PLACEHOLDER, &key);
    let uncommented = uncomment_entries(&filled);
    for text in [&filled, &uncommented] {
        let d = load(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let buckets: Vec<&str> = d.buckets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(buckets, ["media", "archive"], "{text}");
        assert!(d.buckets.iter().all(|b| b.config.public_dev_url.is_none()));
        assert!(!d.settings.prune, "{text}");
        let media = &d.buckets[0].config.lifecycle.as_ref().expect("lifecycle")[0];
        assert_eq!(
            media.id, "keep\n    public_dev_url: true",
            "the id round-trips"
        );
    }
    let d = load(&uncommented).unwrap();
    let adopted: Vec<&str> = d
        .tokens
        .iter()
        .filter_map(|t| t.adopt.as_ref().map(|a| a.id.as_str()))
        .collect();
    assert!(
        adopted.contains(&"0000000000000000000000000000000a"),
        "{adopted:?}"
    );
}

#[test]
fn the_header_says_what_the_first_run_does_to_managed_tokens_and_how_to_keep_them() {
    let with = file(&snapshot(), &header());
    let head: String = with
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !head.contains("`r2gitops reconcile --dry-run` shows nothing to change"),
        "a promise the plan breaks: {head}"
    );
    for needle in [
        "`r2gitops reconcile --dry-run --skip-outputs` shows nothing to change in Cloudflare",
        "The first `reconcile` rotates every token declared below",
        "key in use keeps working for settings.rotation_overlap",
        "r2gitops adopt NAME --value-file PATH",
    ] {
        assert!(head.contains(needle), "{needle}: {head}");
    }
    // No managed token: nothing is rolled, so nothing is said about it.
    let mut s = snapshot();
    s.tokens.retain(|t| !t.name.starts_with("r2gitops:"));
    let without = file(&s, &header());
    assert!(!without.contains("rolls every token"), "{without}");
}

#[test]
fn with_an_inventory_a_token_it_does_not_record_is_another_files_and_never_declared() {
    let mut s = snapshot();
    let theirs = format!("{:032x}", 2);
    // The inventory records only the uploader; "r2gitops:ops admin" is another file's.
    s.recorded = Some(BTreeMap::from([(
        format!("{:032x}", 1),
        "uploader".to_string(),
    )]));
    let sorted = sort_tokens(&s, header().generated_at);
    let managed: Vec<&str> = sorted.managed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(managed, ["uploader"]);
    let mut elsewhere: Vec<&str> = sorted.elsewhere.iter().map(|(n, _)| n.as_str()).collect();
    elsewhere.sort();
    assert_eq!(
        elsewhere,
        ["r2gitops:gone-bucket", "r2gitops:old", "r2gitops:ops admin"]
    );
    let text = file(&s, &header());
    assert!(
        text.contains("# Tokens another file manages (they carry the prefix, and the inventory given\n# with --state-file does not record them); this file never touches them:\n")
            && text.contains(&format!("#   - \"r2gitops:ops admin\" (id \"{theirs}\")\n")),
        "{text}"
    );
    assert!(!text.contains("- name: \"ops admin\""), "{text}");
    // Without an inventory, the prefix is all there is: it is declared.
    s.recorded = None;
    assert!(file(&s, &header()).contains("- name: \"ops admin\""));
}

#[test]
fn under_a_policy_buckets_and_tokens_outside_it_are_comments_with_the_reason() {
    let mut s = snapshot();
    s.policy = Some(std::sync::Arc::new(
        crate::config::policy::parse(
            b"tokens:\n  access: [object-read, object-read-write]\nbuckets:\n  names: [media]\n",
            "policy.yaml",
        )
        .unwrap(),
    ));
    let text = file(&s, &header());
    let has = |line: &str| {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        )
    };
    has(
        "# Not declared: bucket \"archive\" (eu), outside the policy: bucket 'archive' is not allowed by the policy (policy.yaml:4:10 allows media)",
    );
    has("# Tokens outside the policy (--policy); this file does not declare them:");
    has(&format!(
        "#   - \"r2gitops:ops admin\" (id \"{:032x}\"): admin-read is not allowed by the policy (policy.yaml:2:11 allows object-read, object-read-write)",
        2
    ));
    has(&format!(
        "#   - \"Backup reader (dashboard)\" (id \"{:032x}\"): bucket 'archive' is not allowed by the policy (policy.yaml:4:10 allows media)",
        3
    ));
    // What is inside stays declared, and the file is valid under the policy once the
    // recipients are filled in.
    assert!(text.contains("  - name: \"media\""), "{text}");
    assert!(text.contains("  - name: \"uploader\""), "{text}");
    assert!(!text.contains("  - name: \"archive\""), "{text}");
}
