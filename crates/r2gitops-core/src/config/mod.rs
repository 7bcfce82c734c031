//! The desired-state file: loading, validation into a typed model, and its JSON Schema.
//!
//! Owns parsing and validation only. It must not import `cloudflare`, `secrets`, `daemon`,
//! tokio or reqwest: loading a file is the only I/O here (file contents, `recipients_file`,
//! and the symlink check of output paths), kept in `load`, and reading the operator's
//! policy, kept in `policy::load`.
//!
//! The flow: `yaml` (bytes to a located tree, bounded) -> `shape` (the tree against the JSON
//! Schema `raw` derives: unknown fields, types, enums, all at once) -> `raw` (typed serde
//! mirror) -> `validate` (every rule, pure) -> `model::Desired`. A file with structural
//! problems gets all of those; its rule violations follow once the structure is right (the
//! rules need typed values), and under `--policy` the operator's bounds follow once the rules
//! pass (`policy::check`). A valid file is parsed once: the typed pass runs first and the
//! located tree is built only when it fails.

pub mod cost;
pub mod diagnostic;
pub mod load;
pub mod model;
pub mod policy;
pub mod raw;
pub mod shape;
pub mod validate;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use load::load;
pub use model::temporary::{TemporaryScope, TemporarySpec};
pub use model::*;
