//! S3 credentials derived from an R2 API token: access key id = token id, secret access key
//! = lowercase hex SHA-256 of the exact token value, region `auto`.
//!
//! Pure: no I/O. The derived secret is born inside an `S3Secret` and never formatted.

use sha2::{Digest, Sha256};

use crate::secret::{S3Secret, TokenValue};

/// R2 signs with region `auto` (the docs accept `us-east-1` and empty as aliases).
pub const REGION: &str = "auto";

/// What an S3 client needs. Deliberately no `Debug`: it holds the secret.
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: S3Secret,
    /// Scheme and host, no trailing slash.
    pub endpoint: String,
    pub region: &'static str,
}

/// The S3 secret access key of a token value. Hashes the string exactly as Cloudflare
/// returned it: no trimming, no length or charset checks (formats have changed over time).
pub fn s3_secret(value: &TokenValue) -> S3Secret {
    S3Secret::new(hex::encode(Sha256::digest(value.expose().as_bytes())))
}

pub fn derive(token_id: &str, value: &TokenValue, endpoint: String) -> S3Credentials {
    S3Credentials {
        access_key_id: token_id.to_owned(),
        secret_access_key: s3_secret(value),
        endpoint,
        region: REGION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_lowercase_hex_sha256_of_the_exact_value() {
        // Expected digests computed independently (`printf %s VALUE | sha256sum`).
        let cases = [
            (
                "",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            // A trailing newline is part of the value: never trimmed.
            (
                "abc\n",
                "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(
                s3_secret(&TokenValue::new(value)).expose(),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn access_key_id_is_the_token_id_and_region_is_auto() {
        let c = derive(
            "0f3e8b1c2d4a5e6f708192a3b4c5d6e7",
            &TokenValue::new("cfat_fake"),
            "https://a.r2.cloudflarestorage.com".into(),
        );
        assert_eq!(c.access_key_id, "0f3e8b1c2d4a5e6f708192a3b4c5d6e7");
        assert_eq!(c.region, "auto");
        assert_eq!(c.endpoint, "https://a.r2.cloudflarestorage.com");
        assert_eq!(c.secret_access_key.expose().len(), 64);
    }
}
