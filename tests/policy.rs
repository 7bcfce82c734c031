//! The operator's policy (`--policy`) through the real binary, against the emulator: one
//! violation per key, each a located error in the desired-state file naming both files,
//! and a reconcile that makes 0 mutating calls; a policy inside the repository refused
//! unless `--policy-in-repo`; and `watch` under a policy: a violating commit refused with
//! the last good state kept, a fixed commit applied, SIGHUP with a tightened policy
//! refusing from the next pass, and a broken policy on SIGHUP keeping the old one; an
//! `adopt:` of a token that holds more than the policy, and `import` under a policy.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use r2gitops::cloudflare::{ReadApi, WriteApi};
use r2gitops::config::Jurisdiction;
use sha2::{Digest, Sha256};

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

/// The one violation line of `stderr`: `FILE:LINE:COL: PATH: ... is not allowed by the
/// policy (POLICY:LINE:COL ...`.
fn assert_located(stderr: &str, file: &Path, path: &str, policy: &Path, key: &str) {
    let file = file.display().to_string();
    let policy = policy.display().to_string();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("is not allowed by the policy"))
        .collect();
    assert!(!lines.is_empty(), "{key}: no violation in:\n{stderr}");
    let want_path = if path.is_empty() {
        String::new()
    } else {
        format!(" {path}:")
    };
    let one = lines
        .iter()
        .find(|l| {
            let Some(rest) = l.strip_prefix(&format!("{file}:")) else {
                return false;
            };
            let mut parts = rest.splitn(3, ':');
            let line: Option<u32> = parts.next().and_then(|n| n.parse().ok());
            let column: Option<u32> = parts.next().and_then(|n| n.parse().ok());
            line.is_some_and(|n| n > 0)
                && column.is_some_and(|n| n > 0)
                && parts.next().is_some_and(|r| r.starts_with(&want_path))
                && l.contains(&format!("({policy}:"))
        })
        .unwrap_or_else(|| panic!("{key}: no line located at {path} naming {policy}:\n{stderr}"));
    eprintln!("{key}: {one}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_of_the_policy_refuses_its_violation_located_in_both_files_with_no_mutating_call()
{
    let s = common::Sandbox::new().await;
    let ops = Ops::new();
    ops.write(&strict(&s.recipient));
    let policy = ops.policy();
    let policy_arg = policy.to_str().unwrap();

    // The good file passes, and validate prints its projected cost.
    s.write(&good());
    let out = s
        .r2gitops(&["validate", "--policy", policy_arg])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\ncost: about "), "{stdout}");
    let sha = hex::encode(Sha256::digest(std::fs::read(&policy).unwrap()));
    assert!(stdout.contains(&format!("(sha256 {sha})")), "{stdout}");
    let out = s
        .r2gitops(&["validate", "--output", "json", "--policy", policy_arg])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["policy"],
        serde_json::json!({"path": policy_arg, "sha256": sha}),
        "{report}"
    );
    assert!(
        report["cost"]["calls_per_hour"].as_u64().unwrap() > 0,
        "{report}"
    );

    let mut rows = violations();
    let cost = ops.dir.path().join("cost.yaml");
    std::fs::write(&cost, "version: 1\napi:\n  max_calls_per_hour: 5\n").unwrap();
    rows.push(("api.max_calls_per_hour", good(), ""));
    for (key, text, path) in rows {
        let policy = if key == "api.max_calls_per_hour" {
            cost.clone()
        } else {
            policy.clone()
        };
        let arg = policy.to_str().unwrap();
        s.write(&text);
        let out = s.r2gitops(&["validate", "--policy", arg]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{key}: validate");
        assert_located(
            &String::from_utf8_lossy(&out.stderr),
            &s.file(),
            path,
            &policy,
            key,
        );

        s.emu.reset_stats();
        // Through the environment, as a deployment sets it.
        let out = s
            .r2gitops(&["reconcile"])
            .env("R2GITOPS_POLICY", arg)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{key}: reconcile\n{stderr}");
        assert_located(&stderr, &s.file(), path, &policy, key);
        assert!(
            stderr.contains("nothing was planned or changed"),
            "{key}: {stderr}"
        );
        assert_eq!(s.emu.stats().mutating, 0, "{key}: mutating calls");
        // The file alone (no policy) is a valid file: the policy is what refused it.
        let out = s.r2gitops(&["validate"]).output().unwrap();
        assert!(
            out.status.success(),
            "{key} without the policy:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_inside_the_repository_is_refused_unless_the_operator_allows_it() {
    let s = common::Sandbox::new().await;
    s.write("version: 1\nsettings: {recipients: [\"{recipient}\"]}\nbuckets: []\n");
    let inside = s.dir.path().join("policy.yaml");
    std::fs::write(&inside, "version: 1\n").unwrap();
    let arg = inside.to_str().unwrap();
    let out = s.r2gitops(&["validate", "--policy", arg]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is inside the repository it judges")
            && stderr.contains("--policy-in-repo"),
        "{stderr}"
    );
    let out = s
        .r2gitops(&["validate", "--policy", arg, "--policy-in-repo"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same for the daemon, at start.
    let mut w =
        common::Watch::start(s.r2gitops(&["watch", "--listen", "127.0.0.1:0", "--policy", arg]));
    assert_eq!(
        w.wait_exit(Duration::from_secs(10)).await,
        Some(1),
        "{}",
        w.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_with_an_unknown_key_is_an_error_in_the_policy_and_stops_the_daemon_at_start() {
    let s = common::Sandbox::new().await;
    s.write(&good());
    let ops = Ops::new();
    ops.write("version: 1\nbuckets:\n  nmes: [\"team-a-*\"]\n");
    let arg = ops.policy().display().to_string();
    let out = s
        .r2gitops(&["validate", "--policy", &arg])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{arg}:3:3: buckets.nmes: ")),
        "{stderr}"
    );
    // One JSON document still, the problem located in the policy.
    let out = s
        .r2gitops(&["validate", "--output", "json", "--policy", &arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["diagnostics"][0]["file"], arg.as_str(), "{report}");
    assert_eq!(report["diagnostics"][0]["line"], 3);
    assert_eq!(report["diagnostics"][0]["path"], "buckets.nmes");
    let mut w =
        common::Watch::start(s.r2gitops(&["watch", "--listen", "127.0.0.1:0", "--policy", &arg]));
    assert_eq!(
        w.wait_exit(Duration::from_secs(10)).await,
        Some(1),
        "{}",
        w.log()
    );
    assert!(w.log().contains(&format!("{arg}:3:3")), "{}", w.log());
    assert_eq!(s.emu.stats().mutating, 0);
}

// ---- the daemon ----

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

const TEAM_A: &str = "version: 1
settings: { recipients: [\"{recipient}\"] }
buckets:
  - { name: team-a-media }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_violating_commit_is_refused_with_the_last_good_state_kept_and_a_fixed_one_applied() {
    let s = common::Sandbox::new().await;
    let ops = Ops::new();
    ops.write("version: 1\nbuckets:\n  names: [\"team-a-*\"]\n");
    s.write(TEAM_A);
    let w = watch(&s, &ops.policy());
    until(LIMIT, "ready", || w.get("/readyz").0 == 200).await;
    assert_eq!(buckets(&s).await, ["team-a-media"]);
    let st = status(&w);
    let sha = hex::encode(Sha256::digest(std::fs::read(ops.policy()).unwrap()));
    assert_eq!(st["policy"]["sha256"], sha.as_str(), "{st}");
    assert_eq!(
        st["policy"]["path"],
        ops.policy().display().to_string().as_str()
    );
    let keys: Vec<&String> = st["policy"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["path", "reload_error", "sha256", "violations"],
        "never its content"
    );
    assert_eq!(w.metric("r2gitops_policy_violations"), 0.0);

    // A commit that adds another team's bucket: refused whole, the last good state kept.
    s.emu.reset_stats();
    s.write(&TEAM_A.replace(
        "  - { name: team-a-media }\n",
        "  - { name: team-a-media }\n  - { name: team-b-media }\n",
    ));
    until(LIMIT, "refused", || w.get("/readyz").0 == 503).await;
    let (_, body) = w.get("/readyz");
    assert!(body.starts_with("not ready: policy: "), "{body}");
    let st = status(&w);
    let errors = st["config_errors"].to_string();
    assert!(
        errors.contains("buckets[1].name: bucket 'team-b-media' is not allowed by the policy"),
        "{st}"
    );
    assert_eq!(w.metric("r2gitops_policy_violations"), 1.0);
    // The last good state still drives passes: SIGHUP starts one, and it creates nothing.
    let before = w.successes();
    w.signal("-HUP");
    until(LIMIT, "a pass on the last good state", || {
        w.successes() > before
    })
    .await;
    assert_eq!(s.emu.stats().mutating, 0, "{}", w.log());
    assert_eq!(buckets(&s).await, ["team-a-media"]);

    // The fixed commit is applied.
    s.write(&TEAM_A.replace(
        "  - { name: team-a-media }\n",
        "  - { name: team-a-media }\n  - { name: team-a-logs }\n",
    ));
    until(LIMIT, "ready again", || w.get("/readyz").0 == 200).await;
    let mut names = buckets(&s).await;
    names.sort();
    assert_eq!(names, ["team-a-logs", "team-a-media"]);
    assert_eq!(w.metric("r2gitops_policy_violations"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_tightened_policy_refuses_the_file_from_the_next_pass_and_a_broken_one_keeps_the_old()
 {
    let s = common::Sandbox::new().await;
    let ops = Ops::new();
    ops.write("version: 1\n");
    s.write(
        "version: 1\nsettings: { recipients: [\"{recipient}\"] }\nbuckets:\n  - { name: media }\n",
    );
    let w = watch(&s, &ops.policy());
    until(LIMIT, "ready", || w.get("/readyz").0 == 200).await;
    assert_eq!(buckets(&s).await, ["media"]);

    // A broken policy on SIGHUP: logged, the old one kept, the file still applied.
    let permissive = status(&w)["policy"]["sha256"].clone();
    ops.write("version: 1\nbuckets:\n  nmes: [\"team-a-*\"]\n");
    let before = w.successes();
    w.signal("-HUP");
    until(LIMIT, "a pass under the old policy", || {
        w.successes() > before
    })
    .await;
    assert!(
        w.log()
            .contains("the policy does not load; keeping the last good one"),
        "{}",
        w.log()
    );
    let st = status(&w);
    assert_eq!(st["policy"]["sha256"], permissive, "{st}");
    assert!(
        st["policy"]["reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("buckets.nmes")),
        "{st}"
    );
    assert_eq!(w.get("/readyz").0, 200);

    // A tightened policy on SIGHUP: the file that passed is refused from the next pass,
    // and nothing of it is applied any more (its bucket, deleted out of band, stays gone).
    common::admin_client(&s.emu)
        .await
        .into_writer()
        .delete_bucket(Jurisdiction::Default, "media")
        .await
        .unwrap();
    s.emu.reset_stats();
    ops.write("version: 1\nbuckets:\n  names: [\"team-a-*\"]\n");
    w.signal("-HUP");
    until(LIMIT, "refused under the new policy", || {
        w.get("/readyz").0 == 503
    })
    .await;
    let (_, body) = w.get("/readyz");
    assert!(body.starts_with("not ready: policy: "), "{body}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(s.emu.stats().mutating, 0, "{}", w.log());
    assert!(buckets(&s).await.is_empty());
    let st = status(&w);
    assert_ne!(st["policy"]["sha256"], permissive);
    assert!(st["policy"]["reload_error"].is_null(), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_a_token_that_holds_more_than_the_policy_is_refused_by_reconcile_and_by_adopt() {
    use std::io::Write as _;
    let s = common::Sandbox::new().await;
    let admin = common::admin_client(&s.emu).await.into_writer();
    for b in ["team-a-data", "payroll"] {
        admin
            .create_bucket(
                Jurisdiction::Default,
                b,
                None,
                r2gitops::config::StorageClass::Standard,
            )
            .await
            .unwrap();
    }
    // Made by hand in the dashboard: it reads team-a-data, and payroll as well.
    let mut policy = common::object_read_policy(&s.emu, "team-a-data");
    policy.resources.insert(
        format!(
            "com.cloudflare.edge.r2.bucket.{}_default_payroll",
            s.emu.account_id()
        ),
        r2gitops::observed::ResourceValue::Str("*".into()),
    );
    let created = admin
        .create_token(
            r2gitops::config::Owner::Account,
            &common::token_request("reporting (by hand)", policy),
        )
        .await
        .unwrap();
    let id = created.token.id.clone();
    s.write(&format!(
        "version: 1
settings: {{ recipients: [\"{{recipient}}\"] }}
buckets:
  - name: team-a-data
tokens:
  - name: reader
    adopt: {id}
    access: object-read
    buckets: [team-a-data]
    output: {{ file: reader.env.age, format: env }}
"
    ));
    let ops = Ops::new();
    ops.write("version: 1\nbuckets:\n  names: [\"team-a-*\"]\n");
    let arg = ops.policy().display().to_string();
    let why = format!(
        "tokens[0].adopt: token {id} holds more than the policy allows: bucket 'payroll' is not allowed by the policy ({arg}:3:10 allows team-a-*)"
    );

    // The declaration passes the policy: validate says so; the plan sees what it holds.
    let out = s
        .r2gitops(&["validate", "--policy", &arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.emu.reset_stats();
    let out = s
        .r2gitops(&["reconcile", "--policy", &arg, "--allow-adopt-roll"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&why), "{text}");
    assert_eq!(s.emu.stats().mutating, 0, "{text}");

    let mut child = s
        .r2gitops(&["adopt", "reader", "--value-from-stdin", "--policy", &arg])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", created.value.expose()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("holds more than the policy allows: bucket 'payroll'"),
        "{text}"
    );
    assert_eq!(s.emu.stats().mutating, 0, "{text}");
    assert!(!s.out().join("reader.env.age").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_under_a_policy_writes_what_it_does_not_allow_as_comments_and_the_file_passes_it() {
    let s = common::Sandbox::new().await;
    let admin = common::admin_client(&s.emu).await.into_writer();
    for b in ["team-a-data", "payroll"] {
        admin
            .create_bucket(
                Jurisdiction::Default,
                b,
                None,
                r2gitops::config::StorageClass::Standard,
            )
            .await
            .unwrap();
    }
    admin
        .create_token(
            r2gitops::config::Owner::Account,
            &common::token_request(
                "payroll reader",
                common::object_read_policy(&s.emu, "payroll"),
            ),
        )
        .await
        .unwrap();
    let ops = Ops::new();
    ops.write("version: 1\nbuckets:\n  names: [\"team-a-*\"]\n");
    let arg = ops.policy().display().to_string();
    let out = s
        .r2gitops_without_file(&["import", "--with", "none", "--policy", &arg])
        .output()
        .unwrap();
    let file = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        file.contains(&format!(
            "# Not declared: bucket \"payroll\" (default), outside the policy: bucket 'payroll' is not allowed by the policy ({arg}:3:10 allows team-a-*)"
        )),
        "{file}"
    );
    assert!(
        file.contains("# Tokens outside the policy (--policy); this file does not declare them:")
            && file.contains("\"payroll reader\""),
        "{file}"
    );
    assert!(file.contains("  - name: \"team-a-data\""), "{file}");
    // With a recipient filled in, the imported file passes the policy it was imported under.
    s.write(&file.replace(
        r2gitops::config::validate::RECIPIENT_PLACEHOLDER,
        "{recipient}",
    ));
    let out = s
        .r2gitops(&["validate", "--policy", &arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{file}",
        String::from_utf8_lossy(&out.stderr)
    );
}
