//! `Step`: one change a plan makes, as plain data, and what the rest of r2gitops asks of a
//! step (its action and kind for rendering and metrics, whether it deletes and how much it
//! weighs against the deletion budget, which bucket's configuration it touches).

use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;

use crate::config::{Access, Jurisdiction, LocationHint, Owner, StorageClass, TemporaryScope};
use crate::observed::TokenRequest;

use super::{
    BucketRef, ConfigWrite, DeleteReason, DomainWrite, IssueReason, Kind, QueueWrite,
    ReplaceReason, RollReason,
};

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    CreateBucket {
        bucket: BucketRef,
        location_hint: Option<LocationHint>,
        storage_class: StorageClass,
        protect: bool,
    },
    UpdateBucket {
        bucket: BucketRef,
        from: StorageClass,
        to: StorageClass,
    },
    DeleteBucket {
        bucket: BucketRef,
    },
    /// One configuration sub-resource of a bucket (CORS, lifecycle, lock, r2.dev): one PUT
    /// of its whole content, or the CORS DELETE, then a GET to read it back. A step of its
    /// own, so that one failure blocks no other.
    ConfigureBucket {
        bucket: BucketRef,
        write: ConfigWrite,
        /// What changes, in words: `+web`, `-legacy`, `expire-tmp 7d→3d`, `false→true`.
        changes: Vec<String>,
        /// Lock rules whose retention this shortens or removes, in words. Deletion-class:
        /// each counts toward `max_deletions`, and the step exists only with `prune`.
        loosens: Vec<String>,
        /// The PUT drops Cloudflare's "Default Multipart Abort Rule".
        removes_default_rule: bool,
        /// r2.dev turning on: the address the bucket becomes public at, when known.
        public_url: Option<String>,
    },
    /// One custom domain of a bucket: its POST, its PUT (a patch), its DELETE
    /// (the DNS record goes too: deletion-class, only with `prune`), or for a zone change,
    /// which Cloudflare cannot make in place, a DELETE then a POST. Then a GET reads it back.
    ConfigureDomain {
        bucket: BucketRef,
        domain: String,
        /// In order: one write, or a removal then an add.
        writes: Vec<DomainWrite>,
        /// What changes, in words: `+assets.example.com (zone example.com)`,
        /// `assets.example.com min_tls 1.0→1.2`.
        changes: Vec<String>,
    },
    /// One queue's notification rules on a bucket: DELETE the queue's rules, then
    /// PUT the whole list (Cloudflare's PUT only adds, and refuses overlaps); then a GET reads
    /// them back. No rules left is deletion-class (only with `prune`).
    ConfigureNotifications {
        bucket: BucketRef,
        write: QueueWrite,
        /// What changes, in words: `+object-create:images/*`, `-DeleteObject:*`.
        changes: Vec<String>,
    },
    CreateToken {
        /// Declared name (without the prefix).
        token: String,
        owner: Owner,
        access: Access,
        request: TokenRequest,
        /// Declared buckets the token names (the apply waits for their creation).
        buckets: Vec<BucketRef>,
        output: PathBuf,
        /// Shown to the reviewer with the request's restrictions (never sent: it is ours).
        rotate_every: Option<Duration>,
    },
    UpdateToken {
        token: String,
        id: String,
        owner: Owner,
        request: TokenRequest,
        /// Human-readable differences, e.g. `buckets +logs`.
        changes: Vec<String>,
        buckets: Vec<BucketRef>,
        /// Set when the update removes a restriction (or re-activates an expired token)
        /// that Cloudflare may keep: if the read-back shows it kept, the token is replaced
        /// in the same step instead (right whichever way the live API behaves).
        fallback: Option<ReplaceReason>,
    },
    /// Create a new token, write its output, then delete the old one: for what Cloudflare
    /// cannot change in place. There is never a window without a working credential.
    ReplaceToken {
        token: String,
        /// The token being replaced.
        old_id: String,
        owner: Owner,
        access: Access,
        request: TokenRequest,
        buckets: Vec<BucketRef>,
        output: PathBuf,
        reason: ReplaceReason,
        rotate_every: Option<Duration>,
    },
    RollToken {
        token: String,
        id: String,
        owner: Owner,
        reason: RollReason,
    },
    /// Rotation with overlap: create a new token (same name, policies, condition and
    /// validity), read it back, prove it with a signed S3 call, write its output, then
    /// record the old one as retiring until `now + overlap` (deleted then by a later
    /// pass's `RetireToken`; at once with `revoke_old`). For the roll reasons where the old
    /// secret may still be in use (`RollReason::overlaps`).
    RotateToken {
        token: String,
        /// The token whose key keeps working through the overlap.
        old_id: String,
        owner: Owner,
        access: Access,
        request: TokenRequest,
        buckets: Vec<BucketRef>,
        output: PathBuf,
        reason: RollReason,
        overlap: Duration,
        /// `r2gitops rotate NAME --revoke-old`: the old key is deleted as soon as the new
        /// one is delivered (a leaked secret).
        revoke_old: bool,
        rotate_every: Option<Duration>,
    },
    /// Delete a rotated token's old key at or after its `retire_at`. Not counted against
    /// `max_deletions`: the declared credential still exists.
    RetireToken {
        token: String,
        /// The name the token carries in Cloudflare.
        name: String,
        id: String,
        owner: Owner,
        retire_at: OffsetDateTime,
    },
    DeleteToken {
        /// The name to show: the Cloudflare name without the managed prefix.
        token: String,
        /// The name the token carries in Cloudflare.
        name: String,
        id: String,
        owner: Owner,
        reason: DeleteReason,
    },
    /// Mint a temporary credential under its parent and write its output. The
    /// parent's id is read from the inventory when the step runs: a parent created,
    /// rolled or replaced in the same pass has its new value written first.
    IssueTemporary {
        name: String,
        /// The parent's declared name.
        parent: String,
        scope: TemporaryScope,
        jurisdiction: Jurisdiction,
        output: PathBuf,
        reason: IssueReason,
    },
}

