//! The inventory's file (`settings.state_file`, default `<output_dir>/.r2gitops-state.json`):
//! its explicit, versioned on-disk form, `load` and `save`, and the one-writer lock
//! (`lock`). The records themselves are `inventory`'s, plain data the planner reads.
//!
//! The file is not trusted: `settings.state_file` may name any file, and the inventory may
//! have been edited. Every output path in it must pass the writer's component rules, or the
//! whole inventory is corrupt (a path is later hashed and possibly deleted); a reason never
//! quotes a value of the file, only where and what kind of problem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::shape::clip;
use crate::config::yaml::sanitize;
use crate::config::{Jurisdiction, Owner, StorageClass};
use crate::inventory::{BucketRecord, Inventory, OutputRecord, Refusal, TokenRecord};
use crate::observed::TokenField;

pub mod lease;
pub mod lock;
pub mod r2;
mod retiring;
mod temporary;

/// Bumped when the file's meaning changes; an unknown version is refused, not guessed at.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read the inventory '{path}'")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the inventory '{path}' is not valid ({reason}); move it aside to have it rebuilt from Cloudflare (tokens whose output cannot be vouched for are then rolled)"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the inventory '{path}' has format version {found}; this r2gitops understands version {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write the inventory '{path}'")]
    Write {
        path: PathBuf,
        #[source]
        source: crate::secrets::SecretsError,
    },
    /// The inventory in R2 (`--state r2://…`); the message names the URL.
    #[error(transparent)]
    Remote(#[from] r2::StateError),
    /// The inventory object in R2 holds an inventory this r2gitops does not accept.
    #[error(
        "the state {url} holds an inventory that is not valid ({reason}); nothing was changed (it is never replaced by an empty inventory)"
    )]
    RemoteCorrupt { url: String, reason: String },
}

impl InventoryError {
    /// Another runner wrote the state, or took its lease over: the pass stops, and the
    /// next one re-reads and re-plans.
    pub fn is_conflict(&self) -> bool {
        matches!(self, InventoryError::Remote(e) if e.is_conflict())
    }
}

/// Where a run's inventory lives: the local file (`settings.state_file`, with its flock),
/// or an R2 object (`--state r2://BUCKET/KEY`, with its lease). Cheap to clone.
#[derive(Clone)]
pub enum Store {
    File(PathBuf),
    R2(std::sync::Arc<r2::session::Session>),
}

impl Store {
    /// The inventory; a local file that does not exist, or an R2 object that does not,
    /// is empty (a first run). Anything unreadable or invalid is an error.
    pub async fn load(&self) -> Result<Inventory, InventoryError> {
        match self {
            Store::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || load(&path))
                    .await
                    .expect("the blocking read does not panic")
            }
            Store::R2(session) => match session.load().await? {
                None => Ok(Inventory::default()),
                Some(json) => from_json(&json).map_err(|e| InventoryError::RemoteCorrupt {
                    url: session.url(),
                    reason: match e {
                        ParseError::Invalid(reason) => reason,
                        ParseError::Version(v) => format!(
                            "format version {v}; this r2gitops understands version {FORMAT_VERSION}"
                        ),
                    },
                }),
            },
        }
    }

    /// Save the inventory: atomically to the file, or conditionally to R2 (a 412 is a
    /// conflict, and nothing is overwritten).
    pub async fn save(&self, inventory: &Inventory) -> Result<(), InventoryError> {
        match self {
            Store::File(path) => {
                let (path, inventory) = (path.clone(), inventory.clone());
                tokio::task::spawn_blocking(move || save(&path, &inventory))
                    .await
                    .expect("the blocking write does not panic")
            }
            Store::R2(session) => Ok(session.save(&to_json(inventory)).await?),
        }
    }

    /// Whether this runner may no longer write what the state vouches for: its lease on the
    /// R2 state is overdue, lost or taken over. An output written now could overwrite the
    /// new holder's, under a record the new holder never saw. A local file is never fenced
    /// (its flock is held for the whole run).
    pub fn fenced(&self) -> bool {
        match self {
            Store::File(_) => false,
            Store::R2(session) => !session.may_mutate(),
        }
    }

    /// The file's path or the object's URL, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::File(path) => path.display().to_string(),
            Store::R2(session) => session.url(),
        }
    }
}

