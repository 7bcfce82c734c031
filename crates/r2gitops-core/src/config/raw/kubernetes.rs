//! The serde mirror of `output.kubernetes` (the Secret a `kubernetes` or `kubernetes-sops`
//! output renders) and of `settings.publish` (the git branch outputs are committed to).
//! Shapes only, with positions; what a Kubernetes name, a label or a git branch must look
//! like, and the confinement of the repository path, live in `validate::kubernetes` and
//! `validate::publish`. No I/O.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::Sp;

/// The Kubernetes `Secret` an output renders.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KubernetesSecret")]
pub struct RawKubernetes {
    /// `metadata.name` (a DNS subdomain: lowercase letters, digits, '-' and '.'); default
    /// `r2-<token name>`.
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<Sp<String>>,
    /// `metadata.namespace` (a DNS label).
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Sp<String>,
    /// Which variable names the Secret carries: `aws` (AWS_ACCESS_KEY_ID, ..., what the AWS
    /// SDKs, boto3 and rclone read from the environment) or `r2` (R2_ACCESS_KEY_ID, ...).
    #[schemars(extend("default" = "aws"))]
    pub keys: Option<Sp<RawKeyStyle>>,
    /// `metadata.labels`.
    pub labels: Option<Sp<BTreeMap<String, Sp<String>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "KubernetesKeys")]
pub enum RawKeyStyle {
    Aws,
    R2,
}

/// Commit changed outputs to a branch of a local git clone, and push it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Publish")]
pub struct RawPublish {
    /// A local clone (its `origin` is pushed to), relative to this file's directory and
    /// inside it (no absolute path, no `..`, no symlink leading out);
    /// `--publish-repository` replaces it.
    #[schemars(length(min = 1))]
    pub repository: Option<Sp<String>>,
    /// The branch commits go to; `--publish-branch` replaces it. Never the branch the
    /// daemon itself watches.
    #[schemars(length(min = 1))]
    pub branch: Option<Sp<String>>,
    /// Author and committer of the commits, `Name <email>`.
    #[schemars(extend("default" = "r2gitops <r2gitops@localhost>"))]
    pub author: Option<Sp<String>>,
    /// A directory inside the repository the outputs go under (below the operator's
    /// `--publish-prefix`); default: the repository's root.
    #[schemars(length(min = 1))]
    pub prefix: Option<Sp<String>>,
}
