use super::*;
use crate::plan::BucketRef;

fn desired(yaml_tail: &str) -> Desired {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r2gitops.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nsettings:\n  recipients: [\"age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w\"]\n{yaml_tail}"
        ),
    )
    .unwrap();
    crate::config::load::load(&file).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn what_a_file_may_not_do_to_the_state_bucket() {
    let token = |access: &str, scope: &str| {
        format!(
            "tokens:\n  - name: t\n    access: {access}\n    {scope}\n    output: {{ file: t.env.age, format: env }}\n"
        )
    };
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("not named", "buckets:\n  - name: media\n".into(), None),
        (
            "declared unprotected",
            "buckets:\n  - name: state\n    protect: false\n".into(),
            Some("with protect: false"),
        ),
        (
            "declared, protected by default",
            "buckets:\n  - name: state\n".into(),
            None,
        ),
        (
            "declared with protect: true",
            "buckets:\n  - name: state\n    protect: true\n".into(),
            None,
        ),
        (
            "unprotected in another jurisdiction",
            "buckets:\n  - name: state\n    jurisdiction: eu\n    protect: false\n".into(),
            None,
        ),
        (
            "a read-write token on it",
            format!(
                "buckets:\n  - name: state\n    protect: true\n{}",
                token("object-read-write", "buckets: [state]")
            ),
            Some("token 't' (object-read-write) could write"),
        ),
        (
            "a read token on it",
            format!(
                "buckets:\n  - name: state\n    protect: true\n{}",
                token("object-read", "buckets: [state]")
            ),
            None,
        ),
        (
            "a read-write token on every bucket",
            format!(
                "buckets:\n  - name: media\n{}",
                token("object-read-write", "buckets: [\"*\"]")
            ),
            Some("could write"),
        ),
        (
            "a read-write token on another bucket",
            format!(
                "buckets:\n  - name: media\n{}",
                token("object-read-write", "buckets: [media]")
            ),
            None,
        ),
    ];
    for (what, tail, want) in cases {
        let d = desired(&tail);
        let got = refusal(&d, &[], "state", Jurisdiction::Default);
        match (want, &got) {
            (None, None) => {}
            (Some(w), Some(g)) => assert!(g.contains(w), "{what}: {g}"),
            _ => panic!("{what}: {got:?}"),
        }
    }
    let steps = [Step::DeleteBucket {
        bucket: BucketRef {
            name: "state".into(),
            jurisdiction: Jurisdiction::Default,
        },
    }];
    let d = desired("buckets:\n  - name: media\n");
    assert_eq!(
        refusal(&d, &steps, "state", Jurisdiction::Default).as_deref(),
        Some("the plan would delete the state bucket 'state' (default)")
    );
}
