//! Types that carry secrets. None of them implements `Debug` or `Display`, so a secret
//! cannot reach a log line, a panic message or an error by accident; reading one needs an
//! explicit `expose()` at the place that really needs the bytes.

use secrecy::{ExposeSecret, SecretString};

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
