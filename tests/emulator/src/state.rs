//! The emulator's world: buckets per (jurisdiction, name) with their objects, and API tokens
//! of both owner families. Plain data and the rules Cloudflare applies to it; no HTTP here.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const JURISDICTIONS: [&str; 4] = ["default", "eu", "fedramp", "us"];

/// Permission groups served by `GET .../permission_groups`: the four R2 groups with the ids
/// public projects use (Cloudflare publishes no table of them, so r2gitops resolves groups by
/// name), the token-management groups, and a few unrelated ones.
pub struct Group {
    pub id: &'static str,
    pub name: &'static str,
    pub scope: &'static str,
}

pub const R2_ADMIN_WRITE: &str = "bf7481a1826f439697cb59a20b22293e";
pub const R2_ADMIN_READ: &str = "b4992e1108244f5d8bfbd5744320c2e1";
pub const R2_OBJECT_WRITE: &str = "2efd5506f9c8494dacb1fa10a3e7d5b6";
pub const R2_OBJECT_READ: &str = "6a018a9f2fc74eb6b293b0c548f38b39";
pub const ACCOUNT_TOKENS_WRITE: &str = "5bc3f8b21c554832afc660159ab75fa4";
pub const ACCOUNT_TOKENS_READ: &str = "0cc3a61731504c89b99ec1be78b77aa0";
pub const USER_TOKENS_WRITE: &str = "686d18d5ac6c441c867cbf6771e58a0a";
pub const USER_TOKENS_READ: &str = "0cc3a61731504c89b99ec1be78b77aa1";

pub const GROUPS: &[Group] = &[
    Group {
        id: R2_ADMIN_WRITE,
        name: "Workers R2 Storage Write",
        scope: "com.cloudflare.api.account",
    },
    Group {
        id: R2_ADMIN_READ,
        name: "Workers R2 Storage Read",
        scope: "com.cloudflare.api.account",
    },
    Group {
        id: R2_OBJECT_WRITE,
        name: "Workers R2 Storage Bucket Item Write",
        scope: "com.cloudflare.edge.r2.bucket",
    },
    Group {
        id: R2_OBJECT_READ,
        name: "Workers R2 Storage Bucket Item Read",
        scope: "com.cloudflare.edge.r2.bucket",
    },
    Group {
        id: ACCOUNT_TOKENS_WRITE,
        name: "Account API Tokens Write",
        scope: "com.cloudflare.api.account",
    },
    Group {
        id: ACCOUNT_TOKENS_READ,
        name: "Account API Tokens Read",
        scope: "com.cloudflare.api.account",
    },
    Group {
        id: USER_TOKENS_WRITE,
        name: "API Tokens Write",
        scope: "com.cloudflare.api.user",
    },
    Group {
        id: USER_TOKENS_READ,
        name: "API Tokens Read",
        scope: "com.cloudflare.api.user",
    },
    Group {
        id: "e086da7e2179491d91ee5f35b3ca210a",
        name: "Workers R2 Data Catalog Write",
        scope: "com.cloudflare.api.account",
    },
    Group {
        id: "d229766a2f7f4d299f20eaa8c9b1fde9",
        name: "Workers R2 Data Catalog Read",
        scope: "com.cloudflare.api.account",
    },
    Group {
        id: "c8fed203ed3043cba015a93ad1616f1f",
        name: "Zone Read",
        scope: "com.cloudflare.api.account.zone",
    },
    Group {
        id: "82e64a83756745bbbb1c9c2701bf816b",
        name: "DNS Read",
        scope: "com.cloudflare.api.account.zone",
    },
    Group {
        id: crate::zones::ZONE_WRITE,
        name: "Zone Write",
        scope: "com.cloudflare.api.account.zone",
    },
    Group {
        id: crate::queues::QUEUES_READ,
        name: "Queues Read",
        scope: "com.cloudflare.api.account",
    },
    Group {
        id: crate::queues::QUEUES_WRITE,
        name: "Queues Write",
        scope: "com.cloudflare.api.account",
    },
];

