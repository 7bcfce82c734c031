//! Old keys of rotated tokens that keep working through their overlap: which token id,
//! under which declared name, until when. A recorded retiring token is never a duplicate
//! before its `retire_at`; at or after it, a pass plans its `RetireToken` step. Never a
//! secret. Losing this record only makes the old key a duplicate (deleted at once), never
//! keeps a token alive for longer. Plain data; its file form is `state`'s.

use time::OffsetDateTime;

use crate::config::Owner;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiringRecord {
    /// The declared name whose rotation left this key behind.
    pub token: String,
    pub id: String,
    pub owner: Owner,
    /// The output stopped naming it at this time plus the overlap.
    pub retire_at: OffsetDateTime,
}
