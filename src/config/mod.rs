//! The desired-state file: loading, validation into a typed model, and its JSON Schema.
//!
//! Owns parsing and validation only. It must not import `cloudflare`, `secrets`, `daemon`,
//! tokio or reqwest: loading a file is the only I/O here (file contents, `recipients_file`,
//! and the symlink check of output paths), kept in `load`.

pub mod cmd;
pub mod model;

pub use model::*;
