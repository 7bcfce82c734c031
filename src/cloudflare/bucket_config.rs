//! A bucket's configuration sub-resources over HTTP (developers.cloudflare.com/r2/buckets/:
//! cors, object-lifecycles, bucket-locks, public-buckets): the calls, and the answers that
//! mean "none". Every call carries `cf-r2-jurisdiction` (an EU bucket answers 10006 without
//! it). Each kind's path and JSON are its own (`observed::bucket_config`, one file per
//! kind). The calls are inherent methods here; the `ReadApi` and `WriteApi` impls in
//! `client` delegate to them.

use reqwest::Method;

use crate::cloudflare::client::{Call, Client, WriteClient, bucket_label, jurisdiction_header};
use crate::cloudflare::error::ApiError;
use crate::config::Jurisdiction;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::plan::ConfigWrite;

/// GET `/cors` of a bucket without a policy: "The CORS configuration does not exist".
pub const NO_CORS_POLICY: i64 = 10059;

impl Client {
    pub(super) fn config_path(&self, name: &str, kind: ConfigKind) -> String {
        format!("/accounts/{}/{}", self.account_id(), kind.api_path(name))
    }

    /// One sub-resource of a bucket, canonical; `None` when the bucket is not known there
    /// (NoSuchBucket or BucketNotFound: gone, or created moments ago).
    pub async fn get_config(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        let op = format!(
            "read the {} of {}",
            kind.label(),
            bucket_label(name, jurisdiction)
        );
        let mut call = Call::new(op.clone(), Method::GET, self.config_path(name, kind));
        call.headers.push(jurisdiction_header(jurisdiction));
        match self.send(call).await {
            Ok(env) => ConfigValue::decode(kind, &env.result)
                .map(Some)
                .map_err(|why| ApiError::transport(&op, format!("unexpected answer shape: {why}"))),
            Err(e) if e.is_bucket_missing() => Ok(None),
            Err(e) if kind == ConfigKind::Cors && no_cors_policy(&e) => {
                Ok(Some(ConfigValue::Cors(Vec::new())))
            }
            Err(e) if kind == ConfigKind::Notifications && super::notification::no_rules(&e) => {
                Ok(Some(ConfigValue::Notifications(Vec::new())))
            }
            Err(e) => Err(e),
        }
    }
}

/// A bucket without a CORS policy answers with an error (code 10059; its HTTP status is
/// not documented; Terraform's Read drops the resource on a 404, so 404 is likely). A 404 that names neither a missing
/// bucket nor a missing route is read the same way.
fn no_cors_policy(e: &ApiError) -> bool {
    e.is_code(NO_CORS_POLICY)
        || (e.status == Some(404) && !e.is_bucket_missing() && !e.is_code(7003) && !e.is_code(7000))
}

impl WriteClient {
    /// One PUT (or the CORS DELETE). The caller reads it back with `get_config`.
    pub async fn put_config(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        let kind = write.kind();
        let verb = match write {
            ConfigWrite::Put(_) => "set",
            ConfigWrite::Delete(_) => "delete",
        };
        let op = format!(
            "{verb} the {} of {}",
            kind.label(),
            bucket_label(name, jurisdiction)
        );
        let path = self.reader().config_path(name, kind);
        let mut call = match write {
            ConfigWrite::Put(value) => {
                let mut call = Call::new(op, Method::PUT, path);
                // Only a kind replaced whole is PUT (`plan::ConfigWrite`).
                call.body = value.body();
                call
            }
            ConfigWrite::Delete(_) => Call::new(op, Method::DELETE, path),
        };
        call.headers.push(jurisdiction_header(jurisdiction));
        self.reader().send(call).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests;
