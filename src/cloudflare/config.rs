//! Where the client's settings come from: flags, environment and the desired-state file.
//! The token is read (the daemon re-reads it every pass, so a rotated file needs no
//! restart), trimmed, and held only as a `TokenValue`; the read buffer is zeroized.
//! Must not print the token or any byte of its file: errors give the path and counts only.

use std::net::IpAddr;
use std::time::Duration;

use crate::cli::{ConnectArgs, TokenOwnerArg};
use crate::config::Owner;
use crate::secret::{SecretFileError, TokenValue, read_token_file};

/// How errors and warnings name `--api-token-file`.
pub const API_TOKEN_FILE: &str = "the API token file";

pub struct ClientConfig {
    pub api_url: String,
    pub api_token: TokenValue,
    /// Which family the daemon's own token belongs to (decides the verify endpoint).
    pub token_owner: Owner,
    pub account_id: String,
    /// Where the account id came from, for hints: `account_id in the file` or
    /// `--account-id / CLOUDFLARE_ACCOUNT_ID`.
    pub account_source: &'static str,
    /// At most this many requests per window (Cloudflare allows 1,200 per 300 s).
    pub budget: (u32, Duration),
    pub concurrency: usize,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries after the first attempt, for transient failures only.
    pub max_retries: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no Cloudflare API token: set CLOUDFLARE_API_TOKEN or pass --api-token-file")]
    NoToken,
    #[error(transparent)]
    TokenFile(#[from] SecretFileError),
    #[error(
        "--api-url: plain http to '{host}', which is not a loopback address, would send the API token in clear\n  hint: use https://, or pass --insecure-http if the path to that host is trusted"
    )]
    InsecureApiUrl { host: String },
    #[error(
        "--api-url '{0}': expected an https:// URL such as https://api.cloudflare.com/client/v4"
    )]
    BadApiUrl(String),
    #[error(
        "no Cloudflare account id: set account_id in the file, or pass --account-id (or CLOUDFLARE_ACCOUNT_ID)"
    )]
    NoAccount,
    #[error("--account-id / CLOUDFLARE_ACCOUNT_ID '{0}' is not 32 lowercase hex characters")]
    BadAccount(String),
    #[error("--request-budget '{0}': expected REQUESTS/SECONDS, e.g. 1000/300")]
    BadBudget(String),
}

impl ClientConfig {
    /// A config with the defaults the CLI uses: a budget of 1,000 requests per 300 s
    /// (Cloudflare allows 1,200), 4 calls in flight, 10 s to connect, 30 s per request, 3
    /// retries of transient failures.
    pub fn new(
        api_url: impl Into<String>,
        api_token: TokenValue,
        token_owner: Owner,
        account_id: impl Into<String>,
    ) -> Self {
        ClientConfig {
            api_url: api_url.into().trim_end_matches('/').to_string(),
            api_token,
            token_owner,
            account_id: account_id.into(),
            account_source: "the caller",
            budget: (1000, Duration::from_secs(300)),
            concurrency: 4,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
        }
    }

    /// Flags first, then the environment: `--api-token-file` or `CLOUDFLARE_API_TOKEN`;
    /// the file's `account_id`, else `--account-id` or `CLOUDFLARE_ACCOUNT_ID`.
    pub fn from_args(
        args: &ConnectArgs,
        account_id_from_file: Option<&str>,
    ) -> Result<Self, ConfigError> {
        Self::from_parts(
            args,
            account_id_from_file,
            std::env::var("CLOUDFLARE_API_TOKEN").ok(),
            args.account_id.clone(),
        )
    }

    fn from_parts(
        args: &ConnectArgs,
        account_id_from_file: Option<&str>,
        env_token: Option<String>,
        env_account: Option<String>,
    ) -> Result<Self, ConfigError> {
        check_api_url(&args.api_url, args.insecure_http)?;
        let api_token = match &args.api_token_file {
            Some(path) => read_token_file(API_TOKEN_FILE, path)?,
            None => match env_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                Some(t) => TokenValue::new(t.to_string()),
                None => return Err(ConfigError::NoToken),
            },
        };
        let (account_id, account_source) = match account_id_from_file {
            Some(a) => (a.to_string(), "account_id in the file"),
            None => {
                let a = env_account
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .ok_or(ConfigError::NoAccount)?;
                if a.len() != 32
                    || !a
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(ConfigError::BadAccount(a));
                }
                (a, "--account-id / CLOUDFLARE_ACCOUNT_ID")
            }
        };
        let owner = match args.api_token_owner {
            TokenOwnerArg::Account => Owner::Account,
            TokenOwnerArg::User => Owner::User,
        };
        Ok(ClientConfig {
            budget: parse_budget(&args.request_budget)?,
            concurrency: args.concurrency.max(1),
            account_source,
            ..ClientConfig::new(args.api_url.as_str(), api_token, owner, account_id)
        })
    }
}

