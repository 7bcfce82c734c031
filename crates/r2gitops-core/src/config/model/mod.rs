//! The validated desired state. Every value here has passed validation: later stages (plan,
//! apply, secrets) trust these types and never re-check them.

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use time::OffsetDateTime;

mod bucket_config;
pub use bucket_config::*;
mod custom_domain;
pub use custom_domain::*;
mod notification;
pub use notification::*;
mod kubernetes;
pub use kubernetes::*;
pub mod policy;
pub mod temporary;

/// The inventory's name in `output_dir` when `settings.state_file` is not set.
pub const STATE_FILE_NAME: &str = ".r2gitops-state.json";

/// `settings.config_resync` when the file does not set it.
pub const DEFAULT_CONFIG_RESYNC: Duration = Duration::from_secs(3600);

/// Below this, re-reading configuration would cost more calls than it could be worth.
pub const MIN_CONFIG_RESYNC: Duration = Duration::from_secs(60);

/// The overlap of a token that neither it nor `settings` declares.
pub const DEFAULT_ROTATION_OVERLAP: Duration = Duration::from_secs(3600);

/// Longer, and a key nobody uses lives on for a month: a rotation is meant to end.
pub const MAX_ROTATION_OVERLAP: Duration = Duration::from_secs(30 * 86_400);

/// `settings.readiness_timeout` when the file does not set it, and its bounds.
pub const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_secs(60);
pub const MIN_READINESS_TIMEOUT: Duration = Duration::from_secs(1);
/// A probe retried for longer holds the pass (and the lock) for nothing.
pub const MAX_READINESS_TIMEOUT: Duration = Duration::from_secs(600);

/// `settings.token_watch` when the file does not set it.
pub const DEFAULT_TOKEN_WATCH: Duration = Duration::from_secs(60);
/// Below this, polling only spends the budget: a pass itself takes seconds.
pub const MIN_TOKEN_WATCH: Duration = Duration::from_secs(15);

/// `90d`, `12h`, `30m`, `3600s`; `None` for anything else or an overflow.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        'd' => n.checked_mul(86_400),
        _ => None,
    }?;
    Some(Duration::from_secs(secs))
}

/// The Cloudflare name of r2gitops' own parent token for the state's temporary credentials
/// (`--state-credentials temporary`): reserved, whatever the file's `token_name_prefix`.
pub const STATE_PARENT_NAME: &str = "r2gitops:state";

/// The whole desired state, as declared by one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The file it was loaded from, as given by the user (for messages).
    pub source: PathBuf,
    /// 32 lowercase hex; `None` when the file leaves it to `CLOUDFLARE_ACCOUNT_ID`.
    pub account_id: Option<String>,
    pub settings: Settings,
    pub buckets: Vec<BucketSpec>,
    pub tokens: Vec<TokenSpec>,
    /// `temporary_credentials:`, each under a declared token.
    pub temporary_credentials: Vec<super::TemporarySpec>,
    /// What is valid but probably not meant (a declared expiry that has passed), located
    /// like diagnostics; `validate` prints them, nothing else depends on them.
    pub warnings: Vec<super::Diagnostic>,
    /// Whether `adopt:` may roll a token nobody handed the value of. Never from the file:
    /// set from the command line by `reconcile::load_desired`.
    pub adopt_rolls: AdoptRolls,
    /// Tokens `r2gitops rotate NAME` rotates now, each with whether the old key is revoked
    /// as soon as the new one is delivered (`--revoke-old`). Never from the file.
    pub rotate_now: std::collections::BTreeMap<String, bool>,
    /// The operator's policy this state passed (`--policy`), for what only a plan can
    /// check: an adopted token's current grants, and prune's bucket deletes. Never from the
    /// file.
    pub policy: Option<std::sync::Arc<policy::Policy>>,
}

