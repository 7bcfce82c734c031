//! The Cloudflare API v4 client for R2 buckets and API tokens: envelope, paging, request
//! budget, retries, typed errors. Must not know about plans, files or the daemon, and must
//! never log the API token or a token value.
//!
//! - `api`: the `ReadApi` / `WriteApi` capabilities the rest of the program uses.
//! - `bucket_config`: CORS, lifecycle, lock and r2.dev of a bucket: JSON and calls.
//! - `custom_domain`: zone lookups and a bucket's custom domains.
//! - `notification`: the queue list and a bucket's event notification rules.
//! - `client`: `Client` (read) and `WriteClient` (read + write) over HTTP; its child
//!   `temporary` issues temporary credentials.
//! - `config`: where the token, account and limits come from.
//! - `budget`: the request budget and the account-wide pause after a 429.
//! - `limits`: how much of an answer is read (body size, pages per list, repeated cursors).
//! - `retry`: the pure retry decision and backoff.
//! - `wire`: Cloudflare's JSON and its canonical conversion to `observed` types.
//! - `error`: `ApiError`.

pub mod api;
pub mod bucket_config;
pub mod budget;
pub mod client;
pub mod config;
pub mod custom_domain;
pub mod error;
pub mod limits;
pub mod notification;
pub mod retry;
pub mod wire;

pub use api::{CreatedToken, ReadApi, TokenRequest, UpdatedToken, VerifiedToken, WriteApi};
pub use api::{IssuedTemporary, TemporaryRequest};
pub use client::{Client, ClientMetrics, WriteClient};
pub use config::{ClientConfig, ConfigError};
pub use error::{ApiError, CfError};
