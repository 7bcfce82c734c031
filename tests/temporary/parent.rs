//! A parent token rolled or rotated: the old temporary credentials stop (or retire with it)
//! and the reissued ones work.

use common::Sandbox;

use crate::common;
use crate::{ISSUE, YAML, boto3, env_output, op, reconcile};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_parent_roll_the_old_temporary_credentials_fail_and_the_reissued_ones_work() {
    let sb = Sandbox::new().await;
    // Rolled in place (overlap 0); a rotation keeps them working (the test below).
    sb.write(&YAML.replace(
        "settings: { recipients",
        "settings: { rotation_overlap: 0, recipients",
    ));
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let old = env_output(&sb, "partner-a.env.age");
    let put = || vec![op("put", "media-uploads", "inbound/partner-a/x")];
    assert_eq!(
        tokio::task::block_in_place(|| boto3(&sb, &old, put())),
        ["ok"]
    );

    // The parent's output is lost: it is rolled, and its child reissued right after.
    std::fs::remove_file(sb.out().join("uploader.env.age")).unwrap();
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let roll = lines
        .iter()
        .position(|l| *l == "↻ roll token uploader: output file missing")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        lines[roll + 1],
        format!("{ISSUE}: its parent token uploader is rolled in this pass"),
        "{stdout}"
    );
    let applied: Vec<&&str> = lines.iter().filter(|l| l.starts_with("[ok]")).collect();
    assert_eq!(applied.len(), 2, "{stdout}");
    assert!(applied[0].contains("roll token uploader") && applied[1].contains("issue temporary"));

    let new = env_output(&sb, "partner-a.env.age");
    assert_ne!(new["AWS_ACCESS_KEY_ID"], old["AWS_ACCESS_KEY_ID"]);
    let got = tokio::task::block_in_place(|| (boto3(&sb, &old, put()), boto3(&sb, &new, put())));
    assert_eq!(
        got,
        (vec!["Unauthorized".to_string()], vec!["ok".to_string()])
    );
    // Both were issued under the same parent id (a roll keeps it).
    let issued = sb.emu.temporary_credentials();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        issued[0].parent_access_key_id,
        issued[1].parent_access_key_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_parent_rotation_the_old_temporary_credentials_work_until_it_retires_and_the_reissued_ones_work()
 {
    let sb = Sandbox::new().await;
    sb.write(YAML);
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let old = env_output(&sb, "partner-a.env.age");
    let put = || vec![op("put", "media-uploads", "inbound/partner-a/x")];

    // The parent's output is lost: it is rotated, and its child reissued under the new key.
    std::fs::remove_file(sb.out().join("uploader.env.age")).unwrap();
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{ISSUE}: its parent token uploader is rotated in this pass"
        )),
        "{stdout}"
    );
    let new = env_output(&sb, "partner-a.env.age");
    let issued = sb.emu.temporary_credentials();
    assert_eq!(issued.len(), 2);
    assert_ne!(
        issued[0].parent_access_key_id, issued[1].parent_access_key_id,
        "reissued under the new parent"
    );
    let got = tokio::task::block_in_place(|| (boto3(&sb, &old, put()), boto3(&sb, &new, put())));
    assert_eq!(
        got,
        (vec!["ok".to_string()], vec!["ok".to_string()]),
        "the old parent's child works through the overlap"
    );

    // Once the old parent retires, its child stops working; the new one goes on.
    let state = sb.out().join(".r2gitops-state.json");
    let mut inv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    inv["retiring"][0]["retire_at"] = serde_json::json!("2020-01-01T00:00:00Z");
    std::fs::write(&state, serde_json::to_string_pretty(&inv).unwrap()).unwrap();
    let (code, stdout, stderr) = reconcile(&sb, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("- retire token uploader "), "{stdout}");
    let got = tokio::task::block_in_place(|| (boto3(&sb, &old, put()), boto3(&sb, &new, put())));
    assert_eq!(
        got,
        (vec!["Unauthorized".to_string()], vec!["ok".to_string()])
    );
}
