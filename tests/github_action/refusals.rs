//! What fails the action, and what it needs no credentials for: a tampered archive, a bad file,
//! a file that loosens the policy.

use std::sync::Arc;

use crate::runner::Job;
use crate::{FILE, VERSION, archive_name, release_dir, sha256_hex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_archive_fails_the_install_naming_both_sums() {
    let job = Job::new().await;
    job.sandbox.write(FILE);
    job.server.state.lock().unwrap().tamper = true;
    let j = Arc::new(job);
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[]))
        .await
        .unwrap();
    let job = &j;

    let archive = archive_name();
    let mut bytes = std::fs::read(release_dir().join(&archive)).unwrap();
    let want = sha256_hex(&bytes);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let have = sha256_hex(&bytes);
    let (step, code, log) = run.failed().expect("the install fails");
    assert_eq!((step.as_str(), *code), ("Install r2gitops", 1));
    assert!(
        log.contains(&format!(
            "::error title=r2gitops install::{archive} does not match SHA256SUMS: its SHA-256 is {have}, SHA256SUMS says {want}; nothing was installed"
        )),
        "{log}"
    );
    assert_eq!(run.steps.len(), 1, "no step after a failed install");
    assert!(run.path.is_empty(), "nothing on PATH");
    assert!(
        !job.tool_cache
            .join(format!("r2gitops/{VERSION}/x64.complete"))
            .exists()
    );
    assert!(
        !job.tool_cache
            .join(format!("r2gitops/{VERSION}/x64/r2gitops"))
            .exists()
    );
    assert!(job.server.comments(7).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_alone_needs_no_credentials_and_a_bad_file_fails_the_action_with_its_code() {
    let job = Job::new().await;
    job.sandbox
        .write("version: 1\nbuckets:\n  - name: Bad_Name\n");
    let j = Arc::new(job);
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[("command", "validate")]))
        .await
        .unwrap();
    let (step, code, _) = run.failed().expect("the last step fails");
    assert_eq!((step.as_str(), *code), ("Exit code", 1));
    assert!(run.log("Validate and plan").contains("Bad_Name"));
    assert!(j.server.comments(7).is_empty(), "validate posts nothing");
    assert_eq!(j.sandbox.emu.stats().total, 0, "validate calls no API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_input_refuses_a_file_that_loosens_it_before_any_plan_and_passes_one_that_keeps_it()
 {
    let job = Job::new().await;
    // The operator's policy lives outside the file's repository (on a hosted runner,
    // RUNNER_TEMP is beside the workspace, not in it).
    let platform = tempfile::tempdir().unwrap();
    let policy = platform.path().join("platform-policy.yaml");
    std::fs::write(&policy, "version: 1\ntokens:\n  access: [object-read]\n").unwrap();
    job.sandbox.write(FILE);
    let j = Arc::new(job);
    let (job, p) = (j.clone(), policy.display().to_string());
    let run = tokio::task::spawn_blocking(move || job.run(&[("policy", &p)]))
        .await
        .unwrap();
    let (step, code, _) = run.failed().expect("the last step fails");
    assert_eq!((step.as_str(), *code), ("Exit code", 1));
    let log = run.log("Validate and plan");
    assert!(
        log.contains("tokens[0].access: object-read-write is not allowed by the policy"),
        "{log}"
    );
    assert!(
        log.contains("platform-policy.yaml"),
        "names the policy: {log}"
    );
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .1
            .contains("could not plan this file (exit code 1)")
            && !comments[0].1.contains("create bucket"),
        "the comment says the file was refused, with no plan: {}",
        comments[0].1
    );
    assert_eq!(
        j.sandbox.emu.stats().total,
        0,
        "a refused file is never planned"
    );

    // A file within the policy is planned and commented as usual.
    std::fs::write(
        &policy,
        "version: 1\ntokens:\n  access: [object-read, object-read-write]\n",
    )
    .unwrap();
    let (job, p) = (j.clone(), policy.display().to_string());
    let run = tokio::task::spawn_blocking(move || job.run(&[("policy", &p)]))
        .await
        .unwrap();
    assert!(run.failed().is_none(), "{run:#?}");
    assert_eq!(run.outputs["exitcode"], "2", "changes pending");
    assert!(
        run.log("Validate and plan").contains("policy: "),
        "validate names the policy it passed"
    );
    let comments = j.server.comments(7);
    assert_eq!(comments.len(), 1, "the same comment, updated");
    assert!(
        comments[0].1.contains("+ create bucket media"),
        "{}",
        comments[0].1
    );

    // policy-in-repo without a policy is a mistake of the workflow, not a pass.
    let job = j.clone();
    let run = tokio::task::spawn_blocking(move || job.run(&[("policy-in-repo", "true")]))
        .await
        .unwrap();
    let (step, code, _) = run.failed().expect("refused");
    assert_eq!((step.as_str(), *code), ("Exit code", 64));
    assert!(
        run.log("Validate and plan")
            .contains("policy-in-repo is true but no policy is given")
    );
}
