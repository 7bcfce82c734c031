//! Why a token step happens: a roll (`RollReason`), a replace rather than an update
//! (`ReplaceReason`), a delete (`DeleteReason`), each with its words for a plan line and a
//! stable kind for the JSON.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::observed::TokenField;

use super::timestamp;

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
