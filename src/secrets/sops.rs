//! SOPS encryption of a YAML document, in the format `sops` 3.x decrypts and verifies
//! (getsops/sops `sops.go`, `aes/cipher.go`, `stores/yaml`, `age/keysource.go`):
//!
//! - a random 32-byte data key, age-encrypted and armored once per recipient
//!   (`sops.age: [{recipient, enc}]`; any one recipient's identity opens the file);
//! - each leaf whose key path has a component matching `encrypted_regex`
//!   (`^(data|stringData)$`) becomes `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]`:
//!   AES-256-GCM with a random 32-byte IV, the additional data being the key path joined by
//!   `:` with a trailing `:` (sops' `pathString`); an empty value stays empty, as sops leaves
//!   it;
//! - the MAC is SHA-512 over the bytes of every leaf value (encrypted or not, keys excluded)
//!   in document order, as uppercase hex, itself encrypted like a value with `lastmodified`
//!   (RFC 3339, whole seconds, UTC) as its additional data.
//!
//! Owns the plaintext values while it encrypts them: each is copied into a wiped buffer that
//! is encrypted in place, and the data key lives in a wiped array. What it returns holds no
//! secret (it is meant to be committed). No file I/O, no clock (the caller passes `now`).

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::U32;
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::TryRngCore as _;
use sha2::{Digest, Sha512};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::SecretsError;
use super::encrypt;
use crate::secret::SecretBuf;

/// AES-256-GCM with the 32-byte nonce sops uses (`aes/cipher.go`: `nonceSize = 32`).
type Cipher = AesGcm<Aes256, U32>;

/// The keys whose subtrees are encrypted: every value under `data` or `stringData`.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// The sops release whose format this writes (`sops.version`; informational to sops).
pub const SOPS_VERSION: &str = "3.11.0";

/// A YAML document as a tree of mappings in document order. `Secret` leaves must end up
/// encrypted (they sit under `stringData`); `Text` leaves are shown as they are.
pub enum Node {
    Map(Vec<(String, Node)>),
    Text(String),
    Secret(SecretBuf),
}

/// Whether sops encrypts the leaf at `path` under `ENCRYPTED_REGEX` (any component).
fn encrypted(path: &[&str]) -> bool {
    path.iter().any(|p| *p == "data" || *p == "stringData")
}

/// The document as plaintext YAML (for the age-encrypted `kubernetes` format).
pub fn plain_yaml(doc: &[(String, Node)]) -> SecretBuf {
    let mut out = SecretBuf::with_capacity(4096);
    emit_map(&mut out, doc, 0);
    out
}

/// The document SOPS-encrypted to `recipients`, as YAML with a `sops:` block.
pub fn encrypt_yaml(
    token: &str,
    doc: &[(String, Node)],
    recipients: &[String],
    now: OffsetDateTime,
) -> Result<Vec<u8>, SecretsError> {
    let render_error = || SecretsError::Render {
        token: token.to_owned(),
        format: "kubernetes-sops",
    };
    let mut key = Zeroizing::new([0u8; 32]);
    fill_random(token, &mut key[..])?;
    let cipher = Cipher::new_from_slice(&key[..]).map_err(|_| render_error())?;

    let mut mac = Sha512::new();
    let mut path: Vec<&str> = Vec::new();
    let encrypted_doc = encrypt_map(token, &cipher, doc, &mut path, &mut mac)?;

    let lastmodified = now
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|_| render_error())?
        .format(&Rfc3339)
        .map_err(|_| render_error())?;
    let mac_hex = hex::encode_upper(mac.finalize());
    let mac_value = seal(token, &cipher, mac_hex.as_bytes(), &lastmodified)?;

    let mut keys = Vec::with_capacity(recipients.len());
    for (index, r) in recipients.iter().enumerate() {
        // One age file per recipient, as sops writes them (any one opens the data key).
        let enc = encrypt::encrypt(token, std::slice::from_ref(r), true, &key[..]).map_err(
            |e| match e {
                SecretsError::Recipient { reason, .. } => SecretsError::Recipient {
                    token: token.to_owned(),
                    index,
                    recipient: r.clone(),
                    reason,
                },
                other => other,
            },
        )?;
        let enc = String::from_utf8(enc).map_err(|_| render_error())?;
        keys.push((r.trim().to_string(), enc));
    }
    drop(key);

    let mut out = String::with_capacity(4096);
    emit_map(&mut out, &encrypted_doc, 0);
    out.push_str("sops:\n    age:\n");
    for (recipient, enc) in &keys {
        out.push_str("        - recipient: ");
        quote(&mut out, recipient);
        out.push_str("\n          enc: |\n");
        for line in enc.lines() {
            out.push_str("            ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("    lastmodified: ");
    quote(&mut out, &lastmodified);
    out.push_str("\n    mac: ");
    quote(&mut out, &mac_value);
    out.push_str("\n    encrypted_regex: ");
    quote(&mut out, ENCRYPTED_REGEX);
    out.push_str("\n    version: ");
    quote(&mut out, SOPS_VERSION);
    out.push('\n');
    Ok(out.into_bytes())
}

fn fill_random(token: &str, buf: &mut [u8]) -> Result<(), SecretsError> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| SecretsError::Encrypt {
            token: token.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })
}

