//! Argument groups several commands share (the desired-state file, how to reach Cloudflare,
//! where outputs go, the operator's bounds), and what they turn into at the command layer:
//! the client's settings (`ConnectArgs::client_config`) and the checks a command makes once
//! at start (`ConnectArgs::preflight`). Each command's own argument struct lives in its
//! command's module; `cli` holds only `Cli` and `Command`. Must not import a command module
//! (they import this), nor `cli`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cloudflare::config::{API_TOKEN_FILE, ClientConfig, ConfigError, Connection};
use crate::config::Owner;
use crate::secret::read_token_file;

#[derive(Debug, Clone, Args)]
pub struct FileArg {
    /// The desired-state file.
    #[arg(short = 'f', long = "file", default_value = "r2gitops.yaml")]
    pub file: PathBuf,
}

/// The operator's policy: what the desired-state file may declare, in a file the file
/// cannot name or change. Never resolved from the desired-state file.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// The operator's policy (YAML, `version: 1`): every declaration outside it is a
    /// located error, and a file that violates it is refused whole. Kept outside the
    /// repository it judges.
    #[arg(long = "policy", env = "R2GITOPS_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Accept a --policy inside the desired-state file's repository (its committers could
    /// then change it; only for a repository whose own review guards the policy).
    #[arg(long, requires = "policy")]
    pub policy_in_repo: bool,
}

impl PolicyArgs {
    /// Read the policy, if one is given, for the desired-state file `file`.
    pub fn load(
        &self,
        file: &std::path::Path,
    ) -> Result<
        Option<std::sync::Arc<crate::config::policy::Policy>>,
        crate::config::policy::load::PolicyError,
    > {
        let Some(path) = &self.policy else {
            return Ok(None);
        };
        crate::config::policy::load::load(path, Some(file), self.policy_in_repo)
            .map(|p| Some(std::sync::Arc::new(p)))
    }
}

/// Bounds on what a committed file may make the daemon spend: the operator's, on the
/// command line, never the file's. `validate` takes them too, so that CI checks a file
/// against the daemon's own bounds.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// The shortest `ttl` a temporary credential may declare (at least 1m); renewals of
    /// one credential are at least a third of it apart (`ttl - refresh_before`).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_min_temporary_ttl)]
    pub min_temporary_ttl: crate::config::cost::OperatorLimits,
}

impl LimitArgs {
    pub fn operator(&self) -> crate::config::cost::OperatorLimits {
        self.min_temporary_ttl
    }
}

fn parse_min_temporary_ttl(s: &str) -> Result<crate::config::cost::OperatorLimits, String> {
    crate::config::cost::OperatorLimits::parse_min_temporary_ttl(s)
}

/// How to reach Cloudflare: every command that calls the API (`import` needs only this).
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Cloudflare API base URL.
    #[arg(
        long,
        env = "CLOUDFLARE_API_BASE_URL",
        default_value = "https://api.cloudflare.com/client/v4"
    )]
    pub api_url: String,
    /// Allow an `http://` --api-url to a host that is not loopback (the API token then
    /// travels in clear).
    #[arg(long)]
    pub insecure_http: bool,
    /// Read the API token from this file (its one non-empty line, trimmed) instead of
    /// CLOUDFLARE_API_TOKEN. `watch` re-reads it every pass.
    #[arg(long)]
    pub api_token_file: Option<PathBuf>,
    /// The Cloudflare account, when the file has no `account_id` (the file's wins).
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,
    /// Which family the API token r2gitops uses belongs to (decides the verify endpoint).
    #[arg(long, value_enum, default_value_t = TokenOwnerArg::Account)]
    pub api_token_owner: TokenOwnerArg,
    /// Client-side request budget, `REQUESTS/SECONDS` (Cloudflare allows 1200/300).
    #[arg(long, default_value = "1000/300")]
    pub request_budget: String,
    /// API calls in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

