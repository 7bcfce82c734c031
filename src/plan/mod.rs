//! The plan: what one pass would change, as plain data (STYLE.md rule 1). `diff` computes it
//! from values alone; `render` shows it; `apply` carries it out. This module and its
//! children must not import `cloudflare`, `secrets` I/O, `daemon`, tokio or reqwest: no
//! clock, no environment, no network. `now` and the output files' hashes are inputs.
//!
//! - `policy`: the Cloudflare policies a declared token stands for, and their description.
//! - `diff`: desired + observed + inventory + output facts + now -> `Plan`.
//! - `readback`: what Cloudflare stored after a write, compared with what was sent.
//! - `render`: text (terraform-like), JSON (versioned) and Markdown.
//! - `id`: the plan's id, the SHA-256 of its canonical form (`--expect-plan`).
//! - `temporary`: why a temporary credential is issued, and the ones kept.
//! - `write`: the write intents of configuration steps, each with what its read-back expects.

pub mod diff;
pub mod id;
pub mod policy;
pub mod readback;
pub mod render;
pub mod temporary;
pub mod write;

use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;

use crate::config::{Access, Jurisdiction, LocationHint, Owner, StorageClass, TemporaryScope};
use crate::observed::custom_domain::DomainStatus;
use crate::observed::{TokenField, TokenRequest};

pub use diff::{OutputFact, TemporaryFacts, diff};

/// An instant as plans, reports and the status show it: RFC 3339.
pub fn timestamp(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
pub use temporary::{IssueReason, KeptTemporary};
pub use write::{ConfigWrite, DomainWrite, QueueWrite};

/// Everything one pass would do, in execution order, plus what it will not do and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub account_id: String,
    /// Actionable changes, ordered: bucket creates and updates, token deletes, token creates,
    /// updates and rolls, temporary credential issues, bucket deletes (tokens stop naming a
    /// bucket before it goes).
    pub steps: Vec<Step>,
    /// Declared things the plan cannot bring to the declared state, with the reason.
    pub blocked: Vec<Blocked>,
    /// Managed things no longer declared that are kept, with the reason.
    pub orphans: Vec<Orphan>,
    /// Tokens that carry the managed-name prefix but that this file neither declares nor
    /// records in its inventory: another desired-state file on the account manages them
    /// (or an inventory was lost). Never touched; listed so that a reviewer sees them.
    pub elsewhere: Vec<Orphan>,
    /// Declared buckets and tokens already as declared.
    pub unchanged: usize,
    /// Non-secret inventory facts learned from Cloudflare (adoptions, forgotten entries);
    /// applied before the steps, never shown as changes.
    pub bookkeeping: Vec<Bookkeeping>,
    /// Set when a guard refuses the whole plan: nothing of it may be applied.
    pub refused: Option<String>,
    /// Output files were not examined (`--skip-outputs`): no roll was planned.
    pub skip_outputs: bool,
    /// Temporary credentials that stay as issued, with the time they have left (they are
    /// also counted in `unchanged`).
    pub temporary: Vec<KeptTemporary>,
    /// Where Cloudflare is with each attached custom domain of a bucket that declares
    /// `custom_domains`: information, never drift.
    pub domains: Vec<DomainInfo>,
    /// When each token with `rotate_every` that this pass does not renew is next rolled.
    pub rotations: Vec<NextRotation>,
    /// Old keys of rotated tokens still in their overlap.
    pub retiring: Vec<RetiringKey>,
    /// What the pass would commit to `settings.publish`'s branch (set by the caller, which
    /// reads the clone; `None` without publishing).
    pub publish: Option<PublishPreview>,
}

/// The files a pass would publish: `↗ publish 3 files to r2gitops-outputs (fleet)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishPreview {
    pub files: usize,
    pub branch: String,
    /// The clone's directory name.
    pub repository: String,
}

impl PublishPreview {
    pub fn line(&self) -> String {
        format!(
            "↗ publish {} file{} to {} ({})",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.branch,
            self.repository
        )
    }
}