pub const ACCOUNT_TOKEN_QUOTA: usize = 500;
pub const USER_TOKEN_QUOTA: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Account,
    User,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub data: bytes::Bytes,
    pub last_modified: OffsetDateTime,
    pub e_tag: String,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub jurisdiction: String,
    pub location: String,
    pub storage_class: String,
    pub creation_date: OffsetDateTime,
    pub objects: BTreeMap<String, Object>,
    /// CORS, lifecycle, lock, r2.dev (`bucket_config`), custom domains and notification
    /// rules.
    pub config: crate::bucket_config::BucketConfig,
}

impl Bucket {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "creation_date": rfc3339(self.creation_date),
            // Cloudflare has answered in upper case: keep clients honest.
            "location": self.location.to_ascii_uppercase(),
            "storage_class": self.storage_class,
            "jurisdiction": self.jurisdiction,
        })
    }
}

#[derive(Debug, Clone)]
pub struct StoredPolicy {
    pub id: String,
    pub effect: String,
    pub resources: serde_json::Map<String, Value>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub id: String,
    pub family: Family,
    pub name: String,
    pub value: String,
    pub disabled: bool,
    pub issued_on: OffsetDateTime,
    pub modified_on: OffsetDateTime,
    /// When the current value was minted (the create, or the last roll): the S3 side
    /// rejects it for `Behaviour::propagation_delay` after that.
    pub value_issued: OffsetDateTime,
    pub last_used_on: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    pub expires_on: Option<OffsetDateTime>,
    pub policies: Vec<StoredPolicy>,
    pub allow_ips: Vec<IpNet>,
    pub deny_ips: Vec<IpNet>,
    /// Revoked by Cloudflare after it found the value in public: `revoked (exposed)`,
    /// unusable for good (set through the admin route).
    pub revoked: bool,
    /// Creation order, for stable listing.
    pub seq: u64,
}