/// How to reach Cloudflare, and where outputs go; shared by `reconcile`, `watch` and
/// `adopt`. Its connection fields are read through `Deref` (`args.api.api_url`).
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// S3 endpoint override per jurisdiction, `JURISDICTION=URL` (repeatable; also
    /// R2GITOPS_S3_ENDPOINTS as comma-separated pairs).
    #[arg(long = "s3-endpoint", value_name = "JURISDICTION=URL")]
    pub s3_endpoints: Vec<String>,
    /// Overrides `settings.output_dir` (and so the default state file), e.g. a volume
    /// mounted at a path the git checkout does not know.
    #[arg(long, env = "R2GITOPS_OUTPUT_DIR")]
    pub output_dir: Option<PathBuf>,
    /// Adopt tokens named by `adopt:` without their value by issuing them a new key: their
    /// existing S3 keys stop working when the token's `rotation_overlap` ends (at once with
    /// 0). Only the operator can allow this (the file cannot).
    #[arg(long)]
    pub allow_adopt_roll: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// With --allow-adopt-roll: the most adopted tokens one pass may roll; a plan that
    /// would roll more is refused.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "allow_adopt_roll"
    )]
    pub max_adopt_rolls: u32,
    #[command(flatten)]
    pub publish: crate::publish::PublishArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl ApiArgs {
    /// What the operator allowed for `adopt:` without a value.
    pub fn adopt_rolls(&self) -> crate::config::AdoptRolls {
        if self.allow_adopt_roll {
            crate::config::AdoptRolls::Allowed {
                max: self.max_adopt_rolls,
            }
        } else {
            crate::config::AdoptRolls::Refused
        }
    }
}

impl std::ops::Deref for ApiArgs {
    type Target = ConnectArgs;
    fn deref(&self) -> &ConnectArgs {
        &self.connect
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenOwnerArg {
    Account,
    User,
}

impl ConnectArgs {
    /// The flags as the client's plain settings (clap has read the environment already).
    pub fn connection(&self) -> Connection {
        Connection {
            api_url: self.api_url.clone(),
            insecure_http: self.insecure_http,
            api_token_file: self.api_token_file.clone(),
            account_id: self.account_id.clone(),
            token_owner: match self.api_token_owner {
                TokenOwnerArg::Account => Owner::Account,
                TokenOwnerArg::User => Owner::User,
            },
            request_budget: self.request_budget.clone(),
            concurrency: self.concurrency,
        }
    }

    /// Flags first, then the environment: `--api-token-file` or `CLOUDFLARE_API_TOKEN`;
    /// the file's `account_id`, else `--account-id` or `CLOUDFLARE_ACCOUNT_ID`.
    pub fn client_config(
        &self,
        account_id_from_file: Option<&str>,
    ) -> Result<ClientConfig, ConfigError> {
        ClientConfig::from_connection(
            &self.connection(),
            account_id_from_file,
            std::env::var("CLOUDFLARE_API_TOKEN").ok(),
        )
    }

    /// What a command checks once at start, before anything else: the API URL, and that the
    /// token can be read (a token file with several lines fails here, not at the first pass).
    /// Logs a warning for a token file others can read and for `--insecure-http`.
    pub fn preflight(&self) -> Result<(), ConfigError> {
        crate::cloudflare::config::check_api_url(&self.api_url, self.insecure_http)?;
        if let Some(path) = &self.api_token_file {
            drop(read_token_file(API_TOKEN_FILE, path)?);
        }
        if let Some(path) = &self.api_token_file {
            crate::secret::warn_if_exposed(API_TOKEN_FILE, path);
        }
        if self.insecure_http && self.api_url.starts_with("http://") {
            tracing::warn!("--insecure-http: the API token is sent in clear over plain http");
        }
        Ok(())
    }
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
    fn minted_state_credentials_live_between_15s_and_the_apis_7d() {
        for (text, want) in [
            ("15s", Ok(15)),
            ("1h", Ok(3600)),
            ("7d", Ok(604_800)),
            ("14s", Err("between 15s and 7d")),
            ("8d", Err("between 15s and 7d")),
            ("1x", Err("a duration such as 15m or 1h")),
        ] {
            assert_eq!(
                parse_state_credentials_ttl(text).map(|d| d.as_secs()),
                want.map_err(str::to_string),
                "{text}"
            );
        }
    }

    #[test]
    fn the_flags_become_the_clients_plain_settings() {
        let c = args(&[
            "--api-url",
            "http://127.0.0.1:1/client/v4",
            "--api-token-file",
            "/t",
            "--api-token-owner",
            "user",
            "--request-budget",
            "10/5",
            "--concurrency",
            "2",
        ])
        .connection();
        assert_eq!(c.api_url, "http://127.0.0.1:1/client/v4");
        assert_eq!(c.api_token_file, Some(PathBuf::from("/t")));
        assert_eq!(c.token_owner, Owner::User);
        assert_eq!((c.request_budget.as_str(), c.concurrency), ("10/5", 2));
        let d = args(&[]).connection();
        assert_eq!(
            (d.token_owner, d.request_budget.as_str()),
            (Owner::Account, "1000/300")
        );
    }
}

/// Where the inventory lives when it is not the local file: the operator's choice, never the
/// file's (a committer cannot name the state location).
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Keep the inventory, and the lease that makes one writer of it, in R2:
    /// `r2://BUCKET/KEY` (the lease is `KEY.lease`). Without it, the local
    /// `settings.state_file`.
    #[arg(long, env = "R2GITOPS_STATE", value_name = "r2://BUCKET/KEY")]
    pub state: Option<String>,
    /// The jurisdiction of the state bucket (`default`, `eu`, `fedramp`, `us`).
    #[arg(long, value_name = "J", default_value = "default", value_parser = parse_jurisdiction)]
    pub state_jurisdiction: crate::config::Jurisdiction,
    /// Where the state bucket's S3 credentials come from: `given` (AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, or --state-credentials-file), or
    /// `temporary`: r2gitops mints short-lived ones scoped to KEY and KEY.lease with its
    /// Cloudflare API token, under a parent token it manages (`r2gitops:state`), and renews
    /// them; AWS_* are then ignored.
    #[arg(
        long,
        value_enum,
        env = "R2GITOPS_STATE_CREDENTIALS",
        value_name = "SOURCE",
        default_value_t = StateCredentialsSource::Given
    )]
    pub state_credentials: StateCredentialsSource,
    /// S3 credentials for the state bucket, in the AWS shared-credentials form
    /// (`[default]` with aws_access_key_id, aws_secret_access_key and optionally
    /// aws_session_token), instead of AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    /// AWS_SESSION_TOKEN. Not with --state-credentials temporary.
    #[arg(long, value_name = "PATH")]
    pub state_credentials_file: Option<PathBuf>,
    /// With --state-credentials temporary: how long each minted credential lives (a new
    /// one is minted once two thirds of it are gone), between 15s and 7d.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_state_credentials_ttl)]
    pub state_credentials_ttl: std::time::Duration,
    /// How long a lease lasts unless renewed (renewed every third of it).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_lease_ttl)]
    pub lease_ttl: std::time::Duration,
}

