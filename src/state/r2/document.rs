//! The state object's content: the inventory's own JSON form inside an envelope that carries
//! the writer's lease epoch (fencing) and a serial that every write increments, so that each
//! write changes the object's ETag even when the inventory did not change. Pure.

use serde::{Deserialize, Serialize};

/// Bumped when the envelope's meaning changes.
pub const ENVELOPE_VERSION: u32 = 1;

/// The largest state object read (the file's own bound).
pub const MAX_STATE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The lease epoch of the run that wrote it; 0: written without a lease (`state migrate`).
    pub epoch: u64,
    pub serial: u64,
    /// The inventory's JSON text, as the local file holds it.
    pub inventory_json: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    r2gitops_state: u32,
    epoch: u64,
    serial: u64,
    inventory: serde_json::Value,
}

impl Document {
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let inventory: serde_json::Value = serde_json::from_str(&self.inventory_json)
            .map_err(|e| format!("the inventory is not JSON: {e}"))?;
        let env = Envelope {
            r2gitops_state: ENVELOPE_VERSION,
            epoch: self.epoch,
            serial: self.serial,
            inventory,
        };
        let mut out = serde_json::to_vec_pretty(&env).expect("JSON values serialize");
        out.push(b'\n');
        Ok(out)
    }

    /// Parse the object; the reason never quotes its content.
    pub fn from_bytes(bytes: &[u8]) -> Result<Document, String> {
        if bytes.len() > MAX_STATE_BYTES {
            return Err(format!("larger than {MAX_STATE_BYTES} bytes"));
        }
        let env: Envelope = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not an r2gitops state object: invalid at line {} column {}",
                e.line(),
                e.column()
            )
        })?;
        if env.r2gitops_state != ENVELOPE_VERSION {
            return Err(format!(
                "state envelope version {}; this r2gitops understands {ENVELOPE_VERSION}",
                env.r2gitops_state
            ));
        }
        Ok(Document {
            epoch: env.epoch,
            serial: env.serial,
            inventory_json: serde_json::to_string_pretty(&env.inventory)
                .expect("JSON values serialize"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_round_trips_and_bad_objects_are_refused_without_quoting_them() {
        let d = Document {
            epoch: 3,
            serial: 9,
            inventory_json: "{\"version\": 1, \"tokens\": {}}".into(),
        };
        let back = Document::from_bytes(&d.to_bytes().unwrap()).unwrap();
        assert_eq!((back.epoch, back.serial), (3, 9));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&back.inventory_json).unwrap(),
            serde_json::json!({"version": 1, "tokens": {}})
        );
        let bad: [&[u8]; 4] = [
            b"SECRETLIKE",
            br#"{"version": 1, "tokens": {}}"#,
            br#"{"r2gitops_state": 2, "epoch": 1, "serial": 1, "inventory": {}}"#,
            br#"{"r2gitops_state": 1, "epoch": 1, "serial": 1, "inventory": {}, "x": "SECRETLIKE"}"#,
        ];
        for b in bad {
            let e = Document::from_bytes(b).unwrap_err();
            assert!(!e.contains("SECRETLIKE"), "{e}");
        }
    }
}
