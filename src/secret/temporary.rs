//! The secrets of a temporary credential: its session token, and the secret access
//! key Cloudflare issues with it (an `S3Secret`, decoded here). Like the rest of `secret`: no
//! `Debug`, no `Display`, wiped when dropped, and decoded straight from the answer's bytes.

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use super::S3Secret;

/// The session token of a temporary credential, sent by S3 clients as
/// `X-Amz-Security-Token`. A bearer secret like the secret access key.
pub struct SessionToken(SecretString);

impl SessionToken {
    pub fn new(value: impl Into<String>) -> Self {
        SessionToken(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A string decoded into a secret type without an intermediate copy left behind (as
/// `TokenValue`'s decoder does).
struct SecretVisitor<T>(fn(String) -> T);

impl<T> serde::de::Visitor<'_> for SecretVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a secret (a string)")
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(v.to_owned()))
    }
    fn visit_string<E>(self, mut v: String) -> Result<T, E> {
        let value = (self.0)(v.as_str().to_owned());
        v.zeroize();
        Ok(value)
    }
}

impl<'de> serde::Deserialize<'de> for SessionToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SecretVisitor(SessionToken::new))
    }
}

impl<'de> serde::Deserialize<'de> for S3Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SecretVisitor(S3Secret::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_secrets_decode_from_json_strings_only() {
        let t: SessionToken = serde_json::from_str(r#""am9iL2V5Sg==""#).unwrap();
        assert_eq!(t.expose(), "am9iL2V5Sg==");
        let s: S3Secret = serde_json::from_str(r#""ab\"cd""#).unwrap();
        assert_eq!(s.expose(), "ab\"cd");
        assert!(serde_json::from_str::<SessionToken>("7").is_err());
        assert!(serde_json::from_str::<S3Secret>("null").is_err());
    }
}
