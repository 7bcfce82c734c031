//! r2gitops: Cloudflare R2 buckets and their S3 credentials, managed declaratively from git.
//!
//! # Layout
//! - `cli`: `Cli` and `Command` (clap), and dispatch to the commands below; each command's
//!   argument struct is in its own module (`validate`, `reconcile`, `daemon`, `import`,
//!   `adopt`).
//! - `args`: argument groups several commands share (the file, how to reach Cloudflare,
//!   where outputs go, the operator's bounds) and the client settings they make.
//! - `validate`: the `validate` and `schema` commands (offline).
//! - `config`: the desired-state file: raw serde mirror, validation, typed model, JSON Schema;
//!   `config::cost`: what a file costs the daemon in API calls an hour, and the bounds on
//!   what a committer can make it spend; `config::policy`: the operator's policy
//!   (`--policy`), what a file may declare, parsed and checked purely.
//! - `secret`: types that hold secrets (no `Debug`, no `Display`, wiped when dropped), and
//!   the reader of the token files named on the command line.
//! - `harden`: no core dumps, no same-user ptrace (applied at start).
//! - `observed`: plain data describing what Cloudflare holds (input of the planner);
//!   `observed::bucket_config`: a bucket's configuration kinds (CORS, lifecycle, lock,
//!   r2.dev, custom domains, notifications), canonical: one trait (`SubResource`), one
//!   table (`kinds!`), one file per kind;
//!   `observed::custom_domain` and `observed::notification`: its custom domains and event
//!   notification rules, and the zones and queues they name.
//! - `cloudflare`: the HTTP client: envelope, paging, request budget, retries, typed errors.
//! - `observe`: builds an `Observed` snapshot through the client; `observe::bucket_config`
//!   decides which configuration blocks a pass reads (the daemon's `config_resync` cache);
//!   `observe::custom_domain` and `observe::notification` look up zones and list queues.
//! - `inventory`: the non-secret records r2gitops keeps (token ids, outputs written,
//!   managed buckets, what was issued of each temporary credential, the old keys of
//!   rotated tokens until they retire), plain data.
//! - `state`: where the inventory lives: its file (versioned form, load and save, the
//!   one-writer lock `state::lock`, flock on `<state_file>.lock`) or an R2 object
//!   (`state::r2`, `--state r2://BUCKET/KEY`: conditional saves, the lease, the S3 calls;
//!   `state::r2::minted`, `--state-credentials temporary`: its S3 credentials minted under
//!   the parent token `state::r2::parent` and renewed),
//!   behind `state::Store`; `state::lease`: the lease's record and the decisions to acquire,
//!   take over, renew, stop, and fence writes by epoch (pure).
//! - `state_command`: the `state` command (`show`, `migrate --to`).
//! - `plan`: the pure diff of desired against observed, and its renderings; `plan::write`:
//!   the write intents it hands the applier (a sub-resource, a custom domain, a queue's
//!   rules); `plan::id`: the plan's id, the SHA-256 of its canonical form
//!   (`reconcile --expect-plan`).
//! - `apply`: carries out a plan through the write API and the secrets writer.
//! - `secrets`: S3 credential derivation, output formats (and those of temporary
//!   credentials), age encryption, atomic writes; `secrets::probe`: the signed S3 call of
//!   `output.verify` and of a rotation's readiness proof.
//! - `error`: an error and its causes on one line (reports, logs, status).
//! - `paint`: colour for plans, reports and diagnostics on a terminal (pure).
//! - `progress`: the progress line of a long apply on a terminal.
//! - `safe_fs`: opens that refuse FIFOs, devices and planted symlinks, and bounded reads.
//! - `reconcile`: one pass: load, observe, diff, (dry-run stops here), apply, publish.
//! - `publish`: commit changed (encrypted) outputs to a git branch with the real `git`, and
//!   read there the outputs a runner's own disk lacks (`publish::recover`).
//! - `signals`: SIGTERM/SIGINT (stop, then abort) and SIGHUP as inputs.
//! - `daemon`: the `watch` loop and its HTTP status server; `daemon::token_watch`: the
//!   poll of token status between passes (a token revoked as exposed triggers a pass).
//! - `manpage`: the man pages' EXIT STATUS, ENVIRONMENT, FILES and EXAMPLES (pure text).

pub mod adopt;
pub mod apply;
pub mod args;
pub mod cli;
pub mod cloudflare;
pub mod config;
pub mod daemon;
pub mod error;
#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod harden;
pub mod import;
pub mod inventory;
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
pub mod state;
pub mod state_command;
pub mod validate;
