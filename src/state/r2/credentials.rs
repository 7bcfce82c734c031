//! The S3 credentials of the state bucket: the standard environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, optionally `AWS_SESSION_TOKEN`) or `--state-credentials-file`, a
//! file in the AWS shared-credentials form (`[default]` or no section). Parsing is pure; the
//! caller reads the environment and the file. No error quotes a value.

use std::path::{Path, PathBuf};

use crate::secret::S3Secret;
use crate::secret::SessionToken;

pub struct StateCredentials {
    pub access_key_id: String,
    pub secret_access_key: S3Secret,
    pub session_token: Option<SessionToken>,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "the state {url} needs S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), pass --state-credentials-file, or have r2gitops mint them with --state-credentials temporary"
    )]
    Missing { url: String },
    #[error("the state credentials file '{path}': {reason}")]
    File { path: PathBuf, reason: String },
    #[error("cannot read the state credentials file '{path}'")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A credentials file this large is not one.
const MAX_FILE: u64 = 16 * 1024;

impl StateCredentials {
    /// From the environment's three values.
    pub fn from_env(
        url: &str,
        key_id: Option<String>,
        secret: Option<String>,
        session: Option<String>,
    ) -> Result<StateCredentials, CredentialsError> {
        match (
            key_id.filter(|k| !k.is_empty()),
            secret.filter(|s| !s.is_empty()),
        ) {
            (Some(id), Some(secret)) => Ok(StateCredentials {
                access_key_id: id,
                secret_access_key: S3Secret::new(secret),
                session_token: session.filter(|s| !s.is_empty()).map(SessionToken::new),
            }),
            _ => Err(CredentialsError::Missing { url: url.into() }),
        }
    }

    pub fn from_file(path: &Path) -> Result<StateCredentials, CredentialsError> {
        let bytes =
            crate::safe_fs::read_bounded(path, MAX_FILE, crate::safe_fs::Last::MayBeSymlink)
                .map_err(|source| CredentialsError::Read {
                    path: path.into(),
                    source,
                })?;
        crate::secret::warn_if_exposed("the state credentials file", path);
        let bad = |reason: String| CredentialsError::File {
            path: path.into(),
            reason,
        };
        let text = zeroize::Zeroizing::new(
            String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?,
        );
        parse_file(&text).map_err(bad)
    }
}

/// The `[default]` profile (or the lines before any section) of an AWS credentials file.
fn parse_file(text: &str) -> Result<StateCredentials, String> {
    let (mut id, mut secret, mut session) = (None, None, None);
    let mut section: Option<&str> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim());
            continue;
        }
        if section.is_some_and(|s| s != "default") {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: expected key = value", n + 1));
        };
        let v = v.trim().to_string();
        match k.trim() {
            "aws_access_key_id" => id = Some(v),
            "aws_secret_access_key" => secret = Some(v),
            "aws_session_token" => session = Some(v),
            _ => {}
        }
    }
    match (
        id.filter(|v| !v.is_empty()),
        secret.filter(|v| !v.is_empty()),
    ) {
        (Some(access_key_id), Some(s)) => Ok(StateCredentials {
            access_key_id,
            secret_access_key: S3Secret::new(s),
            session_token: session.filter(|v| !v.is_empty()).map(SessionToken::new),
        }),
        _ => Err("no aws_access_key_id and aws_secret_access_key in its [default] profile".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_files() {
        let c = parse_file(
            "# state\n[other]\naws_access_key_id = NOPE\n[default]\naws_access_key_id = AKID\naws_secret_access_key = s3cr3t\naws_session_token = tok\n",
        )
        .unwrap();
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.secret_access_key.expose(), "s3cr3t");
        assert_eq!(c.session_token.unwrap().expose(), "tok");
        let c = parse_file("aws_access_key_id=A\naws_secret_access_key=B\n").unwrap();
        assert!(c.session_token.is_none());
        for bad in [
            "",
            "[default]\naws_access_key_id = A\n",
            "[prod]\naws_access_key_id = A\naws_secret_access_key = s3cr3t\n",
            "aws_secret_access_key s3cr3t\n",
        ] {
            let e = parse_file(bad).err().expect(bad);
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn the_environment_needs_both_halves() {
        assert!(StateCredentials::from_env("r2://b/k", Some("A".into()), None, None).is_err());
        assert!(
            StateCredentials::from_env("r2://b/k", Some("A".into()), Some(String::new()), None)
                .is_err()
        );
        let c = StateCredentials::from_env("r2://b/k", Some("A".into()), Some("B".into()), None)
            .unwrap();
        assert!(c.session_token.is_none());
    }
}
