//! Cloudflare in memory, for the crate's tests: one stateful fake of the two API traits.
//! It holds an account (buckets per jurisdiction, tokens, their configuration, zones and
//! queues) and answers as Cloudflare would from it: only what it holds exists, a create
//! stores, a delete removes, and every token write moves `modified_on` on a logical clock,
//! as Cloudflare's does. On top of that state, rules make it answer as Cloudflare does at
//! its edges (failures, conflicts, the post-create lag, what it keeps of a write), and it
//! records every call in order.
//!
//! The apply tests hold a few buckets and tokens and set the rules they exercise; the
//! property tests (`apply::tests::property`, `import::tests::roundtrip`) fill an account
//! and run the real observer, diff and applier against it.

mod read;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::cloudflare::{ApiError, CfError, TemporaryRequest, TokenRequest};
use crate::config::{Jurisdiction, LocationHint, Owner, StorageClass, ZoneRef};
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::{CustomDomain, Zone, ZoneLookup};
use crate::observed::notification::Queue;
use crate::observed::{ObservedBucket, ObservedToken, TokenStatus};

/// Cloudflare in memory: the account it holds, the rules it answers by, what it was asked.
#[derive(Default)]
pub(crate) struct Fake {
    // ---- the account ----
    /// Buckets, by jurisdiction and name.
    pub(crate) buckets: Mutex<BTreeMap<(Jurisdiction, String), ObservedBucket>>,
    /// Tokens as the server holds them, by id.
    pub(crate) tokens: Mutex<BTreeMap<String, ObservedToken>>,
    /// Configuration sub-resources as the server holds them (a new bucket's when absent).
    pub(crate) configs: Mutex<BTreeMap<(Jurisdiction, String, ConfigKind), ConfigValue>>,
    /// The zones a lookup finds (by id or name), and whose names an added domain reports.
    pub(crate) zones: Mutex<Vec<Zone>>,
    /// The account's queues.
    pub(crate) queues: Mutex<Vec<Queue>>,
    /// Seconds of a logical clock: every token write moves `modified_on`.
    pub(crate) clock: Mutex<i64>,
    /// The last token id given out.
    pub(crate) next_id: Mutex<u64>,

    // ---- the rules ----
    /// Names that fail to create (500).
    pub(crate) fail_buckets: BTreeSet<String>,
    /// Answer 409 on create, but a GET in the declared jurisdiction finds nothing (the name
    /// is taken in another account, or in another jurisdiction where R2 keeps names unique
    /// per account: the account held here lets one name live in several).
    pub(crate) taken_elsewhere: BTreeSet<String>,
    /// Buckets that hold objects: a delete answers 409 not empty.
    pub(crate) full_buckets: BTreeSet<String>,
    /// The storage-class PATCH answers 405 / 7001.
    pub(crate) refuse_storage_class: bool,
    /// The server stores no IP condition, under any key.
    pub(crate) drop_condition: bool,
    /// An update that leaves out the condition or a time keeps the stored one.
    pub(crate) keeps_removed: bool,
    /// Temporary credential requests answer 403 / 10000.
    pub(crate) refuse_temporary: bool,
    /// Configuration writes of these buckets answer 500.
    pub(crate) fail_config: BTreeSet<String>,
    /// Configuration writes are accepted and not stored.
    pub(crate) ignore_config_writes: bool,
    /// Custom domains attached to some other bucket: an add answers 409.
    pub(crate) attached_elsewhere: BTreeSet<String>,
    /// The next this many notification PUTs answer 409 (an overlap Cloudflare refuses).
    pub(crate) refuse_puts: Mutex<u32>,
    /// Notification PUTs answer 500 (whether they were stored is unknown).
    pub(crate) fail_puts: bool,
    /// Notification rules are stored as the live API shows them: the queue named by a
    /// dashed UUID, a rule sent without a description given one.
    pub(crate) live_rules: bool,
    /// Per bucket name, how many more configuration, domain or notification calls answer
    /// as the post-create lag does (10006; 10085 for notifications; a read finds no
    /// bucket); under `<bucket>:reads`, reads only.
    pub(crate) lagging: Mutex<BTreeMap<String, u32>>,
    /// After a domain's removal, this many adds of that hostname answer 409 "in use".
    pub(crate) in_use_for: u32,
    /// Hostnames removed, with the 409s they still answer.
    pub(crate) released: Mutex<BTreeMap<String, u32>>,

