//! Cloudflare in memory: a stateful fake of the two API traits for property tests that run
//! the real observer, diff and applier (issues 16, 17). Every token write moves
//! `modified_on`, as Cloudflare's does.

use std::collections::BTreeMap;
use std::sync::Mutex;

use r2gitops::cloudflare::{
    ApiError, CfError, CreatedToken, ReadApi, TokenRequest, UpdatedToken, VerifiedToken, WriteApi,
};
use r2gitops::config::{Jurisdiction, LocationHint, Owner, StorageClass};
use r2gitops::observed::bucket_config::{ConfigKind, ConfigValue, ConfigWrite};
use r2gitops::observed::{ObservedBucket, ObservedToken, PermissionGroupIds, TokenStatus};
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
}

impl WriteApi for Memory {
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
