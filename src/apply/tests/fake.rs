//! The in-memory fake of the write API the apply tests run against: it answers as
//! Cloudflare would from a few rules (failures, conflicts, lag, what it keeps of a write)
//! and records every call in order.

use super::*;

/// Answers as Cloudflare would, from a few rules: names in `fail_buckets` fail to create
/// (500), names in `existing_buckets` answer 409, `full_buckets` refuse deletion (409 not
/// empty), `gone` ids and names answer 404. Records every call in order.
#[derive(Default)]
pub(super) struct Fake {
    pub(super) fail_buckets: BTreeSet<String>,
    pub(super) existing_buckets: BTreeSet<String>,
    /// Answer 409 on create, but a GET in the declared jurisdiction finds nothing (the name
    /// is taken in another jurisdiction or account).
    pub(super) taken_elsewhere: BTreeSet<String>,
    pub(super) full_buckets: BTreeSet<String>,
    pub(super) gone: BTreeSet<String>,
    /// The storage-class PATCH answers 405 / 7001.
    pub(super) refuse_storage_class: bool,
    /// The server stores no IP condition, under any key.
    pub(super) drop_condition: bool,
    /// An update that leaves out the condition or a time keeps the stored one.
    pub(super) keeps_removed: bool,
    /// Tokens as the server holds them.
    pub(super) tokens: Mutex<std::collections::BTreeMap<String, ObservedToken>>,
    /// Temporary credential requests answer 403 / 10000.
    pub(super) refuse_temporary: bool,
    /// Every temporary credential request, in order.
    pub(super) temporary: Mutex<Vec<crate::cloudflare::TemporaryRequest>>,
    /// Configuration sub-resources as the server holds them (a new bucket's when absent).
    pub(super) configs: Mutex<std::collections::BTreeMap<(String, ConfigKind), ConfigValue>>,
    /// Configuration writes of these buckets answer 500.
    pub(super) fail_config: BTreeSet<String>,
    /// Configuration writes are accepted and not stored.
    pub(super) ignore_config_writes: bool,
    /// Custom domains attached to some other bucket: an add answers 409.
    pub(super) attached_elsewhere: BTreeSet<String>,
    /// The next this many notification PUTs answer 409 (an overlap Cloudflare refuses).
    pub(super) refuse_puts: Mutex<u32>,
    /// Notification PUTs answer 500 (whether they were stored is unknown).
    pub(super) fail_puts: bool,
    /// Notification rules are stored as the live API shows them: the queue named by a
    /// dashed UUID, a rule sent without a description given one.
    pub(super) live_rules: bool,
    /// Per bucket, how many more configuration, domain or notification calls answer as the
    /// post-create lag does (10006; 10085 for notifications; a read finds no bucket); under
    /// `<bucket>:reads`, reads only.
    pub(super) lagging: Mutex<std::collections::BTreeMap<String, u32>>,
    /// After a domain's removal, this many adds of that hostname answer 409 "in use".
    pub(super) in_use_for: u32,
    /// Hostnames removed, with the 409s they still answer.
    pub(super) released: Mutex<std::collections::BTreeMap<String, u32>>,
    pub(super) calls: Mutex<Vec<String>>,
    pub(super) next_id: Mutex<u32>,
}

fn err(op: &str, status: u16, code: i64, message: &str) -> ApiError {
    ApiError::from_answer(
        op,
        status,
        vec![CfError {
            code,
            message: message.into(),
        }],
    )
}

fn bucket(name: &str, j: Jurisdiction) -> ObservedBucket {
    ObservedBucket {
        name: name.into(),
        jurisdiction: j,
        location: None,
        storage_class: StorageClass::Standard,
        creation_date: None,
    }
}

impl Fake {
    pub(super) fn call(&self, c: String) {
        self.calls.lock().unwrap().push(c);
    }

    /// Whether this call on `name`'s sub-resources meets the post-create lag (and counts it).
    pub(super) fn lags(&self, name: &str) -> bool {
        self.lag(name)
    }

    pub(super) fn read_lags(&self, name: &str) -> bool {
        self.lag(name) || self.lag(&format!("{name}:reads"))
    }

