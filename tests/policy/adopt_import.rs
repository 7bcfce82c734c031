//! `adopt:` and `import` under a policy.

use r2gitops::cloudflare::WriteApi;
use r2gitops::config::Jurisdiction;

use crate::Ops;
use crate::common;

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
