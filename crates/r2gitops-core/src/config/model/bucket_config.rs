//! The validated configuration blocks of a bucket. `None` for a block means the
//! file does not manage it: r2gitops never reads nor writes it. `Some(list)` is the whole
//! configuration, `Some([])` included. Values here passed validation; ages keep the unit
//! the file used, so that a plan can show them that way.

use time::OffsetDateTime;

/// Cloudflare's lifecycle rule on every new bucket: abort incomplete multipart uploads
/// after 7 days, whole bucket (https://developers.cloudflare.com/r2/buckets/object-lifecycles/).
pub const DEFAULT_LIFECYCLE_RULE_ID: &str = "Default Multipart Abort Rule";
pub const DEFAULT_LIFECYCLE_RULE_ABORT_SECS: u64 = 7 * 86_400;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BucketConfig {
    pub cors: Option<Vec<CorsRule>>,
    pub lifecycle: Option<Vec<LifecycleRule>>,
    pub lock: Option<Vec<LockRule>>,
    /// Public access through the bucket's r2.dev domain.
    pub public_dev_url: Option<bool>,
    /// Hostnames on the account's zones that serve the bucket.
    pub custom_domains: Option<Vec<super::CustomDomain>>,
    /// Event notification rules, for every queue.
    pub notifications: Option<Vec<super::Notification>>,
}

impl BucketConfig {
    /// Whether each block is declared: the one list of the blocks here.
    fn declared(&self) -> [bool; 6] {
        [
            self.cors.is_some(),
            self.lifecycle.is_some(),
            self.lock.is_some(),
            self.public_dev_url.is_some(),
            self.custom_domains.is_some(),
            self.notifications.is_some(),
        ]
    }

    /// Whether the file manages any block of this bucket (only then is anything read).
    pub fn manages_any(&self) -> bool {
        self.declared().contains(&true)
    }

    /// How many blocks the file declares: one GET each when the bucket is read.
    pub fn declared_blocks(&self) -> usize {
        self.declared().into_iter().filter(|d| *d).count()
    }
}

/// A duration as the file wrote it: its seconds (what Cloudflare counts and what is
/// compared) and its unit (`s`, `m`, `h` or `d`, for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age {
    pub secs: u64,
    pub unit: char,
}

impl Age {
    /// `secs` shown in `unit` when it divides evenly, else in the largest unit that does.
    pub fn show(secs: u64, unit: char) -> String {
        let size = |u: char| match u {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            _ => 1,
        };
        let unit = if secs.is_multiple_of(size(unit)) {
            unit
        } else {
            ['d', 'h', 'm', 's']
                .into_iter()
                .find(|u| secs.is_multiple_of(size(*u)))
                .unwrap_or('s')
        };
        format!("{}{unit}", secs / size(unit))
    }
}

impl std::fmt::Display for Age {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Age::show(self.secs, self.unit))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CorsMethod {
    Get,
    Put,
    Post,
    Delete,
    Head,
}

impl CorsMethod {
    pub const ALL: [CorsMethod; 5] = [
        CorsMethod::Get,
        CorsMethod::Put,
        CorsMethod::Post,
        CorsMethod::Delete,
        CorsMethod::Head,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CorsMethod::Get => "GET",
            CorsMethod::Put => "PUT",
            CorsMethod::Post => "POST",
            CorsMethod::Delete => "DELETE",
            CorsMethod::Head => "HEAD",
        }
    }

    /// Any case: Cloudflare's answers are compared case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CorsRule {
    pub id: Option<String>,
    /// `scheme://host[:port]` or `*`, as written.
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<CorsMethod>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    /// At most one day.
    pub max_age: Option<Age>,
}

/// When a lifecycle transition applies: an age after upload, or a date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    After(Age),
    On(OffsetDateTime),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleRule {
    pub id: String,
    /// "" is the whole bucket.
    pub prefix: String,
    pub enabled: bool,
    pub expire: Option<When>,
    pub transition_to_infrequent_access: Option<When>,
    pub abort_multipart_after: Option<Age>,
}

/// How long a lock rule retains the objects it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retention {
    For(Age),
    Until(OffsetDateTime),
    Indefinite,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LockRule {
    pub id: String,
    /// "" is the whole bucket.
    pub prefix: String,
    pub enabled: bool,
    pub retention: Retention,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_age_is_shown_in_the_files_unit_when_it_divides_else_the_largest_that_does() {
        for (secs, unit, want) in [
            (604_800, 'd', "7d"),
            (604_800, 'h', "168h"),
            (259_200, 'd', "3d"),
            (90_000, 'd', "25h"),
            (61, 'm', "61s"),
            (0, 'd', "0d"),
        ] {
            assert_eq!(Age::show(secs, unit), want, "{secs} {unit}");
        }
    }

    #[test]
    fn methods_parse_in_any_case() {
        assert_eq!(CorsMethod::parse("get"), Some(CorsMethod::Get));
        assert_eq!(CorsMethod::parse(" Delete "), Some(CorsMethod::Delete));
        assert_eq!(CorsMethod::parse("PATCH"), None);
    }
}
