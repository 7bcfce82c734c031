//! The token watch (`settings.token_watch`): between full passes the daemon lists the
//! tokens of the owner families it manages (one call per page of 50, no other observe) and
//! looks for a managed token that Cloudflare revoked as exposed, that expired, or that is
//! gone: any of them triggers a full pass at once, so that consumers are on a new key within
//! about one `token_watch` instead of one `--interval`. Its cadence stretches to what 5% of
//! Cloudflare's budget pays for (`config::cost::token_watch_interval`). Pure: the loop
//! lists, this decides; it never changes anything.

use std::collections::BTreeMap;

use crate::config::{Desired, Owner};
use crate::inventory::Inventory;
use crate::observed::{ObservedToken, TokenStatus};

/// A declared token and the id the inventory records for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub name: String,
    pub id: String,
    pub owner: Owner,
}

/// The declared tokens the inventory records (a token not created yet has nothing to lose).
pub fn watched(desired: &Desired, inventory: &Inventory) -> Vec<Watched> {
    desired
        .tokens
        .iter()
        .filter_map(|t| {
            let r = inventory
                .tokens
                .get(&t.name)
                .filter(|r| r.owner == t.owner)?;
            Some(Watched {
                name: t.name.clone(),
                id: r.id.clone(),
                owner: t.owner,
            })
        })
        .collect()
}

/// Each watched token whose credential is dead, with why: `exposed`, `expired`, `missing`.
/// Only owner families that were listed are judged.
pub fn findings(
    watched: &[Watched],
    listed: &BTreeMap<Owner, Vec<ObservedToken>>,
) -> Vec<(String, &'static str)> {
    watched
        .iter()
        .filter_map(|w| {
            let tokens = listed.get(&w.owner)?;
            let why = match tokens.iter().find(|o| o.id == w.id) {
                None => "missing",
                Some(o) => match o.status {
                    TokenStatus::RevokedExposed => "exposed",
                    TokenStatus::Expired => "expired",
                    _ => return None,
                },
            };
            Some((w.name.clone(), why))
        })
        .collect()
}

/// The list pages one watch read: per family, the tokens it holds over 50, at least one.
pub fn pages(listed: &BTreeMap<Owner, Vec<ObservedToken>>) -> u64 {
    listed
        .values()
        .map(|t| {
            (t.len() as u64)
                .div_ceil(crate::config::cost::TOKENS_PER_PAGE)
                .max(1)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{desired, token};
    use crate::inventory::TokenRecord;

    fn observed(id: &str, status: TokenStatus) -> ObservedToken {
        ObservedToken {
            id: id.into(),
            name: "r2gitops:x".into(),
            owner: Owner::Account,
            status,
            issued_on: None,
            modified_on: None,
            not_before: None,
            expires_on: None,
            policies: Vec::new(),
            condition: Default::default(),
        }
    }

    #[test]
    fn an_exposed_expired_or_missing_managed_token_is_found_and_nothing_else() {
        let mut d = desired();
        d.tokens = ["a", "b", "c", "d", "new"]
            .iter()
            .map(|n| token(n, &["media"]))
            .collect();
        let mut inv = Inventory::default();
        for (name, id) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
            inv.tokens.insert(
                name.into(),
                TokenRecord {
                    id: id.into(),
                    owner: Owner::Account,
                    created_at: time::OffsetDateTime::UNIX_EPOCH,
                    rolled_at: None,
                    modified_on: None,
                    output: None,
                    unheld: false,
                },
            );
        }
        let w = watched(&d, &inv);
        assert_eq!(w.len(), 4, "a token not created yet is not watched");
        let listed = BTreeMap::from([(
            Owner::Account,
            vec![
                observed("1", TokenStatus::Active),
                observed("2", TokenStatus::RevokedExposed),
                observed("3", TokenStatus::Expired),
                observed("9", TokenStatus::Active),
            ],
        )]);
        assert_eq!(
            findings(&w, &listed),
            [
                ("b".to_string(), "exposed"),
                ("c".to_string(), "expired"),
                ("d".to_string(), "missing")
            ]
        );
        // A family that was not listed is not judged.
        assert!(findings(&w, &BTreeMap::new()).is_empty());
        assert_eq!(pages(&listed), 1);
        let many = BTreeMap::from([(
            Owner::User,
            (0..101)
                .map(|i| observed(&i.to_string(), TokenStatus::Active))
                .collect(),
        )]);
        assert_eq!(pages(&many), 3);
    }
}
