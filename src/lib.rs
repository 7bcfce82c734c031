//! r2gitops: Cloudflare R2 buckets and their S3 credentials, managed declaratively from git.
//!
//! # Layout
//! - `config`, `observed`, `inventory`, `plan` and `safe_fs`: the pure core, the crate
//!   `r2gitops-core` (`crates/r2gitops-core`, whose Layout section describes them),
//!   re-exported here under the same names. It depends on neither tokio nor reqwest and
//!   cannot name the modules below: the desired-state file (`config`: raw serde mirror,
//!   validation, typed model, JSON Schema, cost, the operator's policy), what Cloudflare
//!   holds (`observed`), the records r2gitops keeps (`inventory`), the diff and its
//!   renderings and id (`plan`), and bounded, no-follow reads (`safe_fs`).
//! - `cli`: `Cli` and `Command` (clap), and dispatch to the commands below; each command's
//!   argument struct is in its own module (`validate`, `reconcile`, `daemon`, `import`,
//!   `adopt`).
//! - `args`: argument groups several commands share (the file, how to reach Cloudflare,
//!   where outputs go, the operator's bounds) and the client settings they make.
//! - `validate`: the `validate` and `schema` commands (offline).
//! - `secret`: types that hold secrets (no `Debug`, no `Display`, wiped when dropped), and
//!   the reader of the token files named on the command line.
//! - `harden`: no core dumps, no same-user ptrace (applied at start).
//! - `cloudflare`: the HTTP client: envelope, paging, request budget, retries, typed errors.
//! - `observe`: builds an `Observed` snapshot through the client; `observe::bucket_config`
//!   decides which configuration blocks a pass reads (the daemon's `config_resync` cache);
//!   `observe::custom_domain` and `observe::notification` look up zones and list queues.
//! - `state`: where the inventory lives: its file (versioned form, load and save, the
//!   one-writer lock `state::lock`, flock on `<state_file>.lock`) or an R2 object
//!   (`state::r2`, `--state r2://BUCKET/KEY`: conditional saves, the lease, the S3 calls;
//!   `state::r2::minted`, `--state-credentials temporary`: its S3 credentials minted under
//!   the parent token `state::r2::parent` and renewed),
//!   behind `state::Store`; `state::lease`: the lease's record and the decisions to acquire,
//!   take over, renew, stop, and fence writes by epoch (pure).
//! - `state_command`: the `state` command (`show`, `migrate --to`).
//! - `apply`: carries out a plan through the write API and the secrets writer.
//! - `secrets`: S3 credential derivation, output formats (and those of temporary
//!   credentials), age encryption, atomic writes; `secrets::probe`: the signed S3 call of
//!   `output.verify` and of a rotation's readiness proof.
//! - `error`: an error and its causes on one line (reports, logs, status).
//! - `paint`: colour for plans, reports and diagnostics on a terminal (pure).
//! - `progress`: the progress line of a long apply on a terminal.
//! - `reconcile`: one pass (`reconcile::Pass`: plan, then apply and publish, each returning
//!   a named result), run by the `reconcile` and `rotate` commands and by the daemon.
//! - `publish`: commit changed (encrypted) outputs to a git branch with the real `git`, and
//!   read there the outputs a runner's own disk lacks (`publish::recover`).
//! - `signals`: SIGTERM/SIGINT (stop, then abort) and SIGHUP as inputs.
//! - `daemon`: the `watch` loop and its HTTP status server; `daemon::token_watch`: the
//!   poll of token status between passes (a token revoked as exposed triggers a pass).
//! - `manpage`: the man pages' EXIT STATUS, ENVIRONMENT, FILES and EXAMPLES (pure text).
//! - `fake` (tests only): Cloudflare in memory, the one fake of the API traits that the unit
//!   tests of `apply`, `import` and the plan-apply property run against; integration tests
//!   use the emulator (`tests/emulator`) instead.

pub mod adopt;
pub mod apply;
pub mod args;
pub mod cli;
pub mod cloudflare;
pub mod daemon;
pub mod error;
#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
pub(crate) use r2gitops_core::fixtures;
pub mod harden;
pub mod import;
pub mod manpage;
pub mod observe;
pub mod paint;
pub mod progress;
pub mod publish;
pub mod reconcile;
pub mod secret;
pub mod secrets;
pub mod signals;
pub mod state;
pub mod state_command;
pub mod validate;

pub use r2gitops_core::{config, inventory, observed, plan, safe_fs};
