//! Cloudflare in memory: a stateful fake of the two API traits for property tests that run
//! the real observer, diff and applier (`plan_apply_property`, `import_roundtrip`). Every
//! token write moves `modified_on`, as Cloudflare's does. Zones and queues are lists a test
//! fills; custom domains and notification rules are stored as written.

use std::collections::BTreeMap;
use std::sync::Mutex;

use r2gitops::cloudflare::{
    ApiError, CfError, CreatedToken, ReadApi, TokenRequest, UpdatedToken, VerifiedToken, WriteApi,
};
use r2gitops::config::{Jurisdiction, LocationHint, MinTls, Owner, StorageClass, ZoneRef};
use r2gitops::observed::bucket_config::{ConfigKind, ConfigValue};
use r2gitops::observed::custom_domain::{CustomDomain, Zone, ZoneLookup};
use r2gitops::observed::notification::{Queue, QueueRules};
use r2gitops::observed::{ObservedBucket, ObservedToken, PermissionGroupIds, TokenStatus};
use r2gitops::plan::ConfigWrite;
use r2gitops::plan::DomainWrite;
use r2gitops::plan::QueueWrite;
use r2gitops::secret::TokenValue;
use time::OffsetDateTime;

/// Cloudflare in memory: buckets and tokens, answering as the real client would.
#[derive(Default)]
pub struct Memory {
    pub buckets: Mutex<BTreeMap<(Jurisdiction, String), ObservedBucket>>,
    pub tokens: Mutex<BTreeMap<String, ObservedToken>>,
    pub next: Mutex<u64>,
    pub deleted_buckets: Mutex<Vec<String>>,
    pub deleted_tokens: Mutex<Vec<ObservedToken>>,
    /// Configuration sub-resources as set (a bucket's default when absent).
    pub configs: Mutex<BTreeMap<(Jurisdiction, String, ConfigKind), ConfigValue>>,
    /// Seconds of a logical clock: every token write moves `modified_on`, as Cloudflare's does.
    pub clock: Mutex<i64>,
    /// The zones a lookup finds (by id or name).
    pub zones: Mutex<Vec<Zone>>,
    /// The account's queues.
    pub queues: Mutex<Vec<Queue>>,
}

fn not_found(what: &str) -> ApiError {
    ApiError::from_answer(
        what,
        404,
        vec![CfError {
            code: 10006,
            message: "not found".into(),
        }],
    )
}

impl Memory {
    fn config(&self, j: Jurisdiction, name: &str, kind: ConfigKind) -> ConfigValue {
        self.configs
            .lock()
            .unwrap()
            .get(&(j, name.to_string(), kind))
            .cloned()
            .unwrap_or_else(|| kind.new_bucket())
    }

    fn exists(&self, j: Jurisdiction, name: &str) -> bool {
        self.buckets
            .lock()
            .unwrap()
            .contains_key(&(j, name.to_string()))
    }

    pub fn id(&self) -> String {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        format!("{:032x}", *n)
    }

    pub fn tick(&self) -> OffsetDateTime {
        let mut n = self.clock.lock().unwrap();
        *n += 1;
        time::macros::datetime!(2026-01-01 00:00 UTC) + time::Duration::seconds(*n)
    }

    /// Put a bucket in the account as if made elsewhere.
    pub fn put_bucket(
        &self,
        j: Jurisdiction,
        name: &str,
        class: StorageClass,
        location: Option<LocationHint>,
    ) {
        self.buckets.lock().unwrap().insert(
            (j, name.to_string()),
            ObservedBucket {
                name: name.into(),
                jurisdiction: j,
                location,
                storage_class: class,
                creation_date: None,
            },
        );
    }

    pub fn token(&self, id: String, request: &TokenRequest, owner: Owner) -> ObservedToken {
        ObservedToken {
            id,
            name: request.name.clone(),
            owner,
            status: request.status.clone().unwrap_or(TokenStatus::Active),
            issued_on: Some(OffsetDateTime::now_utc()),
            modified_on: Some(self.tick()),
            not_before: request.not_before,
            expires_on: request.expires_on,
            policies: request.policies.clone(),
            condition: request.condition.clone(),
        }
    }
}

