//! Where the client's settings come from: the plain `Connection` the command layer builds
//! from its flags (`args::ConnectArgs`), the environment and the desired-state file. The
//! token is read (the daemon re-reads it every pass, so a rotated file needs no restart),
//! trimmed, and held only as a `TokenValue`; the read buffer is zeroized. Knows no CLI
//! types. Must not print the token or any byte of its file: errors give the path and
//! counts only.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Owner;
use crate::secret::{SecretFileError, TokenValue, read_token_file};

/// How errors and warnings name `--api-token-file`.
pub const API_TOKEN_FILE: &str = "the API token file";

/// How to reach Cloudflare, as plain values (the command layer fills it from its flags).
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub api_url: String,
    /// Plain `http://` allowed to a host that is not loopback.
    pub insecure_http: bool,
    /// Where the API token is read from; `None`: the environment's.
    pub api_token_file: Option<PathBuf>,
    /// The account when the file names none (`--account-id`, `CLOUDFLARE_ACCOUNT_ID`).
    pub account_id: Option<String>,
    pub token_owner: Owner,
    /// `REQUESTS/SECONDS`.
    pub request_budget: String,
    pub concurrency: usize,
}

impl Connection {
    /// The command line's defaults: Cloudflare's API, an account token, 1,000 requests per
    /// 300 s, 4 calls in flight.
    pub fn new(api_url: impl Into<String>) -> Self {
        Connection {
            api_url: api_url.into(),
            insecure_http: false,
            api_token_file: None,
            account_id: None,
            token_owner: Owner::Account,
            request_budget: "1000/300".into(),
            concurrency: 4,
        }
    }
}

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

    /// `conn` first, then the environment: its `api_token_file`, else `env_token`
    /// (`CLOUDFLARE_API_TOKEN`); the file's `account_id`, else `conn.account_id`.
    pub fn from_connection(
        conn: &Connection,
        account_id_from_file: Option<&str>,
        env_token: Option<String>,
    ) -> Result<Self, ConfigError> {
        check_api_url(&conn.api_url, conn.insecure_http)?;
        let api_token = match &conn.api_token_file {
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
                let a = conn
                    .account_id
                    .as_deref()
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
        Ok(ClientConfig {
            budget: parse_budget(&conn.request_budget)?,
            concurrency: conn.concurrency.max(1),
            account_source,
            ..ClientConfig::new(
                conn.api_url.as_str(),
                api_token,
                conn.token_owner,
                account_id,
            )
        })
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
mod tests;
