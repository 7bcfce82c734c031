//! The operator's policy: what a desired-state file may declare, in a file the operator owns
//! and the desired-state file cannot change (`--policy`). Like a Kyverno or conftest policy,
//! it lives outside the repository it judges, and is checked on every load and every plan.
//!
//! - `raw`: the serde mirror of the policy file and its JSON Schema.
//! - `parse`: bytes to a `Policy`, every problem at once (pure).
//! - `check`: a loaded file against a `Policy`, every violation at once, located in the
//!   desired-state file and naming the policy's line (pure).
//! - `glob`: the bucket-name globs.
//! - `load`: the only I/O: reads the policy file (bounded, a regular file), and refuses one
//!   inside the watched repository unless the operator says otherwise.
//!
//! The data (`Policy`, `Set`) is `config::model::policy`, for the plan to carry without
//! reaching back here. The rules are the methods of `Policy` below, one per bound, each
//! saying why a value is not allowed: `check` applies them to what a file declares, the
//! planner to a token that `adopt:` takes over, and `import` to what it reads from the
//! account. Must not resolve anything from the desired-state file: the policy path is
//! the operator's.

use std::time::Duration;

use time::OffsetDateTime;

use super::model::temporary::short_duration;
use super::model::{Access, IpRules, TokenScope, ZoneRef};

pub mod check;
pub mod glob;
pub mod load;
pub mod parse;
pub mod raw;

pub use check::check;
pub use parse::parse;

#[cfg(test)]
mod tests;

pub use super::model::policy::{Policy, Set};

/// The policy with what the check needs beyond the file: the daemon's pass interval, for
/// the projected cost (`watch --interval`; `validate --interval`; 10m elsewhere).
#[derive(Debug, Clone, PartialEq)]
pub struct Enforced {
    pub policy: std::sync::Arc<Policy>,
    pub interval: Duration,
}

/// The part of an SSH key that identifies it (type and key, not the comment); an age
/// recipient as it is.
pub fn recipient_key(text: &str) -> String {
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(kind), Some(key)) if kind.starts_with("ssh-") => format!("{kind} {key}"),
        (Some(one), _) => one.to_string(),
        _ => String::new(),
    }
}

/// A recipient short enough for a message: `age1p05a26tp9dn6…`, `ssh-ed25519 AAAAC3Nz…`.
fn short_recipient(text: &str) -> String {
    let key = recipient_key(text);
    if key.chars().count() <= 24 {
        key
    } else {
        let head: String = key.chars().take(20).collect();
        format!("{head}…")
    }
}

fn duration_text(d: Duration) -> String {
    short_duration(d)
}

impl Policy {
    /// `policy.yaml:3:11`: where the policy sets a bound.
    pub fn at<T>(&self, set: &Set<T>) -> String {
        format!("{}:{}:{}", self.file, set.line, set.column)
    }

    /// `WHAT is not allowed by the policy (policy.yaml:3:11 ALLOWS)`.
    fn refuse<T>(&self, what: impl std::fmt::Display, set: &Set<T>, allows: &str) -> String {
        format!(
            "{what} is not allowed by the policy ({} {allows})",
            self.at(set)
        )
    }

    /// An access level a file (or an adopted token) would use.
    pub fn access(&self, access: Access) -> Option<String> {
        let set = self.access.as_ref()?;
        if set.value.contains(&access) {
            return None;
        }
        let allows = if set.value.is_empty() {
            "allows no access level".to_string()
        } else {
            let names: Vec<&str> = set.value.iter().map(|a| a.as_str()).collect();
            format!("allows {}", names.join(", "))
        };
        Some(self.refuse(access.as_str(), set, &allows))
    }

    fn names_allowed(&self, set: &Set<Vec<String>>) -> String {
        if set.value.is_empty() {
            "allows no bucket".into()
        } else {
            format!("allows {}", set.value.join(", "))
        }
    }

    /// A bucket name a file declares, a temporary credential reaches, or `import` reads.
    pub fn bucket_name(&self, name: &str) -> Option<String> {
        let set = self.bucket_names.as_ref()?;
        if set.value.iter().any(|g| glob::matches(g, name)) {
            return None;
        }
        Some(self.refuse(
            format!("bucket '{}'", super::yaml::sanitize(name)),
            set,
            &self.names_allowed(set),
        ))
    }

    /// What a token reaches: under `buckets.names`, only named buckets that match; admin
    /// tokens and `buckets: ["*"]` reach every bucket.
    pub fn scope(&self, access: Access, scope: &TokenScope) -> Option<String> {
        let set = self.bucket_names.as_ref()?;
        let allows = format!("{}, by name", self.names_allowed(set));
        match scope {
            TokenScope::Account => Some(self.refuse(
                format!("{} on the whole account (every bucket)", access.as_str()),
                set,
                &allows,
            )),
            TokenScope::AllBuckets => {
                Some(self.refuse("buckets: [\"*\"] (every bucket)", set, &allows))
            }
            TokenScope::Buckets(names) => names.iter().find_map(|n| self.bucket_name(n)),
        }
    }

    /// What a token holds, as `plan::policy::declaration` reads it back: its access, then
    /// what it reaches.
    pub fn grant(&self, access: Access, scope: &TokenScope) -> Option<String> {
        self.access(access).or_else(|| self.scope(access, scope))
    }