/// The next scheduled rotation of a token kept as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct NextRotation {
    pub token: String,
    pub id: String,
    pub every: Duration,
    /// The current value's issue time plus `every`: the first pass from then on rolls it.
    pub due: OffsetDateTime,
}

impl NextRotation {
    /// Each declared token with `rotate_every` that the inventory records, as of that
    /// inventory (the daemon's `/status` after an apply, which may have just rolled one).
    pub fn of(
        desired: &crate::config::Desired,
        inventory: &crate::inventory::Inventory,
    ) -> Vec<Self> {
        desired
            .tokens
            .iter()
            .filter_map(|t| {
                let every = t.rotate_every?;
                let r = inventory
                    .tokens
                    .get(&t.name)
                    .filter(|r| r.owner == t.owner)?;
                Some(NextRotation {
                    token: t.name.clone(),
                    id: r.id.clone(),
                    every,
                    due: r.value_issued_at() + every,
                })
            })
            .collect()
    }
}

/// A custom domain's status as the plan reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    pub bucket: BucketRef,
    pub domain: String,
    pub enabled: bool,
    pub status: DomainStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BucketRef {
    pub jurisdiction: Jurisdiction,
    pub name: String,
}

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

#[derive(Debug, Clone, PartialEq)]
pub enum RollReason {
    /// No output was ever recorded for this token id (inventory lost, or a write failed
    /// after the create): its file cannot be vouched for.
    OutputUnrecorded,
    OutputMissing,
    /// The file's bytes differ from what was written.
    OutputAltered,
    OutputMoved {
        from: PathBuf,
    },
    /// Recipients, format, armor or API-token inclusion changed: r2gitops cannot re-encrypt
    /// what it cannot decrypt.
    OutputSpecChanged,
    /// Something the file shows (its endpoint, its jurisdiction) changed since it was
    /// written: re-rendering it needs the secret.
    OutputDetailChanged {
        /// (detail, from, to), in the order of their names.
        changes: Vec<(String, String, String)>,
    },
    Rotation {
        issued_at: OffsetDateTime,
    },
    /// Cloudflare's `modified_on` moved past what r2gitops recorded at its own last change:
    /// someone changed the token elsewhere, and a roll there (a dashboard click) leaves the
    /// output holding a dead secret. Cloudflare bumps `modified_on` on a roll (seen by
    /// mondoohq/cnspec, 2026-04).
    ChangedElsewhere {
        at: OffsetDateTime,
    },
    /// The file adopts an existing token (`adopt:`) whose value nobody supplied: a roll is
    /// the only way to issue its credentials, and its existing S3 secret stops working.
    Adopted,
    /// `r2gitops rotate NAME`: the operator asked for a new key now.
    Requested,
}

impl RollReason {
    pub fn describe(&self) -> String {
        match self {
            RollReason::OutputUnrecorded => {
                "no record of its output (a new or lost inventory, or an interrupted write); any secret in use stops working".into()
            }
            RollReason::OutputMissing => "output file missing".into(),
            RollReason::OutputAltered => "output file changed since it was written".into(),
            RollReason::OutputMoved { from } => {
                format!("output file moved (was {})", from.display())
            }
            RollReason::OutputSpecChanged => "output recipients or format changed".into(),
            RollReason::OutputDetailChanged { changes } => {
                let parts: Vec<String> = changes
                    .iter()
                    .map(|(detail, from, to)| format!("{detail} changed ({from}→{to})"))
                    .collect();
                format!("output {}", parts.join(" and "))
            }
            RollReason::Rotation { issued_at } => format!(
                "rotate_every elapsed (value issued {})",
                timestamp(*issued_at)
            ),
            RollReason::ChangedElsewhere { at } => format!(
                "changed outside r2gitops at {} (a roll there would leave its output dead)",
                timestamp(*at)
            ),
            RollReason::Adopted => {
                "roll required to issue its credentials (existing S3 keys stop working)".into()
            }
            RollReason::Requested => "rotation requested (r2gitops rotate)".into(),
        }
    }

