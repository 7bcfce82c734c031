//! The on-disk form of the inventory's retiring keys (`inventory::RetiringRecord`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ParseError;
use crate::config::Owner;
use crate::config::shape::clip;
use crate::config::yaml::sanitize;
use crate::inventory::RetiringRecord;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetiringForm {
    token: String,
    id: String,
    owner: String,
    #[serde(with = "time::serde::rfc3339")]
    retire_at: OffsetDateTime,
}

pub(super) fn to_form(r: &RetiringRecord) -> RetiringForm {
    RetiringForm {
        token: r.token.clone(),
        id: r.id.clone(),
        owner: r.owner.as_str().into(),
        retire_at: r.retire_at,
    }
}

pub(super) fn from_form(f: RetiringForm) -> Result<RetiringRecord, ParseError> {
    let owner = match f.owner.as_str() {
        "account" => Owner::Account,
        "user" => Owner::User,
        _ => {
            return Err(ParseError::Invalid(format!(
                "retiring token '{}': unknown owner (expected account or user)",
                sanitize(&clip(&f.token))
            )));
        }
    };
    Ok(RetiringRecord {
        token: f.token,
        id: f.id,
        owner,
        retire_at: f.retire_at,
    })
}