    /// A token's `expires_on` (`now`: when the file is checked; `None` skips the distance).
    pub fn expires_on(
        &self,
        expires_on: Option<OffsetDateTime>,
        now: Option<OffsetDateTime>,
    ) -> Option<String> {
        let set = self.max_validity.as_ref()?;
        let max = duration_text(set.value);
        let Some(at) = expires_on else {
            return Some(self.refuse(
                "a token without expires_on",
                set,
                &format!("requires expires_on at most {max} ahead"),
            ));
        };
        let now = now?;
        let limit = now + set.value;
        (at > limit).then(|| {
            self.refuse(
                format!(
                    "expires_on {}, more than {max} ahead,",
                    at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                ),
                set,
                &format!("allows at most {max} ahead"),
            )
        })
    }

    /// A token's `rotate_every`.
    pub fn rotate_every(&self, every: Option<Duration>) -> Option<String> {
        let set = self.max_rotate_every.as_ref()?;
        let max = duration_text(set.value);
        match every {
            None => Some(self.refuse(
                "a token without rotate_every",
                set,
                &format!("requires rotate_every of at most {max}"),
            )),
            Some(d) if d > set.value => Some(self.refuse(
                format!("rotate_every {}", duration_text(d)),
                set,
                &format!("allows at most {max}"),
            )),
            Some(_) => None,
        }
    }

    /// A token's IP rules: `require_ip_rules` asks for networks it may be used from; deny
    /// rules alone leave it usable from anywhere else.
    pub fn ip(&self, ip: &IpRules) -> Option<String> {
        let set = self.require_ip_rules.as_ref()?;
        ip.allow.is_empty().then(|| {
            self.refuse(
                "a token without ip.allow",
                set,
                "requires ip.allow on every token",
            )
        })
    }

    /// A recipient an output is encrypted to.
    pub fn recipient(&self, recipient: &str) -> Option<String> {
        let reason = self.recipient_unquoted(recipient)?;
        Some(format!(
            "recipient '{}' {reason}",
            super::yaml::sanitize(&short_recipient(recipient))
        ))
    }

    /// `recipient`, without naming it: for the lines of a recipients file, which no
    /// message quotes.
    pub fn recipient_unquoted(&self, recipient: &str) -> Option<String> {
        let set = self.recipients.as_ref()?;
        let key = recipient_key(recipient);
        if set.value.iter().any(|r| recipient_key(r) == key) {
            return None;
        }
        let allows = if set.value.is_empty() {
            "allows no recipient".to_string()
        } else {
            let shown: Vec<String> = set.value.iter().map(|r| short_recipient(r)).collect();
            format!("allows {}", shown.join(", "))
        };
        Some(format!(
            "is not allowed by the policy ({} {allows})",
            self.at(set)
        ))
    }

    /// A bucket's `public_dev_url`.
    pub fn public_dev_url(&self, public: bool) -> Option<String> {
        let set = self.no_public_dev_url.as_ref()?;
        public.then(|| {
            self.refuse(
                "public_dev_url: true",
                set,
                "allows no public r2.dev access",
            )
        })
    }

    /// The zone of a custom domain, as the file names it.
    pub fn zone(&self, zone: &ZoneRef) -> Option<String> {
        let set = self.custom_domain_zones.as_ref()?;
        if set.value.iter().any(|z| z == zone.as_str()) {
            return None;
        }
        let allows = if set.value.is_empty() {
            "allows no custom domain".to_string()
        } else {
            format!("allows {}", set.value.join(", "))
        };
        Some(self.refuse(
            format!("zone '{}'", super::yaml::sanitize(zone.as_str())),
            set,
            &allows,
        ))
    }

    /// A bucket's `protect`: under `delete: false` no declaration may let prune delete it.
    pub fn protect(&self, protect: bool) -> Option<String> {
        let set = self.no_bucket_deletes.as_ref()?;
        (!protect).then(|| {
            self.refuse(
                "protect: false",
                set,
                "delete: false: prune never deletes a bucket",
            )
        })
    }

    /// Why the plan keeps a bucket prune would delete, or `None` when it may go.
    pub fn bucket_delete(&self) -> Option<String> {
        let set = self.no_bucket_deletes.as_ref()?;
        Some(format!(
            "no longer declared; kept because the policy never deletes a bucket ({} delete: false)",
            self.at(set)
        ))
    }

    /// How many temporary credentials a file declares.
    pub fn temporary_count(&self, count: usize) -> Option<String> {
        let set = self.temporary_max.as_ref()?;
        (count > set.value as usize).then(|| {
            self.refuse(
                format!("{count} temporary credentials"),
                set,
                &format!("allows at most {}", set.value),
            )
        })
    }

    /// A temporary credential's `ttl`.
    pub fn ttl(&self, ttl: Duration) -> Option<String> {
        let set = self.temporary_min_ttl.as_ref()?;
        (ttl < set.value).then(|| {
            self.refuse(
                format!("ttl {}", duration_text(ttl)),
                set,
                &format!("allows at least {}", duration_text(set.value)),
            )
        })
    }

    /// What the file costs the daemon an hour (`config::cost`, the `cost:` line).
    pub fn cost(&self, cost: &super::cost::Cost) -> Option<String> {
        let set = self.max_calls_per_hour.as_ref()?;
        let calls = cost.calls_per_hour();
        (calls > set.value as f64).then(|| {
            self.refuse(
                format!(
                    "a projected cost of about {} API calls an hour at --interval {} ({} list pages, {} configuration reads, {} renewals{}, {} token watch pages)",
                    super::cost::num(calls),
                    duration_text(cost.interval),
                    super::cost::num(cost.list_calls_per_hour()),
                    super::cost::num(cost.config_calls_per_hour()),
                    super::cost::num(cost.renewals_per_hour),
                    cost.rotations(),
                    super::cost::num(cost.token_watch_calls_per_hour()),
                ),
                set,
                &format!("allows at most {}", super::cost::num(set.value as f64)),
            )
        })
    }
}
