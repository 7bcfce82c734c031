//! Output files on disk, without a server: real `age`/`ssh-keygen` keys, the real `age` CLI
//! decrypting, file and directory modes, symlink refusal, and interrupted writes (an injected
//! failure, and a child process killed between the temp write and the rename).

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use r2gitops::config::{
    Access, IpRules, Jurisdiction, OutputFormat, OutputSpec, Owner, TokenScope, TokenSpec,
};
use r2gitops::secret::TokenValue;
use r2gitops::secrets::{OutputWriter, S3Endpoints, SecretsError, file_sha256};
use time::OffsetDateTime;

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// A fresh random token value and id, as Cloudflare would hand them out (never a real one).
fn fake_token() -> (String, TokenValue) {
    use rand::Rng;
    let mut rng = rand::rng();
    let id: String = (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap())
        .collect();
    let body: String = (0..40)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect();
    (id, TokenValue::new(format!("cfat_{body}")))
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn token(name: &str, file: &str, format: OutputFormat, recipients: Vec<String>) -> TokenSpec {
    TokenSpec {
        name: name.into(),
        owner: Owner::Account,
        access: Access::ObjectReadWrite,
        scope: TokenScope::Buckets(vec!["media".into()]),
        jurisdiction: Jurisdiction::Default,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: OutputSpec {
            file: PathBuf::from(file),
            format,
            recipients,
            armor: false,
            include_api_token: false,
            verify: false,
            kubernetes: None,
        },
    }
}

fn writer(dir: &Path) -> OutputWriter {
    OutputWriter::new(dir, ACCOUNT, S3Endpoints::default())
}

/// `ssh-keygen` key pair in `dir`: (private key path, public key line).
fn ssh_keygen(dir: &Path, kind: &str, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", "test@r2gitops", "-f"])
        .arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let out = cmd.output().expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_owned())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every regular file under `dir`, recursively, with its bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            out.extend(all_files(&e.path()));
        } else if ft.is_file() {
            out.push((e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn an_ssh_ed25519_recipient_opens_the_file_with_the_age_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = ssh_keygen(tmp.path(), "ed25519", "id_ed25519");
    let out = tmp.path().join("out");
    let (id, value) = fake_token();
    let t = token("app", "app.env.age", OutputFormat::Env, vec![public]);
    writer(&out)
        .write(&t, &id, &value, OffsetDateTime::now_utc())
        .unwrap();
    let text = String::from_utf8(common::age_decrypt(&key, &out.join("app.env.age"))).unwrap();
    assert!(
        text.contains(&format!("AWS_ACCESS_KEY_ID={id}\n")),
        "{text}"
    );
    assert!(text.contains(&format!(
        "AWS_SECRET_ACCESS_KEY={}\n",
        sha256_hex(value.expose())
    )));
}

#[test]
fn an_ssh_rsa_recipient_opens_the_file_with_the_age_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = ssh_keygen(tmp.path(), "rsa", "id_rsa");
    let out = tmp.path().join("out");
    let (id, value) = fake_token();
    let t = token("app", "app.json.age", OutputFormat::Json, vec![public]);
    writer(&out)
        .write(&t, &id, &value, OffsetDateTime::now_utc())
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&common::age_decrypt(&key, &out.join("app.json.age"))).unwrap();
    assert_eq!(json["access_key_id"], id.as_str());
}

#[test]
fn one_file_for_two_recipients_opens_with_either_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (age_key, age_public) = common::age_keygen(tmp.path(), "alice");
    let (ssh_key, ssh_public) = ssh_keygen(tmp.path(), "ed25519", "bob");
    let (stranger, _) = common::age_keygen(tmp.path(), "mallory");
    let out = tmp.path().join("out");
    let (id, value) = fake_token();
    let t = token(
        "app",
        "app.rclone.age",
        OutputFormat::Rclone,
        vec![age_public, ssh_public],
    );
    writer(&out)
        .write(&t, &id, &value, OffsetDateTime::now_utc())
        .unwrap();
    let file = out.join("app.rclone.age");
    let a = common::age_decrypt(&age_key, &file);
    let b = common::age_decrypt(&ssh_key, &file);
    assert_eq!(a, b);
    assert!(contains(&a, &format!("access_key_id = {id}\n")));
    let denied = common::tool("age")
        .arg("-d")
        .arg("-i")
        .arg(&stranger)
        .arg(&file)
        .output()
        .unwrap();
    assert!(!denied.status.success(), "a third key must not open it");
}