/// The same tree with every leaf sops encrypts replaced by its `ENC[...]` value, hashing
/// every leaf's plaintext into `mac` on the way (sops' `Tree.Encrypt`).
fn encrypt_map<'a>(
    token: &str,
    cipher: &Cipher,
    map: &'a [(String, Node)],
    path: &mut Vec<&'a str>,
    mac: &mut Sha512,
) -> Result<Vec<(String, Node)>, SecretsError> {
    let mut out = Vec::with_capacity(map.len());
    for (key, node) in map {
        path.push(key);
        let value = match node {
            Node::Map(children) => Node::Map(encrypt_map(token, cipher, children, path, mac)?),
            Node::Text(text) => leaf(token, cipher, text.as_bytes(), path, mac)?,
            Node::Secret(secret) => {
                if !encrypted(path) {
                    // Only a bug could put a secret outside `stringData`: never write it.
                    return Err(SecretsError::Render {
                        token: token.to_owned(),
                        format: "kubernetes-sops",
                    });
                }
                leaf(token, cipher, secret.expose(), path, mac)?
            }
        };
        path.pop();
        out.push((key.clone(), value));
    }
    Ok(out)
}

fn leaf(
    token: &str,
    cipher: &Cipher,
    plaintext: &[u8],
    path: &[&str],
    mac: &mut Sha512,
) -> Result<Node, SecretsError> {
    mac.update(plaintext);
    if !encrypted(path) {
        // Shown as it is; a text leaf holds no secret.
        let text = std::str::from_utf8(plaintext).unwrap_or_default();
        return Ok(Node::Text(text.to_owned()));
    }
    if plaintext.is_empty() {
        return Ok(Node::Text(String::new()));
    }
    let mut ad = path.join(":");
    ad.push(':');
    Ok(Node::Text(seal(token, cipher, plaintext, &ad)?))
}

/// `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]` of `plaintext` (`aes/cipher.go` Encrypt).
fn seal(
    token: &str,
    cipher: &Cipher,
    plaintext: &[u8],
    additional_data: &str,
) -> Result<String, SecretsError> {
    let mut iv = [0u8; 32];
    fill_random(token, &mut iv)?;
    // Encrypted in place: the only copy of the plaintext is this buffer, wiped on drop.
    let mut buf = Zeroizing::new(plaintext.to_vec());
    let tag = cipher
        .encrypt_in_place_detached(
            Nonce::<U32>::from_slice(&iv),
            additional_data.as_bytes(),
            &mut buf[..],
        )
        .map_err(|_| SecretsError::Render {
            token: token.to_owned(),
            format: "kubernetes-sops",
        })?;
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:str]",
        B64.encode(&buf[..]),
        B64.encode(iv),
        B64.encode(tag)
    ))
}

/// Block-style YAML, four spaces per level (as sops writes), every key and scalar
/// double-quoted so that no value can change the document's shape.
fn emit_map<W: std::fmt::Write>(out: &mut W, map: &[(String, Node)], indent: usize) {
    for (key, node) in map {
        let _ = write!(out, "{:indent$}", "");
        quote(out, key);
        match node {
            Node::Map(children) if children.is_empty() => {
                let _ = out.write_str(": {}\n");
            }
            Node::Map(children) => {
                let _ = out.write_str(":\n");
                emit_map(out, children, indent + 4);
            }
            Node::Text(text) => {
                let _ = out.write_str(": ");
                quote(out, text);
                let _ = out.write_str("\n");
            }
            Node::Secret(secret) => {
                let _ = out.write_str(": ");
                quote(out, secret.expose_str().unwrap_or_default());
                let _ = out.write_str("\n");
            }
        }
    }
}

/// A YAML double-quoted scalar, written straight into `out` (no intermediate string, which
/// for a secret would be an unwiped copy). Escapes what YAML 1.1 and 1.2 parsers treat as
/// breaks or specials, so the value reads back byte for byte.
fn quote<W: std::fmt::Write>(out: &mut W, s: &str) {
    let _ = out.write_char('"');
    for ch in s.chars() {
        let _ = match ch {
            '"' => out.write_str("\\\""),
            '\\' => out.write_str("\\\\"),
            '\n' => out.write_str("\\n"),
            '\t' => out.write_str("\\t"),
            '\r' => out.write_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                write!(out, "\\u{:04x}", c as u32)
            }
            c => out.write_char(c),
        };
    }
    let _ = out.write_char('"');
}

#[cfg(test)]
mod tests;
