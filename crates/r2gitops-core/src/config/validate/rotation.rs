//! Rotation with overlap: `settings.rotation_overlap` and each token's own, how long a new
//! token may take to prove itself (`settings.readiness_timeout`), and the daemon's token
//! status poll (`settings.token_watch`), whose floor the file cannot lower and whose cost
//! is bounded by `cost::token_watch_floor`.

use super::*;
pub use crate::config::model::{
    DEFAULT_READINESS_TIMEOUT, DEFAULT_ROTATION_OVERLAP, DEFAULT_TOKEN_WATCH,
    MAX_READINESS_TIMEOUT, MAX_ROTATION_OVERLAP, MIN_READINESS_TIMEOUT, MIN_TOKEN_WATCH,
};

/// A declared overlap: `0`, or a duration of at most 30d.
pub(super) fn overlap(c: &mut Collector, raw: &Sp<String>, path: &str) -> Option<Duration> {
    let text = raw.value.trim();
    let d = if text == "0" {
        Some(Duration::ZERO)
    } else {
        parse_duration(text)
    };
    match d {
        Some(d) if d > MAX_ROTATION_OVERLAP => {
            c.hint(
                raw,
                path,
                format!(
                    "rotation_overlap {} is longer than 30d",
                    sanitize(&clip(text))
                ),
                "the old key is deleted when the overlap ends; consumers need minutes to hours to re-read a file, not months",
            );
            None
        }
        Some(d) => Some(d),
        None => {
            c.hint(
                raw,
                path,
                format!("'{}' is not a duration", sanitize(&clip(text))),
                "0, or a number and a unit: s, m, h or d (e.g. 1h, 24h)",
            );
            None
        }
    }
}

/// A declared duration between `min` and `max` (either may be absent), else `default`.
pub(super) fn bounded(
    c: &mut Collector,
    raw: Option<&Sp<String>>,
    path: &str,
    default: Duration,
    (min, max): (Duration, Option<Duration>),
    why: &str,
) -> Duration {
    let Some(raw) = raw else {
        return default;
    };
    let text = raw.value.trim();
    let key = path.rsplit('.').next().unwrap_or(path);
    match parse_duration(text) {
        Some(d) if d < min => {
            c.hint(
                raw,
                path,
                format!(
                    "{key} {} is shorter than {}",
                    sanitize(&clip(text)),
                    short_duration(min)
                ),
                why,
            );
            default
        }
        Some(d) if max.is_some_and(|m| d > m) => {
            c.hint(
                raw,
                path,
                format!(
                    "{key} {} is longer than {}",
                    sanitize(&clip(text)),
                    short_duration(max.unwrap_or_default())
                ),
                why,
            );
            default
        }
        Some(d) => d,
        None => {
            c.hint(
                raw,
                path,
                format!("'{}' is not a duration", sanitize(&clip(text))),
                "a number and a unit: s, m, h or d (e.g. 60s, 1m)",
            );
            default
        }
    }
}

/// A token's overlap: its own, else the settings', else the default (half of
/// `rotate_every` where the default would not be shorter). A declared overlap must be
/// shorter than `rotate_every`; an overlap of 0 with `rotate_every` is warned about.
pub(super) fn token_overlap(
    c: &mut Collector,
    t: &RawToken,
    rotate_every: Option<Duration>,
    settings: &Settings,
    here: &str,
) -> Duration {
    let path = format!("{here}.rotation_overlap");
    let own = t
        .rotation_overlap
        .as_ref()
        .map(|raw| (raw, overlap(c, raw, &path)));
    let resolved = match (&own, settings.rotation_overlap) {
        (Some((_, Some(d))), _) => *d,
        // Reported already; a roll in place is never what an error leaves behind.
        (Some((_, None)), _) => DEFAULT_ROTATION_OVERLAP,
        (None, Some(d)) => d,
        (None, None) => match rotate_every {
            Some(every) if every <= DEFAULT_ROTATION_OVERLAP => every / 2,
            _ => DEFAULT_ROTATION_OVERLAP,
        },
    };
    let (Some(every), Some(rotate_sp)) = (rotate_every, t.rotate_every.as_ref()) else {
        return resolved;
    };
    let declared = match &own {
        Some((raw, Some(_))) => Some((*raw, path.clone(), "rotation_overlap")),
        Some((_, None)) => None,
        None => settings.rotation_overlap.map(|_| {
            (
                rotate_sp,
                format!("{here}.rotate_every"),
                "settings.rotation_overlap",
            )
        }),
    };
    if let Some((at, path, what)) = declared {
        if resolved >= every {
            c.hint(
                at,
                &path,
                format!(
                    "{what} {} is not shorter than rotate_every {}",
                    short_duration(resolved),
                    short_duration(every)
                ),
                "the old key must be retired before the next rotation is due: shorten the overlap, or rotate less often",
            );
        } else if resolved.is_zero() {
            c.warn(
                at,
                &path,
                format!(
                    "{what} 0 with rotate_every: each rotation cuts consumers off until they re-read the file"
                ),
                "a rotation_overlap such as 1h keeps the old key working while consumers pick up the new file",
            );
        }
    }
    resolved
}

/// `token_watch` is raised to what 5% of Cloudflare's limit pays for when listing the
/// declared tokens' pages (`cost::token_watch_floor`); a declared value that is raised
/// gets a warning. The daemon stretches it further when the account holds more tokens.
pub(super) fn token_watch_floor(
    c: &mut Collector,
    raw: &RawDoc,
    settings: &mut Settings,
    tokens: &[TokenSpec],
) {
    use super::super::cost;
    let pages = cost::token_pages(tokens);
    let floor = cost::token_watch_floor(pages);
    if settings.token_watch >= floor {
        return;
    }
    if let Some(r) = raw
        .settings
        .as_ref()
        .and_then(|s| s.value.token_watch.as_ref())
    {
        c.warn(
            r,
            "settings.token_watch",
            format!(
                "token_watch {} is raised to {}: listing {pages} pages of tokens more often would spend more than 5% of Cloudflare's 1,200 calls per 5 minutes",
                sanitize(&clip(r.value.trim())),
                short_duration(floor)
            ),
            "the daemon polls token status at most this often; a full pass still sees every token",
        );
    }
    settings.token_watch = floor;
}
