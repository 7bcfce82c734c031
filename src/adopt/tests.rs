//! Unit tests of `adopt`.

use super::*;
use crate::cloudflare::CfError;
use crate::config::Owner;
use crate::fixtures::{desired, token};

const ID: &str = "3f2a0000000000000000000000000000";

fn declared() -> Desired {
    let mut d = desired();
    let mut t = token("backup-reader", &["backups"]);
    t.adopt = Some(crate::config::Adopt {
        id: ID.into(),
        line: 3,
        column: 12,
    });
    d.tokens = vec![t, token("uploader", &["backups"])];
    d
}

#[test]
fn the_target_is_the_declared_token_with_its_adopt_id() {
    let d = declared();
    let (_, spec, id) = target(&d, "backup-reader").unwrap();
    assert_eq!(
        (spec.name.as_str(), id.as_deref()),
        ("backup-reader", Some(ID))
    );
    let e = target(&d, "nope").unwrap_err().to_string();
    assert!(
        e.starts_with("r2gitops.yaml: no token named 'nope' is declared"),
        "{e}"
    );
}

#[test]
fn an_entry_without_adopt_takes_over_only_the_token_carrying_its_name() {
    let d = declared();
    let (index, _, id) = target(&d, "uploader").unwrap();
    assert_eq!((index, id), (1, None));
    assert!(check_named(&d, index, ID, "r2gitops:uploader").is_ok());
    let e = check_named(&d, index, ID, "CI deploy\nkey")
        .unwrap_err()
        .to_string();
    assert!(
            e.starts_with(&format!("the value verifies as token {ID} ('CI deploy\\nkey'), and tokens[1] has no adopt: and manages only a token named 'r2gitops:uploader'; nothing was written")),
            "{e}"
        );
}

#[test]
fn only_a_value_that_verifies_as_the_adopted_id_is_accepted() {
    let d = declared();
    let spec = &d.tokens[0];
    let verified = |id: &str| VerifiedToken {
        id: id.into(),
        status: TokenStatus::Active,
        expires_on: None,
    };
    assert!(check_verified(spec, Some(ID), Ok(verified(ID))).is_ok());
    let other = "ffff0000000000000000000000000000";
    let e = check_verified(spec, Some(ID), Ok(verified(other)))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "the value verifies as token {other}, not {ID} (the adopt: of 'backup-reader'); nothing was written"
        )
    );
    let invalid = ApiError::from_answer(
        "verify the API token",
        401,
        vec![CfError {
            code: 1000,
            message: "Invalid API Token".into(),
        }],
    );
    let e = check_verified(spec, Some(ID), Err(invalid))
        .unwrap_err()
        .to_string();
    assert!(
            e.starts_with("the value did not verify as a Cloudflare account token (Cloudflare answered 'Invalid API Token', code 1000)"),
            "{e}"
        );
    // A network failure is not a verdict on the value: it stays what it was.
    let down = ApiError::transport("verify the API token", "connection refused");
    let e = check_verified(spec, Some(ID), Err(down))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("connection refused") && !e.contains("did not verify"),
        "{e}"
    );
}

#[test]
fn the_owner_family_names_the_verify_endpoint_in_errors() {
    let mut d = declared();
    d.tokens[0].owner = Owner::User;
    let e = check_verified(
        &d.tokens[0],
        Some(ID),
        Err(ApiError::from_answer("verify", 401, Vec::new())),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Cloudflare user token"), "{e}");
}
