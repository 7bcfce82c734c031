//! r2gitops: Cloudflare R2 buckets and their S3 credentials, managed declaratively from git.
//!
//! # Layout
//! - `cli`: clap types and dispatch to the commands below.
//! - `config`: the desired-state file: raw serde mirror, validation, typed model, JSON Schema;
//!   `config::cost`: what a file costs the daemon in API calls an hour, and the bounds on
//!   what a committer can make it spend.
//! - `secret`: types that hold secrets (no `Debug`, no `Display`, wiped when dropped), and
//!   the reader of the token files named on the command line.
//! - `harden`: no core dumps, no same-user ptrace (applied at start).
//! - `observed`: plain data describing what Cloudflare holds (input of the planner);
//!   `observed::bucket_config`: a bucket's CORS, lifecycle, lock and r2.dev, canonical;
//!   `observed::custom_domain` and `observed::notification`: its custom domains and event
//!   notification rules, the zones and queues they name, and the writes of one of each.
//! - `cloudflare`: the HTTP client: envelope, paging, request budget, retries, typed errors.
//! - `observe`: builds an `Observed` snapshot through the client; `observe::bucket_config`
//!   decides which configuration blocks a pass reads (the daemon's `config_resync` cache);
//!   `observe::custom_domain` and `observe::notification` look up zones and list queues.
//! - `inventory`: the non-secret state file (`.r2gitops-state.json`), including what was
//!   issued of each temporary credential (`inventory::temporary`).
//! - `plan`: the pure diff of desired against observed, and its renderings; `plan::id`: the
//!   plan's id, the SHA-256 of its canonical form (`reconcile --expect-plan`).
//! - `apply`: carries out a plan through the write API and the secrets writer.
//! - `secrets`: S3 credential derivation, output formats (and those of temporary
//!   credentials), age encryption, atomic writes.
//! - `state_r2`: the inventory as an R2 object (`--state r2://BUCKET/KEY`): conditional
//!   saves, its lease, the S3 calls.
//! - `lock`: one writer per inventory (flock on `<state_file>.lock`).
//! - `lease`: the lease on a shared (`r2://`) inventory: its record and the decisions to
//!   acquire, take over, renew, stop, and fence writes by epoch (pure).
//! - `paint`: colour for plans, reports and diagnostics on a terminal (pure).
//! - `progress`: the progress line of a long apply on a terminal.
//! - `safe_fs`: opens that refuse FIFOs, devices and planted symlinks, and bounded reads.
//! - `reconcile`: one pass: load, observe, diff, (dry-run stops here), apply, publish.
//! - `publish`: commit changed (encrypted) outputs to a git branch with the real `git`.
//! - `signals`: SIGTERM/SIGINT (stop, then abort) and SIGHUP as inputs.
//! - `daemon`: the `watch` loop and its HTTP status server.
//! - `manpage`: the man pages' EXIT STATUS, ENVIRONMENT, FILES and EXAMPLES (pure text).

pub mod adopt;
pub mod apply;
pub mod cli;
pub mod cloudflare;
pub mod config;
pub mod daemon;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod harden;
pub mod import;
pub mod inventory;
pub mod lease;
pub mod lock;
pub mod manpage;
pub mod observe;
pub mod observed;
pub mod paint;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod reconcile;
pub mod safe_fs;
pub mod secret;
pub mod secrets;
pub mod signals;
pub mod state_r2;
