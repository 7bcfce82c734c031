//! The fake's write half: what a write changes in the account it holds, and how the rules
//! make it answer instead.

use super::{Fake, err};
use crate::cloudflare::{
    ApiError, CreatedToken, IssuedTemporary, TemporaryRequest, TokenRequest, UpdatedToken, WriteApi,
};
use crate::config::{IpRules, Jurisdiction, LocationHint, MinTls, Owner, StorageClass};
use crate::observed::ObservedBucket;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::notification::QueueRules;
use crate::plan::{ConfigWrite, DomainWrite, QueueWrite};
use crate::secret::{S3Secret, SessionToken, TokenValue};

impl WriteApi for Fake {
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
        self.call(format!("create bucket {name}"));
        if self.fail_buckets.contains(name) {
            return Err(err("create bucket", 500, 10001, "internal error"));
        }
        if self.exists(j, name) || self.taken_elsewhere.contains(name) {
            return Err(err("create bucket", 409, 10073, "already exists"));
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
        self.call(format!("patch bucket {name}"));
        if self.refuse_storage_class {
            return Err(err("patch bucket", 405, 7001, "Method not allowed"));
        }
        match self.buckets.lock().unwrap().get_mut(&(j, name.to_string())) {
            Some(b) => {
                b.storage_class = class;
                Ok(b.clone())
            }
            None => Err(err("patch bucket", 404, 10006, "does not exist")),
        }
    }

    async fn delete_bucket(&self, j: Jurisdiction, name: &str) -> Result<(), ApiError> {
        self.call(format!("delete bucket {name}"));
        if !self.exists(j, name) {
            return Err(err("delete bucket", 404, 10006, "does not exist"));
        }
        if self.full_buckets.contains(name) {
            return Err(err(
                "delete bucket",
                409,
                0,
                "The bucket you tried to delete is not empty",
            ));
        }
        self.buckets.lock().unwrap().remove(&(j, name.to_string()));
        self.deleted_buckets.lock().unwrap().push(name.to_string());
        Ok(())
    }

