//! The S3 endpoint of each R2 jurisdiction, and the overrides that point it at an emulator
//! or a test server (`--s3-endpoint JURISDICTION=URL`, `R2GITOPS_S3_ENDPOINTS`).
//!
//! Pure parsing and formatting: it reads no environment itself (the caller passes the
//! variable's value) and sends nothing.

use std::collections::BTreeMap;

use crate::config::Jurisdiction;

use super::SecretsError;

/// Where each jurisdiction's S3 API lives. Without overrides: Cloudflare's public hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Endpoints {
    overrides: BTreeMap<Jurisdiction, String>,
}

impl S3Endpoints {
    /// From the repeatable `--s3-endpoint` flag values and the `R2GITOPS_S3_ENDPOINTS`
    /// value (comma-separated `JURISDICTION=URL` pairs). Flags win over the variable for
    /// the jurisdictions they name. The error names the offending pair.
    pub fn from_args(flags: &[String], env: Option<&str>) -> Result<Self, SecretsError> {
        let mut overrides = BTreeMap::new();
        let env_pairs = env
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty());
        for pair in env_pairs.chain(flags.iter().map(|f| f.trim())) {
            let (j, url) = parse_pair(pair)?;
            overrides.insert(j, url);
        }
        Ok(S3Endpoints { overrides })
    }

    /// The S3 endpoint URL (no trailing slash) for `account_id` in `j`.
    pub fn url(&self, account_id: &str, j: Jurisdiction) -> String {
        if let Some(url) = self.overrides.get(&j) {
            return url.clone();
        }
        match j {
            Jurisdiction::Default => format!("https://{account_id}.r2.cloudflarestorage.com"),
            other => format!(
                "https://{account_id}.{}.r2.cloudflarestorage.com",
                other.as_str()
            ),
        }
    }
}

fn parse_pair(pair: &str) -> Result<(Jurisdiction, String), SecretsError> {
    let bad = |reason: &str| SecretsError::EndpointOverride {
        pair: pair.to_owned(),
        reason: reason.to_owned(),
    };
    let (j, url) = pair
        .split_once('=')
        .ok_or_else(|| bad("expected JURISDICTION=URL"))?;
    let j = Jurisdiction::parse(j.trim())
        .ok_or_else(|| bad("unknown jurisdiction (expected default, eu, fedramp or us)"))?;
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "http" || *s == "https")
        .ok_or_else(|| bad("the URL must start with http:// or https://"))?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(bad(
            "the URL must be a scheme and host[:port] only (path-style requests add the bucket)",
        ));
    }
    Ok((j, format!("{scheme}://{rest}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn default_endpoints_follow_cloudflare_hostnames() {
        let e = S3Endpoints::default();
        let cases = [
            (
                Jurisdiction::Default,
                "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
            ),
            (
                Jurisdiction::Eu,
                "https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com",
            ),
            (
                Jurisdiction::Fedramp,
                "https://0123456789abcdef0123456789abcdef.fedramp.r2.cloudflarestorage.com",
            ),
            (
                Jurisdiction::Us,
                "https://0123456789abcdef0123456789abcdef.us.r2.cloudflarestorage.com",
            ),
        ];
        for (j, want) in cases {
            assert_eq!(e.url(ACCOUNT, j), want, "{j:?}");
        }
    }

    #[test]
    fn overrides_come_from_flags_and_env_and_flags_win() {
        let e = S3Endpoints::from_args(
            &["eu=http://127.0.0.1:9001/".to_owned()],
            Some(" default=http://127.0.0.1:9000 , eu=http://ignored:1,"),
        )
        .unwrap();
        assert_eq!(
            e.url(ACCOUNT, Jurisdiction::Default),
            "http://127.0.0.1:9000"
        );
        assert_eq!(e.url(ACCOUNT, Jurisdiction::Eu), "http://127.0.0.1:9001");
        assert_eq!(
            e.url(ACCOUNT, Jurisdiction::Us),
            "https://0123456789abcdef0123456789abcdef.us.r2.cloudflarestorage.com"
        );
    }

    #[test]
    fn a_bad_pair_is_named_in_the_error() {
        let cases: [(&[&str], Option<&str>, &str, &str); 6] = [
            (&["eu"], None, "eu", "JURISDICTION=URL"),
            (
                &["mars=http://x"],
                None,
                "mars=http://x",
                "unknown jurisdiction",
            ),
            (&["eu=ftp://x"], None, "eu=ftp://x", "http://"),
            (&["eu=http://"], None, "eu=http://", "host"),
            (&["eu=http://h/bucket"], None, "eu=http://h/bucket", "host"),
            (&[], Some("default=http://a,us"), "us", "JURISDICTION=URL"),
        ];
        for (flags, env, pair, reason) in cases {
            let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            let err = S3Endpoints::from_args(&flags, env).unwrap_err().to_string();
            assert!(err.contains(&format!("'{pair}'")), "{err}");
            assert!(err.contains(reason), "{err}");
        }
    }
}
