use super::*;
use time::macros::datetime;

fn pass(result: PassResult, secs: f64) -> LastPass {
    LastPass {
        trigger: "interval".into(),
        started_at: datetime!(2026-11-23 10:00 UTC),
        duration_secs: secs,
        result,
        summary: Some(Summary::default()),
        plan_lines: Vec::new(),
        error: (result == PassResult::Failure).then(|| "boom".into()),
    }
}

#[test]
fn readiness_needs_a_valid_file_and_a_last_pass_that_did_not_fail() {
    let mut s = Status::default();
    assert!(s.ready().is_err());
    s.config_valid = true;
    assert_eq!(s.ready(), Err("no pass has completed yet".into()));
    s.record_pass(pass(PassResult::Success, 0.2));
    assert_eq!(s.ready(), Ok(()));
    s.record_pass(pass(PassResult::Failure, 0.2));
    assert_eq!(s.ready(), Err("the last pass failed: boom".into()));
    s.record_pass(pass(PassResult::Suspended, 0.2));
    assert_eq!(s.ready(), Ok(()));
    s.config_valid = false;
    assert!(s.ready().is_err());
}

#[test]
fn the_reason_class_of_a_failed_pass_holds_none_of_its_error() {
    let mut s = Status {
        config_valid: true,
        ..Status::default()
    };
    let mut failed = pass(PassResult::Failure, 0.2);
    failed.error = Some("/srv/r2gitops.yaml:7:28: tokens[1].adopt: no token with id 0123".into());
    s.record_pass(failed);
    let n = s.readiness().unwrap_err();
    assert_eq!(n.class, "the last pass failed");
    assert_eq!(
        n.to_string(),
        "the last pass failed: /srv/r2gitops.yaml:7:28: tokens[1].adopt: no token with id 0123"
    );
}

#[test]
fn status_shows_when_each_rotating_token_is_next_rolled() {
    let s = Status {
        rotations: vec![crate::plan::NextRotation {
            token: "ci".into(),
            id: "3f2a".into(),
            every: std::time::Duration::from_secs(86_400),
            due: datetime!(2026-11-24 10:00 UTC),
        }],
        ..Status::default()
    };
    assert_eq!(
        s.json()["rotations"],
        json!([{"token": "ci", "id": "3f2a", "rotate_every_seconds": 86_400,
                "next_rotation": "2026-11-24T10:00:00Z"}])
    );
}

#[test]
fn status_and_metrics_show_the_last_published_commit_and_failure() {
    let mut p = PublishStatus {
        branch: "r2gitops-outputs".into(),
        repository: "fleet".into(),
        ..PublishStatus::default()
    };
    let at = datetime!(2026-11-24 10:00 UTC);
    let commit = "0123456789abcdef0123456789abcdef01234567";
    p.record(
        at,
        &Ok(crate::publish::Published::Commit {
            commit: commit.into(),
            files: 2,
        }),
    );
    p.record(at, &Err("git push failed".into()));
    let s = Status {
        publish: Some(p),
        ..Status::default()
    };
    let j = &s.json()["publish"];
    assert_eq!(j["last_commit"], commit);
    assert_eq!(j["error"], "git push failed");
    assert_eq!(j["branch"], "r2gitops-outputs");
    let mut text = s.prometheus();
    assert!(!text.contains("commit=\""), "no id where /status is closed");
    text.push_str(&s.publish.as_ref().unwrap().commit_metric());
    assert!(text.contains("r2gitops_publish_total{result=\"commit\"} 1\n"));
    assert!(text.contains("r2gitops_publish_total{result=\"failure\"} 1\n"));
    assert!(text.contains("r2gitops_publish_failing 1\n"));
    assert!(text.contains(&format!(
        "r2gitops_publish_last_commit_info{{commit=\"{commit}\"}} 1\n"
    )));
    assert!(text.contains(&format!(
        "r2gitops_publish_last_commit_timestamp_seconds {}\n",
        at.unix_timestamp()
    )));
}

#[test]
fn the_histogram_is_cumulative() {
    let mut s = Status::default();
    s.record_pass(pass(PassResult::Success, 0.05));
    s.record_pass(pass(PassResult::Success, 3.0));
    s.record_pass(pass(PassResult::Failure, 1000.0));
    let text = s.prometheus();
    assert!(text.contains("r2gitops_pass_duration_seconds_bucket{le=\"0.1\"} 1\n"));
    assert!(text.contains("r2gitops_pass_duration_seconds_bucket{le=\"5\"} 2\n"));
    assert!(text.contains("r2gitops_pass_duration_seconds_bucket{le=\"300\"} 2\n"));
    assert!(text.contains("r2gitops_pass_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert!(text.contains("r2gitops_pass_duration_seconds_count 3\n"));
    assert!(text.contains("r2gitops_passes_total{result=\"failure\"} 1\n"));
}