    pub(super) fn lag(&self, key: &str) -> bool {
        let mut lagging = self.lagging.lock().unwrap();
        match lagging.get_mut(key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    pub(super) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl ReadApi for Fake {
    async fn verify(&self) -> Result<VerifiedToken, ApiError> {
        unreachable!("apply never verifies")
    }
    fn own_token_id(&self) -> Option<String> {
        None
    }
    async fn list_buckets(&self, _: Jurisdiction) -> Result<Vec<ObservedBucket>, ApiError> {
        unreachable!("apply never lists")
    }
    async fn get_bucket(
        &self,
        j: Jurisdiction,
        name: &str,
    ) -> Result<Option<ObservedBucket>, ApiError> {
        self.call(format!("get bucket {name}"));
        Ok(self
            .existing_buckets
            .contains(name)
            .then(|| bucket(name, j)))
    }
    async fn get_token(&self, _: Owner, id: &str) -> Result<Option<ObservedToken>, ApiError> {
        self.call(format!("get token {id}"));
        Ok(self.tokens.lock().unwrap().get(id).cloned())
    }
    async fn list_tokens(&self, _: Owner) -> Result<Vec<ObservedToken>, ApiError> {
        unreachable!("apply never lists")
    }
    async fn permission_groups(&self, _: Owner) -> Result<PermissionGroupIds, ApiError> {
        unreachable!("apply never lists")
    }
    async fn read_config(
        &self,
        _: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        self.call(format!("read {} {name}", kind.key()));
        if self.read_lags(name) {
            return Ok(None);
        }
        Ok(Some(self.config(name, kind)))
    }
    async fn lookup_zone(
        &self,
        _: &crate::config::ZoneRef,
    ) -> Result<crate::observed::custom_domain::ZoneLookup, ApiError> {
        unreachable!("apply never looks up")
    }
    async fn list_queues(&self) -> Result<Vec<crate::observed::notification::Queue>, ApiError> {
        unreachable!("apply never lists")
    }
    async fn get_custom_domain(
        &self,
        _: Jurisdiction,
        name: &str,
        domain: &str,
    ) -> Result<Option<CustomDomain>, ApiError> {
        self.call(format!("GET domain {name} {domain}"));
        if self.read_lags(name) {
            return Err(err("domain", 404, 10006, "bucket does not exist"));
        }
        Ok(self.domains(name).into_iter().find(|d| d.domain == domain))
    }
}

impl Fake {
    pub(super) fn config(&self, name: &str, kind: ConfigKind) -> ConfigValue {
        self.configs
            .lock()
            .unwrap()
            .get(&(name.to_string(), kind))
            .cloned()
            .unwrap_or_else(|| kind.new_bucket())
    }

    pub(super) fn domains(&self, name: &str) -> Vec<CustomDomain> {
        match self.config(name, ConfigKind::CustomDomains) {
            ConfigValue::CustomDomains(d) => d,
            _ => unreachable!(),
        }
    }

    pub(super) fn set(&self, name: &str, value: ConfigValue) {
        self.configs
            .lock()
            .unwrap()
            .insert((name.to_string(), value.kind()), value);
    }
}

impl WriteApi for Fake {
    type Reader = Self;
    fn reader(&self) -> &Self {
        self
    }
    async fn create_bucket(
        &self,
        j: Jurisdiction,
        name: &str,
        _: Option<LocationHint>,
        _: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        self.call(format!("create bucket {name}"));
        if self.fail_buckets.contains(name) {
            return Err(err("create bucket", 500, 10001, "internal error"));
        }
        if self.existing_buckets.contains(name) || self.taken_elsewhere.contains(name) {
            return Err(err("create bucket", 409, 10073, "already exists"));
        }
        Ok(bucket(name, j))
    }
    async fn set_storage_class(
        &self,
        j: Jurisdiction,
        name: &str,
        _: StorageClass,
    ) -> Result<ObservedBucket, ApiError> {
        self.call(format!("patch bucket {name}"));
        if self.refuse_storage_class {
            return Err(err("patch bucket", 405, 7001, "Method not allowed"));
        }
        Ok(bucket(name, j))
    }
    async fn delete_bucket(&self, _: Jurisdiction, name: &str) -> Result<(), ApiError> {
        self.call(format!("delete bucket {name}"));
        if self.full_buckets.contains(name) {
            return Err(err(
                "delete bucket",
                409,
                0,
                "The bucket you tried to delete is not empty",
            ));
        }
        if self.gone.contains(name) {
            return Err(err("delete bucket", 404, 10006, "does not exist"));
        }
        Ok(())
    }
    async fn create_token(
        &self,
        owner: Owner,
        request: &TokenRequest,
    ) -> Result<CreatedToken, ApiError> {
        self.call(format!("create token {}", request.name));
        let mut n = self.next_id.lock().unwrap();
        *n += 1;
        let token = ObservedToken {
            id: format!("{:032x}", *n),
            name: request.name.clone(),
            owner,
            status: TokenStatus::Active,
            issued_on: None,
            modified_on: None,
            not_before: request.not_before,
            expires_on: request.expires_on,
            policies: request.policies.clone(),
            condition: if self.drop_condition {
                IpRules::default()
            } else {
                request.condition.clone()
            },
        };
        self.tokens
            .lock()
            .unwrap()
            .insert(token.id.clone(), token.clone());
        Ok(CreatedToken {
            token,
            value: TokenValue::new(format!("cfat_value_{n}")),
            condition_sent_as: "request_ip",
        })
    }
    async fn update_token(
        &self,
        _: Owner,
        id: &str,
        request: &TokenRequest,
    ) -> Result<UpdatedToken, ApiError> {
        self.call(format!("update token {id}"));
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
        Ok(UpdatedToken {
            token: t.clone(),
            condition_sent_as: "request_ip",
        })
    }
    async fn delete_token(&self, _: Owner, id: &str) -> Result<(), ApiError> {
        self.call(format!("delete token {id}"));
        if self.gone.contains(id) || self.tokens.lock().unwrap().remove(id).is_none() {
            return Err(err("delete token", 404, 7003, "not found"));
        }
        Ok(())
    }
    async fn write_config(
        &self,
        _: Jurisdiction,
        name: &str,
        write: &ConfigWrite,
    ) -> Result<(), ApiError> {
        self.call(format!("{} {} {name}", write.method(), write.kind().key()));
        if self.lags(name) {
            return Err(err("write config", 404, 10006, "bucket does not exist"));
        }
        if self.fail_config.contains(name) {
            return Err(err("write config", 500, 10001, "internal error"));
        }
        if !self.ignore_config_writes {
            self.configs
                .lock()
                .unwrap()
                .insert((name.to_string(), write.kind()), write.expected());
        }
        Ok(())
    }
    async fn write_custom_domain(
        &self,
        _: Jurisdiction,
        name: &str,
        write: &DomainWrite,
    ) -> Result<(), ApiError> {
        self.call(format!(
            "{} domain {name} {}",
            write.method(),
            write.domain()
        ));
        if self.lags(name) {
            return Err(err("domain", 404, 10006, "bucket does not exist"));
        }
        let mut list = self.domains(name);
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
            (DomainWrite::Add { .. }, None) => {
                let mut d = write.expected().unwrap();
                d.zone_name = Some("example.com".into());
                d.min_tls = d.min_tls.or(Some(crate::config::MinTls::V10));
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
            self.set(name, ConfigValue::CustomDomains(list));
        }
        Ok(())
    }
    async fn write_notifications(
        &self,
        _: Jurisdiction,
        name: &str,
        write: &QueueWrite,
    ) -> Result<(), ApiError> {
        if self.lags(name) {
            return Err(err("notifications", 404, 10085, "bucket_not_found"));
        }
        let ConfigValue::Notifications(mut queues) = self.config(name, ConfigKind::Notifications)
        else {
            unreachable!()
        };
        if write.clear_first {
            self.call(format!("DELETE rules {name} {}", write.queue_id));
            queues.retain(|q| q.queue_id.as_ref() != Some(&write.queue_id));
            self.set(name, ConfigValue::Notifications(queues.clone()));
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
        let mut stored = crate::observed::notification::QueueRules {
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
        queues.push(stored);
        self.set(name, ConfigValue::Notifications(queues));
        Ok(())
    }
    async fn roll_token(&self, _: Owner, id: &str) -> Result<TokenValue, ApiError> {
        self.call(format!("roll token {id}"));
        Ok(TokenValue::new("cfat_rolled"))
    }
    async fn issue_temporary(
        &self,
        request: &crate::cloudflare::TemporaryRequest,
    ) -> Result<crate::cloudflare::IssuedTemporary, ApiError> {
        self.call(format!(
            "issue temporary on {} under {}",
            request.bucket, request.parent_access_key_id
        ));
        if self.refuse_temporary {
            return Err(err("issue temporary", 403, 10000, "Authentication error"));
        }
        let mut issued = self.temporary.lock().unwrap();
        issued.push(request.clone());
        Ok(crate::cloudflare::IssuedTemporary {
            access_key_id: format!("{:032x}", 0xace + issued.len()),
            secret_access_key: crate::secret::S3Secret::new(format!("tempsecret{}", issued.len())),
            session_token: crate::secret::SessionToken::new(format!("tempsession{}", issued.len())),
        })
    }
}