    /// r2gitops never held the value in use (a first run after `import` or a lost
    /// inventory; an adoption without the value): the roll breaks whoever uses it. Such a
    /// first run must rotate with overlap (a second credential, the first retired later)
    /// once that exists, never roll: `diff`'s `renew` is the one place that decides.
    pub fn value_unheld(&self) -> bool {
        matches!(self, RollReason::OutputUnrecorded | RollReason::Adopted)
    }

    /// A stable machine-readable name, for JSON and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RollReason::OutputUnrecorded => "output_unrecorded",
            RollReason::OutputMissing => "output_missing",
            RollReason::OutputAltered => "output_altered",
            RollReason::OutputMoved { .. } => "output_moved",
            RollReason::OutputSpecChanged => "output_spec_changed",
            RollReason::OutputDetailChanged { .. } => "output_detail_changed",
            RollReason::Rotation { .. } => "rotation",
            RollReason::ChangedElsewhere { .. } => "changed_elsewhere",
            RollReason::Adopted => "adopted",
            RollReason::Requested => "requested",
        }
    }

    /// Whether the old secret may still be in use, so that a new key is issued and the old
    /// one kept through the overlap: a rotation, an output re-keyed, moved, changed, lost or
    /// never recorded, an adoption. Not when it is dead already: rolled elsewhere.
    pub fn overlaps(&self) -> bool {
        !matches!(self, RollReason::ChangedElsewhere { .. })
    }
}

/// A rotated token's old key during its overlap, among the unchanged:
/// `= token reader: old key 1a2b3c4d retires at <time> (in 20m)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetiringKey {
    pub token: String,
    pub id: String,
    pub retire_at: OffsetDateTime,
    /// `retire_at - now` as the plan saw it.
    pub remaining: Duration,
}