    // ---- what it was asked ----
    /// Every call, in order, in a few words (`create bucket media`, `PUT cors media`).
    pub(crate) calls: Mutex<Vec<String>>,
    /// Every temporary credential request, in order.
    pub(crate) temporary: Mutex<Vec<TemporaryRequest>>,
    /// The names of the buckets deleted, in order.
    pub(crate) deleted_buckets: Mutex<Vec<String>>,
    /// The tokens deleted, as they were, in order.
    pub(crate) deleted_tokens: Mutex<Vec<ObservedToken>>,
}

/// An error answer, as the client makes it of Cloudflare's envelope.
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

impl Fake {
    pub(crate) fn call(&self, c: String) {
        self.calls.lock().unwrap().push(c);
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Whether this call on `name`'s sub-resources meets the post-create lag (and counts it).
    pub(crate) fn lags(&self, name: &str) -> bool {
        self.lag(name)
    }

    pub(crate) fn read_lags(&self, name: &str) -> bool {
        self.lag(name) || self.lag(&format!("{name}:reads"))
    }

    fn lag(&self, key: &str) -> bool {
        let mut lagging = self.lagging.lock().unwrap();
        match lagging.get_mut(key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// A fresh token id, 32 hex digits (the first is `{:032x}` of 1).
    pub(crate) fn id(&self) -> String {
        let mut n = self.next_id.lock().unwrap();
        *n += 1;
        format!("{:032x}", *n)
    }

    /// The logical clock, one second on.
    pub(crate) fn tick(&self) -> OffsetDateTime {
        let mut n = self.clock.lock().unwrap();
        *n += 1;
        time::macros::datetime!(2026-01-01 00:00 UTC) + time::Duration::seconds(*n)
    }

    pub(crate) fn exists(&self, j: Jurisdiction, name: &str) -> bool {
        self.buckets
            .lock()
            .unwrap()
            .contains_key(&(j, name.to_string()))
    }

    /// Put a bucket in the account as if made elsewhere.
    pub(crate) fn put_bucket(
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

    /// A token as the server would hold it after a create or update with `request`, its
    /// `modified_on` now on the clock.
    pub(crate) fn token(&self, id: String, request: &TokenRequest, owner: Owner) -> ObservedToken {
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

    /// A bucket's configuration of one kind (a new bucket's when none was set).
    pub(crate) fn config(&self, j: Jurisdiction, name: &str, kind: ConfigKind) -> ConfigValue {
        self.configs
            .lock()
            .unwrap()
            .get(&(j, name.to_string(), kind))
            .cloned()
            .unwrap_or_else(|| kind.new_bucket())
    }

    pub(crate) fn set(&self, j: Jurisdiction, name: &str, value: ConfigValue) {
        self.configs
            .lock()
            .unwrap()
            .insert((j, name.to_string(), value.kind()), value);
    }

    pub(crate) fn domains(&self, j: Jurisdiction, name: &str) -> Vec<CustomDomain> {
        match self.config(j, name, ConfigKind::CustomDomains) {
            ConfigValue::CustomDomains(d) => d,
            _ => unreachable!(),
        }
    }

    pub(crate) fn find_zone(&self, zone: &ZoneRef) -> ZoneLookup {
        self.zones
            .lock()
            .unwrap()
            .iter()
            .find(|z| match zone {
                ZoneRef::Id(id) => z.id == *id,
                ZoneRef::Name(n) => z.name == *n,
            })
            .cloned()
            .map_or(ZoneLookup::NotFound, ZoneLookup::Found)
    }
}