impl ReadApi for Memory {
    async fn verify(&self) -> Result<VerifiedToken, ApiError> {
        unreachable!()
    }
    /// The fake's callers hold no token of the account.
    fn own_token_id(&self) -> Option<String> {
        None
    }
    async fn list_buckets(&self, j: Jurisdiction) -> Result<Vec<ObservedBucket>, ApiError> {
        Ok(self
            .buckets
            .lock()
            .unwrap()
            .iter()
            .filter(|((bj, _), _)| *bj == j)
            .map(|(_, b)| b.clone())
            .collect())
    }
    async fn get_bucket(
        &self,
        j: Jurisdiction,
        name: &str,
    ) -> Result<Option<ObservedBucket>, ApiError> {
        Ok(self
            .buckets
            .lock()
            .unwrap()
            .get(&(j, name.to_string()))
            .cloned())
    }
    async fn get_token(&self, _: Owner, id: &str) -> Result<Option<ObservedToken>, ApiError> {
        Ok(self.tokens.lock().unwrap().get(id).cloned())
    }
    async fn list_tokens(&self, owner: Owner) -> Result<Vec<ObservedToken>, ApiError> {
        Ok(self
            .tokens
            .lock()
            .unwrap()
            .values()
            .filter(|t| t.owner == owner)
            .cloned()
            .collect())
    }
    async fn permission_groups(&self, _: Owner) -> Result<PermissionGroupIds, ApiError> {
        Ok(PermissionGroupIds::known())
    }
    async fn read_config(
        &self,
        j: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        if !self
            .buckets
            .lock()
            .unwrap()
            .contains_key(&(j, name.to_string()))
        {
            return Ok(None);
        }
        Ok(Some(
            self.configs
                .lock()
                .unwrap()
                .get(&(j, name.to_string(), kind))
                .cloned()
                .unwrap_or_else(|| kind.new_bucket()),
        ))
    }
    async fn lookup_zone(&self, zone: &ZoneRef) -> Result<ZoneLookup, ApiError> {
        Ok(self.lookup_zone_impl(zone))
    }
    async fn list_queues(&self) -> Result<Vec<Queue>, ApiError> {
        Ok(self.queues.lock().unwrap().clone())
    }
    async fn get_custom_domain(
        &self,
        j: Jurisdiction,
        name: &str,
        domain: &str,
    ) -> Result<Option<CustomDomain>, ApiError> {
        if !self.exists(j, name) {
            return Err(not_found("get domain"));
        }
        Ok(match self.config(j, name, ConfigKind::CustomDomains) {
            ConfigValue::CustomDomains(list) => list.into_iter().find(|d| d.domain == domain),
            _ => None,
        })
    }
}

impl Memory {
    pub fn lookup_zone_impl(&self, zone: &ZoneRef) -> ZoneLookup {
        let zones = self.zones.lock().unwrap();
        zones
            .iter()
            .find(|z| match zone {
                ZoneRef::Id(id) => z.id == *id,
                ZoneRef::Name(n) => z.name == *n,
            })
            .cloned()
            .map_or(ZoneLookup::NotFound, ZoneLookup::Found)
    }
}

