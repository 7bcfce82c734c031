//! r2gitops end to end, with no network and no Cloudflare account: `cargo run --example quickstart`.
//!
//! Against the bundled Cloudflare emulator, and through the same library functions the
//! `r2gitops reconcile` command uses, it shows that:
//! 1. a first reconcile of `examples/quickstart.yaml` creates the bucket and the token and
//!    writes the token's S3 credentials as an age-encrypted env file;
//! 2. that file opens with the recipient's age identity, and the credentials in it work
//!    (a signed S3 PutObject then GetObject round-trips an object);
//! 3. a second reconcile finds nothing to change and makes no mutating API call.
//!
//! Every check that fails makes the example exit non-zero. The plaintext credentials stay in
//! memory: the secret access key is never written to disk or printed.
//!
//! `cargo run --example quickstart -- --keep DIR` keeps what it wrote in DIR (the YAML, the
//! age identity, the encrypted outputs and the inventory) for a look afterwards; without it
//! everything goes with a temporary directory.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use cf_emulator::{Emulator, EmulatorConfig};
use r2gitops::apply::{Report, Stop};
use r2gitops::cloudflare::{Client, ClientConfig};
use r2gitops::config::{Desired, OutputFormat, Owner, TokenScope};
use r2gitops::plan::Plan;
use r2gitops::reconcile;
use r2gitops::reconcile::PlanOutput;
use r2gitops::reconcile::{Observe, Pass, Planned, Run};
use r2gitops::secret::{S3Secret, TokenValue};
use r2gitops::secrets::S3Endpoints;
use r2gitops::secrets::derive::{REGION, S3Credentials};
use r2gitops::secrets::probe::{S3Call, signed_request};
use r2gitops::secrets::sigv4;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Built in, so the example runs from any directory; the recipient is swapped at run time.
const QUICKSTART_YAML: &str = include_str!("quickstart.yaml");
/// How the plan names the file (the real path is a temp dir nobody needs to read).
const TITLE: &str = "quickstart.yaml";
/// What the S3 proof stores and reads back.
const PROOF_KEY: &str = "quickstart/hello.txt";
const PROOF_BODY: &[u8] = b"hello from the r2gitops quickstart\n";

/// `--keep DIR`, the only argument.
fn keep_dir() -> Result<Option<PathBuf>> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next(), args.next()) {
        (None, _, _) => Ok(None),
        (Some("--keep"), Some(dir), None) => Ok(Some(PathBuf::from(dir))),
        _ => bail!("usage: cargo run --example quickstart [-- --keep DIR]"),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let keep = keep_dir()?;
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .context("cannot start the bundled Cloudflare emulator")?;
    println!("== 1. Cloudflare emulator started (in-process, no network)");
    println!("   API:     {}", emu.api_url());
    println!("   S3:      {}", emu.s3_urls()["default"]);
    println!("   account: {}", emu.account_id());

    let outcome = run(&emu, keep.as_deref()).await;
    // Stop the listeners whether or not a check failed.
    emu.shutdown().await;
    outcome?;
    println!("\nAll checks passed.");
    Ok(())
}

