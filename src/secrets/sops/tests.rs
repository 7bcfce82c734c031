//! Unit tests of `secrets::sops`.

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
    let yaml =
        String::from_utf8(encrypt_yaml("t", &doc(), &[id.to_public().to_string()], now).unwrap())
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