/// A `recipients_file` in `age -R` format (comments, blank lines, mixed key types), loaded
/// through the real config loader, yields a file either key opens; the real `age -R`
/// accepts the same file.
#[test]
fn a_recipients_file_loaded_by_the_config_works_with_either_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (age_key, age_public) = common::age_keygen(tmp.path(), "ops");
    let (ssh_key, ssh_public) = ssh_keygen(tmp.path(), "ed25519", "deploy");
    let file = tmp.path().join("recipients.txt");
    std::fs::write(
        &file,
        format!("# ops team\n{age_public}\n\n# deploy key\n{ssh_public}\n"),
    )
    .unwrap();
    let check = common::tool("age")
        .arg("-R")
        .arg(&file)
        .arg("-o")
        .arg(tmp.path().join("check.age"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    let config = tmp.path().join("r2gitops.yaml");
    std::fs::write(
        &config,
        "version: 1\n\
         settings:\n  output_dir: out\n  recipients_file: recipients.txt\n\
         buckets:\n  - name: media\n\
         tokens:\n  - name: ci\n    access: object-read-write\n    buckets: [media]\n\
         \x20   output: { file: ci.aws.age, format: aws }\n",
    )
    .unwrap();
    let desired = r2gitops::config::load(&config).unwrap_or_else(|d| panic!("{d}"));
    let t = &desired.tokens[0];
    assert_eq!(t.output.recipients.len(), 2, "{:?}", t.output.recipients);
    let (id, value) = fake_token();
    writer(&desired.settings.output_dir)
        .write(t, &id, &value, OffsetDateTime::now_utc())
        .unwrap();
    for key in [&age_key, &ssh_key] {
        let text = common::age_decrypt(key, &tmp.path().join("out/ci.aws.age"));
        assert!(contains(&text, &format!("aws_access_key_id = {id}\n")));
    }
}

#[test]
fn armored_output_is_pem_text_that_the_age_cli_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = common::age_keygen(tmp.path(), "k");
    let out = tmp.path().join("out");
    let (id, value) = fake_token();
    let mut t = token("app", "app.env.age", OutputFormat::Env, vec![public]);
    t.output.armor = true;
    writer(&out)
        .write(&t, &id, &value, OffsetDateTime::now_utc())
        .unwrap();
    let raw = std::fs::read_to_string(out.join("app.env.age")).unwrap();
    assert!(
        raw.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{raw}"
    );
    let text = common::age_decrypt(&key, &out.join("app.env.age"));
    assert!(contains(&text, &format!("AWS_ACCESS_KEY_ID={id}\n")));
}

#[test]
fn files_are_0600_and_created_directories_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let out = tmp.path().join("state/outputs");
    let (id, value) = fake_token();
    let t = token("app", "team/a/app.env.age", OutputFormat::Env, vec![public]);
    writer(&out)
        .write(&t, &id, &value, OffsetDateTime::now_utc())
        .unwrap();
    assert_eq!(mode(&tmp.path().join("state")), 0o700);
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&out.join("team")), 0o700);
    assert_eq!(mode(&out.join("team/a")), 0o700);
    assert_eq!(mode(&out.join("team/a/app.env.age")), 0o600);
}

#[test]
fn the_record_describes_the_file_on_disk_and_a_rewrite_replaces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = common::age_keygen(tmp.path(), "k");
    let out = tmp.path().join("out");
    let t = token("app", "sub/app.json.age", OutputFormat::Json, vec![public]);
    let w = writer(&out);
    let rel = Path::new("sub/app.json.age");
    assert_eq!(file_sha256(&out, rel).unwrap(), None);

    let (id, first) = fake_token();
    let r1 = w.write(&t, &id, &first, OffsetDateTime::now_utc()).unwrap();
    assert_eq!(r1.path, rel);
    assert_eq!(r1.fingerprint, t.output.fingerprint());
    assert_eq!(
        file_sha256(&out, rel).unwrap(),
        Some(r1.ciphertext_sha256.clone())
    );

    // A roll keeps the access key id and changes the secret.
    let (_, second) = fake_token();
    let r2 = w
        .write(&t, &id, &second, OffsetDateTime::now_utc())
        .unwrap();
    assert_ne!(r1.ciphertext_sha256, r2.ciphertext_sha256);
    assert_eq!(file_sha256(&out, rel).unwrap(), Some(r2.ciphertext_sha256));
    let json: serde_json::Value =
        serde_json::from_slice(&common::age_decrypt(&key, &out.join(rel))).unwrap();
    assert_eq!(json["access_key_id"], id.as_str());
    assert_eq!(
        json["secret_access_key"],
        sha256_hex(second.expose()).as_str()
    );
    assert_eq!(std::fs::read_dir(out.join("sub")).unwrap().count(), 1);
}