impl Step {
    pub fn is_delete(&self) -> bool {
        matches!(self, Step::DeleteBucket { .. } | Step::DeleteToken { .. })
    }

    /// How many deletions it stands for, toward `max_deletions`: a delete is one, a lock
    /// change one per rule whose retention it loosens, a custom domain removed (with its
    /// DNS record) one, a queue whose rules all go one.
    pub fn deletion_weight(&self) -> usize {
        match self {
            Step::ConfigureBucket { loosens, .. } => loosens.len(),
            Step::ConfigureDomain { writes, .. } => {
                usize::from(matches!(writes.as_slice(), [DomainWrite::Remove { .. }]))
            }
            Step::ConfigureNotifications { write, .. } => usize::from(write.rules.is_empty()),
            s => usize::from(s.is_delete()),
        }
    }

    /// A configuration step of a bucket (any kind): run in the configuration phase, and
    /// its bucket's configuration is read afresh next pass.
    pub fn config_bucket(&self) -> Option<&BucketRef> {
        match self {
            Step::ConfigureBucket { bucket, .. }
            | Step::ConfigureDomain { bucket, .. }
            | Step::ConfigureNotifications { bucket, .. } => Some(bucket),
            _ => None,
        }
    }

    /// The bucket whose configuration this step creates or writes: what was read of it is
    /// stale afterwards, whatever the outcome.
    pub fn changes_config_of(&self) -> Option<&BucketRef> {
        match self {
            Step::CreateBucket { bucket, .. } => Some(bucket),
            s => s.config_bucket(),
        }
    }

    /// Whether its writes name a zone or a queue by the id a lookup found (stale, should
    /// the write fail).
    pub fn uses_lookups(&self) -> bool {
        matches!(
            self,
            Step::ConfigureDomain { .. } | Step::ConfigureNotifications { .. }
        )
    }

    /// `create`, `update`, `roll`, `replace`, `rotate`, `retire`, `delete` or `issue`.
    pub fn action(&self) -> &'static str {
        match self {
            Step::CreateBucket { .. } | Step::CreateToken { .. } => "create",
            Step::UpdateBucket { .. }
            | Step::UpdateToken { .. }
            | Step::ConfigureBucket { .. }
            | Step::ConfigureDomain { .. }
            | Step::ConfigureNotifications { .. } => "update",
            Step::RollToken { .. } => "roll",
            Step::ReplaceToken { .. } => "replace",
            Step::RotateToken { .. } => "rotate",
            Step::RetireToken { .. } => "retire",
            Step::DeleteBucket { .. } | Step::DeleteToken { .. } => "delete",
            Step::IssueTemporary { .. } => "issue",
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Step::CreateBucket { .. }
            | Step::UpdateBucket { .. }
            | Step::DeleteBucket { .. }
            | Step::ConfigureBucket { .. }
            | Step::ConfigureDomain { .. }
            | Step::ConfigureNotifications { .. } => Kind::Bucket,
            Step::IssueTemporary { .. } => Kind::Temporary,
            _ => Kind::Token,
        }
    }

    /// The object's name as the user knows it: bucket name, declared token name, or the
    /// Cloudflare name of an undeclared token.
    pub fn object_name(&self) -> &str {
        match self {
            Step::CreateBucket { bucket, .. }
            | Step::UpdateBucket { bucket, .. }
            | Step::DeleteBucket { bucket }
            | Step::ConfigureBucket { bucket, .. }
            | Step::ConfigureDomain { bucket, .. }
            | Step::ConfigureNotifications { bucket, .. } => &bucket.name,
            Step::CreateToken { token, .. }
            | Step::UpdateToken { token, .. }
            | Step::RollToken { token, .. }
            | Step::ReplaceToken { token, .. }
            | Step::RotateToken { token, .. }
            | Step::RetireToken { token, .. }
            | Step::DeleteToken { token, .. } => token,
            Step::IssueTemporary { name, .. } => name,
        }
    }
}
