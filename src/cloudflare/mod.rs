//! The Cloudflare API v4 client for R2 buckets and API tokens: envelope, paging, request
//! budget, retries, typed errors. Must not know about plans, files or the daemon.

pub mod api;
pub mod error;

pub use api::{CreatedToken, ReadApi, TokenRequest, VerifiedToken, WriteApi};
pub use error::{ApiError, CfError};
