use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

fn entry(name: &str, expires_in: Option<i64>, refresh_before: u64) -> TemporaryEntry {
    let expires_at = expires_in.map(|s| NOW + time::Duration::seconds(s));
    let refresh_before = Duration::from_secs(refresh_before);
    TemporaryEntry {
        name: name.into(),
        parent: "uploader".into(),
        expires_at,
        renew_at: expires_at.map(|x| x - refresh_before),
        refresh_before,
        last_error: None,
    }
}

#[test]
fn the_next_renewal_is_the_earliest_ahead_plus_at_most_a_tenth_of_its_window() {
    let list = [
        entry("a", Some(3600), 1200),
        entry("b", Some(60), 20),
        entry("never", None, 20),
    ];
    assert_eq!(
        next_renewal(&list, NOW, 0.0),
        Some(NOW + time::Duration::seconds(40))
    );
    assert_eq!(
        next_renewal(&list, NOW, 1.0),
        Some(NOW + time::Duration::seconds(42)),
        "a tenth of 20s"
    );
    let long = [entry("c", Some(86_400), 28_800)];
    assert_eq!(
        next_renewal(&long, NOW, 1.0),
        Some(NOW + time::Duration::seconds(86_400 - 28_800 + 30)),
        "capped at 30s"
    );
}

#[test]
fn a_credential_already_due_after_a_pass_never_schedules_a_busy_loop() {
    let due = [entry("blocked", Some(10), 20), entry("never", None, 20)];
    assert_eq!(next_renewal(&due, NOW, 0.5), None);
}

#[test]
fn metrics_show_seconds_left_per_name_and_never_a_value() {
    let mut failing = entry("x\"y", None, 20);
    failing.last_error = Some("HTTP 403".into());
    let text = metrics(
        &[entry("partner-a", Some(25_200), 14_400), failing],
        NOW,
        true,
    );
    assert!(
        text.contains("r2gitops_temporary_credential_expiry_seconds{name=\"partner-a\"} 25200\n")
    );
    assert!(text.contains("r2gitops_temporary_credential_expiry_seconds{name=\"x\\\"y\"} 0\n"));
    assert!(text.contains("r2gitops_temporary_credential_renewal_failing{name=\"x\\\"y\"} 1\n"));
    let expired = metrics(&[entry("old", Some(-5), 20)], NOW, true);
    assert!(expired.contains("{name=\"old\"} -5\n"), "{expired}");
}

#[test]
fn without_names_the_metrics_aggregate_and_label_nothing() {
    let mut failing = entry("partner-b", Some(600), 20);
    failing.last_error = Some("HTTP 403".into());
    let list = [entry("partner-a", Some(25_200), 14_400), failing];
    let text = metrics(&list, NOW, false);
    assert!(!text.contains("partner"), "{text}");
    assert!(!text.contains('{'), "no labels: {text}");
    assert!(
        text.contains("r2gitops_temporary_credential_soonest_expiry_seconds 600\n"),
        "{text}"
    );
    assert!(
        text.contains("r2gitops_temporary_credentials_renewal_failing 1\n"),
        "{text}"
    );
    let named = metrics(&list, NOW, true);
    assert!(
        named.starts_with(&text),
        "the same aggregates, then the named series"
    );
    let none = metrics(&[], NOW, false);
    assert!(
        !none.contains("\nr2gitops_temporary_credential_soonest_expiry_seconds ")
            && none.contains("\nr2gitops_temporary_credentials_renewal_failing 0\n"),
        "{none}"
    );
}

#[test]
fn only_temporary_failures_leave_the_pass_a_success() {
    use crate::apply::StepReport;
    let step = |kind: &'static str, name: &str, outcome: Outcome| StepReport {
        line: String::new(),
        action: "x",
        kind,
        name: name.into(),
        outcome,
        verify: None,
        readiness: None,
    };
    let mut report = Report {
        steps: vec![
            step("token", "uploader", Outcome::Done),
            step("temporary", "a", Outcome::Failed("HTTP 403".into())),
            step("temporary", "b", Outcome::Done),
        ],
        ..Report::default()
    };
    let (errors, issued, only) = from_report(&report);
    assert_eq!(
        errors,
        BTreeMap::from([("a".to_string(), "HTTP 403".to_string())])
    );
    assert_eq!(issued, ["b"]);
    assert!(only);
    report.steps[0].outcome = Outcome::Failed("HTTP 500".into());
    assert!(!from_report(&report).2, "a token failure fails the pass");
    report.steps[0].outcome = Outcome::Done;
    report.inventory_errors.push("disk full".into());
    assert!(
        !from_report(&report).2,
        "an inventory failure fails the pass"
    );
}

#[test]
fn errors_stay_until_the_credential_is_issued() {
    let mut d = crate::fixtures::desired();
    d.temporary_credentials = vec![crate::config::TemporarySpec {
        name: "p".into(),
        parent: "uploader".into(),
        jurisdiction: crate::config::Jurisdiction::Default,
        scope: crate::config::TemporaryScope {
            bucket: "media".into(),
            access: crate::config::Access::ObjectRead,
            prefixes: Vec::new(),
            objects: Vec::new(),
            ttl: Duration::from_secs(60),
        },
        refresh_before: Duration::from_secs(20),
        output: crate::fixtures::token("p", &[]).output,
    }];
    let inv = Inventory::default();
    let failed = BTreeMap::from([("p".to_string(), "HTTP 500".to_string())]);
    let first = entries(&d, &inv, &failed, &[], &[]);
    assert_eq!(first[0].last_error.as_deref(), Some("HTTP 500"));
    let quiet = entries(&d, &inv, &BTreeMap::new(), &[], &first);
    assert_eq!(quiet[0].last_error.as_deref(), Some("HTTP 500"), "kept");
    let issued = entries(&d, &inv, &BTreeMap::new(), &["p".to_string()], &quiet);
    assert_eq!(issued[0].last_error, None);
}