async fn run(emu: &Emulator, keep: Option<&Path>) -> Result<()> {
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let work = match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            ensure!(
                std::fs::read_dir(dir)?.next().is_none(),
                "{} is not empty: --keep wants an empty or new directory",
                dir.display()
            );
            dir.canonicalize()?
        }
        None => temp.path().to_path_buf(),
    };
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let identity_file = write_identity(&work, &identity, &recipient)?;
    let config_file = write_config(&work, &recipient)?;
    println!(
        "\n== 2. Working directory {} ({})",
        work.display(),
        if keep.is_some() {
            "kept"
        } else {
            "removed on exit; --keep DIR keeps it"
        }
    );
    println!("   age identity: {}", identity_file.display());
    println!("   recipient:    {recipient}");
    println!("   config:       {}", config_file.display());

    let desired =
        reconcile::load_desired(&config_file, None, r2gitops::config::AdoptRolls::Refused)
            .map_err(|diagnostics| anyhow!("{}:\n{diagnostics}", config_file.display()))?;
    let endpoints = emulator_endpoints(emu)?;

    println!("\n== 3. First reconcile: plan, then apply");
    let (plan, report) = reconcile_once(emu, &desired, &endpoints).await?;
    ensure!(plan.has_changes(), "the first plan should create something");
    ensure!(!report.has_errors(), "the first apply reported errors");

    let (output, bucket) = env_output(&desired)?;
    println!(
        "\n== 4. Decrypting {} in memory",
        output.strip_prefix(&work).unwrap_or(&output).display()
    );
    let creds = decrypt_env_file(&output, &identity)?;
    println!("   AWS_ACCESS_KEY_ID=     {}", creds.access_key_id);
    println!("   AWS_SECRET_ACCESS_KEY= <redacted>");
    println!("   AWS_ENDPOINT_URL=      {}", creds.endpoint);
    println!("   bucket:                {bucket}");

    println!("\n== 5. Proving the credentials with signed S3 requests");
    prove_credentials(&creds, &bucket).await?;
    println!(
        "   put/get ok: s3://{bucket}/{PROOF_KEY} round-tripped {} bytes",
        PROOF_BODY.len()
    );

    println!("\n== 6. Second reconcile: nothing should be left to do");
    // Count only this pass's calls: the first pass and the S3 proof are not its business.
    emu.reset_stats();
    let (plan, report) = reconcile_once(emu, &desired, &endpoints).await?;
    let mutating = emu.stats().mutating;
    println!("   mutating API calls in this pass: {mutating}");
    ensure!(!plan.has_changes(), "the second plan still has changes");
    ensure!(!report.has_errors(), "the second apply reported errors");
    ensure!(
        mutating == 0,
        "the second pass made {mutating} mutating API call(s), expected none"
    );
    if keep.is_some() {
        println!(
            "\nKept in {}: {}, {}, and under {} the encrypted output and the inventory.\n\
             Decrypt with: age -d -i {} {}",
            work.display(),
            config_file
                .strip_prefix(&work)
                .unwrap_or(&config_file)
                .display(),
            identity_file
                .strip_prefix(&work)
                .unwrap_or(&identity_file)
                .display(),
            desired.settings.output_dir.display(),
            identity_file.display(),
            output.display()
        );
    }
    Ok(())
}

