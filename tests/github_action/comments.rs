//! The plan comment on a pull request: installed and posted, then updated; an empty plan;
//! one comment per file.

use std::sync::Arc;

use serde_json::Value;

use crate::runner::Job;
use crate::{FILE, REPOSITORY, TOKEN, VERSION, archive_name, marker, release_dir, sha256_hex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_installs_the_verified_binary_and_comments_and_the_second_updates_that_comment()
 {
    let job = Job::new().await;
    job.sandbox.write(FILE);
    let j = Arc::new(job);
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[]))
        .await
        .unwrap();
    let job = &j;
    assert!(run.failed().is_none(), "{run:#?}");

    // Installed: downloaded, verified, in the tool cache, first on PATH.
    let archive = archive_name();
    let cache = job.tool_cache.join(format!("r2gitops/{VERSION}/x64"));
    assert_eq!(run.path, [cache.display().to_string()]);
    assert!(
        job.tool_cache
            .join(format!("r2gitops/{VERSION}/x64.complete"))
            .exists()
    );
    let install = run.log("Install r2gitops");
    let sum = sha256_hex(&std::fs::read(release_dir().join(&archive)).unwrap());
    assert!(
        install.contains(&format!("{archive}: SHA-256 {sum}, as SHA256SUMS says")),
        "{install}"
    );
    let downloads = format!("/{REPOSITORY}/releases/download/v{VERSION}/");
    assert_eq!(
        job.server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with(&downloads))
            .map(|r| (
                r.path.trim_start_matches(&downloads).to_string(),
                r.authorization.clone()
            ))
            .collect::<Vec<_>>(),
        [("SHA256SUMS".to_string(), None), (archive.clone(), None)],
        "the sums, then the archive, and the job's token never sent to a download"
    );

    // Outputs.
    assert_eq!(run.outputs["exitcode"], "2");
    assert_eq!(run.outputs["has-changes"], "true");
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&run.outputs["plan-json"]).unwrap()).unwrap();
    let id = plan["plan_id"].as_str().unwrap();

    // One comment, with the marker, holding the plan reconcile prints.
    let comments = job.server.comments(7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (comment_id, body) = &comments[0];
    let md = job.markdown_plan("r2gitops.yaml");
    assert!(md.contains(&format!("Plan id: `{id}`")), "{md}");
    assert!(
        body.starts_with(&format!("{}\n{md}", marker("r2gitops.yaml"))),
        "comment:\n{body}\nplan:\n{md}"
    );
    assert!(body.contains(&format!(
        "**Changes pending.** `r2gitops reconcile --expect-plan {id}` applies this plan and no other."
    )));
    assert!(run.summary.contains(&md), "the plan is in the job summary");
    // The blocked token is an annotation.
    assert!(
        run.log("Validate and plan")
            .contains("::warning title=r2gitops blocked::token contractor: "),
        "{}",
        run.log("Validate and plan")
    );
    assert!(run.log("Exit code").contains("changes pending"));
    assert_eq!(
        job.server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/repos/"))
            .map(|r| (r.method.as_str(), r.authorization.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("GET", Some(&*format!("Bearer {TOKEN}"))),
            ("POST", Some(&*format!("Bearer {TOKEN}")))
        ]
    );

    // A second run (another push): the cached binary, the same comment updated.
    job.server.forget_requests();
    job.sandbox
        .write(&FILE.replace("  - name: media\n", "  - name: media\n  - name: logs\n"));
    let job2 = j.clone();
    let again = tokio::task::spawn_blocking(move || job2.run(&[]))
        .await
        .unwrap();
    assert!(again.failed().is_none(), "{again:#?}");
    assert!(
        again
            .log("Install r2gitops")
            .contains("from the tool cache")
    );
    assert_eq!(
        job.server.calls("GET", &downloads),
        0,
        "nothing downloaded again"
    );
    assert_eq!(job.server.calls("POST", "/repos/"), 0, "no second comment");
    assert_eq!(job.server.calls("PATCH", "/repos/"), 1);
    let comments = job.server.comments(7);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].0, *comment_id, "the same comment");
    assert!(comments[0].1.contains("+ create bucket logs (default)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_plan_posts_no_new_comment_but_updates_an_existing_one_to_say_no_changes() {
    let job = Job::new().await;
    job.sandbox
        .write(&FILE.replace("    expires_on: \"2020-01-01T00:00:00Z\"\n", ""));
    let j = Arc::new(job);
    let run = |with: &'static [(&'static str, &'static str)]| {
        let job = j.clone();
        tokio::task::spawn_blocking(move || job.run(with))
    };
    // Pull request 7 shows the pending plan; then it is applied.
    assert!(run(&[]).await.unwrap().failed().is_none());
    assert_eq!(j.server.comments(7).len(), 1);
    let applied = j.sandbox.r2gitops(&["reconcile"]).output().unwrap();
    assert!(applied.status.success(), "{applied:?}");

    // Pull request 8 changes nothing: no comment at all.
    j.pull_request(8);
    j.server.forget_requests();
    let quiet = run(&[]).await.unwrap();
    assert!(quiet.failed().is_none(), "{quiet:#?}");
    assert_eq!(quiet.outputs["exitcode"], "0");
    assert_eq!(quiet.outputs["has-changes"], "false");
    assert!(j.server.comments(8).is_empty());
    assert_eq!(
        j.server.calls("POST", "/repos/") + j.server.calls("PATCH", "/repos/"),
        0
    );
    assert!(
        quiet.summary.contains("No changes."),
        "the job summary still has the plan"
    );
    // Without skip-no-changes, the empty plan is posted.
    let loud = run(&[("skip-no-changes", "false")]).await.unwrap();
    assert!(loud.failed().is_none());
    assert_eq!(j.server.comments(8).len(), 1);

    // Pull request 7 again, now in sync: its comment says so, and no second one appears.
    j.pull_request(7);
    assert!(run(&[]).await.unwrap().failed().is_none());
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].1.contains("No changes."), "{}", comments[0].1);
    assert!(!comments[0].1.contains("Changes pending"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_in_one_repository_get_one_comment_each() {
    let job = Job::new().await;
    let yaml = |bucket: &str| {
        format!(
            "version: 1\nsettings:\n  recipients: [\"{}\"]\n  state_file: .{bucket}-state.json\nbuckets:\n  - name: {bucket}\n",
            job.sandbox.recipient
        )
    };
    std::fs::write(job.workspace().join("team-a.yaml"), yaml("alpha")).unwrap();
    std::fs::write(job.workspace().join("team-b.yaml"), yaml("beta")).unwrap();
    let j = Arc::new(job);
    for _ in 0..2 {
        for file in ["team-a.yaml", "team-b.yaml"] {
            let job = j.clone();
            let run = tokio::task::spawn_blocking(move || job.run(&[("file", file)]))
                .await
                .unwrap();
            assert!(run.failed().is_none(), "{run:#?}");
        }
    }
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(comments[0].1.starts_with(&marker("team-a.yaml")));
    assert!(comments[0].1.contains("+ create bucket alpha"));
    assert!(comments[1].1.starts_with(&marker("team-b.yaml")));
    assert!(comments[1].1.contains("+ create bucket beta"));
}
