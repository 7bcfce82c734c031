//! Builds the `Observed` snapshot through the read-only API: one list per jurisdiction and
//! per token family in use (never one GET per bucket or token), plus the permission-group
//! ids once per process. It keeps only managed tokens (name prefix, an id the inventory
//! vouches for, or an id the file adopts), and never r2gitops' own API token: everything
//! else is invisible to the planner, so it can never be touched. Bucket configuration is the exception that costs one GET per
//! declared sub-resource, so it is read only where the file manages it, and the daemon
//! spaces the re-reads (`bucket_config`). Custom domains and notification rules
//! add a lookup per distinct zone the file names (`custom_domain`) and one queue list
//! (`notification`), cached by the daemon for `config_resync`.

use std::collections::BTreeSet;

use futures::future::try_join_all;

pub mod bucket_config;
pub mod custom_domain;
pub mod notification;

pub use bucket_config::{ConfigCache, Reads};

use crate::cloudflare::{ApiError, ReadApi};
use crate::config::{Desired, Jurisdiction, Owner};
use crate::inventory::Inventory;
use crate::observed::{Observed, ObservedToken, PermissionGroupIds};

/// Which jurisdictions and token families a pass must list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub jurisdictions: BTreeSet<Jurisdiction>,
    pub owners: BTreeSet<Owner>,
}

/// Every jurisdiction named by the file or the inventory, every owner family likewise.
pub fn scope(desired: &Desired, inventory: &Inventory) -> Scope {
    Scope {
        jurisdictions: desired
            .buckets
            .iter()
            .map(|b| b.jurisdiction)
            .chain(inventory.buckets.keys().map(|(j, _)| *j))
            .collect(),
        owners: desired
            .tokens
            .iter()
            .map(|t| t.owner)
            .chain(inventory.tokens.values().map(|t| t.owner))
            .collect(),
    }
}

/// Observe everything the file manages, bucket configuration included (one-shot).
pub async fn observe<R: ReadApi>(
    api: &R,
    account_id: &str,
    desired: &Desired,
    inventory: &Inventory,
) -> Result<Observed, ApiError> {
    observe_with(api, account_id, desired, inventory, Reads::All).await
}

/// `observe`, reading bucket configuration as `reads` says (the daemon's cache).
pub async fn observe_with<R: ReadApi>(
    api: &R,
    account_id: &str,
    desired: &Desired,
    inventory: &Inventory,
    reads: Reads<'_>,
) -> Result<Observed, ApiError> {
    let scope = scope(desired, inventory);
    let buckets = try_join_all(scope.jurisdictions.iter().map(|j| api.list_buckets(*j)));
    let tokens = try_join_all(scope.owners.iter().map(|o| api.list_tokens(*o)));
    let (buckets, tokens) = futures::try_join!(buckets, tokens)?;
    let permission_groups = if desired.tokens.is_empty() {
        PermissionGroupIds::known()
    } else {
        // Group ids are account-wide; either family's list names them. Prefer the one the
        // file uses most commonly (account-owned).
        let owner = if desired.tokens.iter().any(|t| t.owner == Owner::Account) {
            Owner::Account
        } else {
            Owner::User
        };
        api.permission_groups(owner).await?
    };
    let prefix = desired.settings.token_name_prefix.as_str();
    // Managed: recorded in the inventory, or named by an `adopt:` (taken over this pass).
    let vouched: BTreeSet<&str> = inventory
        .token_ids()
        .chain(
            desired
                .tokens
                .iter()
                .filter_map(|t| t.adopt.as_ref().map(|a| a.id.as_str())),
        )
        .collect();
    let own = api.own_token_id();
    let buckets: Vec<_> = buckets.into_iter().flatten().collect();
    let (bucket_configs, zones, queues) = match reads {
        Reads::All => {
            // Zones before queues, so that a token lacking both is told the same thing
            // every time.
            let lookups = async {
                let zones = custom_domain::lookup(api, desired, None).await?;
                let queues = notification::list(api, desired, None).await?;
                Ok::<_, ApiError>((zones, queues))
            };
            let (configs, (zones, queues)) = futures::try_join!(
                bucket_config::read(api, desired, &buckets, Reads::All),
                lookups
            )?;
            (configs, zones, queues)
        }
        Reads::Cached { cache, now } => {
            let configs = bucket_config::read(
                api,
                desired,
                &buckets,
                Reads::Cached {
                    cache: &mut *cache,
                    now,
                },
            )
            .await?;
            let zones = custom_domain::lookup(api, desired, Some((&mut cache.zones, now))).await?;
            let queues = notification::list(api, desired, Some((&mut cache.queues, now))).await?;
            (configs, zones, queues)
        }
    };
    let tokens: Vec<ObservedToken> = tokens.into_iter().flatten().collect();
    let state_parent_ids: BTreeSet<String> = tokens
        .iter()
        .filter(|t| t.owner == Owner::Account && t.name == crate::config::STATE_PARENT_NAME)
        .map(|t| t.id.clone())
        .collect();
    Ok(Observed {
        account_id: account_id.to_string(),
        buckets,
        listed_jurisdictions: scope.jurisdictions,
        // r2gitops' own token is never managed, whatever its name: an update or a roll of it
        // would lock r2gitops out of every later call.
        tokens: tokens
            .into_iter()
            .filter(|t| Some(&t.id) != own.as_ref())
            // The state's parent token is r2gitops' own too (`state::r2::parent`): a file
            // may not roll, change or prune the root of the credentials that guard the
            // inventory, whatever its prefix or inventory say.
            .filter(|t| !state_parent_ids.contains(&t.id))
            .filter(|t| t.name.starts_with(prefix) || vouched.contains(t.id.as_str()))
            .collect(),
        own_token_id: own,
        state_parent_ids,
        listed_owners: scope.owners,
        permission_groups,
        bucket_configs,
        zones,
        queues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{BucketRecord, TokenRecord};

    #[test]
    fn the_scope_covers_the_file_and_the_inventory() {
        let mut desired = crate::fixtures::desired();
        desired.buckets = vec![crate::config::BucketSpec {
            jurisdiction: Jurisdiction::Eu,
            ..crate::fixtures::bucket("media")
        }];
        let mut inv = Inventory::default();
        inv.buckets
            .insert((Jurisdiction::Us, "old".into()), BucketRecord::new(true));
        inv.tokens.insert(
            "gone".into(),
            TokenRecord {
                id: "x".into(),
                owner: Owner::User,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                rolled_at: None,
                modified_on: None,
                output: None,
                unheld: false,
            },
        );
        let s = scope(&desired, &inv);
        assert_eq!(
            s.jurisdictions,
            BTreeSet::from([Jurisdiction::Eu, Jurisdiction::Us])
        );
        assert_eq!(s.owners, BTreeSet::from([Owner::User]));
        let s = scope(&desired, &Inventory::default());
        assert_eq!(s.jurisdictions, BTreeSet::from([Jurisdiction::Eu]));
        assert!(
            s.owners.is_empty(),
            "no token family is listed when none is in use"
        );
    }
}
