//! Looking up the zones declared custom domains name, within the read budget: one
//! lookup per distinct zone of the file (never one per bucket or domain), only when some
//! bucket declares `custom_domains`. The daemon keeps zones it found for
//! `settings.config_resync`; a zone not found is looked up again next pass (it may just have
//! been created). The cache logic is pure (time is an argument); only `lookup` does I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};

use crate::cloudflare::{ApiError, ReadApi};
use crate::config::{Desired, ZoneRef};
use crate::observed::custom_domain::{Zone, ZoneLookup};

/// Lookups in flight at once.
const CONCURRENCY: usize = 4;

/// Zones found, each until its re-check is due.
#[derive(Debug, Clone, Default)]
pub struct ZoneCache {
    found: BTreeMap<ZoneRef, (Zone, Instant)>,
}

impl ZoneCache {
    pub fn clear(&mut self) {
        self.found.clear();
    }

    /// Which of `wanted` must be looked up at `now` (the rest are cached and not due).
    pub fn due(&self, wanted: &BTreeSet<ZoneRef>, now: Instant) -> Vec<ZoneRef> {
        wanted
            .iter()
            .filter(|z| self.found.get(*z).is_none_or(|(_, due)| *due <= now))
            .cloned()
            .collect()
    }

    /// Keep what was found until `now + resync`; forget what was not.
    pub fn record(
        &mut self,
        answers: &BTreeMap<ZoneRef, ZoneLookup>,
        now: Instant,
        resync: Duration,
    ) {
        for (z, found) in answers {
            match found {
                ZoneLookup::Found(zone) => {
                    self.found.insert(z.clone(), (zone.clone(), now + resync));
                }
                ZoneLookup::NotFound => {
                    self.found.remove(z);
                }
            }
        }
    }

    fn get(&self, z: &ZoneRef) -> Option<ZoneLookup> {
        self.found
            .get(z)
            .map(|(zone, _)| ZoneLookup::Found(zone.clone()))
    }

    fn retain(&mut self, wanted: &BTreeSet<ZoneRef>) {
        self.found.retain(|z, _| wanted.contains(z));
    }
}

/// Every zone a declared custom domain names.
pub fn wanted(desired: &Desired) -> BTreeSet<ZoneRef> {
    desired
        .buckets
        .iter()
        .flat_map(|b| b.config.custom_domains.iter().flatten())
        .map(|d| d.zone.clone())
        .collect()
}

/// Look up (or take from the cache) every zone the file names.
pub async fn lookup<R: ReadApi>(
    api: &R,
    desired: &Desired,
    cache: Option<(&mut ZoneCache, Instant)>,
) -> Result<BTreeMap<ZoneRef, ZoneLookup>, ApiError> {
    let wanted = wanted(desired);
    let to_look: Vec<ZoneRef> = match &cache {
        None => wanted.iter().cloned().collect(),
        Some((c, now)) => c.due(&wanted, *now),
    };
    let answers: BTreeMap<ZoneRef, ZoneLookup> = futures::stream::iter(to_look)
        .map(|z| async move {
            let found = api.lookup_zone(&z).await?;
            Ok::<_, ApiError>((z, found))
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let Some((cache, now)) = cache else {
        return Ok(answers);
    };
    cache.retain(&wanted);
    cache.record(&answers, now, desired.settings.config_resync);
    Ok(wanted
        .into_iter()
        .filter_map(|z| {
            let found = answers.get(&z).cloned().or_else(|| cache.get(&z))?;
            Some((z, found))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::custom_domain::ZoneKind;

    fn zone(name: &str) -> Zone {
        Zone {
            id: format!("id-{name}"),
            name: name.into(),
            account_id: "acct".into(),
            kind: ZoneKind::Full,
        }
    }

    #[test]
    fn a_found_zone_is_kept_for_config_resync_and_a_missing_one_is_asked_again() {
        let hour = Duration::from_secs(3600);
        let t0 = Instant::now();
        let (a, b) = (
            ZoneRef::Name("example.com".into()),
            ZoneRef::Name("new.example".into()),
        );
        let wanted = BTreeSet::from([a.clone(), b.clone()]);
        let mut cache = ZoneCache::default();
        assert_eq!(cache.due(&wanted, t0).len(), 2, "nothing cached yet");
        cache.record(
            &BTreeMap::from([
                (a.clone(), ZoneLookup::Found(zone("example.com"))),
                (b.clone(), ZoneLookup::NotFound),
            ]),
            t0,
            hour,
        );
        let t = t0 + Duration::from_secs(600);
        assert_eq!(
            cache.due(&wanted, t),
            std::slice::from_ref(&b),
            "only the missing one"
        );
        assert_eq!(cache.due(&wanted, t0 + hour), [a.clone(), b.clone()]);
        cache.record(
            &BTreeMap::from([(a.clone(), ZoneLookup::NotFound)]),
            t,
            hour,
        );
        assert_eq!(cache.due(&wanted, t).len(), 2, "a zone gone is forgotten");
    }
}