impl Token {
    pub fn status(&self, now: OffsetDateTime) -> &'static str {
        if self.revoked {
            "revoked (exposed)"
        } else if self.disabled {
            "disabled"
        } else if self.expires_on.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    }

    /// Usable as a credential right now, from this address.
    pub fn usable(&self, now: OffsetDateTime, peer: Option<IpAddr>) -> bool {
        if self.status(now) != "active" || self.not_before.is_some_and(|nb| nb > now) {
            return false;
        }
        match peer {
            Some(ip) => {
                if self.deny_ips.iter().any(|n| n.contains(&ip)) {
                    return false;
                }
                self.allow_ips.is_empty() || self.allow_ips.iter().any(|n| n.contains(&ip))
            }
            None => self.allow_ips.is_empty(),
        }
    }

    /// Whether the current value has not reached the S3 side yet (`--propagation-delay`).
    pub fn propagating(&self, now: OffsetDateTime, delay: Option<std::time::Duration>) -> bool {
        delay.is_some_and(|d| now - self.value_issued < d)
    }

    pub fn s3_secret(&self) -> String {
        hex::encode(Sha256::digest(self.value.as_bytes()))
    }

    pub fn to_json(&self, now: OffsetDateTime) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "status": self.status(now),
            "issued_on": rfc3339(self.issued_on),
            "modified_on": rfc3339(self.modified_on),
            "last_used_on": self.last_used_on.map(rfc3339),
            "policies": self.policies.iter().map(|p| json!({
                "id": p.id,
                "effect": p.effect,
                "resources": p.resources,
                "permission_groups": p.groups.iter().map(|g| json!({
                    "id": g,
                    "name": GROUPS.iter().find(|x| x.id == g).map(|x| x.name).unwrap_or("Unknown"),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        if let Some(nb) = self.not_before {
            v["not_before"] = json!(rfc3339(nb));
        }
        if let Some(e) = self.expires_on {
            v["expires_on"] = json!(rfc3339(e));
        }
        if !self.allow_ips.is_empty() || !self.deny_ips.is_empty() {
            let mut ip = serde_json::Map::new();
            if !self.allow_ips.is_empty() {
                ip.insert(
                    "in".into(),
                    json!(
                        self.allow_ips
                            .iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                    ),
                );
            }
            if !self.deny_ips.is_empty() {
                ip.insert(
                    "not_in".into(),
                    json!(
                        self.deny_ips
                            .iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                    ),
                );
            }
            // A GET returns `request_ip` (Terraform v5's `account_token` import test).
            v["condition"] = json!({ "request_ip": ip });
        }
        v
    }

    fn has_group(
        &self,
        wanted: &[&str],
        resource_ok: impl Fn(&str, &Value) -> bool,
    ) -> Option<bool> {
        // Deny wins over allow; no match is no permission.
        let mut allowed = false;
        for p in &self.policies {
            if !p.groups.iter().any(|g| wanted.contains(&g.as_str())) {
                continue;
            }
            if p.resources.iter().any(|(k, v)| resource_ok(k, v)) {
                if p.effect == "deny" {
                    return Some(false);
                }
                allowed = true;
            }
        }
        Some(allowed)
    }

    /// Account-scoped permission (bucket management, token management).
    pub fn has_account_group(&self, account_id: &str, groups: &[&str]) -> bool {
        let key = format!("com.cloudflare.api.account.{account_id}");
        self.has_group(groups, |k, v| k == key && v == "*")
            .unwrap_or(false)
    }

    /// A zone permission (Zone Read to look zones up), on zones of the account in any of the
    /// forms a policy names them (one zone, all zones of an account, the whole account).
    pub fn has_zone_group(&self, groups: &[&str]) -> bool {
        self.has_group(groups, |k, _| k.starts_with("com.cloudflare.api.account"))
            .unwrap_or(false)
    }

    /// Object access to one bucket via the bucket-scoped or account-scoped R2 groups.
    pub fn may_access_bucket(
        &self,
        account_id: &str,
        jurisdiction: &str,
        bucket: &str,
        write: bool,
    ) -> bool {
        let account_key = format!("com.cloudflare.api.account.{account_id}");
        let bucket_key =
            format!("com.cloudflare.edge.r2.bucket.{account_id}_{jurisdiction}_{bucket}");
        let admin: &[&str] = if write {
            &[R2_ADMIN_WRITE]
        } else {
            &[R2_ADMIN_WRITE, R2_ADMIN_READ]
        };
        let object: &[&str] = if write {
            &[R2_OBJECT_WRITE]
        } else {
            &[R2_OBJECT_WRITE, R2_OBJECT_READ]
        };
        let by_admin = self
            .has_group(admin, |k, v| k == account_key && v == "*")
            .unwrap_or(false);
        let by_object = self
            .has_group(object, |k, v| {
                (k == bucket_key && v == "*")
                    || (k == account_key
                        && v.get("com.cloudflare.edge.r2.bucket.*")
                            .is_some_and(|x| x == "*"))
            })
            .unwrap_or(false);
        by_admin || by_object
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub fn random_hex(rng: &mut impl Rng, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf[..]);
    hex::encode(buf)
}

/// A value in the 2026 style: `cfat_`/`cfut_` + 40 alphanumerics + an 8-hex checksum.
pub fn new_token_value(rng: &mut impl Rng, family: Family) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body: String = (0..40)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let prefix = match family {
        Family::Account => "cfat_",
        Family::User => "cfut_",
    };
    let sum = Sha256::digest(format!("{prefix}{body}").as_bytes());
    format!("{prefix}{body}{}", &hex::encode(sum)[..8])
}

/// R2's bucket naming rules (https://developers.cloudflare.com/r2/buckets/create-buckets/).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_r2_rules() {
        for (name, ok) in [
            ("abc", true),
            ("ab", false),
            ("media-uploads", true),
            ("-abc", false),
            ("abc-", false),
            ("Abc", false),
            ("a_b_c", false),
            ("a.b.c", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(valid_bucket_name(name), ok, "{name}");
        }
    }

    #[test]
    fn token_values_carry_the_family_prefix() {
        let mut rng = rand::rng();
        assert!(new_token_value(&mut rng, Family::Account).starts_with("cfat_"));
        assert!(new_token_value(&mut rng, Family::User).starts_with("cfut_"));
        assert_eq!(new_token_value(&mut rng, Family::User).len(), 5 + 40 + 8);
    }
}