#[test]
fn nothing_is_written_through_a_symlink_or_outside_output_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let out = tmp.path().join("out");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("victim"), b"keep me").unwrap();
    symlink(&elsewhere, out.join("team")).unwrap();
    symlink(elsewhere.join("victim"), out.join("link.age")).unwrap();
    let w = writer(&out);
    let (id, value) = fake_token();
    let now = OffsetDateTime::now_utc();

    type Check = fn(&SecretsError) -> bool;
    let cases: [(&str, Check); 4] = [
        ("team/app.age", |e| {
            matches!(e, SecretsError::Symlink { .. })
        }),
        ("link.age", |e| matches!(e, SecretsError::Symlink { .. })),
        ("../escape.age", |e| {
            matches!(e, SecretsError::PathOutside { .. })
        }),
        ("/tmp/abs.age", |e| {
            matches!(e, SecretsError::PathOutside { .. })
        }),
    ];
    for (file, expected) in cases {
        let t = token("app", file, OutputFormat::Env, vec![public.clone()]);
        let err = w.write(&t, &id, &value, now).unwrap_err();
        assert!(expected(&err), "{file}: {err}");
    }
    assert_eq!(std::fs::read(elsewhere.join("victim")).unwrap(), b"keep me");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);
    assert!(!tmp.path().join("escape.age").exists());
    assert_eq!(
        std::fs::read_link(out.join("link.age")).unwrap(),
        elsewhere.join("victim")
    );
}

#[test]
fn an_injected_failure_before_rename_keeps_the_old_file_and_leaves_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let out = tmp.path().join("out");
    let t = token("app", "app.env.age", OutputFormat::Env, vec![public]);
    let (id, old) = fake_token();
    let before = writer(&out)
        .write(&t, &id, &old, OffsetDateTime::now_utc())
        .unwrap();

    let seen = Arc::new(std::sync::Mutex::new(None::<PathBuf>));
    let seen2 = seen.clone();
    let failing = writer(&out).with_before_rename_hook(Arc::new(move |temp: &Path| {
        *seen2.lock().unwrap() = Some(temp.to_path_buf());
        assert_eq!(mode(temp), 0o600, "the temp file is private from the start");
        Err(std::io::Error::other("injected crash"))
    }));
    let (_, new) = fake_token();
    let err = failing
        .write(&t, &id, &new, OffsetDateTime::now_utc())
        .unwrap_err();
    assert!(matches!(err, SecretsError::Io { .. }), "{err}");

    let temp = seen.lock().unwrap().clone().expect("hook ran");
    assert!(!temp.exists(), "the failed write removed its temp file");
    assert_eq!(
        file_sha256(&out, Path::new("app.env.age")).unwrap(),
        Some(before.ciphertext_sha256)
    );
    let files = all_files(&out);
    assert_eq!(files.len(), 1, "{files:?}");
    for secret in [
        new.expose().to_owned(),
        sha256_hex(new.expose()),
        old.expose().to_owned(),
        sha256_hex(old.expose()),
    ] {
        assert!(!contains(&files[0].1, &secret));
    }
}

/// Child half of the crash test: writes with a hook that announces the temp file, then
/// hangs until the parent kills the process.
#[test]
#[ignore = "helper process for a_process_killed_between_temp_and_rename_leaves_the_old_file_and_only_ciphertext"]
fn crash_child_hangs_before_rename() {
    let dir = PathBuf::from(std::env::var("R2GITOPS_CRASH_DIR").expect("set by the parent"));
    let public = std::fs::read_to_string(dir.join("recipient")).unwrap();
    let mut value = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut value).unwrap();
    let value = TokenValue::new(value);
    let t = token("app", "app.env.age", OutputFormat::Env, vec![public]);
    let ready = dir.join("ready");
    let w = writer(&dir.join("out")).with_before_rename_hook(Arc::new(move |temp: &Path| {
        std::fs::write(&ready, temp.as_os_str().as_encoded_bytes())?;
        std::thread::sleep(Duration::from_secs(120));
        Ok(())
    }));
    let _ = w.write(
        &t,
        "f00dfacef00dfacef00dfacef00dface",
        &value,
        OffsetDateTime::now_utc(),
    );
}