/// `--state-credentials`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateCredentialsSource {
    /// The environment's AWS_* or --state-credentials-file.
    Given,
    /// Minted by r2gitops through temp-access-credentials, and renewed.
    Temporary,
}

/// Cloudflare's bound on `ttlSeconds` is 7 days; below 15 s a runner would spend its
/// request budget minting.
fn parse_state_credentials_ttl(s: &str) -> Result<std::time::Duration, String> {
    match crate::config::parse_duration(s) {
        Some(d)
            if d >= std::time::Duration::from_secs(15)
                && d <= std::time::Duration::from_secs(604_800) =>
        {
            Ok(d)
        }
        Some(_) => Err("between 15s and 7d".into()),
        None => Err("a duration such as 15m or 1h".into()),
    }
}

fn parse_jurisdiction(s: &str) -> Result<crate::config::Jurisdiction, String> {
    crate::config::Jurisdiction::parse(s)
        .ok_or_else(|| "expected default, eu, fedramp or us".to_string())
}

fn parse_lease_ttl(s: &str) -> Result<std::time::Duration, String> {
    match crate::config::parse_duration(s) {
        Some(d)
            if d >= std::time::Duration::from_secs(3)
                && d <= std::time::Duration::from_secs(3600) =>
        {
            Ok(d)
        }
        Some(_) => Err("between 3s and 1h".into()),
        None => Err("a duration such as 30s or 2m".into()),
    }
}

/// A duration on the command line (`30s`, `2m`, `0s`).
pub fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s).ok_or_else(|| "a duration such as 0s, 30s or 5m".into())
}

