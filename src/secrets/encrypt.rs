//! age encryption in memory, to X25519 (`age1...`) and SSH (`ssh-ed25519`, `ssh-rsa`)
//! recipients, binary or ASCII-armored.
//!
//! No file I/O: plaintext goes in as bytes, ciphertext comes out as bytes. Holds no identity,
//! so nothing here can decrypt.

use std::io::Write;
use std::str::FromStr;

use age::armor::{ArmoredWriter, Format};

use super::SecretsError;

/// Parse one recipient line as written in a config or an `age -R` file.
pub fn parse_recipient(line: &str) -> Result<Box<dyn age::Recipient + Send>, String> {
    let line = line.trim();
    if line.starts_with("age1") {
        age::x25519::Recipient::from_str(line)
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| e.to_string())
    } else if line.starts_with("ssh-") {
        age::ssh::Recipient::from_str(line)
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| match e {
                age::ssh::ParseRecipientKeyError::Unsupported(t) => {
                    format!("unsupported SSH key type {t}")
                }
                age::ssh::ParseRecipientKeyError::RsaModulusTooLarge => {
                    "RSA modulus too large".to_owned()
                }
                age::ssh::ParseRecipientKeyError::RsaModulusTooSmall => {
                    "RSA modulus too small".to_owned()
                }
                _ => "not a valid SSH public key".to_owned(),
            })
    } else {
        Err("expected an age X25519 (age1...) or SSH (ssh-ed25519, ssh-rsa) public key".into())
    }
}

/// Encrypt `plaintext` to every recipient (any one identity opens the file).
pub fn encrypt(
    token: &str,
    recipients: &[String],
    armor: bool,
    plaintext: &[u8],
) -> Result<Vec<u8>, SecretsError> {
    if recipients.is_empty() {
        return Err(SecretsError::NoRecipients {
            token: token.to_owned(),
        });
    }
    let parsed = recipients
        .iter()
        .enumerate()
        .map(|(index, r)| {
            parse_recipient(r).map_err(|reason| SecretsError::Recipient {
                token: token.to_owned(),
                index,
                recipient: shorten(r),
                reason,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let io = |source: std::io::Error| SecretsError::Encrypt {
        token: token.to_owned(),
        source,
    };
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let format = if armor {
        Format::AsciiArmor
    } else {
        Format::Binary
    };
    let mut out = Vec::with_capacity(plaintext.len() + 512);
    let armored = ArmoredWriter::wrap_output(&mut out, format).map_err(io)?;
    let mut writer = encryptor.wrap_output(armored).map_err(io)?;
    writer.write_all(plaintext).map_err(io)?;
    writer.finish().and_then(|a| a.finish()).map_err(io)?;
    Ok(out)
}

/// A public key is not secret, but a whole RSA key makes an unreadable error line.
fn shorten(r: &str) -> String {
    let r = r.trim();
    if r.chars().count() > 40 {
        format!("{}...", r.chars().take(40).collect::<String>())
    } else {
        r.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decrypt(identity: &age::x25519::Identity, ct: &[u8]) -> Vec<u8> {
        age::decrypt(identity, ct).unwrap()
    }

    #[test]
    fn any_one_of_several_recipients_opens_the_file() {
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let recipients = vec![a.to_public().to_string(), b.to_public().to_string()];
        let ct = encrypt("t", &recipients, false, b"hello").unwrap();
        assert_eq!(decrypt(&a, &ct), b"hello");
        assert_eq!(decrypt(&b, &ct), b"hello");
        let stranger = age::x25519::Identity::generate();
        assert!(age::decrypt(&stranger, &ct).is_err());
    }

    #[test]
    fn armor_produces_pem_text_and_binary_does_not() {
        let a = age::x25519::Identity::generate();
        let r = vec![a.to_public().to_string()];
        let armored = encrypt("t", &r, true, b"secret-bytes").unwrap();
        let text = String::from_utf8(armored.clone()).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(
            text.trim_end()
                .ends_with("-----END AGE ENCRYPTED FILE-----")
        );
        assert_eq!(decrypt(&a, &armored), b"secret-bytes");
        let binary = encrypt("t", &r, false, b"secret-bytes").unwrap();
        assert!(binary.starts_with(b"age-encryption.org/v1\n"));
        assert!(!binary.windows(12).any(|w| w == b"secret-bytes"));
    }

    #[test]
    fn bad_recipients_are_named_by_position_and_nothing_is_encrypted() {
        let good = age::x25519::Identity::generate().to_public().to_string();
        let cases = [
            (vec![good.clone(), "age1notakey".into()], 1, "age1notakey"),
            (
                vec!["ssh-ed25519 AAAAnope".into()],
                0,
                "ssh-ed25519 AAAAnope",
            ),
            (vec!["ssh-dss AAAAB3NzaC1kc3M=".into()], 0, "ssh-dss"),
            (vec!["gpg:1234".into()], 0, "gpg:1234"),
        ];
        for (recipients, index, shown) in cases {
            let err = encrypt("media", &recipients, false, b"x").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&format!("#{index}")), "{msg}");
            assert!(msg.contains(shown), "{msg}");
            assert!(msg.contains("'media'"), "{msg}");
        }
        assert!(matches!(
            encrypt("media", &[], false, b"x"),
            Err(SecretsError::NoRecipients { .. })
        ));
    }
}
