//! The validated `temporary_credentials:` entries. Every value here has passed
//! `validate::temporary`; plan, apply and secrets trust it.

use std::time::Duration;

use super::{Access, Jurisdiction, OutputSpec};

/// Cloudflare's bounds on `ttlSeconds` (2024 OpenAPI and the 2026 SDKs: maximum 604800,
/// no minimum declared).
pub const MAX_TEMPORARY_TTL: Duration = Duration::from_secs(604_800);

/// r2gitops' own floor: Cloudflare declares none, and a credential renewed every few
/// seconds would only churn passes and files.
pub const MIN_TEMPORARY_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub struct TemporarySpec {
    pub name: String,
    /// The declared name of the parent token.
    pub parent: String,
    /// The bucket's declared jurisdiction, else the parent's: decides the S3 endpoint.
    pub jurisdiction: Jurisdiction,
    pub scope: TemporaryScope,
    /// Renewal happens this long before expiry; less than `scope.ttl`.
    pub refresh_before: Duration,
    pub output: OutputSpec,
}

/// What a credential is issued for. The inventory records it at issue; a declaration that
/// differs means a new credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryScope {
    pub bucket: String,
    pub access: Access,
    /// Sorted, without duplicates; empty with `objects` empty means the whole bucket.
    pub prefixes: Vec<String>,
    pub objects: Vec<String>,
    /// Whole seconds, within `MIN_TEMPORARY_TTL..=MAX_TEMPORARY_TTL`.
    pub ttl: Duration,
}

impl TemporaryScope {
    /// The API's name of the access (`permission` of `POST .../temp-access-credentials`).
    pub fn permission(&self) -> &'static str {
        permission(self.access)
    }

    /// `media-uploads/inbound/partner-a/`, `media-uploads/{a/,b.json}`, or `media-uploads`
    /// for the whole bucket.
    pub fn target(&self) -> String {
        let paths: Vec<&str> = self
            .prefixes
            .iter()
            .chain(&self.objects)
            .map(String::as_str)
            .collect();
        match paths.as_slice() {
            [] => self.bucket.clone(),
            [one] => format!("{}/{one}", self.bucket),
            many => format!("{}/{{{}}}", self.bucket, many.join(",")),
        }
    }

    /// What changed from `self` (as issued) to `want` (as declared), for the plan.
    pub fn changes(&self, want: &TemporaryScope) -> Vec<String> {
        let mut out = Vec::new();
        if self.bucket != want.bucket {
            out.push(format!("bucket {} -> {}", self.bucket, want.bucket));
        }
        if self.access != want.access {
            out.push(format!(
                "access {} -> {}",
                self.access.as_str(),
                want.access.as_str()
            ));
        }
        for (what, have, wanted) in [
            ("prefixes", &self.prefixes, &want.prefixes),
            ("objects", &self.objects, &want.objects),
        ] {
            let mut parts: Vec<String> = wanted
                .iter()
                .filter(|p| !have.contains(p))
                .map(|p| format!("+{p}"))
                .collect();
            parts.extend(
                have.iter()
                    .filter(|p| !wanted.contains(p))
                    .map(|p| format!("-{p}")),
            );
            if !parts.is_empty() {
                out.push(format!("{what} {}", parts.join(" ")));
            }
        }
        if self.ttl != want.ttl {
            out.push(format!(
                "ttl {} -> {}",
                short_duration(self.ttl),
                short_duration(want.ttl)
            ));
        }
        out
    }
}

/// The API's permission names for the file's access levels.
pub fn permission(access: Access) -> &'static str {
    match access {
        Access::ObjectRead => "object-read-only",
        Access::ObjectReadWrite => "object-read-write",
        Access::AdminRead => "admin-read-only",
        Access::AdminReadWrite => "admin-read-write",
    }
}

/// Whether a parent with `parent` access may hand out `child`: never write without write,
/// never admin without admin (a temporary credential cannot exceed its parent).
pub fn access_covers(parent: Access, child: Access) -> bool {
    (parent.can_write() || !child.can_write()) && (parent.is_admin() || !child.is_admin())
}

/// A duration in its largest exact unit, as a file would write it: `12h`, `90m`, `7d`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s >= size && s.is_multiple_of(size) {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

/// How long until something happens, in at most two units: `7h`, `7h 12m`, `45s`, `2d 3h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let units = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)];
    let Some(first) = units.iter().position(|(_, size)| s >= *size) else {
        return "0s".into();
    };
    let (u1, s1) = units[first];
    let mut out = format!("{}{u1}", s / s1);
    if let Some((u2, s2)) = units.get(first + 1) {
        let rest = (s % s1) / s2;
        if rest > 0 {
            out.push_str(&format!(" {rest}{u2}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(prefixes: &[&str], objects: &[&str]) -> TemporaryScope {
        TemporaryScope {
            bucket: "media-uploads".into(),
            access: Access::ObjectReadWrite,
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            objects: objects.iter().map(|p| p.to_string()).collect(),
            ttl: Duration::from_secs(43_200),
        }
    }

    #[test]
    fn a_scope_reads_as_bucket_and_paths() {
        let cases = [
            (scope(&[], &[]), "media-uploads"),
            (
                scope(&["inbound/partner-a/"], &[]),
                "media-uploads/inbound/partner-a/",
            ),
            (scope(&[], &["x.json"]), "media-uploads/x.json"),
            (
                scope(&["a/", "b/"], &["c.json"]),
                "media-uploads/{a/,b/,c.json}",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(s.target(), want);
        }
    }

    #[test]
    fn only_what_the_parent_may_do_is_covered() {
        use Access::*;
        let all = [ObjectRead, ObjectReadWrite, AdminRead, AdminReadWrite];
        let covered = |p| all.iter().filter(|c| access_covers(p, **c)).count();
        assert_eq!(covered(ObjectRead), 1);
        assert!(access_covers(ObjectReadWrite, ObjectRead));
        assert!(!access_covers(ObjectReadWrite, AdminRead));
        assert!(access_covers(AdminRead, ObjectRead));
        assert!(!access_covers(AdminRead, ObjectReadWrite));
        assert_eq!(covered(AdminReadWrite), 4);
    }

    #[test]
    fn scope_changes_name_each_difference() {
        let have = scope(&["a/", "b/"], &[]);
        let mut want = scope(&["b/", "c/"], &["x"]);
        want.access = Access::ObjectRead;
        want.ttl = Duration::from_secs(3600);
        assert_eq!(
            have.changes(&want),
            [
                "access object-read-write -> object-read",
                "prefixes +c/ -a/",
                "objects +x",
                "ttl 12h -> 1h"
            ]
        );
        assert!(have.changes(&have).is_empty());
    }

    #[test]
    fn durations_read_as_a_file_writes_them_and_as_a_person_says_them() {
        for (secs, short, human) in [
            (43_200, "12h", "12h"),
            (90 * 60, "90m", "1h 30m"),
            (604_800, "7d", "7d"),
            (61, "61s", "1m 1s"),
            (25_920, "432m", "7h 12m"),
            (0, "0s", "0s"),
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(short_duration(d), short, "{secs}");
            assert_eq!(human_duration(d), human, "{secs}");
        }
    }
}