// ---- on-disk form: explicit, versioned, stable field names ----

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    version: u32,
    #[serde(default)]
    tokens: BTreeMap<String, TokenForm>,
    #[serde(default)]
    buckets: Vec<BucketForm>,
    #[serde(default, skip_serializing_if = "LearnedForm::is_empty")]
    learned: LearnedForm,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    temporary: BTreeMap<String, temporary::TemporaryForm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retiring: Vec<retiring::RetiringForm>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pending: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    updating: BTreeSet<String>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LearnedForm {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keeps_removed: Vec<String>,
}

impl LearnedForm {
    fn is_empty(&self) -> bool {
        self.keeps_removed.is_empty()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenForm {
    id: String,
    owner: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    rolled_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    modified_on: Option<OffsetDateTime>,
    #[serde(default)]
    output: Option<OutputForm>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    unheld: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputForm {
    path: PathBuf,
    ciphertext_sha256: String,
    fingerprint: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    details: BTreeMap<String, String>,
}

impl OutputForm {
    fn from_record(o: &OutputRecord) -> Self {
        OutputForm {
            path: o.path.clone(),
            ciphertext_sha256: o.ciphertext_sha256.clone(),
            fingerprint: o.fingerprint.clone(),
            details: o.details.clone(),
        }
    }

    fn into_record(self) -> OutputRecord {
        OutputRecord {
            path: self.path,
            ciphertext_sha256: self.ciphertext_sha256,
            fingerprint: self.fingerprint,
            details: self.details,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketForm {
    name: String,
    jurisdiction: String,
    protect: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_class_refused: Option<RefusalForm>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefusalForm {
    to: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    detail: String,
}

/// The JSON text of the file (pure).
pub fn to_json(inventory: &Inventory) -> String {
    let form = FileForm {
        version: FORMAT_VERSION,
        tokens: inventory
            .tokens
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    TokenForm {
                        id: t.id.clone(),
                        owner: t.owner.as_str().into(),
                        created_at: t.created_at,
                        rolled_at: t.rolled_at,
                        modified_on: t.modified_on,
                        output: t.output.as_ref().map(|o| OutputForm {
                            path: o.path.clone(),
                            ciphertext_sha256: o.ciphertext_sha256.clone(),
                            fingerprint: o.fingerprint.clone(),
                            details: o.details.clone(),
                        }),
                        unheld: t.unheld,
                    },
                )
            })
            .collect(),
        buckets: inventory
            .buckets
            .iter()
            .map(|((j, name), b)| BucketForm {
                name: name.clone(),
                jurisdiction: j.as_str().into(),
                protect: b.protect,
                storage_class_refused: b.storage_class_refused.as_ref().map(|r| RefusalForm {
                    to: r.to.as_str().into(),
                    at: r.at,
                    detail: r.detail.clone(),
                }),
            })
            .collect(),
        learned: LearnedForm {
            keeps_removed: inventory
                .learned
                .keeps_removed
                .iter()
                .map(|f| f.as_str().to_string())
                .collect(),
        },
        temporary: inventory
            .temporary
            .iter()
            .map(|(name, r)| (name.clone(), temporary::to_form(r)))
            .collect(),
        retiring: inventory.retiring.iter().map(retiring::to_form).collect(),
        pending: inventory.pending.clone(),
        updating: inventory.updating.clone(),
    };
    let mut text = serde_json::to_string_pretty(&form).expect("plain data serialises");
    text.push('\n');
    text
}

/// Parse the file's text (pure); `Err` carries the reason for `InventoryError`.
pub fn from_json(text: &str) -> Result<Inventory, ParseError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    let v: VersionOnly = serde_json::from_str(text).map_err(json_problem)?;
    if v.version != FORMAT_VERSION {
        return Err(ParseError::Version(v.version));
    }
    let form: FileForm = serde_json::from_str(text).map_err(json_problem)?;
    let mut inv = Inventory::default();
    for (name, t) in form.tokens {
        let token = sanitize(&clip(&name));
        let owner = match t.owner.as_str() {
            "account" => Owner::Account,
            "user" => Owner::User,
            _ => {
                return Err(ParseError::Invalid(format!(
                    "token '{token}': unknown owner (expected account or user)"
                )));
            }
        };
        if let Some(o) = &t.output
            && crate::secrets::write::checked_components(&o.path).is_err()
        {
            return Err(ParseError::Invalid(format!(
                "token '{token}': its output path is not a plain relative path inside output_dir"
            )));
        }
        inv.tokens.insert(
            name,
            TokenRecord {
                id: t.id,
                owner,
                created_at: t.created_at,
                rolled_at: t.rolled_at,
                modified_on: t.modified_on,
                output: t.output.map(|o| OutputRecord {
                    path: o.path,
                    ciphertext_sha256: o.ciphertext_sha256,
                    fingerprint: o.fingerprint,
                    details: o.details,
                }),
                unheld: t.unheld,
            },
        );
    }
    for b in form.buckets {
        let j = Jurisdiction::parse(&b.jurisdiction).ok_or_else(|| {
            ParseError::Invalid(format!(
                "bucket '{}': unknown jurisdiction",
                sanitize(&clip(&b.name))
            ))
        })?;
        let storage_class_refused = match b.storage_class_refused {
            None => None,
            Some(r) => Some(Refusal {
                to: StorageClass::parse(&r.to).ok_or_else(|| {
                    ParseError::Invalid(format!(
                        "bucket '{}': unknown storage class '{}'",
                        b.name, r.to
                    ))
                })?,
                at: r.at,
                detail: r.detail,
            }),
        };
        inv.buckets.insert(
            (j, b.name),
            BucketRecord {
                protect: b.protect,
                storage_class_refused,
            },
        );
    }
    for f in form.learned.keeps_removed {
        let field = TokenField::parse(&f).ok_or_else(|| {
            ParseError::Invalid(format!("learned.keeps_removed: unknown field '{f}'"))
        })?;
        inv.learned.keeps_removed.insert(field);
    }
    for (name, form) in form.temporary {
        let record = temporary::from_form(&name, form)?;
        inv.temporary.insert(name, record);
    }
    for form in form.retiring {
        inv.retiring.push(retiring::from_form(form)?);
    }
    inv.pending = form.pending;
    inv.updating = form.updating;
    Ok(inv)
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    Invalid(String),
    Version(u32),
}

/// A JSON error as where and what kind, without serde's text: that quotes values of the
/// file (`invalid type: string "..."`), and `state_file` may name a file holding a secret.
fn json_problem(e: serde_json::Error) -> ParseError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "cannot be read",
        Category::Syntax => "is not valid JSON",
        Category::Data => {
            "does not fit the inventory format (a missing, unknown or mistyped field)"
        }
        Category::Eof => "ends early (EOF)",
    };
    ParseError::Invalid(format!("{what} at line {} column {}", e.line(), e.column()))
}

/// An inventory of a thousand tokens is a few hundred KiB.
const MAX_INVENTORY_BYTES: u64 = 16 * 1024 * 1024;

/// Read the inventory; a missing file is an empty inventory (first run, or lost). It must be
/// a regular file (not a symlink, FIFO or device) of bounded size.
pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
    let corrupt = |reason: String| InventoryError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = match crate::safe_fs::read_bounded(
        path,
        MAX_INVENTORY_BYTES,
        crate::safe_fs::Last::NoSymlink,
    ) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Inventory::default()),
        Err(source) => {
            return Err(InventoryError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if bytes.len() as u64 > MAX_INVENTORY_BYTES {
        return Err(corrupt(format!("larger than {MAX_INVENTORY_BYTES} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| corrupt("not valid UTF-8".into()))?;
    from_json(&text).map_err(|e| match e {
        ParseError::Invalid(reason) => InventoryError::Corrupt {
            path: path.to_path_buf(),
            reason,
        },
        ParseError::Version(found) => InventoryError::Version {
            path: path.to_path_buf(),
            found,
        },
    })
}

/// Write the inventory atomically (temp file, fsync, rename, fsync of the directory), mode
/// 0600, refusing symlinks: the same writer as the credential files.
pub fn save(path: &Path, inventory: &Inventory) -> Result<(), InventoryError> {
    let err = |source| InventoryError::Write {
        path: path.to_path_buf(),
        source,
    };
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            },
            n,
        ),
        _ => {
            return Err(err(crate::secrets::SecretsError::PathOutside {
                path: path.to_path_buf(),
            }));
        }
    };
    crate::secrets::write::write_atomic(dir, Path::new(name), to_json(inventory).as_bytes(), None)
        .map_err(err)
}

#[cfg(test)]
mod tests;
