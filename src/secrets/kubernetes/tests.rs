//! Unit tests of `secrets::kubernetes`.

use std::path::PathBuf;

use time::macros::datetime;

use super::*;

fn spec(keys: KeyStyle) -> KubernetesSpec {
    KubernetesSpec {
        name: "r2-media-reader".into(),
        namespace: "media".into(),
        keys,
        labels: BTreeMap::from([("app".into(), "media".into())]),
    }
}

fn values(session: Option<&'static str>) -> Values<'static> {
    Values {
        account_id: "0123456789abcdef0123456789abcdef",
        access_key_id: "f00dfacef00dfacef00dfacef00dface",
        secret_access_key: "5ecre75ecre75ecre75ecre75ecre75ecre75ecre75ecre75ecre75ecre70000",
        session_token: session,
        endpoint: "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
        bucket: Some("media"),
        expires_at: session.map(|_| datetime!(2026-03-01 12:00:00 UTC)),
        api_token: None,
    }
}

fn owner() -> Owner<'static> {
    Owner {
        name: "media-reader",
        id: ("r2gitops.io/token-id", "f00dfacef00dfacef00dfacef00dface"),
        issued_at: datetime!(2026-03-01 11:00:00.25 UTC),
    }
}

fn plain(keys: KeyStyle, session: Option<&'static str>) -> serde_json::Value {
    let doc = manifest(&spec(keys), &owner(), &values(session));
    serde_saphyr::from_str(sops::plain_yaml(&doc).expose_str().unwrap()).unwrap()
}

#[test]
fn the_aws_keys_are_the_ones_the_sdks_read_from_the_environment() {
    let m = plain(KeyStyle::Aws, None);
    assert_eq!(m["apiVersion"], "v1");
    assert_eq!(m["kind"], "Secret");
    assert_eq!(m["type"], "Opaque");
    assert_eq!(m["metadata"]["name"], "r2-media-reader");
    assert_eq!(m["metadata"]["namespace"], "media");
    assert_eq!(m["metadata"]["labels"]["app"], "media");
    assert_eq!(
        m["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "r2gitops"
    );
    let a = &m["metadata"]["annotations"];
    assert_eq!(
        a["r2gitops.io/token-id"],
        "f00dfacef00dfacef00dfacef00dface"
    );
    assert_eq!(a["r2gitops.io/generation"], "2026-03-01T11:00:00Z");
    assert!(a.get("r2gitops.io/expires-at").is_none());
    let keys: Vec<&str> = m["stringData"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        "AWS_RESPONSE_CHECKSUM_VALIDATION",
        "R2_BUCKET",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(m["stringData"]["AWS_REGION"], "auto");
    assert_eq!(m["stringData"]["R2_BUCKET"], "media");
}

#[test]
fn a_temporary_credential_adds_its_session_token_and_expiry() {
    let m = plain(KeyStyle::Aws, Some("sess"));
    assert_eq!(m["stringData"]["AWS_SESSION_TOKEN"], "sess");
    assert_eq!(
        m["stringData"]["AWS_CREDENTIAL_EXPIRATION"],
        "2026-03-01T12:00:00Z"
    );
    assert_eq!(
        m["metadata"]["annotations"]["r2gitops.io/expires-at"],
        "2026-03-01T12:00:00Z"
    );
    let r = plain(KeyStyle::R2, Some("sess"));
    assert_eq!(r["stringData"]["R2_SESSION_TOKEN"], "sess");
    assert_eq!(r["stringData"]["R2_EXPIRES_AT"], "2026-03-01T12:00:00Z");
}

#[test]
fn the_r2_keys_are_cloudflares_names() {
    let m = plain(KeyStyle::R2, None);
    let d = &m["stringData"];
    for key in [
        "R2_ACCOUNT_ID",
        "R2_ACCESS_KEY_ID",
        "R2_SECRET_ACCESS_KEY",
        "R2_ENDPOINT",
        "R2_BUCKET",
    ] {
        assert!(d.get(key).is_some(), "missing {key}");
    }
    assert!(d.get("AWS_ACCESS_KEY_ID").is_none());
}

#[test]
fn a_declared_managed_by_label_wins() {
    let mut s = spec(KeyStyle::Aws);
    s.labels
        .insert("app.kubernetes.io/managed-by".into(), "flux".into());
    let doc = manifest(&s, &owner(), &values(None));
    let m: serde_json::Value =
        serde_saphyr::from_str(sops::plain_yaml(&doc).expose_str().unwrap()).unwrap();
    assert_eq!(
        m["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "flux"
    );
}

#[test]
fn the_age_format_is_the_plain_manifest_encrypted() {
    let id = age::x25519::Identity::generate();
    let output = OutputSpec {
        file: PathBuf::from("s.age"),
        format: OutputFormat::Kubernetes,
        recipients: vec![id.to_public().to_string()],
        armor: false,
        include_api_token: false,
        verify: false,
        kubernetes: Some(spec(KeyStyle::Aws)),
    };
    let ct = encode(
        "t",
        &output,
        &owner(),
        &values(None),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert!(ct.starts_with(b"age-encryption.org/v1\n"));
    let plain = age::decrypt(&id, &ct).unwrap();
    let m: serde_json::Value =
        serde_saphyr::from_str(std::str::from_utf8(&plain).unwrap()).unwrap();
    assert_eq!(
        m["stringData"]["AWS_ACCESS_KEY_ID"],
        "f00dfacef00dfacef00dfacef00dface"
    );
    assert!(m.get("sops").is_none());
}