#[test]
fn a_process_killed_between_temp_and_rename_leaves_the_old_file_and_only_ciphertext() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = common::age_keygen(tmp.path(), "k");
    let out = tmp.path().join("out");
    let t = token(
        "app",
        "app.env.age",
        OutputFormat::Env,
        vec![public.clone()],
    );
    let (_, old) = fake_token();
    let before = writer(&out)
        .write(
            &t,
            "f00dfacef00dfacef00dfacef00dface",
            &old,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let (_, new) = fake_token();
    std::fs::write(tmp.path().join("recipient"), &public).unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_hangs_before_rename",
            "--ignored",
            "--nocapture",
        ])
        .env("R2GITOPS_CRASH_DIR", tmp.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The value goes through a pipe: never argv, env or an unencrypted file.
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(new.expose().as_bytes()).unwrap();
    }
    let ready = tmp.path().join("ready");
    let start = Instant::now();
    while !ready.exists() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the child never reached the rename");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs
    child.wait().unwrap();

    let temp = PathBuf::from(std::fs::read_to_string(&ready).unwrap());
    assert!(
        temp.exists(),
        "the kill happened with the temp file in place"
    );
    // The target is still the old file, whole.
    assert_eq!(
        file_sha256(&out, Path::new("app.env.age")).unwrap(),
        Some(before.ciphertext_sha256)
    );
    let old_text = common::age_decrypt(&key, &out.join("app.env.age"));
    assert!(contains(&old_text, &sha256_hex(old.expose())));
    // What the crash left behind is ciphertext, and complete.
    for (path, bytes) in all_files(&out) {
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{path:?}");
        for secret in [new.expose().to_owned(), sha256_hex(new.expose())] {
            assert!(!contains(&bytes, &secret), "{path:?} holds plaintext");
        }
    }
    assert!(contains(
        &common::age_decrypt(&key, &temp),
        &sha256_hex(new.expose())
    ));

    // The next run sweeps it, and only it.
    assert_eq!(writer(&out).cleanup_temp_files().unwrap(), 1);
    assert!(!temp.exists());
    assert_eq!(all_files(&out).len(), 1);
    assert_eq!(writer(&out).cleanup_temp_files().unwrap(), 0);
}

#[test]
fn cleanup_removes_only_our_temp_files_and_does_not_follow_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(out.join("team")).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let ours = [
        out.join(".a.age.r2gitops-tmp-0123456789abcdef"),
        out.join("team/.b.age.r2gitops-tmp-fedcba9876543210"),
    ];
    let keep = [
        out.join("a.age"),
        out.join(".r2gitops-state.json"),
        out.join("team/.b.age.r2gitops-tmp-notours"),
        elsewhere.join(".c.age.r2gitops-tmp-0123456789abcdef"),
    ];
    for p in ours.iter().chain(&keep) {
        std::fs::write(p, b"x").unwrap();
    }
    symlink(&elsewhere, out.join("linked")).unwrap();
    assert_eq!(writer(&out).cleanup_temp_files().unwrap(), 2);
    for p in &ours {
        assert!(!p.exists(), "{p:?}");
    }
    for p in &keep {
        assert!(p.exists(), "{p:?}");
    }
    assert_eq!(
        writer(&tmp.path().join("missing"))
            .cleanup_temp_files()
            .unwrap(),
        0
    );
}

/// No token value and no derived secret anywhere in the output directory, for every
/// format, with the API token included, binary and armored.
#[test]
fn a_scan_of_the_output_dir_finds_no_value_and_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let out = tmp.path().join("out");
    let w = writer(&out);
    let mut secrets = vec![];
    for (i, format) in [
        OutputFormat::Env,
        OutputFormat::Json,
        OutputFormat::Rclone,
        OutputFormat::Aws,
    ]
    .into_iter()
    .enumerate()
    {
        for armor in [false, true] {
            let (id, value) = fake_token();
            let mut t = token(
                &format!("t{i}"),
                &format!("t{i}-{armor}.age"),
                format,
                vec![public.clone()],
            );
            t.output.armor = armor;
            t.output.include_api_token = true;
            w.write(&t, &id, &value, OffsetDateTime::now_utc()).unwrap();
            secrets.push(value.expose().to_owned());
            secrets.push(sha256_hex(value.expose()));
        }
    }
    let files = all_files(&out);
    assert_eq!(files.len(), 8);
    for (path, bytes) in files {
        for s in &secrets {
            assert!(!contains(&bytes, s), "{path:?} holds a secret");
        }
    }
}