/// The operator's consent to adopting tokens by rolling them (`--allow-adopt-roll`), which
/// stops the S3 keys in use, and how many one pass may roll (`--max-adopt-rolls`). Only the
/// operator can give it: a committer cannot consent for whoever uses a token, so the file's
/// `settings.adopt_by_roll` is ignored, with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdoptRolls {
    #[default]
    Refused,
    Allowed {
        max: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Ownership marker on every managed token name (default `r2gitops:`).
    pub token_name_prefix: String,
    pub prune: bool,
    pub max_deletions: u32,
    /// Resolved against the file's directory.
    pub output_dir: PathBuf,
    /// Resolved against the file's directory; default `<output_dir>/.r2gitops-state.json`.
    pub state_file: PathBuf,
    pub suspend: bool,
    /// `recipients_file`, resolved against the file's directory like the other paths (the
    /// daemon re-reads the file when this one changes too).
    pub recipients_file: Option<PathBuf>,
    /// How often the daemon re-reads declared bucket configuration nothing changed
    /// (default 1h).
    pub config_resync: Duration,
    /// `settings.publish`, or the operator's `--publish-repository`: the git branch that
    /// changed outputs are committed to. `None`: nothing is published.
    pub publish: Option<PublishSpec>,
    /// `settings.rotation_overlap` as declared (`None`: the default). Each token's own
    /// resolution (`TokenSpec::rotation_overlap`) is what the plan uses.
    pub rotation_overlap: Option<Duration>,
    /// How long a new token may take to pass its signed S3 probe (default 60s).
    pub readiness_timeout: Duration,
    /// The daemon's token-status poll between full passes (default 1m, at least 15s),
    /// raised by `validate` to what 5% of Cloudflare's budget pays for (`cost`).
    pub token_watch: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Jurisdiction {
    Default,
    Eu,
    Fedramp,
    Us,
}

impl Jurisdiction {
    pub const ALL: [Jurisdiction; 4] = [
        Jurisdiction::Default,
        Jurisdiction::Eu,
        Jurisdiction::Fedramp,
        Jurisdiction::Us,
    ];

    /// The value of the `cf-r2-jurisdiction` header and of the resource-key segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::Default => "default",
            Jurisdiction::Eu => "eu",
            Jurisdiction::Fedramp => "fedramp",
            Jurisdiction::Us => "us",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LocationHint {
    Apac,
    Eeur,
    Enam,
    Weur,
    Wnam,
    Oc,
}

impl LocationHint {
    pub const ALL: [LocationHint; 6] = [
        LocationHint::Apac,
        LocationHint::Eeur,
        LocationHint::Enam,
        LocationHint::Weur,
        LocationHint::Wnam,
        LocationHint::Oc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LocationHint::Apac => "apac",
            LocationHint::Eeur => "eeur",
            LocationHint::Enam => "enam",
            LocationHint::Weur => "weur",
            LocationHint::Wnam => "wnam",
            LocationHint::Oc => "oc",
        }
    }

    /// Cloudflare has answered with upper case (`ENAM`): compare case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum StorageClass {
    #[default]
    Standard,
    InfrequentAccess,
}

impl StorageClass {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "Standard",
            StorageClass::InfrequentAccess => "InfrequentAccess",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [StorageClass::Standard, StorageClass::InfrequentAccess]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketSpec {
    /// Valid R2 bucket name (3-63 chars, `a-z0-9-`, alphanumeric at both ends).
    pub name: String,
    pub jurisdiction: Jurisdiction,
    /// Create-only: Cloudflare honours it the first time a name is created.
    pub location_hint: Option<LocationHint>,
    pub storage_class: StorageClass,
    /// Default true: r2gitops never deletes a protected bucket.
    pub protect: bool,
    /// CORS, lifecycle, lock and r2.dev blocks; each `None` when not managed.
    pub config: BucketConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Owner {
    #[default]
    Account,
    User,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Account => "account",
            Owner::User => "user",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    ObjectRead,
    ObjectReadWrite,
    AdminRead,
    AdminReadWrite,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::ObjectRead => "object-read",
            Access::ObjectReadWrite => "object-read-write",
            Access::AdminRead => "admin-read",
            Access::AdminReadWrite => "admin-read-write",
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Access::AdminRead | Access::AdminReadWrite)
    }

    pub fn can_write(self) -> bool {
        matches!(self, Access::ObjectReadWrite | Access::AdminReadWrite)
    }
}

/// What a token's policy covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// `admin-*`: the whole account (account-scoped permission groups).
    Account,
    /// `object-*` with `buckets: ["*"]`: every bucket in the account.
    AllBuckets,
    /// `object-*` with named buckets, all declared and all in `TokenSpec::jurisdiction`.
    Buckets(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpRules {
    /// Normalised (`IpNet::trunc`), sorted, deduplicated.
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

impl IpRules {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenSpec {
    /// The declared name; Cloudflare's name is `settings.token_name_prefix + name`.
    pub name: String,
    pub owner: Owner,
    pub access: Access,
    pub scope: TokenScope,
    /// For named buckets: their jurisdiction. For admin and `"*"`: the declared one
    /// (default `default`). Decides the S3 endpoint written to the output.
    pub jurisdiction: Jurisdiction,
    pub not_before: Option<OffsetDateTime>,
    pub expires_on: Option<OffsetDateTime>,
    pub ip: IpRules,
    /// At least one hour.
    pub rotate_every: Option<Duration>,
    /// How long the old key keeps working after a rotation (its own, else the settings',
    /// else the default); zero rolls in place.
    pub rotation_overlap: Duration,
    /// An existing token, not managed yet, that this entry takes over.
    pub adopt: Option<Adopt>,
    pub output: OutputSpec,
}

/// `adopt: <id>`, with where it was written (a plan that cannot find the token points at
/// the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopt {
    /// 32 lowercase hex.
    pub id: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputFormat {
    Env,
    Json,
    Rclone,
    Aws,
    /// A plain Secret manifest, age-encrypted.
    Kubernetes,
    /// A Secret manifest whose values are SOPS-encrypted (the file is plaintext YAML).
    KubernetesSops,
}

impl OutputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Env => "env",
            OutputFormat::Json => "json",
            OutputFormat::Rclone => "rclone",
            OutputFormat::Aws => "aws",
            OutputFormat::Kubernetes => "kubernetes",
            OutputFormat::KubernetesSops => "kubernetes-sops",
        }
    }

    /// Whether the output renders a Kubernetes Secret (and needs `output.kubernetes`).
    pub fn is_kubernetes(self) -> bool {
        matches!(
            self,
            OutputFormat::Kubernetes | OutputFormat::KubernetesSops
        )
    }

    /// The suffix a published file of this format keeps, so that nothing in a repository
    /// looks like a plaintext file: `.sops.yaml` for SOPS, `.age` for every age file.
    pub fn published_suffix(self) -> &'static str {
        match self {
            OutputFormat::KubernetesSops => ".sops.yaml",
            _ => ".age",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    /// Relative to `settings.output_dir`; validated never to escape it.
    pub file: PathBuf,
    pub format: OutputFormat,
    /// The effective recipients (the token's own, else settings.recipients plus
    /// settings.recipients_file), each an age X25519 (`age1...`) or SSH (`ssh-ed25519`,
    /// `ssh-rsa`) public key as written in the file; never empty.
    pub recipients: Vec<String>,
    pub armor: bool,
    /// Also write the Cloudflare API token value itself (for wrangler users).
    pub include_api_token: bool,
    /// After writing, prove the credentials with one signed S3 request.
    pub verify: bool,
    /// The Secret of a `kubernetes` / `kubernetes-sops` output; `None` for the others.
    pub kubernetes: Option<KubernetesSpec>,
}

impl Desired {
    pub fn bucket(&self, name: &str) -> Option<&BucketSpec> {
        self.buckets.iter().find(|b| b.name == name)
    }

    /// Apply `--output-dir` / `R2GITOPS_OUTPUT_DIR`: replaces `settings.output_dir`, and a
    /// state file left at its default (`<output_dir>/.r2gitops-state.json`) follows it.
    pub fn override_output_dir(&mut self, dir: PathBuf) {
        let default_state = self.settings.output_dir.join(STATE_FILE_NAME);
        if self.settings.state_file == default_state {
            self.settings.state_file = dir.join(STATE_FILE_NAME);
        }
        self.settings.output_dir = dir;
    }

    /// The name the token carries in Cloudflare.
    pub fn cloudflare_token_name(&self, token: &TokenSpec) -> String {
        format!("{}{}", self.settings.token_name_prefix, token.name)
    }
}

impl OutputSpec {
    /// Fingerprint of everything that shapes the ciphertext except the secret itself
    /// (format, recipients as a set, armor, API-token inclusion). The daemon holds no
    /// identity and cannot decrypt what it wrote, so a changed fingerprint means a roll.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut recipients: Vec<&str> = self.recipients.iter().map(|r| r.trim()).collect();
        recipients.sort_unstable();
        recipients.dedup();
        let mut hasher = Sha256::new();
        hasher.update(b"r2gitops-output-v1\n");
        hasher.update(self.format.as_str().as_bytes());
        hasher.update(format!(
            "\narmor={}\napi_token={}\n",
            self.armor, self.include_api_token
        ));
        for r in recipients {
            hasher.update(r.as_bytes());
            hasher.update(b"\n");
        }
        // Only outputs that render a Secret hash these lines: every other output keeps the
        // fingerprint it was recorded with (a changed one would roll it).
        if let Some(k) = &self.kubernetes {
            hasher.update(k.fingerprint_lines());
        }
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(output_dir: &str, state_file: &str) -> Desired {
        Desired {
            source: PathBuf::from("r2gitops.yaml"),
            account_id: None,
            settings: Settings {
                token_name_prefix: "r2gitops:".into(),
                prune: false,
                max_deletions: 10,
                output_dir: PathBuf::from(output_dir),
                state_file: PathBuf::from(state_file),
                suspend: false,
                recipients_file: None,
                config_resync: Duration::from_secs(3600),
                publish: None,
                rotation_overlap: None,
                readiness_timeout: Duration::from_secs(60),
                token_watch: Duration::from_secs(60),
            },
            buckets: Vec::new(),
            tokens: Vec::new(),
            temporary_credentials: Vec::new(),
            warnings: Vec::new(),
            adopt_rolls: AdoptRolls::Refused,
            rotate_now: Default::default(),
            policy: None,
        }
    }

    #[test]
    fn output_dir_override_moves_a_default_state_file_and_keeps_an_explicit_one() {
        let cases = [
            (
                "/repo/secrets/.r2gitops-state.json",
                "/mnt/out/.r2gitops-state.json",
            ),
            ("/repo/state/inv.json", "/repo/state/inv.json"),
        ];
        for (state, want) in cases {
            let mut d = desired("/repo/secrets", state);
            d.override_output_dir(PathBuf::from("/mnt/out"));
            assert_eq!(d.settings.output_dir, PathBuf::from("/mnt/out"));
            assert_eq!(d.settings.state_file, PathBuf::from(want), "{state}");
        }
    }
}
