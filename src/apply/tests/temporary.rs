//! Temporary credentials in an apply: issued under the parent's new id right after it is
//! written, skipped with a failed parent, conditional on a roll, and refused by Cloudflare.

use super::*;

/// `setup` plus one temporary credential `partner` under `parent` on `bucket`.
fn setup_temporary(parent: &str, bucket: &str) -> Setup {
    let mut s = setup(&[(parent, bucket)]);
    let recipients = s.desired.tokens[0].output.recipients.clone();
    let mut output = s.desired.tokens[0].output.clone();
    output.file = PathBuf::from("partner.env.age");
    output.recipients = recipients;
    s.desired
        .temporary_credentials
        .push(crate::config::TemporarySpec {
            name: "partner".into(),
            parent: parent.into(),
            jurisdiction: Jurisdiction::Default,
            scope: crate::config::TemporaryScope {
                bucket: bucket.into(),
                access: Access::ObjectReadWrite,
                prefixes: vec!["inbound/".into()],
                objects: Vec::new(),
                ttl: std::time::Duration::from_secs(3600),
            },
            refresh_before: std::time::Duration::from_secs(1200),
            output,
        });
    s
}

fn issue(parent: &str, bucket: &str, reason: crate::plan::IssueReason) -> Step {
    Step::IssueTemporary {
        name: "partner".into(),
        parent: parent.into(),
        scope: crate::config::TemporaryScope {
            bucket: bucket.into(),
            access: Access::ObjectReadWrite,
            prefixes: vec!["inbound/".into()],
            objects: Vec::new(),
            ttl: std::time::Duration::from_secs(3600),
        },
        jurisdiction: Jurisdiction::Default,
        output: PathBuf::from("partner.env.age"),
        reason,
    }
}

#[tokio::test]
async fn a_credential_is_issued_under_its_parents_new_id_right_after_the_parent_is_written() {
    let s = setup_temporary("uploader", "media");
    let fake = Fake::default();
    let p = plan(vec![
        create_bucket("media"),
        create_token("uploader", "media"),
        issue(
            "uploader",
            "media",
            crate::plan::IssueReason::ParentRenewed {
                parent: "uploader".into(),
                how: "created",
            },
        ),
    ]);
    let before = OffsetDateTime::now_utc();
    let (report, inv) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(
        outcomes(&report),
        [
            ("create bucket media".to_string(), "done"),
            ("create token uploader".to_string(), "done"),
            ("issue temporary partner".to_string(), "done"),
        ]
    );
    let parent_id = inv.tokens["uploader"].id.clone();
    assert_eq!(
        fake.calls()[1..],
        [
            "create token r2gitops:uploader".to_string(),
            format!("issue temporary on media under {parent_id}"),
        ]
    );
    let sent = fake.temporary.lock().unwrap()[0].clone();
    assert_eq!(
        (sent.permission, sent.ttl_seconds, sent.prefixes),
        ("object-read-write", 3600, vec!["inbound/".to_string()])
    );
    let r = &inv.temporary["partner"];
    assert_eq!(r.parent_id, parent_id);
    assert_eq!(r.access_key_id, format!("{:032x}", 0xace + 1));
    assert!(r.issued_at >= before && r.expires_at == r.issued_at + sent_ttl());
    let out = r.output.as_ref().expect("output recorded");
    let on_disk = crate::secrets::file_sha256(&s.desired.settings.output_dir, &out.path)
        .unwrap()
        .unwrap();
    assert_eq!(on_disk, out.ciphertext_sha256);
    // Neither secret reaches the inventory, in memory or on disk.
    let text = std::fs::read_to_string(&s.desired.settings.state_file).unwrap();
    for secret in ["tempsecret1", "tempsession1"] {
        assert!(!text.contains(secret), "{secret} in the inventory");
    }
    assert_eq!(
        crate::state::load(&s.desired.settings.state_file).unwrap(),
        inv
    );
}

fn sent_ttl() -> std::time::Duration {
    std::time::Duration::from_secs(3600)
}

#[tokio::test]
async fn children_of_a_parent_whose_step_failed_are_skipped_and_nothing_is_issued() {
    let s = setup_temporary("uploader", "broken");
    let fake = Fake {
        fail_buckets: ["broken".to_string()].into(),
        ..Fake::default()
    };
    let p = plan(vec![
        create_bucket("broken"),
        create_token("uploader", "broken"),
        issue("uploader", "broken", crate::plan::IssueReason::Unrecorded),
    ]);
    let (report, inv) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(report.steps[2].outcome.as_str(), "skipped");
    assert!(fake.temporary.lock().unwrap().is_empty());
    assert!(inv.temporary.is_empty());
}

#[tokio::test]
async fn a_conditional_issue_does_nothing_when_the_parent_was_updated_in_place() {
    let s = setup_temporary("uploader", "media");
    let fake = Fake::default();
    let p = plan(vec![issue(
        "uploader",
        "media",
        crate::plan::IssueReason::ParentMayBeReplaced {
            parent: "uploader".into(),
        },
    )]);
    let (report, _) = run(&fake, &s, &p, &Stop::new()).await;
    assert_eq!(report.steps[0].outcome.as_str(), "already_done");
    assert!(fake.temporary.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_issue_fails_its_step_with_cloudflares_code_and_records_nothing() {
    let s = setup_temporary("uploader", "media");
    let fake = Fake {
        refuse_temporary: true,
        ..Fake::default()
    };
    let mut inv = Inventory::default();
    inv.tokens.insert(
        "uploader".into(),
        TokenRecord {
            id: "1".repeat(32),
            owner: Owner::Account,
            created_at: datetime!(2026-11-01 00:00 UTC),
            rolled_at: None,
            modified_on: None,
            output: None,
            unheld: false,
        },
    );
    let p = plan(vec![issue(
        "uploader",
        "media",
        crate::plan::IssueReason::Unrecorded,
    )]);
    let (report, inv) = Applier {
        api: &fake,
        desired: &s.desired,
        writer: &s.writer,
        concurrency: 1,
        stop: &Stop::new(),
        progress: None,
    }
    .apply(&p, inv)
    .await;
    match &report.steps[0].outcome {
        Outcome::Failed(e) => assert!(e.contains("10000"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(inv.temporary.is_empty());
    assert!(!s.dir.path().join("secrets/partner.env.age").exists());
}
