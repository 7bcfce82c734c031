use super::repository::normalized_url;
use super::*;

#[test]
fn only_ciphertext_passes_for_publishing() {
    let age_ok = b"age-encryption.org/v1\n-> X25519 abc\n";
    let armored = b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n";
    assert_eq!(encrypted(OutputFormat::Env, age_ok), Ok(()));
    assert_eq!(encrypted(OutputFormat::Kubernetes, armored), Ok(()));
    assert!(encrypted(OutputFormat::Env, b"AWS_SECRET_ACCESS_KEY=x\n").is_err());
    let sops = |data: &str, mac: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nstringData:\n    {data}\nsops:\n    age:\n        - recipient: age1x\n          enc: x\n    mac: {mac}\n"
        )
    };
    let enc = "\"ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\"";
    let f = OutputFormat::KubernetesSops;
    assert_eq!(
        encrypted(f, sops(&format!("K: {enc}"), enc).as_bytes()),
        Ok(())
    );
    assert_eq!(encrypted(f, sops("K: \"\"", enc).as_bytes()), Ok(()));
    assert_eq!(
        encrypted(f, sops("K: plain", enc).as_bytes()),
        Err("a value in the clear")
    );
    assert_eq!(
        encrypted(f, sops(&format!("K: {enc}"), "none").as_bytes()),
        Err("no encrypted MAC")
    );
    assert_eq!(
        encrypted(f, b"apiVersion: v1\nstringData: {K: v}\n"),
        Err("no sops block")
    );
}

#[test]
fn remote_urls_compare_by_what_they_name() {
    let base = Path::new("/nonexistent/base");
    assert_eq!(
        normalized_url("git@github.com:org/infra.git", base),
        normalized_url("git@github.com:org/infra", base)
    );
    assert_eq!(
        normalized_url("https://github.com/org/infra.git/", base),
        "https://github.com/org/infra"
    );
    assert_eq!(
        normalized_url("../remote.git", Path::new("/nonexistent/clone")),
        "/nonexistent/remote"
    );
}
