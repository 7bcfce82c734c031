//! The fake's read half: what a GET or a list finds in the account it holds.

use super::{Fake, err};
use crate::cloudflare::{ApiError, ReadApi, VerifiedToken};
use crate::config::{Jurisdiction, Owner, ZoneRef};
use crate::observed::bucket_config::{ConfigKind, ConfigValue};
use crate::observed::custom_domain::{CustomDomain, ZoneLookup};
use crate::observed::notification::Queue;
use crate::observed::{ObservedBucket, ObservedToken, PermissionGroupIds};

impl ReadApi for Fake {
    async fn verify(&self) -> Result<VerifiedToken, ApiError> {
        unreachable!("the tests never verify")
    }

    /// The fake's callers hold no token of the account.
    fn own_token_id(&self) -> Option<String> {
        None
    }

    async fn list_buckets(&self, j: Jurisdiction) -> Result<Vec<ObservedBucket>, ApiError> {
        self.call(format!("list buckets {j:?}"));
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
        self.call(format!("get bucket {name}"));
        Ok(self
            .buckets
            .lock()
            .unwrap()
            .get(&(j, name.to_string()))
            .cloned())
    }

    async fn get_token(&self, _: Owner, id: &str) -> Result<Option<ObservedToken>, ApiError> {
        self.call(format!("get token {id}"));
        Ok(self.tokens.lock().unwrap().get(id).cloned())
    }

    async fn list_tokens(&self, owner: Owner) -> Result<Vec<ObservedToken>, ApiError> {
        self.call(format!("list tokens {owner:?}"));
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
        self.call("permission groups".into());
        Ok(PermissionGroupIds::known())
    }

    /// `None` for a bucket the account does not hold, as for one the post-create lag hides.
    async fn read_config(
        &self,
        j: Jurisdiction,
        name: &str,
        kind: ConfigKind,
    ) -> Result<Option<ConfigValue>, ApiError> {
        self.call(format!("read {} {name}", kind.key()));
        if self.read_lags(name) || !self.exists(j, name) {
            return Ok(None);
        }
        Ok(Some(self.config(j, name, kind)))
    }

    async fn lookup_zone(&self, zone: &ZoneRef) -> Result<ZoneLookup, ApiError> {
        self.call(format!("lookup zone {zone:?}"));
        Ok(self.find_zone(zone))
    }

    async fn list_queues(&self) -> Result<Vec<Queue>, ApiError> {
        self.call("list queues".into());
        Ok(self.queues.lock().unwrap().clone())
    }

    async fn get_custom_domain(
        &self,
        j: Jurisdiction,
        name: &str,
        domain: &str,
    ) -> Result<Option<CustomDomain>, ApiError> {
        self.call(format!("GET domain {name} {domain}"));
        if self.read_lags(name) || !self.exists(j, name) {
            return Err(err("domain", 404, 10006, "bucket does not exist"));
        }
        Ok(self
            .domains(j, name)
            .into_iter()
            .find(|d| d.domain == domain))
    }
}
