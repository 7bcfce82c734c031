//! Credential outputs: derive a token's S3 credentials, render them in the chosen format,
//! encrypt them to the output's age recipients, and write the ciphertext atomically under
//! `output_dir`. Optionally prove the new credentials with one signed S3 request.
//!
//! Owns every byte of plaintext credentials: they exist only in memory (in `secrecy` types or
//! short-lived buffers) and leave this module only as age or SOPS ciphertext. It must not log, print
//! or return a secret, must not decide *when* to write (the planner does), and holds no age
//! identity: what it writes it cannot read back, by design.
//!
//! - `endpoints`: the S3 endpoint of each jurisdiction, and the test/emulator overrides.
//! - `derive`: token id + value -> access key id, secret access key, endpoint, region.
//! - `format`: the age formats of a token's output (pure render).
//! - `kubernetes`: the Secret manifest of the `kubernetes` and `kubernetes-sops` formats.
//! - `sops`: SOPS encryption of a YAML document (AES-256-GCM values, age-wrapped data key).
//! - `encrypt`: age encryption in memory to X25519 and SSH recipients.
//! - `write`: the atomic, symlink-refusing file write and the temp-file sweep.
//! - `sigv4`: a minimal AWS SigV4 signer (pure).
//! - `probe`: the optional self-test (one signed ListObjectsV2).
//! - `temporary`: the outputs and self-test of temporary credentials.

pub mod derive;
pub mod encrypt;
pub mod endpoints;
pub mod format;
pub mod kubernetes;
pub mod probe;
pub mod sigv4;
pub mod sops;
pub mod temporary;
pub mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::config::TokenSpec;
use crate::inventory::OutputRecord;
use crate::secret::TokenValue;

pub use derive::S3Credentials;
pub use endpoints::S3Endpoints;
pub use probe::{ProbeSettings, Ready, VerifyOutcome};
pub use write::BeforeRenameHook;

/// Everything that can go wrong producing an output. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("invalid S3 endpoint override '{pair}': {reason}")]
    EndpointOverride { pair: String, reason: String },
    #[error("output for token '{token}': invalid recipient #{index} ('{recipient}'): {reason}")]
    Recipient {
        token: String,
        index: usize,
        recipient: String,
        reason: String,
    },
    #[error("output for token '{token}': has no recipients")]
    NoRecipients { token: String },
    #[error("output for token '{token}': age encryption failed")]
    Encrypt {
        token: String,
        #[source]
        source: std::io::Error,
    },
    #[error("output for token '{token}': rendering the {format} format failed")]
    Render { token: String, format: &'static str },
    #[error("output path '{path}' is not a plain relative path inside output_dir")]
    PathOutside { path: PathBuf },
    #[error("refusing to write through symlink '{path}'")]
    Symlink { path: PathBuf },
    #[error("'{path}' is in the way: {found}, expected a {expected}")]
    NotA {
        path: PathBuf,
        expected: &'static str,
        found: &'static str,
    },
    #[error("writing '{path}'")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the directory '{path}' is open to other users (mode {mode:04o}, owner uid {owner}, this process uid {me}) and is not r2gitops' own; refusing to write secrets there\n  hint: give r2gitops a directory of its own, owned by its user with mode 0700 (a sticky one such as /tmp is never taken over), or point --output-dir elsewhere"
    )]
    SharedDir {
        path: PathBuf,
        mode: u32,
        owner: u32,
        me: u32,
    },
    #[error("reading '{path}'")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes credential outputs for one account under one `output_dir`. Cheap to clone, so a
/// clone can move into `spawn_blocking`.
#[derive(Clone)]
pub struct OutputWriter {
    output_dir: PathBuf,
    account_id: String,
    endpoints: S3Endpoints,
    hook: Option<Arc<BeforeRenameHook>>,
    probe: ProbeSettings,
}

impl OutputWriter {
    pub fn new(output_dir: &Path, account_id: &str, endpoints: S3Endpoints) -> Self {
        OutputWriter {
            output_dir: output_dir.to_path_buf(),
            account_id: account_id.to_owned(),
            endpoints,
            hook: None,
            probe: ProbeSettings::default(),
        }
    }

    /// Failure-injection seam for crash tests: called with the temp file's path after the
    /// ciphertext is written and fsynced, just before the rename. An `Err` aborts the write
    /// as a crash would at that point (the writer then removes its temp file); a hook that
    /// never returns lets a test kill the process there.
    pub fn with_before_rename_hook(mut self, hook: Arc<BeforeRenameHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Attempts and pause of the `verify` self-test (default: a few seconds in all).
    pub fn with_probe_settings(mut self, probe: ProbeSettings) -> Self {
        self.probe = probe;
        self
    }

    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }

    /// The credentials a token's output carries (for `verify` and for callers that need
    /// the endpoint; the secret stays in its `S3Secret`).
    /// What an output written now for `token` would show that may change (for the plan).
    pub fn details(&self, token: &TokenSpec) -> std::collections::BTreeMap<String, String> {
        token_details(
            &self.endpoints.url(&self.account_id, token.jurisdiction),
            token,
        )
    }

