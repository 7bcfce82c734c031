//! Listing the account's queues for declared notification rules, within the read
//! budget: one list per pass at most (paged), never one call per bucket or rule, and only
//! when some bucket declares a rule. The daemon keeps the list for
//! `settings.config_resync`, and lists again at once when the file names a queue the cached
//! list does not hold (it may just have been created). The cache logic is pure; only `list`
//! does I/O.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::cloudflare::{ApiError, ReadApi};
use crate::config::Desired;
use crate::observed::notification::{Queue, QueueId};

/// The queue list and when it is due again.
#[derive(Debug, Clone, Default)]
pub struct QueueCache {
    list: Option<(Vec<Queue>, Instant)>,
}

impl QueueCache {
    pub fn clear(&mut self) {
        self.list = None;
    }

    /// The cached list, when it is not due and names every wanted queue.
    pub fn fresh(&self, wanted: &BTreeSet<String>, now: Instant) -> Option<&[Queue]> {
        let (list, due) = self.list.as_ref()?;
        let all = wanted
            .iter()
            .all(|w| list.iter().any(|q| q.id == QueueId::new(w) || q.name == *w));
        (*due > now && all).then_some(list.as_slice())
    }
}

/// Every queue a declared rule names (as written).
pub fn wanted(desired: &Desired) -> BTreeSet<String> {
    desired
        .buckets
        .iter()
        .flat_map(|b| b.config.notifications.iter().flatten())
        .map(|n| n.queue.clone())
        .collect()
}

/// The account's queues, or `None` when no declared rule needs them.
pub async fn list<R: ReadApi>(
    api: &R,
    desired: &Desired,
    cache: Option<(&mut QueueCache, Instant)>,
) -> Result<Option<Vec<Queue>>, ApiError> {
    let wanted = wanted(desired);
    if wanted.is_empty() {
        return Ok(None);
    }
    match cache {
        None => api.list_queues().await.map(Some),
        Some((cache, now)) => {
            if let Some(list) = cache.fresh(&wanted, now) {
                return Ok(Some(list.to_vec()));
            }
            let list = api.list_queues().await?;
            cache.list = Some((list.clone(), now + desired.settings.config_resync));
            Ok(Some(list))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_list_is_reused_until_due_or_until_the_file_names_a_queue_it_lacks() {
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        let cache = QueueCache {
            list: Some((
                vec![Queue {
                    id: "q1".into(),
                    name: "uploads".into(),
                }],
                t0 + hour,
            )),
        };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert!(cache.fresh(&names(&["uploads"]), t0).is_some());
        assert!(cache.fresh(&names(&["q1"]), t0).is_some(), "by id too");
        assert!(cache.fresh(&names(&["uploads", "thumbs"]), t0).is_none());
        assert!(
            cache.fresh(&names(&["uploads"]), t0 + hour).is_none(),
            "due"
        );
    }
}
