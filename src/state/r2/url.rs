//! `r2://BUCKET/KEY`, the location of a shared inventory (`--state`, `R2GITOPS_STATE`):
//! parsing and the keys it implies (`KEY.lease`). Pure.

use std::fmt;

/// A parsed `r2://BUCKET/KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUrl {
    pub bucket: String,
    pub key: String,
}

/// Why a `--state` value is not an `r2://` URL we accept; it names the rule, and the value
/// is quoted by the caller (it holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadUrl(&'static str);

impl StateUrl {
    /// `None` when `s` is not an `r2://` URL at all (then it is a path).
    pub fn parse(s: &str) -> Option<Result<StateUrl, BadUrl>> {
        let rest = s.strip_prefix("r2://")?;
        Some(Self::parse_rest(rest))
    }

    fn parse_rest(rest: &str) -> Result<StateUrl, BadUrl> {
        let (bucket, key) = rest
            .split_once('/')
            .ok_or(BadUrl("expected r2://BUCKET/KEY"))?;
        // R2's bucket names: 3-63 of a-z, 0-9 and '-', starting and ending alphanumeric.
        let ok_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !bucket.starts_with('-')
            && !bucket.ends_with('-');
        if !ok_bucket {
            return Err(BadUrl(
                "the bucket must be an R2 bucket name (3-63 of a-z, 0-9 and '-')",
            ));
        }
        if key.is_empty() || key.ends_with('/') || key.starts_with('/') {
            return Err(BadUrl(
                "the key must name an object (not empty, no leading or trailing '/')",
            ));
        }
        // S3 allows 1024 bytes; the lease key adds 6.
        if key.len() > 1000
            || key.chars().any(char::is_control)
            || key.contains('?')
            || key.contains('#')
        {
            return Err(BadUrl(
                "the key must be at most 1000 bytes, without control characters, '?' or '#'",
            ));
        }
        if key.split('/').any(|c| c == "." || c == "..") {
            return Err(BadUrl("the key must not have '.' or '..' components"));
        }
        Ok(StateUrl {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The lease object beside the inventory.
    pub fn lease_key(&self) -> String {
        format!("{}.lease", self.key)
    }
}

impl fmt::Display for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r2://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_urls() {
        let ok = [
            ("r2://state/r2gitops.json", "state", "r2gitops.json"),
            (
                "r2://team-state-1/prod/inventory.json",
                "team-state-1",
                "prod/inventory.json",
            ),
        ];
        for (s, bucket, key) in ok {
            let u = StateUrl::parse(s).unwrap().unwrap();
            assert_eq!((u.bucket.as_str(), u.key.as_str()), (bucket, key));
            assert_eq!(u.to_string(), s);
            assert_eq!(u.lease_key(), format!("{key}.lease"));
        }
        assert_eq!(StateUrl::parse("/var/lib/r2gitops/state.json"), None);
        assert_eq!(StateUrl::parse("s3://b/k"), None);
        let bad = [
            "r2://",
            "r2://state",
            "r2://state/",
            "r2://st/k",
            "r2://State/k",
            "r2://-state/k",
            "r2://state//k",
            "r2://state/dir/",
            "r2://state/a/../b",
            "r2://state/k?x=1",
            "r2://state/k\n",
        ];
        for s in bad {
            assert!(StateUrl::parse(s).unwrap().is_err(), "{s:?}");
        }
    }
}
