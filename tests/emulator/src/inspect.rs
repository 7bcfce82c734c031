//! What a test reads of the emulator's world, and seeds into it: tokens and every secret
//! issued, temporary credentials, buckets and their configuration, zones, queues and their
//! DNS records, custom domains and their status, notification rules. Each reads or writes
//! the shared world under its lock, as a request would.

use std::collections::BTreeMap;

use crate::api::temporary::TemporaryView;
use crate::zones::ZoneSeed;
use crate::{
    Emulator, TokenView, api, bucket_config, custom_domain, notification, queues, token_views,
    zones,
};

impl Emulator {
    /// Every token as stored, in creation order (expired and revoked ones included).
    pub fn tokens(&self) -> Vec<TokenView> {
        token_views(&self.inner)
    }

    /// Every token value the emulator ever issued (creates and rolls), and the S3 secret
    /// derived from each: what a leak scan must never find.
    pub fn issued_secrets(&self) -> Vec<String> {
        use sha2::Digest;
        let world = self.inner.world.lock().unwrap();
        world
            .issued
            .iter()
            .flat_map(|v| [v.clone(), hex::encode(sha2::Sha256::digest(v.as_bytes()))])
            .collect()
    }

    /// Every temporary credential issued, oldest first, with its secret access key and
    /// session token: `(access_key_id, secret, session_token)`. In-process only (never over
    /// HTTP), for a leak scan and for proving a credential's scope with a real S3 client.
    pub fn temporary_secrets(&self) -> Vec<(String, String, String)> {
        let world = self.inner.world.lock().unwrap();
        let mut all: Vec<_> = world.temporary.values().collect();
        all.sort_by_key(|t| (t.issued_at, t.access_key_id.clone()));
        all.into_iter()
            .map(|t| {
                (
                    t.access_key_id.clone(),
                    t.secret.clone(),
                    t.session_token.clone(),
                )
            })
            .collect()
    }

    /// Every temporary credential issued, oldest first (never its secret or session
    /// token). Also `GET /__emulator/temporary-credentials`.
    pub fn temporary_credentials(&self) -> Vec<TemporaryView> {
        api::temporary::views(&self.inner)
    }

    /// Names of the buckets of one jurisdiction.
    pub fn bucket_names(&self, jurisdiction: &str) -> Vec<String> {
        self.inner
            .world
            .lock()
            .unwrap()
            .buckets
            .keys()
            .filter(|(j, _)| j == jurisdiction)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// A bucket's configuration as stored, `None` when there is no such bucket:
    /// `{"cors": null | [rules], "lifecycle": [rules], "lock": [rules], "public_dev_url":
    /// bool, "domain": "pub-….r2.dev"}`, rules in Cloudflare's JSON shape.
    pub fn bucket_config(&self, jurisdiction: &str, name: &str) -> Option<serde_json::Value> {
        let world = self.inner.world.lock().unwrap();
        let b = world
            .buckets
            .get(&(jurisdiction.to_string(), name.to_string()))?;
        let (domain, _) = bucket_config::managed_domain(&self.inner.account_id, b);
        Some(serde_json::json!({
            "cors": b.config.cors,
            "lifecycle": b.config.lifecycle,
            "lock": b.config.lock,
            "public_dev_url": b.config.public_dev_url,
            "domain": domain,
        }))
    }

    /// Add a zone (as `--zone` does); its id. An existing zone of that name is replaced.
    pub fn add_zone(&self, seed: ZoneSeed) -> String {
        let zone = zones::Zone::new(&seed, &self.inner.account_id);
        let id = zone.id.clone();
        let mut world = self.inner.world.lock().unwrap();
        world.zones.retain(|z| z.name != zone.name);
        world.zones.push(zone);
        id
    }

    /// Add a queue (as `--queue` does); its id.
    pub fn add_queue(&self, name: &str) -> String {
        let q = queues::Queue::new(name);
        let id = q.id.clone();
        let mut world = self.inner.world.lock().unwrap();
        if !world.queues.iter().any(|x| x.name == name) {
            world.queues.push(q);
        }
        id
    }

    /// The DNS records custom domains made in a zone (by zone name).
    pub fn dns_records(&self, zone: &str) -> Vec<String> {
        let world = self.inner.world.lock().unwrap();
        world
            .zones
            .iter()
            .find(|z| z.name == zone)
            .map(|z| z.records.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A bucket's custom domains as stored (the list GET's `domains`); `None` without the
    /// bucket.
    pub fn custom_domains(&self, jurisdiction: &str, name: &str) -> Option<serde_json::Value> {
        let world = self.inner.world.lock().unwrap();
        let b = world
            .buckets
            .get(&(jurisdiction.to_string(), name.to_string()))?;
        Some(serde_json::json!(
            b.config
                .custom_domains
                .iter()
                .map(custom_domain::Domain::to_json)
                .collect::<Vec<_>>()
        ))
    }

    /// Move a custom domain's status on (Cloudflare does over minutes); `false` without it.
    pub fn set_domain_status(
        &self,
        jurisdiction: &str,
        name: &str,
        domain: &str,
        ownership: &str,
        ssl: &str,
    ) -> bool {
        let mut world = self.inner.world.lock().unwrap();
        let Some(b) = world
            .buckets
            .get_mut(&(jurisdiction.to_string(), name.to_string()))
        else {
            return false;
        };
        match b
            .config
            .custom_domains
            .iter_mut()
            .find(|d| d.domain == domain)
        {
            Some(d) => {
                d.ownership = ownership.into();
                d.ssl = ssl.into();
                true
            }
            None => false,
        }
    }

    /// A bucket's notification rules as stored, by queue name (queue id when the queue is
    /// gone), each rule in the GET's shape; `None` without the bucket.
    pub fn notification_rules(
        &self,
        jurisdiction: &str,
        name: &str,
    ) -> Option<BTreeMap<String, Vec<serde_json::Value>>> {
        let world = self.inner.world.lock().unwrap();
        let b = world
            .buckets
            .get(&(jurisdiction.to_string(), name.to_string()))?;
        Some(
            b.config
                .notifications
                .iter()
                .map(|(id, rules)| {
                    let queue = world
                        .queues
                        .iter()
                        .find(|q| q.id == *id)
                        .map_or(id.clone(), |q| q.name.clone());
                    (
                        queue,
                        rules.iter().map(notification::Rule::to_json).collect(),
                    )
                })
                .collect(),
        )
    }
}
