//! Old keys of rotated tokens that keep working through their overlap: which token id,
//! under which declared name, until when. A recorded retiring token is never a duplicate
//! before its `retire_at`; at or after it, a pass plans its `RetireToken` step. Never a
//! secret. Losing this record only makes the old key a duplicate (deleted at once), never
//! keeps a token alive for longer.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ParseError;
use crate::config::Owner;
use crate::config::shape::clip;
use crate::config::yaml::sanitize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiringRecord {
    /// The declared name whose rotation left this key behind.
    pub token: String,
    pub id: String,
    pub owner: Owner,
    /// The output stopped naming it at this time plus the overlap.
    pub retire_at: OffsetDateTime,
}

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
