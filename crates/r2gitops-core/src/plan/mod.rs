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
//! - `step`: `Step`, one change; `reason`: why a token is rolled, replaced or deleted.

pub mod diff;
pub mod id;
pub mod policy;
pub mod readback;
mod reason;
pub mod render;
mod step;
pub mod temporary;
pub mod write;

use std::time::Duration;

use time::OffsetDateTime;

use crate::config::{Jurisdiction, Owner};
use crate::observed::custom_domain::DomainStatus;

pub use diff::{OutputFact, TemporaryFacts, diff};
pub use reason::{DeleteReason, ReplaceReason, RollReason};
pub use step::Step;
pub use temporary::{IssueReason, KeptTemporary};
pub use write::{ConfigWrite, DomainWrite, QueueWrite};

/// An instant as plans, reports and the status show it: RFC 3339.
pub fn timestamp(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

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
    /// An update of ours was in flight when the last pass ended, and the token is now as
    /// declared: its `modified_on` is ours, recorded, and the update is no longer in flight.
    OwnUpdate {
        token: String,
        id: String,
        modified_on: Option<OffsetDateTime>,
    },
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
