//! What may be published: the bytes of an output as the inventory recorded them, and only\n//! if they look like age or SOPS ciphertext.

use super::*;

/// The output's bytes as the writer wrote them (the inventory's SHA-256), checked to be
/// ciphertext. `None` when the file is gone or changed since (the next pass rolls it).
pub(super) fn read_output(output_dir: &Path, item: &Item) -> Result<Option<Vec<u8>>, PublishError> {
    let read_err = |source| PublishError::Read {
        path: item.rel.clone(),
        source,
    };
    let Some(path) = crate::secrets::write::existing_output(output_dir, &item.rel)
        .map_err(|e| read_err(std::io::Error::other(crate::error::error_chain(&e))))?
    else {
        return Ok(None);
    };
    let bytes =
        crate::safe_fs::read_bounded(&path, MAX_FILE_BYTES, crate::safe_fs::Last::NoSymlink)
            .map_err(read_err)?;
    if hex::encode(Sha256::digest(&bytes)) != item.record.ciphertext_sha256 {
        tracing::warn!(file = %item.rel.display(), "not published: the output changed since it was written (the next pass rolls it)");
        return Ok(None);
    }
    if let Err(why) = encrypted(item.format, &bytes) {
        return Err(PublishError::NotEncrypted {
            path: item.rel.clone(),
            why,
        });
    }
    Ok(Some(bytes))
}

/// Whether `bytes` are ciphertext of `format`: an age file (binary or armored), or a SOPS
/// document whose every value under `data`/`stringData` is encrypted and that has a MAC.
pub fn encrypted(format: OutputFormat, bytes: &[u8]) -> Result<(), &'static str> {
    if format != OutputFormat::KubernetesSops {
        return if bytes.starts_with(b"age-encryption.org/v1\n")
            || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
        {
            Ok(())
        } else {
            Err("no age header")
        };
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    let doc: serde_json::Value = serde_saphyr::from_str(text).map_err(|_| "not YAML")?;
    let sops = doc.get("sops").ok_or("no sops block")?;
    let enc = |v: &serde_json::Value| v.as_str().is_some_and(|s| s.starts_with("ENC[AES256_GCM,"));
    if !sops.get("mac").is_some_and(enc) {
        return Err("no encrypted MAC");
    }
    if sops
        .get("age")
        .and_then(|a| a.as_array())
        .is_none_or(|a| a.is_empty())
    {
        return Err("no age recipient");
    }
    for key in ["data", "stringData"] {
        if let Some(values) = doc.get(key) {
            let values = values
                .as_object()
                .ok_or("a data block that is not a mapping")?;
            if !values
                .values()
                .all(|v| enc(v) || v.as_str().is_some_and(str::is_empty))
            {
                return Err("a value in the clear");
            }
        }
    }
    Ok(())
}
