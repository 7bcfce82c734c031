use super::*;
use crate::inventory::Learned;
use time::macros::datetime;

fn sample() -> Inventory {
    let mut inv = Inventory::default();
    inv.tokens.insert(
        "uploader".into(),
        TokenRecord {
            id: "0123456789abcdef0123456789abcdef".into(),
            owner: Owner::User,
            created_at: datetime!(2026-11-01 10:00 UTC),
            rolled_at: Some(datetime!(2026-11-20 10:00 UTC)),
            modified_on: None,
            output: Some(OutputRecord {
                path: "uploader.env.age".into(),
                ciphertext_sha256: "ab".repeat(32),
                fingerprint: "cd".repeat(32),
                details: [("endpoint".to_string(), "https://x".to_string())].into(),
            }),
            unheld: false,
        },
    );
    inv.tokens.insert(
        "adopted".into(),
        TokenRecord {
            id: "fedcba9876543210fedcba9876543210".into(),
            owner: Owner::Account,
            created_at: datetime!(2026-11-02 10:00 UTC),
            rolled_at: None,
            modified_on: None,
            output: None,
            unheld: true,
        },
    );
    inv.buckets
        .insert((Jurisdiction::Eu, "logs".into()), BucketRecord::new(false));
    inv.buckets.insert(
        (Jurisdiction::Default, "cold".into()),
        BucketRecord {
            protect: true,
            storage_class_refused: Some(Refusal {
                to: StorageClass::InfrequentAccess,
                at: datetime!(2026-11-21 10:00 UTC),
                detail: "HTTP 405, code 7001: Method not allowed".into(),
            }),
        },
    );
    inv.learned.keeps_removed.insert(TokenField::IpRules);
    inv.retiring.push(crate::inventory::RetiringRecord {
        token: "uploader".into(),
        id: "00112233445566778899aabbccddeeff".into(),
        owner: Owner::User,
        retire_at: datetime!(2026-11-20 11:00 UTC),
    });
    inv.pending.insert("uploader".into());
    inv.updating.insert("uploader".into());
    inv
}

#[test]
fn the_file_round_trips() {
    let inv = sample();
    assert_eq!(from_json(&to_json(&inv)), Ok(inv));
}

#[test]
fn a_file_without_learned_facts_or_refusals_keeps_its_old_form() {
    let mut inv = sample();
    inv.learned = Learned::default();
    inv.retiring.clear();
    inv.pending.clear();
    inv.updating.clear();
    inv.buckets.retain(|_, b| b.storage_class_refused.is_none());
    let text = to_json(&inv);
    assert!(!text.contains("learned"), "{text}");
    assert!(
        !text.contains("retiring") && !text.contains("pending") && !text.contains("updating"),
        "{text}"
    );
    assert!(!text.contains("storage_class_refused"), "{text}");
    assert_eq!(from_json(&text), Ok(inv));
}

#[test]
fn unreadable_files_are_refused_with_a_reason() {
    let cases = [
        ("", "EOF"),
        ("{\"version\": 2}", "version"),
        (
            "{\"version\": 1, \"tokens\": {\"a\": {\"id\": \"x\", \"owner\": \"team\", \"created_at\": \"2026-01-01T00:00:00Z\"}}}",
            "unknown owner",
        ),
        (
            "{\"version\": 1, \"buckets\": [{\"name\": \"b\", \"jurisdiction\": \"mars\", \"protect\": true}]}",
            "unknown jurisdiction",
        ),
        ("{\"version\": 1, \"secret\": \"x\"}", "does not fit"),
        ("{\"version\": \"Zq3vX9kLm2Np\"}", "does not fit"),
        ("Zq3vX9kLm2Np8Rt5", "is not valid JSON at line 1 column 1"),
    ];
    for (text, want) in cases {
        let err = from_json(text).unwrap_err();
        let shown = format!("{err:?}");
        assert!(
            shown.contains(want) || (want == "version" && err == ParseError::Version(2)),
            "{text}: {shown}"
        );
        assert!(
            !shown.contains("Zq3vX9kLm2Np"),
            "a value is quoted: {shown}"
        );
    }
}

/// An edited inventory once made a roll delete `../victim.txt`.
#[test]
fn an_output_path_that_could_leave_output_dir_makes_the_inventory_corrupt() {
    let text = to_json(&sample());
    for bad in [
        "../victim.txt",
        "/etc/passwd",
        "team/../../victim.txt",
        "",
        ".",
    ] {
        let edited = text.replace(
            "\"path\": \"uploader.env.age\"",
            &format!("\"path\": {}", serde_json::json!(bad)),
        );
        assert_ne!(edited, text);
        match from_json(&edited) {
            Err(ParseError::Invalid(reason)) => assert_eq!(
                reason,
                "token 'uploader': its output path is not a plain relative path inside output_dir",
                "{bad}"
            ),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let fine = text.replace("\"uploader.env.age\"", "\"./team/uploader.env.age\"");
    assert!(from_json(&fine).is_ok());
}
