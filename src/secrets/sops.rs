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
mod tests {
    use aes_gcm::aead::Aead as _;

    use super::*;

    fn secret(s: &str) -> Node {
        let mut b = SecretBuf::with_capacity(64);
        b.push(s.as_bytes());
        Node::Secret(b)
    }

    fn doc() -> Vec<(String, Node)> {
        vec![
            ("apiVersion".into(), Node::Text("v1".into())),
            ("kind".into(), Node::Text("Secret".into())),
            (
                "metadata".into(),
                Node::Map(vec![
                    ("name".into(), Node::Text("r2-media".into())),
                    (
                        "labels".into(),
                        Node::Map(vec![("data".into(), Node::Text("x".into()))]),
                    ),
                ]),
            ),
            (
                "stringData".into(),
                Node::Map(vec![
                    ("AWS_SECRET_ACCESS_KEY".into(), secret("s3cr3t\"\n")),
                    ("EMPTY".into(), secret("")),
                ]),
            ),
        ]
    }

    /// A minimal reader of what `encrypt_yaml` writes, standing in for sops' decrypt: the
    /// data key from the age stanza, then every `ENC[...]` opened with its path as the
    /// additional data, and the MAC recomputed. The real `sops` judges the same files in
    /// `tests/kubernetes_sops.rs`; this pins the rules in a unit table. Returns the leaves
    /// (in key order: `serde_json` sorts them) and the MAC as stored.
    fn open(identity: &age::x25519::Identity, yaml: &str) -> (Vec<(String, String)>, String) {
        let value: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
        let sops = &value["sops"];
        let enc = sops["age"][0]["enc"].as_str().unwrap();
        let key = age::decrypt(identity, enc.as_bytes()).unwrap();
        let cipher = Cipher::new_from_slice(&key).unwrap();
        let open_value = |text: &str, ad: &str| -> String {
            let inner = text
                .strip_prefix("ENC[AES256_GCM,data:")
                .unwrap()
                .strip_suffix(",type:str]")
                .unwrap();
            let (data, rest) = inner.split_once(",iv:").unwrap();
            let (iv, tag) = rest.split_once(",tag:").unwrap();
            let mut ct = B64.decode(data).unwrap();
            ct.extend(B64.decode(tag).unwrap());
            let iv = B64.decode(iv).unwrap();
            let pt = cipher
                .decrypt(
                    Nonce::<U32>::from_slice(&iv),
                    aes_gcm::aead::Payload {
                        msg: &ct,
                        aad: ad.as_bytes(),
                    },
                )
                .unwrap();
            String::from_utf8(pt).unwrap()
        };
        let mut leaves = Vec::new();
        fn walk(
            v: &serde_json::Value,
            path: &mut Vec<String>,
            out: &mut Vec<(String, String)>,
            open: &dyn Fn(&str, &str) -> String,
        ) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        if path.is_empty() && k == "sops" {
                            continue;
                        }
                        path.push(k.clone());
                        walk(v, path, out, open);
                        path.pop();
                    }
                }
                serde_json::Value::String(s) => {
                    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
                    let plain = if encrypted(&parts) && !s.is_empty() {
                        open(s, &format!("{}:", parts.join(":")))
                    } else {
                        s.clone()
                    };
                    out.push((parts.join("."), plain));
                }
                other => panic!("unexpected {other}"),
            }
        }
        walk(&value, &mut Vec::new(), &mut leaves, &open_value);
        let lastmodified = sops["lastmodified"].as_str().unwrap();
        (
            leaves,
            open_value(sops["mac"].as_str().unwrap(), lastmodified),
        )
    }

    #[test]
    fn every_value_under_string_data_opens_with_its_path_and_the_mac_covers_every_leaf() {
        let id = age::x25519::Identity::generate();
        let now = time::macros::datetime!(2026-03-01 12:00:00.5 +01:00);
        let yaml = encrypt_yaml("t", &doc(), &[id.to_public().to_string()], now).unwrap();
        let yaml = String::from_utf8(yaml).unwrap();
        let (mut leaves, mac) = open(&id, &yaml);
        // Document order, every leaf, keys excluded (sops' `Tree.Encrypt`).
        let in_order = [
            ("apiVersion", "v1"),
            ("kind", "Secret"),
            ("metadata.name", "r2-media"),
            ("metadata.labels.data", "x"),
            ("stringData.AWS_SECRET_ACCESS_KEY", "s3cr3t\"\n"),
            ("stringData.EMPTY", ""),
        ];
        let mut want_mac = Sha512::new();
        for (_, v) in in_order {
            want_mac.update(v.as_bytes());
        }
        assert_eq!(mac, hex::encode_upper(want_mac.finalize()), "{yaml}");
        let mut want: Vec<(String, String)> = in_order
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec();
        leaves.sort();
        want.sort();
        assert_eq!(leaves, want);
        assert!(!yaml.contains("s3cr3t"), "{yaml}");
        // A label named `data` matches the regex too: sops would expect it encrypted.
        assert!(yaml.contains("\"data\": \"ENC[AES256_GCM,"), "{yaml}");
        assert!(yaml.contains("\"name\": \"r2-media\""), "{yaml}");
        assert!(yaml.contains("\"EMPTY\": \"\""), "{yaml}");
        // Whole seconds, UTC: sops formats `lastmodified` with time.RFC3339 for the MAC's
        // additional data, so a fraction would make the MAC unreadable.
        assert!(
            yaml.contains("lastmodified: \"2026-03-01T11:00:00Z\""),
            "{yaml}"
        );
        assert!(yaml.contains("encrypted_regex: \"^(data|stringData)$\""));
    }

    #[test]
    fn each_recipient_gets_its_own_armored_copy_of_the_data_key() {
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let recipients = [a.to_public().to_string(), b.to_public().to_string()];
        let now = OffsetDateTime::UNIX_EPOCH;
        let yaml = String::from_utf8(encrypt_yaml("t", &doc(), &recipients, now).unwrap()).unwrap();
        let value: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        let keys = value["sops"]["age"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for (i, id) in [a, b].iter().enumerate() {
            assert_eq!(keys[i]["recipient"], recipients[i]);
            let enc = keys[i]["enc"].as_str().unwrap();
            assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
            assert_eq!(age::decrypt(id, enc.as_bytes()).unwrap().len(), 32);
        }
    }

    #[test]
    fn a_changed_value_or_path_fails_to_open() {
        let id = age::x25519::Identity::generate();
        let now = OffsetDateTime::UNIX_EPOCH;
        let yaml = String::from_utf8(
            encrypt_yaml("t", &doc(), &[id.to_public().to_string()], now).unwrap(),
        )
        .unwrap();
        // The same ciphertext under another key path: the additional data differs.
        let moved = yaml.replace("\"AWS_SECRET_ACCESS_KEY\":", "\"OTHER\":");
        let r = std::panic::catch_unwind(|| open(&id, &moved));
        assert!(r.is_err(), "a value moved to another key must not open");
    }

    #[test]
    fn a_secret_outside_string_data_is_never_written() {
        let id = age::x25519::Identity::generate();
        let bad = vec![("metadata".into(), secret("leak"))];
        let err = encrypt_yaml(
            "t",
            &bad,
            &[id.to_public().to_string()],
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert!(matches!(err, SecretsError::Render { .. }));
    }

    #[test]
    fn quoting_keeps_every_character_and_the_document_shape() {
        let cases = [
            "plain",
            "a: b # c",
            "\"quoted\" \\ back",
            "line\nbreak\ttab\r",
            "\u{1}\u{7f}\u{2028}\u{feff}",
            "ünïcode ✓",
        ];
        for s in cases {
            let doc = vec![("k".to_string(), Node::Text(s.to_string()))];
            let yaml = plain_yaml(&doc);
            let text = yaml.expose_str().unwrap();
            assert_eq!(text.lines().count(), 1, "{text}");
            let back: std::collections::BTreeMap<String, String> =
                serde_saphyr::from_str(text).unwrap();
            assert_eq!(back["k"], s);
        }
    }
}