    async fn create_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
    ) -> Result<CreatedToken, ApiError> {
        self.call(format!("create token {}", request.name));
        let id = self.id();
        let mut token = self.token(id.clone(), request, owner);
        if self.drop_condition {
            token.condition = IpRules::default();
        }
        self.tokens
            .lock()
            .unwrap()
            .insert(id.clone(), token.clone());
        Ok(CreatedToken {
            token,
            value: TokenValue::new(format!("cfat_value_{id}")),
            condition_sent_as: "request_ip",
        })
    }

    /// In place: what the request leaves out stays (its status, and under `keeps_removed`
    /// a removed condition or time).
    async fn update_token(
        &self,
        _: Owner,
        id: &str,
        request: &TokenRequest,
    ) -> Result<UpdatedToken, ApiError> {
        self.call(format!("update token {id}"));
        let at = self.tick();
        let mut tokens = self.tokens.lock().unwrap();
        let Some(t) = tokens.get_mut(id) else {
            return Err(err("update token", 404, 7003, "not found"));
        };
        t.name = request.name.clone();
        t.policies = request.policies.clone();
        let keep = |new: bool| !(self.keeps_removed && new);
        if keep(request.condition.is_empty()) && !self.drop_condition {
            t.condition = request.condition.clone();
        }
        if keep(request.expires_on.is_none()) {
            t.expires_on = request.expires_on;
        }
        if keep(request.not_before.is_none()) {
            t.not_before = request.not_before;
        }
        if let Some(status) = &request.status {
            t.status = status.clone();
        }
        t.modified_on = Some(at);
        Ok(UpdatedToken {
            token: t.clone(),
            condition_sent_as: "request_ip",
        })
    }

    async fn delete_token(&self, _: Owner, id: &str) -> Result<(), ApiError> {
        self.call(format!("delete token {id}"));
        match self.tokens.lock().unwrap().remove(id) {
            Some(t) => {
                self.deleted_tokens.lock().unwrap().push(t);
                Ok(())
            }
            None => Err(err("delete token", 404, 7003, "not found")),
        }
    }

    async fn roll_token(&self, _: Owner, id: &str) -> Result<TokenValue, ApiError> {
        self.call(format!("roll token {id}"));
        let at = self.tick();
        match self.tokens.lock().unwrap().get_mut(id) {
            Some(t) => t.modified_on = Some(at),
            None => return Err(err("roll token", 404, 7003, "not found")),
        }
        Ok(TokenValue::new(format!("cfat_rolled_{id}_{}", self.id())))
    }

    async fn write_config(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        self.call(format!("{} {} {name}", write.method(), write.kind().key()));
        if self.lags(name) || !self.exists(j, name) {
            return Err(err("write config", 404, 10006, "bucket does not exist"));
        }
        if self.fail_config.contains(name) {
            return Err(err("write config", 500, 10001, "internal error"));
        }
        if !self.ignore_config_writes {
            self.set(j, name, write.expected());
        }
        Ok(())
    }

    async fn write_custom_domain(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &DomainWrite,
    ) -> Result<(), ApiError> {
        self.call(format!(
            "{} domain {name} {}",
            write.method(),
            write.domain()
        ));
        if self.lags(name) || !self.exists(j, name) {
            return Err(err("domain", 404, 10006, "bucket does not exist"));
        }
        let mut list = self.domains(j, name);
        let at = list.iter().position(|d| d.domain == write.domain());
        if let DomainWrite::Add { domain, .. } = write
            && let Some(n) = self.released.lock().unwrap().get_mut(domain)
            && *n > 0
        {
            *n -= 1;
            return Err(err("add domain", 409, 10080, "Domain already in use"));
        }
        if let (DomainWrite::Remove { domain }, Some(_)) = (write, at) {
            self.released
                .lock()
                .unwrap()
                .insert(domain.clone(), self.in_use_for);
        }
        match (write, at) {
            (DomainWrite::Add { domain, .. }, _) if self.attached_elsewhere.contains(domain) => {
                return Err(err("add domain", 409, 10080, "domain already exists"));
            }
            (DomainWrite::Add { .. }, Some(_)) => {
                return Err(err("add domain", 409, 10080, "domain already exists"));
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
            (_, None) => return Err(err("domain", 404, 10053, "no such domain")),
        }
        if !self.ignore_config_writes {
            self.set(j, name, ConfigValue::CustomDomains(list));
        }
        Ok(())
    }

    /// The DELETE of the queue's rules when asked, then a PUT of the rules, which adds to
    /// what the queue holds, as Cloudflare's does.
    async fn write_notifications(
        &self,
        j: Jurisdiction,
        name: &str,
        write: &QueueWrite,
    ) -> Result<(), ApiError> {
        if self.lags(name) || !self.exists(j, name) {
            return Err(err("notifications", 404, 10085, "bucket_not_found"));
        }
        let ConfigValue::Notifications(mut queues) =
            self.config(j, name, ConfigKind::Notifications)
        else {
            unreachable!()
        };
        let of_queue = |q: &QueueRules| q.queue_id.as_ref() == Some(&write.queue_id);
        if write.clear_first {
            self.call(format!("DELETE rules {name} {}", write.queue_id));
            queues.retain(|q| !of_queue(q));
            self.set(j, name, ConfigValue::Notifications(queues.clone()));
        }
        if write.rules.is_empty() {
            return Ok(());
        }
        self.call(format!(
            "PUT rules {name} {} ({})",
            write.queue_id,
            write.rules.len()
        ));
        if self.fail_puts {
            return Err(err("put rules", 500, 10001, "internal error"));
        }
        {
            let mut refuse = self.refuse_puts.lock().unwrap();
            if *refuse > 0 {
                *refuse -= 1;
                return Err(err("put rules", 409, 11020, "conflicting rules"));
            }
        }
        if self.ignore_config_writes {
            return Ok(());
        }
        let mut stored = QueueRules {
            queue_id: Some(write.queue_id.clone()),
            queue_name: Some(write.queue_name.clone()),
            rules: write.rules.iter().cloned().collect(),
        };
        if self.live_rules {
            let id = write.queue_id.to_string();
            // The configuration GET's dashed form, which decodes to the list's.
            stored.queue_id = Some(
                format!(
                    "{}-{}-{}-{}-{}",
                    &id[..8],
                    &id[8..12],
                    &id[12..16],
                    &id[16..20],
                    &id[20..]
                )
                .as_str()
                .into(),
            );
            stored.rules = stored
                .rules
                .into_iter()
                .map(|mut r| {
                    if r.description.is_empty() {
                        r.description = format!("generated for {}", r.label());
                    }
                    r
                })
                .collect();
        }
        match queues.iter_mut().find(|q| of_queue(q)) {
            Some(held) => held.rules.extend(stored.rules),
            None => queues.push(stored),
        }
        self.set(j, name, ConfigValue::Notifications(queues));
        Ok(())
    }

    async fn issue_temporary(
        &self,
        request: &TemporaryRequest,
    ) -> Result<IssuedTemporary, ApiError> {
        self.call(format!(
            "issue temporary on {} under {}",
            request.bucket, request.parent_access_key_id
        ));
        if self.refuse_temporary {
            return Err(err("issue temporary", 403, 10000, "Authentication error"));
        }
        let mut issued = self.temporary.lock().unwrap();
        issued.push(request.clone());
        Ok(IssuedTemporary {
            access_key_id: format!("{:032x}", 0xace + issued.len()),
            secret_access_key: S3Secret::new(format!("tempsecret{}", issued.len())),
            session_token: SessionToken::new(format!("tempsession{}", issued.len())),
        })
    }
}
