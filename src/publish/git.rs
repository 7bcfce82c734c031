//! The real `git` CLI, run in one clone with the operator's credentials only (as Flux's
//! image-automation-controller drives go-git): an SSH key (`GIT_SSH_COMMAND`) or a
//! credential helper named on the command line, else whatever the operator's own git
//! configuration and environment provide. Nothing here comes from the desired-state file.
//!
//! Every call: no prompt (`GIT_TERMINAL_PROMPT=0`), no repository hooks and no fsmonitor
//! (`core.hooksPath=/dev/null`, `core.fsmonitor=false`: nothing in the clone runs), no
//! implicit bare repository (`safe.bareRepository=explicit`: a directory a committer laid
//! out like one is never used), a bounded run time, and bounded output. What git prints is
//! shown only with credentials in URLs redacted. Blocking: run from `spawn_blocking`.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one git command may take (a fetch or push over a slow link included).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What git may print before the rest is dropped.
const MAX_OUTPUT: usize = 1024 * 1024;

/// The operator's git credentials (`--publish-ssh-key`, `--publish-credential-helper`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitAuth {
    pub ssh_key: Option<PathBuf>,
    pub credential_helper: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(String),
    #[error("`git {command}` did not finish within {secs}s", secs = COMMAND_TIMEOUT.as_secs())]
    Timeout { command: String },
    #[error("`git {command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
}

/// One finished command.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs git in `dir` (a clone, or the watched checkout) with `auth`.
pub struct Git<'a> {
    pub dir: &'a Path,
    pub auth: &'a GitAuth,
    /// Extra environment (`GIT_INDEX_FILE`, the commit identity).
    pub env: Vec<(&'static str, OsString)>,
}

impl Git<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(self.dir);
        for c in [
            "core.hooksPath=/dev/null",
            "core.fsmonitor=false",
            "safe.bareRepository=explicit",
            "gc.auto=0",
        ] {
            cmd.args(["-c", c]);
        }
        if let Some(helper) = &self.auth.credential_helper {
            // The empty value first clears every helper configured elsewhere.
            cmd.args(["-c", "credential.helper="]);
            cmd.arg("-c").arg(format!("credential.helper={helper}"));
        }
        cmd.args(args);
        // What the daemon's own environment may carry must not point git elsewhere.
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
            "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            "GIT_CEILING_DIRECTORIES",
            "GIT_NAMESPACE",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0");
        cmd.env("LC_ALL", "C");
        if let Some(key) = &self.auth.ssh_key {
            let mut ssh = OsString::from("ssh -o BatchMode=yes -o IdentitiesOnly=yes -i ");
            ssh.push(shell_quote(key));
            cmd.env("GIT_SSH_COMMAND", ssh);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run `git args` (feeding `stdin`), waiting at most `COMMAND_TIMEOUT`.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, GitError> {
        let (code, stdout, stderr) = self.run_raw(args, stdin)?;
        Ok(Output {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
        })
    }

    /// `run`, requiring success, with stdout as the bytes git wrote (a blob of a binary
    /// age file is not text).
    pub fn bytes(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let (code, stdout, stderr) = self.run_raw(args, None)?;
        if code == Some(0) {
            Ok(stdout)
        } else {
            Err(GitError::Failed {
                command: args.join(" "),
                status: code.map_or("killed by a signal".into(), |c| format!("exit {c}")),
                stderr: stderr.trim().to_string(),
            })
        }
    }

    fn run_raw(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<(Option<i32>, Vec<u8>, String), GitError> {
        let shown = args.join(" ");
        let mut child = self
            .command(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| GitError::Spawn(e.to_string()))?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Small inputs (a file of a few KiB, a commit message): written before reading.
            let bytes = bytes.to_vec();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let out = reader(child.stdout.take());
        let err = reader(child.stderr.take());
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() < COMMAND_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(GitError::Timeout { command: shown });
                }
                Err(e) => return Err(GitError::Spawn(e.to_string())),
            }
        };
        let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
        Ok((
            status.code(),
            out.join().unwrap_or_default(),
            redact(&stderr),
        ))
    }

    /// `run`, requiring success; stdout trimmed.
    pub fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, GitError> {
        let out = self.run(args, stdin)?;
        if out.ok() {
            Ok(out.stdout.trim().to_string())
        } else {
            Err(GitError::Failed {
                command: args.join(" "),
                status: out
                    .code
                    .map_or("killed by a signal".into(), |c| format!("exit {c}")),
                stderr: out.stderr.trim().to_string(),
            })
        }
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(p) = pipe {
            let _ = p.take(MAX_OUTPUT as u64).read_to_end(&mut bytes);
        }
        bytes
    })
}

/// A path for `GIT_SSH_COMMAND` (run by a shell): single-quoted.
fn shell_quote(p: &Path) -> OsString {
    let text = p.to_string_lossy().replace('\'', "'\\''");
    OsString::from(format!("'{text}'"))
}

/// Git prints remote URLs in its errors; one with `user:password@` in it would put a
/// credential in a log line. Such a userinfo becomes `***@`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo) => {
                out.push_str("***");
                out.push_str(&tail[userinfo..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_never_reach_a_message() {
        let cases = [
            (
                "fatal: unable to access 'https://x-access-token:ghp_SECRET@github.com/o/r.git/': 403",
                "fatal: unable to access 'https://***@github.com/o/r.git/': 403",
            ),
            (
                "remote: https://user@host/a and ssh://git@host:22/b",
                "remote: https://***@host/a and ssh://***@host:22/b",
            ),
            ("no url here", "no url here"),
            ("https://github.com/o/r", "https://github.com/o/r"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want);
        }
    }
}
