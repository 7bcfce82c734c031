//! The writes (`WriteApi`), which only a `WriteClient` can make, and the key the IP
//! condition of a token is written under, settled by the first read-back that kept it.

use reqwest::Method;

use super::{Call, Client, KeyState, WriteClient, bucket_label, jurisdiction_header};
use crate::cloudflare::api::{
    CreatedToken, IssuedTemporary, TemporaryRequest, TokenRequest, UpdatedToken, WriteApi,
};
use crate::cloudflare::error::ApiError;
use crate::cloudflare::wire::{self, ConditionKey};
use crate::config::{Jurisdiction, LocationHint, Owner, StorageClass};
use crate::observed::{ObservedBucket, ObservedToken};
use crate::plan::ConfigWrite;
use crate::plan::DomainWrite;
use crate::plan::QueueWrite;
use crate::secret::TokenValue;

/// A `WriteClient` reads as its `Client` does: one delegation, not a forwarding per method.
impl std::ops::Deref for WriteClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.read
    }
}

impl WriteClient {
    pub fn reader(&self) -> &Client {
        &self.read
    }

    fn key_state(&self) -> KeyState {
        *self.read.inner.condition_key.lock().unwrap()
    }

    /// Remember, for the rest of the process, the key under which Cloudflare kept a
    /// condition (logged once). A read-back without the condition settles nothing.
    fn settle_key(&self, request: &TokenRequest, stored: &ObservedToken, key: ConditionKey) {
        if request.condition.is_empty() || stored.condition != request.condition {
            return;
        }
        let mut state = self.read.inner.condition_key.lock().unwrap();
        if !state.settled {
            *state = KeyState { key, settled: true };
            // Internal detail (the plan never shows the key): debug, once.
            tracing::debug!(
                key = key.as_str(),
                "Cloudflare keeps token IP conditions under '{}'; using it for the rest of the process",
                key.as_str()
            );
        }
    }

    async fn post_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
        key: ConditionKey,
    ) -> Result<CreatedToken, ApiError> {
        let op = format!("create {} token '{}'", owner.as_str(), request.name);
        let mut call = Call::new(op.clone(), Method::POST, self.read.tokens_base(owner));
        call.body = Some(wire::token_body(request, key));
        // Token names are not unique: replaying a create whose answer was lost could leave
        // a second token behind. Only answered 429/5xx (nothing created) are retried.
        call.replay_safe = false;
        // The value goes from the wiped body buffer straight into `TokenValue`.
        let created: wire::WireCreated = self.read.send_secret(call).await?;
        Ok(CreatedToken {
            token: wire::token(created.token, owner),
            value: created.value,
            condition_sent_as: key.as_str(),
        })
    }

    async fn put_token(
        &self,
        owner: Owner,
        id: &str,
        request: &TokenRequest,
        key: ConditionKey,
    ) -> Result<ObservedToken, ApiError> {
        let op = format!("update {} token '{}' ({id})", owner.as_str(), request.name);
        let path = format!("{}/{id}", self.read.tokens_base(owner));
        let mut call = Call::new(op.clone(), Method::PUT, path);
        call.body = Some(wire::token_body(request, key));
        let env = self.read.send(call).await?;
        Ok(wire::token(Client::decode(&op, env.result)?, owner))
    }
}

fn both_keys(first: ConditionKey) -> &'static str {
    match first {
        ConditionKey::RequestIp => "request_ip and request.ip",
        ConditionKey::RequestDotIp => "request.ip and request_ip",
    }
}

impl WriteApi for WriteClient {
    type Reader = Client;
    fn reader(&self) -> &Client {
        &self.read
    }

    async fn create_bucket(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        location_hint: Option<LocationHint>,
        storage_class: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        let op = format!("create {}", bucket_label(name, jurisdiction));
        let mut call = Call::new(op.clone(), Method::POST, self.read.buckets_base());
        let mut body = serde_json::json!({ "name": name, "storageClass": storage_class.as_str() });
        if let Some(l) = location_hint {
            body["locationHint"] = serde_json::json!(l.as_str());
        }
        call.body = Some(body);
        call.headers.push(jurisdiction_header(jurisdiction));
        let env = self.read.send(call).await?;
        Ok(wire::bucket(Client::decode(&op, env.result)?, jurisdiction))
    }

