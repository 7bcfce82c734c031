//! The emulator on its own, as the README tells a new user to run it: `--version`, and
//! `--print-env` whose four `export` lines are all r2gitops needs to work against it.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn emulator() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["run", "--quiet", "-p", "cf-emulator", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--");
    cmd
}

#[test]
fn the_printed_exports_point_r2gitops_at_the_standalone_emulator() {
    let version = emulator().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("cf-emulator {}\n", env!("CARGO_PKG_VERSION"))
    );

    let mut child = emulator()
        .args(["--listen", "127.0.0.1:0", "--print-env"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut env = BTreeMap::new();
    for _ in 0..4 {
        let line = lines.next().unwrap().unwrap();
        let (k, v) = line
            .strip_prefix("export ")
            .and_then(|l| l.split_once('='))
            .unwrap_or_else(|| panic!("not an export line: {line}"));
        env.insert(k.to_string(), v.to_string());
    }
    assert_eq!(
        env.keys().collect::<Vec<_>>(),
        [
            "CLOUDFLARE_ACCOUNT_ID",
            "CLOUDFLARE_API_BASE_URL",
            "CLOUDFLARE_API_TOKEN",
            "R2GITOPS_S3_ENDPOINTS"
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = common::age_keygen(dir.path(), "me");
    let file = dir.path().join("r2gitops.yaml");
    std::fs::write(
        &file,
        std::fs::read_to_string(common::root().join("examples/quickstart.yaml"))
            .unwrap()
            .replace(
                "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w",
                &recipient,
            ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_r2gitops"))
        .args(["reconcile", "-f"])
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&env)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = common::age_decrypt(&identity, &dir.path().join("secrets/uploader.env.age"));
    let vars = common::env_vars(&plain);
    assert!(
        env["R2GITOPS_S3_ENDPOINTS"].contains(&vars["AWS_ENDPOINT_URL"]),
        "the output names the emulator's S3 endpoint"
    );
}
