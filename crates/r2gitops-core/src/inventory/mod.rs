//! The inventory: r2gitops' own non-secret memory, as plain records. It records which token
//! id serves each declared name, when it was created and last rolled, what was written for
//! it (`OutputRecord`: path, SHA-256 of the ciphertext, recipients/format fingerprint),
//! which buckets r2gitops manages with their last declared `protect`, and each temporary
//! credential it issued (`temporary`), and the old keys of rotated tokens until they retire
//! (`retiring`).
//!
//! It must never hold a secret, and losing it must never cause a deletion: every fact in it
//! is either rebuilt from Cloudflare (ids, by the name prefix) or only ever *prevents* work
//! from being skipped (a missing output record means a roll, never a delete).
//!
//! Plain data, no I/O: the planner reads it. Its file (`settings.state_file`, default
//! `<output_dir>/.r2gitops-state.json`), versioned form, load, save and lock are `state`'s.
//! Must not import `state`, `secrets`, `cloudflare`, tokio or reqwest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::config::{Jurisdiction, Owner, StorageClass};
use crate::observed::TokenField;

pub mod retiring;
pub mod temporary;
pub use retiring::RetiringRecord;
pub use temporary::TemporaryRecord;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inventory {
    /// Declared token name (without the prefix) -> what r2gitops knows of it.
    pub tokens: BTreeMap<String, TokenRecord>,
    /// Buckets r2gitops created or adopted, with their last declared `protect`.
    pub buckets: BTreeMap<(Jurisdiction, String), BucketRecord>,
    /// What read-backs taught about this account's API (never a secret).
    pub learned: Learned,
    /// Declared temporary credential name -> what was issued.
    pub temporary: BTreeMap<String, TemporaryRecord>,
    /// Old keys of rotated tokens, kept working until their `retire_at` (`retiring`).
    pub retiring: Vec<RetiringRecord>,
    /// Declared names with a token create in flight, saved before the call: a crash before
    /// the new token is recorded leaves one whose value nobody holds, which the next pass
    /// may roll (rather than rotate around it) when it finds it under the name.
    pub pending: BTreeSet<String>,
    /// Declared names with a token update in flight, saved before the call: a crash before
    /// the update's new `modified_on` is recorded leaves a token that looks changed
    /// elsewhere, and a roll for it would cut its working value off. The next pass that
    /// finds the token as declared takes that change for its own.
    pub updating: BTreeSet<String>,
}

/// Behaviours of the live API that a read-back proved, so that later plans say what will
/// really happen instead of trying what is known not to work.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Learned {
    /// Token fields Cloudflare keeps when an update leaves them out: removing one needs a
    /// replacement.
    pub keeps_removed: BTreeSet<TokenField>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub owner: Owner,
    pub created_at: OffsetDateTime,
    pub rolled_at: Option<OffsetDateTime>,
    /// Cloudflare's `modified_on` as read back after r2gitops' own last change of this
    /// token (create, update, roll). Cloudflare bumps it when a token is rolled, so a later
    /// value means someone changed the token elsewhere, perhaps killing the value in its
    /// output. `None`: not known (older inventories, adopted tokens).
    pub modified_on: Option<OffsetDateTime>,
    /// `None` until an output was written for this id (e.g. adopted after a lost inventory,
    /// or a write that failed after the create).
    pub output: Option<OutputRecord>,
    /// The record was made from Cloudflare (a lost inventory, a name found), not from a value
    /// r2gitops issued: the value in use is unknown and may be live, so renewing it rotates
    /// with overlap. False for every value r2gitops issued (a create, roll or rotation whose
    /// write failed leaves a value nobody holds: a roll breaks nobody).
    pub unheld: bool,
}

impl TokenRecord {
    /// When the current value was issued: the start of the `rotate_every` period.
    pub fn value_issued_at(&self) -> OffsetDateTime {
        self.rolled_at.unwrap_or(self.created_at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRecord {
    pub protect: bool,
    /// Cloudflare's last permanent refusal to change the storage class, so that a refused
    /// change is reported as blocked instead of retried on every pass.
    pub storage_class_refused: Option<Refusal>,
}

impl BucketRecord {
    pub fn new(protect: bool) -> Self {
        BucketRecord {
            protect,
            storage_class_refused: None,
        }
    }
}

/// A write Cloudflare refused for good (a 4xx other than 429), with its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The storage class that was asked for.
    pub to: StorageClass,
    pub at: OffsetDateTime,
    /// `HTTP 405, code 7001: Method not allowed`.
    pub detail: String,
}

impl Inventory {
    /// Every token id the inventory vouches for (managed whatever their current name).
    pub fn token_ids(&self) -> impl Iterator<Item = &str> {
        self.tokens
            .values()
            .map(|t| t.id.as_str())
            .chain(self.retiring.iter().map(|r| r.id.as_str()))
    }

    /// The retiring record of token `id`, if the inventory keeps it through an overlap.
    pub fn retiring(&self, id: &str) -> Option<&RetiringRecord> {
        self.retiring.iter().find(|r| r.id == id)
    }
}

/// What the inventory records about an output once its rename has happened: enough for
/// the planner to see a missing, altered or re-keyed file without ever decrypting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Relative to `output_dir` (exactly `OutputSpec::file`).
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of the bytes on disk (the ciphertext).
    pub ciphertext_sha256: String,
    /// Equals `OutputSpec::fingerprint()` of the spec it was written for.
    pub fingerprint: String,
    /// What the file shows that can change without its secret (`format::details`): a
    /// change means the file is stale, and only a roll can re-render it. Empty in records
    /// written before it existed (nothing is then known to differ).
    pub details: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_rotation_period_starts_at_the_last_roll_else_at_creation() {
        let record = |rolled_at| TokenRecord {
            id: "0123456789abcdef0123456789abcdef".into(),
            owner: Owner::User,
            created_at: datetime!(2026-11-01 10:00 UTC),
            rolled_at,
            modified_on: None,
            output: None,
            unheld: false,
        };
        assert_eq!(
            record(Some(datetime!(2026-11-20 10:00 UTC))).value_issued_at(),
            datetime!(2026-11-20 10:00 UTC)
        );
        assert_eq!(
            record(None).value_issued_at(),
            datetime!(2026-11-01 10:00 UTC)
        );
    }
}