/// The first eight characters of a token id, as rotation lines show it.
pub fn id8(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Why a token is replaced rather than updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceReason {
    /// A read-back showed that Cloudflare keeps this restriction when the file removes it
    /// (Terraform PR #902 reported this for IP rules).
    KeepsRemoved(TokenField),
    /// A read-back showed the token still expired after a later expiry was set.
    StaysExpired,
    /// `revoked (exposed)`: Cloudflare found the value leaked and revoked it for good.
    RevokedExposed,
}

impl ReplaceReason {
    pub fn describe(&self) -> String {
        match self {
            ReplaceReason::KeepsRemoved(TokenField::IpRules) => {
                "Cloudflare keeps IP rules that the file removed".into()
            }
            ReplaceReason::KeepsRemoved(f) => {
                format!("Cloudflare keeps a {} that the file removed", f.label())
            }
            ReplaceReason::StaysExpired => "Cloudflare keeps it expired".into(),
            ReplaceReason::RevokedExposed => "Cloudflare revoked it as exposed".into(),
        }
    }

    /// The clause an update with this fallback carries: `replaced if Cloudflare keeps …`.
    pub fn fallback_clause(&self) -> String {
        match self {
            ReplaceReason::KeepsRemoved(TokenField::IpRules) => {
                "replaced if Cloudflare keeps the removed IP rules".into()
            }
            ReplaceReason::KeepsRemoved(f) => {
                format!("replaced if Cloudflare keeps the removed {}", f.label())
            }
            ReplaceReason::StaysExpired => "replaced if Cloudflare keeps it expired".into(),
            ReplaceReason::RevokedExposed => "replaced".into(),
        }
    }

    /// A stable machine-readable name, for JSON.
    pub fn kind(&self) -> String {
        match self {
            ReplaceReason::KeepsRemoved(f) => format!("keeps_removed_{}", f.as_str()),
            ReplaceReason::StaysExpired => "stays_expired".into(),
            ReplaceReason::RevokedExposed => "revoked_exposed".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeleteReason {
    /// Managed, no longer declared, and `prune: true`. `output` is the file the inventory
    /// records for it: it holds credentials of a token that no longer exists, so it goes
    /// too (if unchanged since it was written).
    Pruned { output: Option<PathBuf> },
    /// A second token with a declared name (a crash between create and inventory write);
    /// `kept` is the id that stays.
    Duplicate { kept: String },
}

impl DeleteReason {
    pub fn describe(&self) -> String {
        match self {
            DeleteReason::Pruned { output: None } => "no longer declared (prune)".into(),
            DeleteReason::Pruned { output: Some(f) } => format!(
                "no longer declared (prune); its output {} is removed",
                f.display()
            ),
            DeleteReason::Duplicate { kept } => format!("duplicate of {kept}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Bucket,
    Token,
    Temporary,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bucket => "bucket",
            Kind::Token => "token",
            Kind::Temporary => "temporary",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    pub kind: Kind,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    pub kind: Kind,
    /// For tokens, the Cloudflare name; for buckets, the bucket name.
    pub name: String,
    /// Token id or bucket jurisdiction.
    pub detail: String,
    pub reason: String,
}

/// Inventory facts the pass learned without changing anything in Cloudflare.
#[derive(Debug, Clone, PartialEq)]
pub enum Bookkeeping {
    /// A declared token found in Cloudflare under a different (or no) inventory record.
    AdoptToken {
        token: String,
        id: String,
        owner: Owner,
        issued_on: Option<OffsetDateTime>,
    },
    /// A token record whose token no longer exists and is no longer declared.
    ForgetToken { token: String },
    /// A declared bucket that exists: managed from now on, with its declared `protect`.
    TrackBucket { bucket: BucketRef, protect: bool },
    /// A managed bucket that no longer exists and is no longer declared.
    ForgetBucket { bucket: BucketRef },
    /// A retiring key Cloudflare no longer holds (deleted elsewhere, or a retire whose
    /// record was not saved): its record goes.
    ForgetRetiring { id: String },
    /// A temporary credential no longer declared: its record goes (it cannot be revoked;
    /// it stops working when it expires or its parent is rolled).
    ForgetTemporary { name: String },
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

/// Counts by action, for summaries and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub roll: usize,
    pub replace: usize,
    pub rotate: usize,
    /// Old keys retired after their overlap (never counted against `max_deletions`).
    pub retire: usize,
    pub delete: usize,
    /// Temporary credentials issued.
    pub issue: usize,
    pub blocked: usize,
    pub orphans: usize,
    pub unchanged: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            blocked: self.blocked.len(),
            orphans: self.orphans.len(),
            unchanged: self.unchanged,
            ..Summary::default()
        };
        for step in &self.steps {
            match step.action() {
                "create" => s.create += 1,
                "update" => s.update += 1,
                "roll" => s.roll += 1,
                "replace" => s.replace += 1,
                "rotate" => s.rotate += 1,
                "retire" => s.retire += 1,
                "issue" => s.issue += 1,
                _ => s.delete += 1,
            }
        }
        s
    }

    /// Whether applying would change anything in Cloudflare or in the output files.
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }

    /// Whether the file and Cloudflare differ: changes pending, or something blocked (an
    /// apply cannot fix it, but the two do not match, so CI must not report "in sync").
    pub fn differs(&self) -> bool {
        self.has_changes() || !self.blocked.is_empty()
    }

    /// Deletions toward `max_deletions`, loosened lock rules included.
    pub fn deletions(&self) -> usize {
        self.steps.iter().map(Step::deletion_weight).sum()
    }

    /// Rolls of adopted tokens whose value nobody supplied: each breaks the S3 keys someone
    /// uses today, so they count against the operator's `--max-adopt-rolls`.
    pub fn adopt_rolls(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Step::RollToken {
                        reason: RollReason::Adopted,
                        ..
                    }
                )
            })
            .count()
    }
}
