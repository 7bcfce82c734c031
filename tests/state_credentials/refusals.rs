//! What is refused: a file that declares, adopts, prunes or imports the parent token, and bad
//! temporary state credentials.

use std::sync::Arc;

use r2gitops::cloudflare::WriteApi;
use serde_json::{Value, json};

use common::output::text;

use crate::common;
use crate::{PARENT, STATE, World, run, tail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_declares_adopts_prunes_or_imports_the_parent_token() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let out = a.join("secrets");
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let first = tokio::task::spawn_blocking(move || {
        run(w2.cmd(
            &a2,
            &o2,
            &[
                "reconcile",
                "--state",
                STATE,
                "--state-credentials",
                "temporary",
            ],
        ))
    })
    .await
    .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let parent = w.parents().pop().expect("the parent exists");
    let base = std::fs::read_to_string(a.join("r2gitops.yaml")).unwrap();

    // Declared by name (the default prefix makes `state` into `r2gitops:state`).
    let declared = format!(
        "{base}  - name: state\n    access: object-read\n    buckets: [media]\n    output: {{ file: s.env.age, format: env }}\n"
    );
    // Adopted by id.
    let adopted = format!(
        "{base}  - name: taken\n    access: object-read-write\n    buckets: [media]\n    adopt: \"{parent}\"\n    output: {{ file: t.env.age, format: env }}\n"
    );
    // Pruned: an inventory that records the parent under a name no longer declared.
    let pruned = base.replace("settings:\n", "settings:\n  prune: true\n");
    let (w2, a2, o2, p2) = (w.clone(), a.clone(), out.clone(), parent.clone());
    let outs = tokio::task::spawn_blocking(move || {
        let mut outs = Vec::new();
        std::fs::write(a2.join("r2gitops.yaml"), &declared).unwrap();
        let mut validate = w2.sb.r2gitops_without_file(&["validate", "-f"]);
        validate.arg(a2.join("r2gitops.yaml"));
        outs.push(run(validate));
        std::fs::write(a2.join("r2gitops.yaml"), &adopted).unwrap();
        outs.push(run(w2.cmd(
            &a2,
            &o2,
            &[
                "reconcile",
                "--state",
                STATE,
                "--state-credentials",
                "temporary",
            ],
        )));
        // The inventory, moved to a local file with the parent recorded in it.
        std::fs::write(a2.join("r2gitops.yaml"), &pruned).unwrap();
        let shown = run(w2.cmd(
            &a2,
            &o2,
            &[
                "state",
                "show",
                "--state",
                STATE,
                "--state-credentials",
                "temporary",
            ],
        ));
        assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
        let mut inv: Value = serde_json::from_slice(&shown.stdout).unwrap();
        let mut ghost = inv["tokens"]["uploader"].clone();
        ghost["id"] = json!(p2);
        ghost["output"] = Value::Null;
        inv["tokens"]["ghost"] = ghost;
        std::fs::write(o2.join(".r2gitops-state.json"), inv.to_string()).unwrap();
        outs.push(run(w2.cmd(&a2, &o2, &["reconcile"])));
        let import = {
            let mut cmd = w2.sb.r2gitops_without_file(&["import", "--with", "none"]);
            cmd.current_dir(&a2);
            run(cmd)
        };
        outs.push(import);
        outs
    })
    .await
    .unwrap();
    let [declared, adopted, pruned, import] = &outs[..] else {
        unreachable!()
    };
    assert_eq!(declared.status.code(), Some(1), "{}", text(declared));
    assert!(
        text(declared).contains("token name 'r2gitops:state' (prefix and name) is r2gitops' own"),
        "{}",
        text(declared)
    );
    assert_eq!(adopted.status.code(), Some(1), "{}", text(adopted));
    assert!(
        text(adopted).contains(&format!(
            "token {parent} is 'r2gitops:state', the parent r2gitops mints the state's temporary credentials under; no file may adopt it"
        )),
        "{}",
        text(adopted)
    );
    assert_eq!(pruned.status.code(), Some(0), "{}", text(pruned));
    let plan = String::from_utf8_lossy(&pruned.stdout);
    assert!(
        !plan.contains(&parent) && !plan.contains("delete"),
        "the prune plan does not name the parent: {plan}"
    );
    assert_eq!(import.status.code(), Some(0), "{}", text(import));
    let file = String::from_utf8_lossy(&import.stdout);
    for line in file.lines().filter(|l| l.contains(&parent)) {
        assert!(
            line.trim_start().starts_with('#') && line.contains("never adopted"),
            "import names the parent only in the comment of what it left out: {line}"
        );
    }
    assert!(file.contains("never adopted"), "{file}");
    assert_eq!(w.parents(), vec![parent], "the parent is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_temporary_state_credentials_are_errors_naming_the_url_with_no_change() {
    let w = Arc::new(World::new().await);
    let a = w.runner("a");
    let out = a.join("secrets");
    std::fs::write(
        a.join("creds"),
        "aws_access_key_id = A\naws_secret_access_key = B\n",
    )
    .unwrap();
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let outs = tokio::task::spawn_blocking(move || {
        let t = ["--state", STATE, "--state-credentials", "temporary"];
        let both = run(w2.cmd(
            &a2,
            &o2,
            &[
                &["reconcile"][..],
                &t,
                &["--state-credentials-file", "creds"],
            ]
            .concat(),
        ));
        // A dry run before any apply: the parent does not exist, and a dry run creates none.
        let dry = run(w2.cmd(&a2, &o2, &[&["reconcile", "--dry-run"][..], &t].concat()));
        // An API token Cloudflare refuses: nothing can be minted.
        let mut bad = w2.cmd(&a2, &o2, &[&["reconcile"][..], &t].concat());
        bad.env(
            "CLOUDFLARE_API_TOKEN",
            "not-a-token-not-a-token-not-a-token",
        );
        let bad = run(bad);
        [both, dry, bad]
    })
    .await
    .unwrap();
    let [both, dry, bad] = &outs;
    assert_eq!(both.status.code(), Some(1), "{}", text(both));
    assert!(
        text(both).contains(
            "--state-credentials temporary and --state-credentials-file name two sources"
        ),
        "{}",
        text(both)
    );
    assert_eq!(dry.status.code(), Some(1), "{}", text(dry));
    assert!(
        text(dry).contains(&format!(
            "the state {STATE} has no S3 credentials (--state-credentials temporary): its parent token 'r2gitops:state' does not exist yet, and this command creates nothing"
        )),
        "{}",
        text(dry)
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(bad));
    assert!(
        text(bad).contains(&format!("the state {STATE}"))
            && text(bad).contains("nothing was changed"),
        "{}",
        text(bad)
    );
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "{:?}",
        w.sb.emu.stats().by_route
    );
    assert!(w.parents().is_empty());
    assert!(
        !out.join(".r2gitops-state.json").exists(),
        "no fallback to a local inventory"
    );

    // A parent changed out of band (here: made to reach another bucket) is refused, not
    // repaired or replaced.
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let t = [
        "reconcile",
        "--state",
        STATE,
        "--state-credentials",
        "temporary",
    ];
    let created = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &o2, &t)))
        .await
        .unwrap();
    assert_eq!(created.status.code(), Some(0), "{}", tail(&text(&created)));
    let parent = w.parents().pop().unwrap();
    let policy = r2gitops::observed::Policy {
        effect: r2gitops::observed::Effect::Allow,
        permission_groups: ["2efd5506f9c8494dacb1fa10a3e7d5b6".to_string()].into(),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_media",
                w.sb.emu.account_id()
            ),
            r2gitops::observed::ResourceValue::Str("*".into()),
        )]
        .into(),
    };
    common::admin_client(&w.sb.emu)
        .await
        .into_writer()
        .update_token(
            r2gitops::config::Owner::Account,
            &parent,
            &common::token_request(PARENT, policy),
        )
        .await
        .unwrap();
    w.sb.emu.reset_stats();
    let (w2, a2, o2) = (w.clone(), a.clone(), out.clone());
    let changed = tokio::task::spawn_blocking(move || run(w2.cmd(&a2, &o2, &t)))
        .await
        .unwrap();
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed));
    assert!(
        text(&changed).contains(&format!(
            "the state {STATE} has no S3 credentials (--state-credentials temporary): the parent token 'r2gitops:state' ({parent}) does not grant exactly object read & write on the state bucket 'state'"
        )),
        "{}",
        tail(&text(&changed))
    );
    assert_eq!(
        w.sb.emu.stats().mutating,
        0,
        "{:?}",
        w.sb.emu.stats().by_route
    );
    assert_eq!(w.parents(), vec![parent], "neither replaced nor duplicated");
}