#[derive(Debug, thiserror::Error)]
pub enum StateArgsError {
    #[error("--state '{value}' is not a state location: {reason}")]
    Url { value: String, reason: String },
    #[error(transparent)]
    Credentials(#[from] crate::state::r2::CredentialsError),
    #[error(
        "--state-credentials temporary and --state-credentials-file name two sources of the state's S3 credentials; pass one"
    )]
    TwoSources,
    #[error("--state-credentials temporary: {0}")]
    Minter(String),
    #[error(transparent)]
    Api(#[from] crate::cloudflare::ConfigError),
    #[error(transparent)]
    State(#[from] crate::state::r2::StateError),
}

impl StateArgs {
    /// Whether `open` needs the Cloudflare API (to mint the state's credentials).
    pub fn needs_api(&self) -> bool {
        self.state.as_deref().is_some_and(|v| !v.is_empty())
            && self.state_credentials == StateCredentialsSource::Temporary
    }

    /// The R2 session `--state` names, or `None` for the local file. Reads the given
    /// credentials (environment or file), or prepares their minting through `api` (the
    /// client settings of r2gitops' own API token; required when `needs_api`), which may
    /// create the parent token only when `create_parent`. Sends nothing.
    pub fn open(
        &self,
        account_id: &str,
        endpoints: &crate::secrets::S3Endpoints,
        api: Option<ClientConfig>,
        create_parent: bool,
    ) -> Result<Option<std::sync::Arc<crate::state::r2::session::Session>>, StateArgsError> {
        use crate::state::r2::minted::Minter;
        use crate::state::r2::{Creds, R2State, StateCredentials, StateUrl, session::Session};
        let Some(value) = self.state.as_deref().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let bad = |reason: String| StateArgsError::Url {
            value: value.to_string(),
            reason,
        };
        let url = match StateUrl::parse(value) {
            Some(Ok(url)) => url,
            Some(Err(e)) => return Err(bad(e.to_string())),
            None => {
                return Err(bad(
                    "expected r2://BUCKET/KEY (the local inventory is settings.state_file)".into(),
                ));
            }
        };
        let creds = match (self.state_credentials, &self.state_credentials_file) {
            (StateCredentialsSource::Temporary, Some(_)) => return Err(StateArgsError::TwoSources),
            (StateCredentialsSource::Temporary, None) => {
                // The flag is explicit and the environment ambient (a CI runner's AWS keys
                // may be there for something else): the flag wins, and says so.
                let ambient: Vec<&str> = [
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                ]
                .into_iter()
                .filter(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
                .collect();
                if !ambient.is_empty() {
                    tracing::info!(
                        ignored = %ambient.join(", "),
                        "--state-credentials temporary: the state's S3 credentials are minted; the AWS_* variables set are not used for it"
                    );
                }
                let config = api.ok_or_else(|| {
                    StateArgsError::Minter(
                        "this command has no Cloudflare API token to mint them with".into(),
                    )
                })?;
                Creds::Minted(std::sync::Arc::new(
                    Minter::new(
                        config,
                        &url.bucket,
                        self.state_jurisdiction,
                        &url.key,
                        self.state_credentials_ttl,
                        create_parent,
                    )
                    .map_err(StateArgsError::Minter)?,
                ))
            }
            (StateCredentialsSource::Given, Some(path)) => {
                Creds::Given(std::sync::Arc::new(StateCredentials::from_file(path)?))
            }
            (StateCredentialsSource::Given, None) => {
                Creds::Given(std::sync::Arc::new(StateCredentials::from_env(
                    &url.to_string(),
                    std::env::var("AWS_ACCESS_KEY_ID").ok(),
                    std::env::var("AWS_SECRET_ACCESS_KEY").ok(),
                    std::env::var("AWS_SESSION_TOKEN").ok(),
                )?))
            }
        };
        let endpoint = endpoints.url(account_id, self.state_jurisdiction);
        let state = R2State::new(url, endpoint, creds)?;
        let ttl = time::Duration::try_from(self.lease_ttl).expect("bounded by the parser");
        Ok(Some(std::sync::Arc::new(
            Session::new(state, ttl).in_jurisdiction(self.state_jurisdiction),
        )))
    }
}