    pub fn credentials(
        &self,
        token: &TokenSpec,
        token_id: &str,
        value: &TokenValue,
    ) -> S3Credentials {
        let endpoint = self.endpoints.url(&self.account_id, token.jurisdiction);
        derive::derive(token_id, value, endpoint)
    }

    /// Derive, render, encrypt and atomically write `token`'s output. Blocking I/O: call it
    /// from `spawn_blocking` in async code.
    pub fn write(
        &self,
        token: &TokenSpec,
        token_id: &str,
        value: &TokenValue,
        issued_at: OffsetDateTime,
    ) -> Result<OutputRecord, SecretsError> {
        let creds = self.credentials(token, token_id, value);
        let api_token = token.output.include_api_token.then_some(value);
        let ciphertext = if token.output.format.is_kubernetes() {
            kubernetes::encode(
                &token.name,
                &token.output,
                &kubernetes::Owner {
                    name: &token.name,
                    id: ("r2gitops.io/token-id", token_id),
                    issued_at,
                },
                &kubernetes::Values {
                    account_id: &self.account_id,
                    access_key_id: &creds.access_key_id,
                    secret_access_key: creds.secret_access_key.expose(),
                    session_token: None,
                    endpoint: &creds.endpoint,
                    bucket: one_bucket(token),
                    expires_at: token.expires_on,
                    api_token: api_token.map(TokenValue::expose),
                },
                issued_at,
            )?
        } else {
            let plaintext = format::render(&format::RenderInput {
                token,
                token_id,
                account_id: &self.account_id,
                creds: &creds,
                api_token,
                issued_at,
            })?;
            let ciphertext = encrypt::encrypt(
                &token.name,
                &token.output.recipients,
                token.output.armor,
                plaintext.expose(),
            )?;
            // Wiped now, not when this function returns.
            drop(plaintext);
            ciphertext
        };
        write::write_atomic(
            &self.output_dir,
            &token.output.file,
            &ciphertext,
            self.hook.as_deref(),
        )?;
        Ok(OutputRecord {
            path: token.output.file.clone(),
            ciphertext_sha256: hex::encode(Sha256::digest(&ciphertext)),
            fingerprint: token.output.fingerprint(),
            details: token_details(&creds.endpoint, token),
        })
    }

    /// Remove temp files left under `output_dir` by an interrupted write; returns how many.
    pub fn cleanup_temp_files(&self) -> Result<usize, SecretsError> {
        write::cleanup_temp_files(&self.output_dir)
    }

    /// A rotation's readiness proof of a new key (`probe::ready`), against the endpoint its
    /// output names.
    pub async fn ready(
        &self,
        token: &TokenSpec,
        token_id: &str,
        value: &TokenValue,
        timeout: std::time::Duration,
    ) -> Result<probe::Ready, String> {
        let creds = self.credentials(token, token_id, value);
        let ip_restricted = !token.ip.allow.is_empty() || !token.ip.deny.is_empty();
        probe::ready(&creds, &token.scope, ip_restricted, timeout).await
    }

    /// The `output.verify` self-test: `None` when the output does not ask for it, else the
    /// outcome of one signed ListObjectsV2 (retried briefly while the new credentials
    /// propagate), for the report.
    pub async fn verify(
        &self,
        token: &TokenSpec,
        token_id: &str,
        value: &TokenValue,
    ) -> Option<VerifyOutcome> {
        if !token.output.verify {
            return None;
        }
        let creds = self.credentials(token, token_id, value);
        Some(probe::verify(&creds, &token.scope, &self.probe).await)
    }
}

/// The bucket a token's Secret names in `R2_BUCKET`: its one bucket, if it names one.
fn one_bucket(token: &TokenSpec) -> Option<&str> {
    match &token.scope {
        crate::config::TokenScope::Buckets(list) if list.len() == 1 => Some(&list[0]),
        _ => None,
    }
}

/// What a token's output shows that may change without its secret: the endpoint and
/// jurisdiction of every format, and what a Secret shows besides (its one bucket, its
/// expiry). Only the kubernetes formats record the latter, so no other output rolls.
fn token_details(endpoint: &str, token: &TokenSpec) -> std::collections::BTreeMap<String, String> {
    let mut d = format::details(endpoint, token);
    if token.output.format.is_kubernetes() {
        d.extend(kubernetes::details(one_bucket(token), token.expires_on));
    }
    d
}

/// Lowercase hex SHA-256 of the file at `output_dir/rel`, `None` when it is missing: the
/// facts the planner compares with the inventory. Every component is checked as the writer
/// checks it (`write::existing_output`): a symlinked directory, or a symlink, FIFO or device
/// at the file, is an error the planner shows as blocked. The file is opened without
/// following a link and without blocking, so a FIFO cannot hang the pass.
pub fn file_sha256(output_dir: &Path, rel: &Path) -> Result<Option<String>, SecretsError> {
    let Some(path) = write::existing_output(output_dir, rel)? else {
        return Ok(None);
    };
    let mut file = match crate::safe_fs::open_regular(&path, crate::safe_fs::Last::NoSymlink) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SecretsError::Read { path, source }),
    };
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|source| SecretsError::Read {
        path: path.clone(),
        source,
    })?;
    Ok(Some(hex::encode(hasher.finalize())))
}
