//! r2gitops' pure core: what the desired-state file says, what Cloudflare holds, what
//! r2gitops remembers, and the plan between them. No async runtime, no HTTP client and no
//! module of the main crate: this crate depends on neither tokio nor reqwest, and cannot
//! name `cloudflare`, `secrets`, `apply` or the other I/O modules, so the compiler keeps
//! it pure. Its only reads are of the files the operator names (`config::load`, through
//! `safe_fs`); it writes nothing. The main crate (`r2gitops`) re-exports every module here
//! under the same name.
//!
//! # Layout
//! - `config`: the desired-state file: raw serde mirror, validation, typed model, JSON Schema;
//!   `config::cost`: what a file costs the daemon in API calls an hour, and the bounds on
//!   what a committer can make it spend; `config::policy`: the operator's policy
//!   (`--policy`), what a file may declare, parsed and checked purely.
//! - `observed`: plain data describing what Cloudflare holds (input of the planner);
//!   `observed::bucket_config`: a bucket's configuration kinds (CORS, lifecycle, lock,
//!   r2.dev, custom domains, notifications), canonical: one trait (`SubResource`: label,
//!   API path and JSON, new-bucket default, declared value, comparison, words, import
//!   lines), one table (`kinds!`), one file per kind;
//!   `observed::custom_domain` and `observed::notification`: its custom domains and event
//!   notification rules, and the zones and queues they name.
//! - `inventory`: the non-secret records r2gitops keeps (token ids, outputs written,
//!   managed buckets, what was issued of each temporary credential, the old keys of
//!   rotated tokens until they retire), plain data.
//! - `plan`: the pure diff of desired against observed, and its renderings; `plan::write`:
//!   the write intents it hands the applier (a sub-resource, a custom domain, a queue's
//!   rules); `plan::id`: the plan's id, the SHA-256 of its canonical form
//!   (`reconcile --expect-plan`).
//! - `safe_fs`: opens that refuse FIFOs, devices and planted symlinks, and bounded reads.
//! - `fixtures` (feature `fixtures`, and this crate's own tests): hand-built desired states
//!   for unit tests.

pub mod config;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod inventory;
pub mod observed;
pub mod plan;
pub mod safe_fs;
