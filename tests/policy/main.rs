//! The operator's policy (`--policy`) through the real binary, against the emulator: one
//! violation per key, each a located error in the desired-state file naming both files,
//! and a reconcile that makes 0 mutating calls; a policy inside the repository refused
//! unless `--policy-in-repo`; and `watch` under a policy: a violating commit refused with
//! the last good state kept, a fixed commit applied, SIGHUP with a tightened policy
//! refusing from the next pass, and a broken policy on SIGHUP keeping the old one; an
//! `adopt:` of a token that holds more than the policy, and `import` under a policy.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use r2gitops::cloudflare::ReadApi;
use r2gitops::config::Jurisdiction;

mod adopt_import;
mod daemon;
mod files;

/// The operator's directory, outside the repository (the sandbox's directory).
struct Ops {
    dir: tempfile::TempDir,
}

impl Ops {
    fn new() -> Ops {
        Ops {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn policy(&self) -> PathBuf {
        self.dir.path().join("policy.yaml")
    }

    /// Replace the policy as a ConfigMap update would (a new file renamed over it).
    fn write(&self, text: &str) {
        let tmp = self.dir.path().join(".policy.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(tmp, self.policy()).unwrap();
    }
}

fn strict(recipient: &str) -> String {
    format!(
        "version: 1
tokens:
  access: [object-read, object-read-write]
  max_validity: 90d
  max_rotate_every: 90d
  require_ip_rules: true
recipients:
  allow: [\"{recipient}\"]
buckets:
  names: [\"team-a-*\", \"shared-*\"]
  public_dev_url: false
  custom_domain_zones: [example.com]
  delete: false
temporary_credentials:
  max: 1
  min_ttl: 30m
api:
  max_calls_per_hour: 3000
"
    )
}

/// A file inside `strict`: every bound met. `expires_on` is 30 days from now.
fn good() -> String {
    let in_30d = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    let expires = in_30d
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    format!(
        "version: 1
settings:
  recipients: [\"{{recipient}}\"]
buckets:
  - name: team-a-media
tokens:
  - name: reader
    access: object-read
    buckets: [team-a-media]
    expires_on: {expires}
    rotate_every: 30d
    ip:
      allow: [10.0.0.0/8]
    output: {{file: reader.env.age, format: env}}
"
    )
}

const OTHER_AGE: &str = "age1ea6ha4cng0drxeunfdc2h0vrpzxcgdndq24a6v8c9ynurn2ym5rs96qllw";

fn temporary(name: &str, ttl: &str) -> String {
    format!(
        "  - {{name: {name}, parent: reader, bucket: team-a-media, access: object-read, ttl: {ttl}, output: {{file: {name}.env.age, format: env}}}}\n"
    )
}

/// One row per key of the policy: the file that breaks it, and the field the error names.
fn violations() -> Vec<(&'static str, String, &'static str)> {
    let good = good();
    let add_to_bucket = |extra: &str| {
        good.replace(
            "  - name: team-a-media\n",
            &format!("  - name: team-a-media\n{extra}"),
        )
    };
    vec![
        (
            "tokens.access",
            good.replace("access: object-read\n", "access: admin-read-write\n")
                .replace("    buckets: [team-a-media]\n", ""),
            "tokens[0].access",
        ),
        (
            "tokens.max_validity",
            good.replace(
                &good[good.find("expires_on: ").unwrap()..][..32],
                "expires_on: 2099-01-01T00:00:00Z",
            ),
            "tokens[0].expires_on",
        ),
        (
            "tokens.max_rotate_every",
            good.replace("rotate_every: 30d", "rotate_every: 120d"),
            "tokens[0].rotate_every",
        ),
        (
            "tokens.require_ip_rules",
            good.replace("    ip:\n      allow: [10.0.0.0/8]\n", ""),
            "tokens[0].ip.allow",
        ),
        (
            "recipients.allow",
            good.replace(
                "recipients: [\"{recipient}\"]",
                &format!("recipients: [\"{{recipient}}\", \"{OTHER_AGE}\"]"),
            ),
            "settings.recipients[1]",
        ),
        (
            "buckets.names",
            good.replace("team-a-media", "team-b-media"),
            "buckets[0].name",
        ),
        (
            "buckets.public_dev_url",
            add_to_bucket("    public_dev_url: true\n"),
            "buckets[0].public_dev_url",
        ),
        (
            "buckets.custom_domain_zones",
            add_to_bucket(
                "    custom_domains:\n      - {domain: cdn.other.org, zone: other.org}\n",
            ),
            "buckets[0].custom_domains[0].zone",
        ),
        (
            "buckets.delete",
            add_to_bucket("    protect: false\n"),
            "buckets[0].protect",
        ),
        (
            "temporary_credentials.max",
            format!(
                "{good}temporary_credentials:\n{}{}",
                temporary("u1", "1h"),
                temporary("u2", "1h")
            ),
            "temporary_credentials[1]",
        ),
        (
            "temporary_credentials.min_ttl",
            format!("{good}temporary_credentials:\n{}", temporary("u1", "15m")),
            "temporary_credentials[0].ttl",
        ),
    ]
}

async fn until(limit: Duration, what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn buckets(s: &common::Sandbox) -> Vec<String> {
    common::admin_client(&s.emu)
        .await
        .list_buckets(Jurisdiction::Default)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect()
}

fn status(w: &common::Watch) -> serde_json::Value {
    serde_json::from_str(&w.get("/status").1).unwrap()
}

const LIMIT: Duration = Duration::from_secs(30);

fn watch(s: &common::Sandbox, policy: &Path) -> common::Watch {
    common::Watch::spawn(s.r2gitops(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--debounce",
        "100ms",
        "--interval",
        "10m",
        "--policy",
        policy.to_str().unwrap(),
    ]))
}