impl WriteApi for Memory {
    type Reader = Self;
    fn reader(&self) -> &Self {
        self
    }
    async fn create_bucket(
        &self,
        j: Jurisdiction,
        name: &str,
        location: Option<LocationHint>,
        class: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        if self
            .buckets
            .lock()
            .unwrap()
            .contains_key(&(j, name.to_string()))
        {
            return Err(ApiError::from_answer(
                "create",
                409,
                vec![CfError {
                    code: 10004,
                    message: "exists".into(),
                }],
            ));
        }
        self.put_bucket(j, name, class, location);
        Ok(self.buckets.lock().unwrap()[&(j, name.to_string())].clone())
    }
    async fn set_storage_class(
        &self,
        j: Jurisdiction,
        name: &str,
        class: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        match self.buckets.lock().unwrap().get_mut(&(j, name.to_string())) {
            Some(b) => {
                b.storage_class = class;
                Ok(b.clone())
            }
            None => Err(not_found("patch")),
        }
    }
    async fn delete_bucket(&self, j: Jurisdiction, name: &str) -> Result<(), ApiError> {
        match self.buckets.lock().unwrap().remove(&(j, name.to_string())) {
            Some(_) => {
                self.deleted_buckets.lock().unwrap().push(name.to_string());
                Ok(())
            }
            None => Err(not_found("delete")),
        }
    }
    async fn create_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
    ) -> Result<CreatedToken, ApiError> {
        let id = self.id();
        let token = self.token(id.clone(), request, owner);
        self.tokens
            .lock()
            .unwrap()
            .insert(id.clone(), token.clone());
        Ok(CreatedToken {
            token,
            value: TokenValue::new(format!("value-{id}")),
            condition_sent_as: "request_ip",
        })
    }
    async fn update_token(
        &self,
        owner: Owner,
        id: &str,
        request: &TokenRequest,
    ) -> Result<UpdatedToken, ApiError> {
        let mut tokens = self.tokens.lock().unwrap();
        if !tokens.contains_key(id) {
            return Err(not_found("update"));
        }
        let t = self.token(id.to_string(), request, owner);
        tokens.insert(id.to_string(), t.clone());
        Ok(UpdatedToken {
            token: t,
            condition_sent_as: "request_ip",
        })
    }
    async fn delete_token(&self, _: Owner, id: &str) -> Result<(), ApiError> {
        match self.tokens.lock().unwrap().remove(id) {
            Some(t) => {
                self.deleted_tokens.lock().unwrap().push(t);
                Ok(())
            }
            None => Err(not_found("delete token")),
        }
    }
    async fn issue_temporary(
        &self,
        _: &r2gitops::cloudflare::TemporaryRequest,
    ) -> Result<r2gitops::cloudflare::IssuedTemporary, ApiError> {
        unreachable!("the generated worlds declare no temporary credentials")
    }
    async fn write_config(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        if !self
            .buckets
            .lock()
            .unwrap()
            .contains_key(&(j, name.to_string()))
        {
            return Err(not_found("write config"));
        }
        self.configs
            .lock()
            .unwrap()
            .insert((j, name.to_string(), write.kind()), write.expected());
        Ok(())
    }
    async fn write_custom_domain(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &DomainWrite,
    ) -> Result<(), ApiError> {
        if !self.exists(j, name) {
            return Err(not_found("write domain"));
        }
        let ConfigValue::CustomDomains(mut list) = self.config(j, name, ConfigKind::CustomDomains)
        else {
            unreachable!()
        };
        let at = list.iter().position(|d| d.domain == write.domain());
        match (write, at) {
            (DomainWrite::Add { .. }, Some(_)) => {
                return Err(ApiError::from_answer(
                    "add domain",
                    409,
                    vec![CfError {
                        code: 10080,
                        message: "exists".into(),
                    }],
                ));
            }
            (DomainWrite::Add { zone_id, .. }, None) => {
                let mut d = write.expected().unwrap();
                d.zone_name = self
                    .zones
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|z| z.id == *zone_id)
                    .map(|z| z.name.clone());
                d.min_tls = d.min_tls.or(Some(MinTls::V10));
                list.push(d);
            }
            (
                DomainWrite::Update {
                    enabled, min_tls, ..
                },
                Some(i),
            ) => {
                list[i].enabled = *enabled;
                list[i].min_tls = min_tls.or(list[i].min_tls);
            }
            (DomainWrite::Remove { .. }, Some(i)) => {
                list.remove(i);
            }
            (_, None) => return Err(not_found("domain")),
        }
        self.configs.lock().unwrap().insert(
            (j, name.to_string(), ConfigKind::CustomDomains),
            ConfigValue::CustomDomains(list),
        );
        Ok(())
    }
    async fn write_notifications(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &QueueWrite,
    ) -> Result<(), ApiError> {
        if !self.exists(j, name) {
            return Err(not_found("write rules"));
        }
        let ConfigValue::Notifications(mut queues) =
            self.config(j, name, ConfigKind::Notifications)
        else {
            unreachable!()
        };
        queues.retain(|q| q.queue_id.as_ref() != Some(&write.queue_id));
        if !write.rules.is_empty() {
            queues.push(QueueRules {
                queue_id: Some(write.queue_id.clone()),
                queue_name: Some(write.queue_name.clone()),
                rules: write.rules.iter().cloned().collect(),
            });
        }
        self.configs.lock().unwrap().insert(
            (j, name.to_string(), ConfigKind::Notifications),
            ConfigValue::Notifications(queues),
        );
        Ok(())
    }
    async fn roll_token(&self, _: Owner, id: &str) -> Result<TokenValue, ApiError> {
        let at = self.tick();
        if let Some(t) = self.tokens.lock().unwrap().get_mut(id) {
            t.modified_on = Some(at);
            Ok(TokenValue::new(format!("rolled-{id}-{}", self.id())))
        } else {
            Err(not_found("roll"))
        }
    }
}
