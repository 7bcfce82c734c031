//! The reads (`ReadApi`): the token's own verification, buckets, tokens and their
//! permission groups; the configuration, zone, queue and custom domain reads are the kinds'
//! own (`cloudflare::bucket_config`, `custom_domain`, `notification`).

use reqwest::Method;
use serde_json::Value;

use super::{Call, Client, bucket_label, jurisdiction_header};
use crate::cloudflare::api::{ReadApi, VerifiedToken};
use crate::cloudflare::error::ApiError;
use crate::cloudflare::limits::Pages;
use crate::cloudflare::wire;
use crate::config::ZoneRef;
use crate::config::{Jurisdiction, Owner};
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::{CustomDomain, ZoneLookup};
use crate::observed::notification::Queue;
use crate::observed::{
    GROUP_ADMIN_READ, GROUP_ADMIN_WRITE, GROUP_OBJECT_READ, GROUP_OBJECT_WRITE, ObservedBucket,
    ObservedToken, PermissionGroupIds,
};

/// Whether a listed bucket's name keeps R2's rule. R2 refuses any other at create, so only
/// an answer that is not R2's holds one; such a name would reach plans, logs and the file
/// `import` writes, so it is dropped here, on the way in, with a warning that shows it
/// escaped. Nothing is lost: no file can declare it, and so none can manage it.
fn r2_named(op: &str, b: &ObservedBucket) -> bool {
    match crate::config::validate::bucket_name_problem(&b.name) {
        None => true,
        Some((problem, _)) => {
            tracing::warn!(
                "{op}: Cloudflare listed a bucket whose name breaks R2's rule ({problem}); it is ignored"
            );
            false
        }
    }
}

