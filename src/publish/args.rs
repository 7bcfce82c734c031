//! `--publish-*`: what the operator pins of publishing on the command line, above the file.

use super::*;

/// The operator's publishing flags: where (pins the file cannot override) and with which
/// credentials. `reconcile`, `watch` and `adopt` take them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PublishArgs {
    /// Publish to this local clone (pushed to its `origin`) instead of the file's
    /// `settings.publish.repository`, which may then name nothing outside the file's tree.
    #[arg(long, env = "R2GITOPS_PUBLISH_REPOSITORY", value_name = "PATH")]
    pub publish_repository: Option<PathBuf>,
    /// Publish to this branch instead of the file's `settings.publish.branch`.
    #[arg(long, env = "R2GITOPS_PUBLISH_BRANCH", value_name = "BRANCH", value_parser = parse_branch)]
    pub publish_branch: Option<String>,
    /// Every published path is under this directory of the repository (the file's
    /// `settings.publish.prefix` goes below it).
    #[arg(long, env = "R2GITOPS_PUBLISH_PREFIX", value_name = "DIR", value_parser = parse_prefix)]
    pub publish_prefix: Option<String>,
    /// The SSH private key git pushes with (`GIT_SSH_COMMAND`); else the operator's own
    /// git and SSH configuration.
    #[arg(long, env = "R2GITOPS_PUBLISH_SSH_KEY", value_name = "PATH")]
    pub publish_ssh_key: Option<PathBuf>,
    /// A git credential helper for HTTPS remotes (replaces every configured one), e.g.
    /// `store --file /run/secrets/git-credentials`.
    #[arg(
        long,
        env = "R2GITOPS_PUBLISH_CREDENTIAL_HELPER",
        value_name = "HELPER"
    )]
    pub publish_credential_helper: Option<String>,
}

pub(super) fn parse_branch(s: &str) -> Result<String, String> {
    match crate::config::validate::branch_problem(s) {
        None => Ok(s.to_string()),
        Some(why) => Err(format!("branch '{s}' {why}")),
    }
}

pub(super) fn parse_prefix(s: &str) -> Result<String, String> {
    match crate::config::validate::prefix_problem(s) {
        None => Ok(s.to_string()),
        Some(why) => Err(format!("prefix '{s}' {why}")),
    }
}

impl PublishArgs {
    pub fn pins(&self) -> crate::config::validate::PublishPins {
        crate::config::validate::PublishPins {
            repository: self.publish_repository.clone(),
            branch: self.publish_branch.clone(),
            prefix: self.publish_prefix.clone(),
        }
    }

    pub fn auth(&self) -> GitAuth {
        GitAuth {
            ssh_key: self.publish_ssh_key.clone(),
            credential_helper: self.publish_credential_helper.clone(),
        }
    }
}
