//! Types that carry secrets, and the one reader of secret files named on the command line.
//! None of the types implements `Debug` or `Display`, so a secret cannot reach a log line, a
//! panic message or an error by accident; reading one needs an explicit `expose()` at the
//! place that really needs the bytes. Every buffer here is wiped before its memory is freed:
//! a core of the daemon must not hold a value it handled.
//!
//! Must not print, log or return in an error any byte of a secret or of a secret file.

use std::io::Read;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use zeroize::{Zeroize, Zeroizing};

mod temporary;
pub use temporary::SessionToken;

/// A Cloudflare API token value: the daemon's own bearer token, or the value of a token it
/// created or rolled (shown by Cloudflare exactly once).
pub struct TokenValue(SecretString);

impl TokenValue {
    pub fn new(value: impl Into<String>) -> Self {
        TokenValue(SecretString::from(value.into()))
    }

    /// The raw value, for an `Authorization` header or for hashing into an S3 secret.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl Clone for TokenValue {
    fn clone(&self) -> Self {
        TokenValue::new(self.expose().to_owned())
    }
}

/// Straight from the answer's bytes into the secret type: no `serde_json::Value` and no
/// intermediate `String` is left behind. A value the parser had to unescape passes through
/// its scratch buffer; a Cloudflare token value has nothing to unescape.
impl<'de> serde::Deserialize<'de> for TokenValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = TokenValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a token value (a string)")
            }
            fn visit_str<E>(self, v: &str) -> Result<TokenValue, E> {
                // `to_owned` allocates exactly `len`, so the boxed secret never reallocates.
                Ok(TokenValue::new(v.to_owned()))
            }
            fn visit_string<E>(self, mut v: String) -> Result<TokenValue, E> {
                let value = TokenValue::new(v.as_str().to_owned());
                v.zeroize();
                Ok(value)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A derived S3 secret access key (lowercase hex SHA-256 of a token value).
pub struct S3Secret(SecretString);

impl S3Secret {
    pub fn new(value: impl Into<String>) -> Self {
        S3Secret(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Bytes that hold a secret while they are built (an API answer, a rendered output). A plain
/// `Vec` or `String` that grows copies itself and frees the old block unwiped; this one
/// wipes the old block on every growth and the last one when dropped.
pub struct SecretBuf(Zeroizing<Vec<u8>>);

impl SecretBuf {
    pub fn with_capacity(capacity: usize) -> Self {
        SecretBuf(Zeroizing::new(Vec::with_capacity(capacity)))
    }

    pub fn push(&mut self, bytes: &[u8]) {
        let need = self.0.len() + bytes.len();
        if need > self.0.capacity() {
            let mut bigger = Vec::with_capacity(need.max(self.0.capacity() * 2));
            bigger.extend_from_slice(&self.0);
            // The old block is wiped as the old `Zeroizing` drops.
            self.0 = Zeroizing::new(bigger);
        }
        self.0.extend_from_slice(bytes);
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// As text; a buffer built only through `fmt::Write` is always valid UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Write for SecretBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl std::io::Write for SecretBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A secret file given on the command line that cannot be used. No variant carries a
/// byte of the file.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot read {what} '{path}'")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} '{path}' is empty")]
    Empty { what: &'static str, path: PathBuf },
    #[error(
        "{what} '{path}' has {lines} non-empty lines\n  hint: it must hold the token alone, on one line"
    )]
    Lines {
        what: &'static str,
        path: PathBuf,
        lines: usize,
    },
    #[error(
        "{what} '{path}' is not a token (larger than {max} bytes, or not UTF-8)\n  hint: it must hold the token alone, on one line"
    )]
    NotToken {
        what: &'static str,
        path: PathBuf,
        max: usize,
    },
}

/// A token file this large is certainly not a token (one is 40-53 characters).
pub const MAX_SECRET_FILE: usize = 4096;

/// The token in `path` (`what` names the file in errors, e.g. "the API token file"): its
/// one non-empty line, trimmed. More than one non-empty line is an error, so that a file
/// holding something else is never sent as a bearer token.
pub fn read_token_file(what: &'static str, path: &Path) -> Result<TokenValue, SecretFileError> {
    let file = std::fs::File::open(path).map_err(|source| SecretFileError::Io {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    read_token(what, path, file)
}

/// As `read_token_file`, from any reader (stdin for `r2gitops adopt --value-from-stdin`);
/// `path` only names it in errors.
pub fn read_token(
    what: &'static str,
    path: &Path,
    reader: impl Read,
) -> Result<TokenValue, SecretFileError> {
    let p = || path.to_path_buf();
    // Sized once, so that reading never reallocates; wiped when dropped.
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_SECRET_FILE + 1));
    reader
        .take(MAX_SECRET_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|source| SecretFileError::Io {
            what,
            path: p(),
            source,
        })?;
    let not_token = || SecretFileError::NotToken {
        what,
        path: p(),
        max: MAX_SECRET_FILE,
    };
    if buf.len() > MAX_SECRET_FILE {
        return Err(not_token());
    }
    let text = std::str::from_utf8(&buf).map_err(|_| not_token())?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let token = lines
        .next()
        .ok_or_else(|| SecretFileError::Empty { what, path: p() })?;
    let more = lines.count();
    if more > 0 {
        return Err(SecretFileError::Lines {
            what,
            path: p(),
            lines: more + 1,
        });
    }
    Ok(TokenValue::new(token.to_owned()))
}

/// Who besides the owner may read the file at `path`, for a warning: `None` when nobody.
/// A group-readable file whose group is the process's own is accepted: Kubernetes' `fsGroup`
/// turns a secret mounted with mode 0400 into 0440 owned by the pod's group.
pub fn file_exposure(path: &Path) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    let mode = meta.mode() & 0o777;
    let own_group = meta.gid() == rustix::process::getegid().as_raw();
    Ok(if mode & 0o004 != 0 {
        Some(format!("everyone (mode {mode:04o})"))
    } else if mode & 0o040 != 0 && !own_group {
        Some(format!("group {} (mode {mode:04o})", meta.gid()))
    } else {
        None
    })
}

/// Log a warning when a secret file is readable by others.
pub fn warn_if_exposed(what: &str, path: &Path) {
    if let Ok(Some(who)) = file_exposure(path) {
        tracing::warn!(
            file = %path.display(),
            readable_by = %who,
            "{what} is readable by others: whoever reads it holds the token; chmod 600 it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_holds_one_non_empty_line_and_errors_never_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let cases: [(&str, Result<&str, &str>); 6] = [
            ("tok-1\n", Ok("tok-1")),
            ("\n  tok-2  \n\n", Ok("tok-2")),
            ("tok-3", Ok("tok-3")),
            ("tok-a\ntok-b\n", Err("has 2 non-empty lines")),
            ("# comment\ntok-c\n", Err("has 2 non-empty lines")),
            (" \n\t\n", Err("is empty")),
        ];
        for (text, want) in cases {
            std::fs::write(&file, text).unwrap();
            match (read_token_file("the API token file", &file), want) {
                (Ok(t), Ok(w)) => assert_eq!(t.expose(), w, "{text:?}"),
                (Err(e), Err(w)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(w), "{text:?}: {msg}");
                    assert!(msg.starts_with("the API token file '"), "{msg}");
                    assert!(msg.contains(&file.display().to_string()), "{msg}");
                    for part in ["tok-", "comment"] {
                        assert!(!msg.contains(part), "quotes the file: {msg}");
                    }
                }
                (got, w) => panic!("{text:?}: got {:?}, want {w:?}", got.err()),
            }
        }
        std::fs::write(&file, vec![b'x'; MAX_SECRET_FILE + 1]).unwrap();
        assert!(matches!(
            read_token_file("t", &file),
            Err(SecretFileError::NotToken { .. })
        ));
    }

    #[test]
    fn a_file_others_can_read_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "t\n").unwrap();
        // The file's group is this process's own (it created it).
        let cases = [
            (0o600, None),
            (0o400, None),
            (0o640, None),
            (0o644, Some("everyone (mode 0644)")),
            (0o604, Some("everyone (mode 0604)")),
        ];
        for (mode, want) in cases {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(file_exposure(&file).unwrap().as_deref(), want, "{mode:o}");
        }
    }

    #[test]
    fn a_token_value_deserializes_from_json_and_rejects_other_types() {
        let v: TokenValue = serde_json::from_str(r#""cfat_abc""#).unwrap();
        assert_eq!(v.expose(), "cfat_abc");
        let v: TokenValue = serde_json::from_str(r#""with\"escape""#).unwrap();
        assert_eq!(v.expose(), "with\"escape");
        assert!(serde_json::from_str::<TokenValue>("12").is_err());
    }

    #[test]
    fn a_secret_buffer_keeps_every_byte_across_growth() {
        use std::fmt::Write;
        let mut b = SecretBuf::with_capacity(4);
        for i in 0..100 {
            write!(b, "{i},").unwrap();
        }
        let want: String = (0..100).map(|i| format!("{i},")).collect();
        assert_eq!(b.expose_str(), Some(want.as_str()));
        assert_eq!(b.len(), want.len());
    }
}