impl ReadApi for Client {
    async fn verify(&self) -> Result<VerifiedToken, ApiError> {
        let path = format!("{}/verify", self.tokens_base(self.inner.owner));
        let env = self
            .send(Call::new("verify the API token".into(), Method::GET, path))
            .await?;
        let v: wire::WireVerify = Self::decode("verify the API token", env.result)?;
        *self.inner.own_id.lock().unwrap() = Some(v.id.clone());
        Ok(VerifiedToken {
            id: v.id,
            status: wire::status(&v.status),
            expires_on: v.expires_on.and_then(|s| {
                time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).ok()
            }),
        })
    }

    fn own_token_id(&self) -> Option<String> {
        self.inner.own_id.lock().unwrap().clone()
    }

    async fn list_buckets(
        &self,
        jurisdiction: Jurisdiction,
    ) -> Result<Vec<ObservedBucket>, ApiError> {
        let op = format!("list buckets ({})", jurisdiction.as_str());
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = Pages::new(&op);
        loop {
            pages.start()?;
            let mut call = Call::page(op.clone(), Method::GET, self.buckets_base());
            // One constant with the cost model, which counts these pages.
            call.query.push((
                "per_page",
                crate::config::cost::BUCKETS_PER_PAGE.to_string(),
            ));
            if let Some(c) = &cursor {
                call.query.push(("cursor", c.clone()));
            }
            call.headers.push(jurisdiction_header(jurisdiction));
            let env = self.send(call).await?;
            let list: wire::WireBucketList = Self::decode(&op, env.result)?;
            out.extend(
                list.buckets
                    .into_iter()
                    .map(|b| wire::bucket(b, jurisdiction))
                    .filter(|b| r2_named(&op, b)),
            );
            // The last page carries no cursor (or maybe an empty one: the schema leaves `cursor` optional and says nothing of the last page).
            cursor = env
                .result_info
                .as_ref()
                .and_then(|i| i.get("cursor"))
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            match &cursor {
                None => return Ok(out),
                Some(c) => pages.cursor(c)?,
            }
        }
    }

    async fn get_bucket(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
    ) -> Result<Option<ObservedBucket>, ApiError> {
        let op = format!("read {}", bucket_label(name, jurisdiction));
        let path = format!("{}/{name}", self.buckets_base());
        let mut call = Call::new(op.clone(), Method::GET, path);
        call.headers.push(jurisdiction_header(jurisdiction));
        match self.send(call).await {
            Ok(env) => Ok(Some(wire::bucket(
                Self::decode(&op, env.result)?,
                jurisdiction,
            ))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_token(&self, owner: Owner, id: &str) -> Result<Option<ObservedToken>, ApiError> {
        let op = format!("read {} token {id}", owner.as_str());
        let path = format!("{}/{id}", self.tokens_base(owner));
        match self.send(Call::new(op.clone(), Method::GET, path)).await {
            Ok(env) => Ok(Some(wire::token(Self::decode(&op, env.result)?, owner))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_tokens(&self, owner: Owner) -> Result<Vec<ObservedToken>, ApiError> {
        let op = format!("list {} tokens", owner.as_str());
        let mut out = Vec::new();
        let mut pages = Pages::new(&op);
        loop {
            let page = pages.start()?;
            let mut call = Call::page(op.clone(), Method::GET, self.tokens_base(owner));
            call.query
                .push(("per_page", crate::config::cost::TOKENS_PER_PAGE.to_string()));
            call.query.push(("page", page.to_string()));
            // Without it the list hides expired tokens, and a planner that cannot see one
            // creates another on every pass (`include_expired` in cloudflare-typescript's `accounts/tokens`).
            call.query.push(("include_expired", "true".into()));
            let env = self.send(call).await?;
            let items: Vec<wire::WireToken> = Self::decode(&op, env.result)?;
            let n = items.len();
            out.extend(items.into_iter().map(|t| wire::token(t, owner)));
            let total = env
                .result_info
                .as_ref()
                .and_then(|i| i.get("total_count"))
                .and_then(Value::as_u64);
            let done = n < 50 || total.is_some_and(|t| out.len() as u64 >= t);
            if done {
                break;
            }
        }
        Ok(out)
    }

    async fn permission_groups(&self, owner: Owner) -> Result<PermissionGroupIds, ApiError> {
        let cell = &self.inner.groups[owner as usize];
        cell.get_or_try_init(|| async {
            let op = format!("list {} permission groups", owner.as_str());
            let path = format!("{}/permission_groups", self.tokens_base(owner));
            match self.send(Call::page(op.clone(), Method::GET, path)).await {
                Ok(env) => {
                    let groups: Vec<wire::WireGroup> = Self::decode(&op, env.result)?;
                    let ids = wire::group_ids(groups, |name| match name {
                        GROUP_ADMIN_WRITE | GROUP_ADMIN_READ => Some("com.cloudflare.api.account"),
                        GROUP_OBJECT_WRITE | GROUP_OBJECT_READ => Some("com.cloudflare.edge.r2.bucket"),
                        _ => None,
                    });
                    let known = PermissionGroupIds::known();
                    let pick = |name: &str, fallback: String| match ids.get(name) {
                        Some(id) => id.clone(),
                        None => {
                            tracing::warn!(group = name, "permission group not listed; using the known id");
                            fallback
                        }
                    };
                    Ok(PermissionGroupIds {
                        admin_write: pick(GROUP_ADMIN_WRITE, known.admin_write),
                        admin_read: pick(GROUP_ADMIN_READ, known.admin_read),
                        object_write: pick(GROUP_OBJECT_WRITE, known.object_write),
                        object_read: pick(GROUP_OBJECT_READ, known.object_read),
                    })
                }
                Err(e) if e.is_auth() => {
                    tracing::warn!(
                        "listing permission groups is forbidden for this token; using the known R2 group ids"
                    );
                    Ok(PermissionGroupIds::known())
                }
                Err(e) => Err(e),
            }
        })
        .await
        .cloned()
    }

    async fn read_config(
        &self,
        j: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        self.get_config(j, name, kind).await
    }

    async fn lookup_zone(&self, zone: &ZoneRef) -> Result<ZoneLookup, ApiError> {
        self.find_zone(zone).await
    }

    async fn list_queues(&self) -> Result<Vec<Queue>, ApiError> {
        self.queues().await
    }

    async fn get_custom_domain(
        &self,
        j: Jurisdiction,
        bucket: &str,
        domain: &str,
    ) -> Result<Option<CustomDomain>, ApiError> {
        self.custom_domain(j, bucket, domain).await
    }
}