/// What a command checks once at start, before anything else: the API URL, and that the
/// token can be read (a token file with several lines fails here, not at the first pass).
/// Logs a warning for a token file others can read and for `--insecure-http`.
pub fn preflight(args: &ConnectArgs) -> Result<(), ConfigError> {
    check_api_url(&args.api_url, args.insecure_http)?;
    if let Some(path) = &args.api_token_file {
        drop(read_token_file(API_TOKEN_FILE, path)?);
    }
    warn_at_start(args);
    Ok(())
}

fn warn_at_start(args: &ConnectArgs) {
    if let Some(path) = &args.api_token_file {
        crate::secret::warn_if_exposed(API_TOKEN_FILE, path);
    }
    if args.insecure_http && args.api_url.starts_with("http://") {
        tracing::warn!("--insecure-http: the API token is sent in clear over plain http");
    }
}

/// `https://` anywhere; `http://` only to a loopback host unless `insecure_http`: the
/// bearer token would otherwise cross the network in clear.
pub fn check_api_url(url: &str, insecure_http: bool) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| ConfigError::BadApiUrl(url.to_string()))?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if !host.is_empty() => {
            // The URL parser has already normalised IPv4 forms such as `127.1`.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback || insecure_http {
                Ok(())
            } else {
                Err(ConfigError::InsecureApiUrl {
                    host: host.to_string(),
                })
            }
        }
        _ => Err(ConfigError::BadApiUrl(url.to_string())),
    }
}

pub fn parse_budget(s: &str) -> Result<(u32, Duration), ConfigError> {
    let bad = || ConfigError::BadBudget(s.to_string());
    let (n, secs) = s.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let secs: u64 = secs
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| bad())?;
    if n == 0 || secs == 0 {
        return Err(bad());
    }
    Ok((n, Duration::from_secs(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        api: ConnectArgs,
    }

    fn args(extra: &[&str]) -> ConnectArgs {
        let mut argv = vec!["t"];
        argv.extend_from_slice(extra);
        T::try_parse_from(argv).unwrap().api
    }

    #[test]
    fn the_token_comes_from_the_file_trimmed_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  from-file\n").unwrap();
        let a = args(&["--api-token-file", file.to_str().unwrap()]);
        let c = ClientConfig::from_parts(&a, Some("acct"), Some("from-env".into()), None).unwrap();
        assert_eq!(c.api_token.expose(), "from-file");
        let c = ClientConfig::from_parts(&args(&[]), Some("acct"), Some(" from-env ".into()), None)
            .unwrap();
        assert_eq!(c.api_token.expose(), "from-env");
        assert!(matches!(
            ClientConfig::from_parts(&args(&[]), Some("acct"), None, None),
            Err(ConfigError::NoToken)
        ));
    }

    #[test]
    fn the_account_comes_from_the_file_else_the_environment() {
        let acct = "023e105f4ecef8ad9ca31a8372d0c353".to_string();
        let c = ClientConfig::from_parts(&args(&[]), None, Some("t".into()), Some(acct.clone()))
            .unwrap();
        assert_eq!(c.account_id, acct);
        assert!(matches!(
            ClientConfig::from_parts(&args(&[]), None, Some("t".into()), None),
            Err(ConfigError::NoAccount)
        ));
        assert!(matches!(
            ClientConfig::from_parts(&args(&[]), None, Some("t".into()), Some("XYZ".into())),
            Err(ConfigError::BadAccount(_))
        ));
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_or_insecure_http() {
        let cases = [
            ("https://api.cloudflare.com/client/v4", false, true),
            ("http://127.0.0.1:8080/client/v4", false, true),
            ("http://127.1:8080/client/v4", false, true),
            ("http://localhost:8080", false, true),
            ("http://[::1]:8080", false, true),
            ("http://api.example.com/client/v4", false, false),
            ("http://0.0.0.0:8080", false, false),
            ("http://10.0.0.1", false, false),
            ("http://api.example.com/client/v4", true, true),
            ("ftp://api.example.com", true, false),
            ("api.cloudflare.com", false, false),
        ];
        for (url, insecure, ok) in cases {
            assert_eq!(check_api_url(url, insecure).is_ok(), ok, "{url} {insecure}");
        }
        let msg = check_api_url("http://api.example.com/x", false)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("'api.example.com'"), "{msg}");
        assert!(msg.contains("--insecure-http"), "{msg}");
    }

    #[test]
    fn budgets_parse_as_requests_per_seconds() {
        assert_eq!(
            parse_budget("1000/300").unwrap(),
            (1000, Duration::from_secs(300))
        );
        assert_eq!(parse_budget("10/5s").unwrap(), (10, Duration::from_secs(5)));
        for bad in ["", "1000", "0/300", "a/b", "10/0"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }
}