    async fn set_storage_class(
        &self,
        jurisdiction: Jurisdiction,
        name: &str,
        storage_class: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        let op = format!(
            "set the storage class of {}",
            bucket_label(name, jurisdiction)
        );
        let path = format!("{}/{name}", self.read.buckets_base());
        let mut call = Call::new(op.clone(), Method::PATCH, path);
        call.headers.push(jurisdiction_header(jurisdiction));
        call.headers
            .push(("cf-r2-storage-class", storage_class.as_str().to_string()));
        let env = self.read.send(call).await?;
        Ok(wire::bucket(Client::decode(&op, env.result)?, jurisdiction))
    }

    async fn delete_bucket(&self, jurisdiction: Jurisdiction, name: &str) -> Result<(), ApiError> {
        let op = format!("delete {}", bucket_label(name, jurisdiction));
        let path = format!("{}/{name}", self.read.buckets_base());
        let mut call = Call::new(op, Method::DELETE, path);
        call.headers.push(jurisdiction_header(jurisdiction));
        self.read.send(call).await.map(|_| ())
    }

    async fn create_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
    ) -> Result<CreatedToken, ApiError> {
        let state = self.key_state();
        let first = self.post_token(owner, request, state.key).await?;
        if request.condition.is_empty() || first.token.condition == request.condition {
            self.settle_key(request, &first.token, state.key);
            return Ok(CreatedToken {
                condition_sent_as: state.key.as_str(),
                ..first
            });
        }
        if state.settled {
            return Ok(CreatedToken {
                condition_sent_as: state.key.as_str(),
                ..first
            });
        }
        // Cloudflare did not keep the condition under this key. The token it made is less
        // restricted than asked: delete it before its value goes anywhere, then try the
        // other key once.
        let other = state.key.other();
        tracing::debug!(
            token = %request.name,
            key = state.key.as_str(),
            "the IP condition was not stored; retrying under {}",
            other.as_str()
        );
        let dropped_id = first.token.id.clone();
        drop(first);
        self.delete_token(owner, &dropped_id).await.map_err(|e| {
            ApiError::transport(
                &format!("create {} token '{}'", owner.as_str(), request.name),
                format!(
                    "Cloudflare did not store its IP condition under {}, and deleting the token it made ({dropped_id}) failed: {e}",
                    state.key.as_str()
                ),
            )
        })?;
        let second = self.post_token(owner, request, other).await?;
        self.settle_key(request, &second.token, other);
        Ok(CreatedToken {
            condition_sent_as: both_keys(state.key),
            ..second
        })
    }

    async fn update_token(
        &self,
        owner: Owner,
        id: &str,
        request: &TokenRequest,
    ) -> Result<UpdatedToken, ApiError> {
        let state = self.key_state();
        let first = self.put_token(owner, id, request, state.key).await?;
        if request.condition.is_empty() || first.condition == request.condition || state.settled {
            self.settle_key(request, &first, state.key);
            return Ok(UpdatedToken {
                token: first,
                condition_sent_as: state.key.as_str(),
            });
        }
        let other = state.key.other();
        let second = self.put_token(owner, id, request, other).await?;
        self.settle_key(request, &second, other);
        Ok(UpdatedToken {
            token: second,
            condition_sent_as: both_keys(state.key),
        })
    }

    async fn delete_token(&self, owner: Owner, id: &str) -> Result<(), ApiError> {
        let op = format!("delete {} token {id}", owner.as_str());
        let path = format!("{}/{id}", self.read.tokens_base(owner));
        self.read
            .send(Call::new(op, Method::DELETE, path))
            .await
            .map(|_| ())
    }

    async fn write_config(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        self.put_config(j, name, write).await
    }

    async fn write_custom_domain(
        &self,
        j: Jurisdiction,
        bucket: &str,
        write: &DomainWrite,
    ) -> Result<(), ApiError> {
        self.put_custom_domain(j, bucket, write).await
    }

    async fn write_notifications(
        &self,
        j: Jurisdiction,
        bucket: &str,
        write: &QueueWrite,
    ) -> Result<(), ApiError> {
        self.put_queue_rules(j, bucket, write).await
    }

    async fn roll_token(&self, owner: Owner, id: &str) -> Result<TokenValue, ApiError> {
        let op = format!("roll {} token {id}", owner.as_str());
        let path = format!("{}/{id}/value", self.read.tokens_base(owner));
        let mut call = Call::new(op.clone(), Method::PUT, path);
        call.body = Some(serde_json::json!({}));
        // A lost roll answer is lost either way (the old value died on the server); replaying
        // it only yields a value we can then write, so the roll stays replay-safe.
        self.read.send_secret(call).await
    }

    async fn issue_temporary(
        &self,
        request: &TemporaryRequest,
    ) -> Result<IssuedTemporary, ApiError> {
        self.post_temporary(request).await
    }
}
