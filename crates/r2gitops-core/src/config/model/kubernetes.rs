//! The validated Secret of a `kubernetes` / `kubernetes-sops` output, and the validated
//! `settings.publish` (with the operator's pins applied by `load`).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `metadata` and key names of the Secret an output renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesSpec {
    /// A DNS subdomain (validated).
    pub name: String,
    /// A DNS label (validated).
    pub namespace: String,
    pub keys: KeyStyle,
    /// Validated label keys and values, in key order.
    pub labels: BTreeMap<String, String>,
}

/// Which family of variable names a Secret carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyStyle {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL_S3`, `AWS_REGION`, ...
    Aws,
    /// `R2_ACCESS_KEY_ID`, `R2_SECRET_ACCESS_KEY`, `R2_ENDPOINT`, `R2_ACCOUNT_ID`, ...
    R2,
}

impl KeyStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStyle::Aws => "aws",
            KeyStyle::R2 => "r2",
        }
    }
}

impl KubernetesSpec {
    /// What shapes the rendered Secret besides its values, for the output's fingerprint:
    /// a change means the file must be re-rendered, which needs the secret (a roll).
    pub fn fingerprint_lines(&self) -> String {
        let mut s = format!(
            "kubernetes.name={}\nkubernetes.namespace={}\nkubernetes.keys={}\n",
            self.name,
            self.namespace,
            self.keys.as_str()
        );
        for (k, v) in &self.labels {
            s.push_str(&format!("kubernetes.label={k:?}={v:?}\n"));
        }
        s
    }
}

/// Where outputs are committed: a branch of a local clone, pushed to its `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSpec {
    /// The clone: as written (relative to the file's directory) until `load` resolves it,
    /// or the operator's `--publish-repository`.
    pub repository: PathBuf,
    pub branch: String,
    /// `Name <email>`, validated: no control character, one `<...>` at the end.
    pub author_name: String,
    pub author_email: String,
    /// The operator's `--publish-prefix` joined with the file's `prefix` (both relative, no
    /// `..`, no `.git`); empty for the repository's root.
    pub prefix: PathBuf,
    /// Where the file's `settings.publish` (or its `branch`) was written, for the errors
    /// the publisher finds at run time (the branch the daemon watches); `(0, 0)` when the
    /// operator's flags named the target.
    pub line: usize,
    pub column: usize,
    pub branch_line: usize,
    pub branch_column: usize,
}

/// The author used when `settings.publish.author` is not set.
pub const DEFAULT_PUBLISH_AUTHOR: (&str, &str) = ("r2gitops", "r2gitops@localhost");