/// The identity in `age-keygen`'s format, created 0600 so it is never readable by others,
/// not even for an instant.
fn write_identity(
    dir: &Path,
    identity: &age::x25519::Identity,
    recipient: &str,
) -> Result<PathBuf> {
    let path = dir.join("quickstart.key");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let secret = identity.to_string();
    write!(
        file,
        "# public key: {recipient}\n{}\n",
        secret.expose_secret()
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `quickstart.yaml` with its one recipient replaced by ours, next to the identity (its
/// `secrets/` output directory is resolved against the file's directory).
fn write_config(dir: &Path, recipient: &str) -> Result<PathBuf> {
    let yaml = replace_recipient(QUICKSTART_YAML, recipient)?;
    let path = dir.join("quickstart.yaml");
    std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Replace the single `age1...` key in `yaml`. More or fewer than one means the example
/// file changed shape, which is better reported than guessed at.
fn replace_recipient(yaml: &str, recipient: &str) -> Result<String> {
    let keys: Vec<(usize, usize)> = yaml
        .match_indices("age1")
        .map(|(start, _)| {
            let len = yaml[start..]
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(yaml.len() - start);
            (start, start + len)
        })
        .collect();
    let [(start, end)] = keys[..] else {
        bail!(
            "examples/quickstart.yaml should hold exactly one age1... recipient, found {}",
            keys.len()
        );
    };
    Ok(format!("{}{recipient}{}", &yaml[..start], &yaml[end..]))
}

/// Point every jurisdiction's S3 endpoint at the emulator, as `--s3-endpoint` would.
fn emulator_endpoints(emu: &Emulator) -> Result<S3Endpoints> {
    let flags: Vec<String> = emu
        .s3_urls()
        .iter()
        .map(|(jurisdiction, url)| format!("{jurisdiction}={url}"))
        .collect();
    S3Endpoints::from_args(&flags, None).context("bad emulator S3 endpoint")
}

/// The settings `r2gitops reconcile` would build from its flags, aimed at the emulator and
/// its all-powerful account token.
fn client_config(emu: &Emulator) -> ClientConfig {
    ClientConfig {
        api_url: emu.api_url().to_owned(),
        api_token: TokenValue::new(emu.admin_token()),
        token_owner: Owner::Account,
        account_id: emu.account_id().to_owned(),
        account_source: "the emulator",
        budget: (1000, Duration::from_secs(300)),
        concurrency: 4,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        max_retries: 3,
    }
}

/// One pass exactly as the CLI runs it: connect (verifies the token), observe and diff,
/// print the plan, apply, print the report.
async fn reconcile_once(
    emu: &Emulator,
    desired: &Desired,
    endpoints: &S3Endpoints,
) -> Result<(Plan, Report)> {
    let config = client_config(emu);
    let concurrency = config.concurrency;
    let client = Client::connect(config)
        .await
        .context("cannot connect to the emulator's API")?;
    let pass = Pass::local(desired, endpoints);
    let Planned { plan, inventory } = pass
        .plan(&client, Observe::default())
        .await
        .context("planning failed")?;
    print!(
        "{}",
        indent(&reconcile::render(&plan, None, TITLE, PlanOutput::Text))
    );
    if let Some(reason) = &plan.refused {
        bail!("the plan was refused: {reason:?}");
    }
    let run = Run {
        concurrency,
        stop: &Stop::new(),
        progress: None,
    };
    let report = pass.apply(client, &plan, inventory, run).await.report;
    print!("{}", indent(&report.text()));
    Ok((plan, report))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}

/// Where the first `env` output was written (the quickstart declares exactly one), and the
/// first bucket its token names (the file itself shows no bucket list).
fn env_output(desired: &Desired) -> Result<(PathBuf, String)> {
    let t = desired
        .tokens
        .iter()
        .find(|t| t.output.format == OutputFormat::Env)
        .ok_or_else(|| anyhow!("quickstart.yaml declares no token with an env output"))?;
    let bucket = match &t.scope {
        TokenScope::Buckets(names) => names.first().cloned(),
        _ => None,
    }
    .ok_or_else(|| anyhow!("the quickstart token names no bucket"))?;
    Ok((desired.settings.output_dir.join(&t.output.file), bucket))
}

/// Decrypt an env output and pick out what an S3 client needs. The plaintext lives only in
/// zeroize-on-drop memory.
fn decrypt_env_file(path: &Path, identity: &age::x25519::Identity) -> Result<S3Credentials> {
    let ciphertext =
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let plaintext = age::decrypt(identity, &ciphertext)
        .with_context(|| format!("cannot decrypt {}", path.display()))?;
    let text = SecretString::from(
        String::from_utf8(plaintext).context("the decrypted env file is not UTF-8")?,
    );
    let var = |name: &str| {
        text.expose_secret()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the env file has no {name}"))
    };
    let creds = S3Credentials {
        access_key_id: var("AWS_ACCESS_KEY_ID")?,
        secret_access_key: S3Secret::new(var("AWS_SECRET_ACCESS_KEY")?),
        endpoint: var("AWS_ENDPOINT_URL")?,
        region: REGION,
    };
    Ok(creds)
}

/// PutObject then GetObject with the decrypted credentials, and compare the bodies.
async fn prove_credentials(creds: &S3Credentials, bucket: &str) -> Result<()> {
    // reqwest is built without a default TLS provider; whoever installs one first wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("cannot build an HTTP client")?;
    s3_request(&http, creds, "PUT", bucket, PROOF_KEY, PROOF_BODY).await?;
    let body = s3_request(&http, creds, "GET", bucket, PROOF_KEY, b"").await?;
    ensure!(
        body == PROOF_BODY,
        "GetObject returned {} bytes that differ from the {} put",
        body.len(),
        PROOF_BODY.len()
    );
    Ok(())
}

/// One path-style S3 request (`<endpoint>/<bucket>/<key>`) signed with SigV4 by the
/// project's own signer; returns the body of a 2xx answer.
async fn s3_request(
    http: &reqwest::Client,
    creds: &S3Credentials,
    method: &str,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> Result<Vec<u8>> {
    let path = format!(
        "/{}/{}",
        sigv4::uri_encode(bucket, false),
        sigv4::uri_encode(key, true)
    );
    let amz_date = sigv4::amz_date(time::OffsetDateTime::now_utc());
    // Signing the payload hash (not UNSIGNED-PAYLOAD) lets the server check the body too.
    let payload_sha256 = hex::encode(Sha256::digest(body));
    let call = S3Call {
        method,
        path: &path,
        query: &[],
        payload_sha256: &payload_sha256,
    };
    let (url, headers) = signed_request(creds, &call, &amz_date).map_err(|e| anyhow!(e))?;
    let method = reqwest::Method::from_bytes(method.as_bytes())?;
    let mut request = http.request(method.clone(), url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("S3 {method} s3://{bucket}/{key} failed"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .with_context(|| format!("S3 {method} s3://{bucket}/{key}: reading the answer"))?;
    ensure!(
        status.is_success(),
        "S3 {method} s3://{bucket}/{key} answered {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(bytes.to_vec())
}
