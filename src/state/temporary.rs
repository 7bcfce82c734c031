//! The on-disk form of the inventory's temporary credential records
//! (`inventory::TemporaryRecord`): never the secret access key or the session token.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ParseError;
use crate::config::shape::clip;
use crate::config::yaml::sanitize;
use crate::config::{Access, TemporaryScope};
use crate::inventory::TemporaryRecord;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TemporaryForm {
    access_key_id: String,
    parent: String,
    parent_id: String,
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    bucket: String,
    access: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    objects: Vec<String>,
    ttl_seconds: u64,
    #[serde(default)]
    output: Option<super::OutputForm>,
}

pub(super) fn to_form(r: &TemporaryRecord) -> TemporaryForm {
    TemporaryForm {
        access_key_id: r.access_key_id.clone(),
        parent: r.parent.clone(),
        parent_id: r.parent_id.clone(),
        issued_at: r.issued_at,
        expires_at: r.expires_at,
        bucket: r.scope.bucket.clone(),
        access: r.scope.access.as_str().into(),
        prefixes: r.scope.prefixes.clone(),
        objects: r.scope.objects.clone(),
        ttl_seconds: r.scope.ttl.as_secs(),
        output: r.output.as_ref().map(super::OutputForm::from_record),
    }
}

pub(super) fn from_form(name: &str, f: TemporaryForm) -> Result<TemporaryRecord, ParseError> {
    let shown = sanitize(&clip(name));
    let access = [
        Access::ObjectRead,
        Access::ObjectReadWrite,
        Access::AdminRead,
        Access::AdminReadWrite,
    ]
    .into_iter()
    .find(|a| a.as_str() == f.access)
    .ok_or_else(|| {
        ParseError::Invalid(format!("temporary credential '{shown}': unknown access"))
    })?;
    if let Some(o) = &f.output
        && crate::secrets::write::checked_components(&o.path).is_err()
    {
        return Err(ParseError::Invalid(format!(
            "temporary credential '{shown}': its output path is not a plain relative path inside output_dir"
        )));
    }
    Ok(TemporaryRecord {
        access_key_id: f.access_key_id,
        parent: f.parent,
        parent_id: f.parent_id,
        issued_at: f.issued_at,
        expires_at: f.expires_at,
        scope: TemporaryScope {
            bucket: f.bucket,
            access,
            prefixes: f.prefixes,
            objects: f.objects,
            ttl: Duration::from_secs(f.ttl_seconds),
        },
        output: f.output.map(super::OutputForm::into_record),
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::super::*;
    use super::*;
    use crate::inventory::OutputRecord;

    pub(crate) fn sample() -> TemporaryRecord {
        TemporaryRecord {
            access_key_id: "a1b2c3d4e5f60718293a4b5c6d7e8f90".into(),
            parent: "uploader".into(),
            parent_id: "0123456789abcdef0123456789abcdef".into(),
            issued_at: datetime!(2026-11-20 10:00 UTC),
            expires_at: datetime!(2026-11-20 22:00 UTC),
            scope: TemporaryScope {
                bucket: "media-uploads".into(),
                access: Access::ObjectReadWrite,
                prefixes: vec!["inbound/partner-a/".into()],
                objects: Vec::new(),
                ttl: Duration::from_secs(43_200),
            },
            output: Some(OutputRecord {
                path: "partner-a.env.age".into(),
                ciphertext_sha256: "ab".repeat(32),
                fingerprint: "cd".repeat(32),
                details: [("endpoint".to_string(), "https://x".to_string())].into(),
            }),
        }
    }

    #[test]
    fn a_temporary_record_round_trips_and_an_inventory_without_one_keeps_its_form() {
        let mut inv = Inventory::default();
        assert!(!to_json(&inv).contains("temporary"));
        inv.temporary.insert("partner-a-inbound".into(), sample());
        let mut bare = sample();
        bare.output = None;
        bare.scope.prefixes.clear();
        bare.scope.objects = vec!["x.json".into()];
        inv.temporary.insert("bare".into(), bare);
        let text = to_json(&inv);
        assert!(text.contains("\"ttl_seconds\": 43200"), "{text}");
        assert_eq!(from_json(&text), Ok(inv));
    }

    /// The rule for token outputs holds for these too: an edited path is refused.
    #[test]
    fn an_output_path_that_could_leave_output_dir_makes_the_inventory_corrupt() {
        let mut inv = Inventory::default();
        inv.temporary.insert("p".into(), sample());
        let text = to_json(&inv).replace("\"partner-a.env.age\"", "\"../victim.txt\"");
        assert_eq!(
            from_json(&text),
            Err(ParseError::Invalid(
                "temporary credential 'p': its output path is not a plain relative path inside output_dir".into()
            ))
        );
    }
}
