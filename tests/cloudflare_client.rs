//! The Cloudflare client against the emulator: paging, the request budget and 429 pauses,
//! retries only where safe, fast failure on a bad token, and no secret in the logs.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cf_emulator::{Emulator, EmulatorConfig, Faults};
use r2gitops::cloudflare::{Client, ClientConfig, ReadApi, TokenRequest, WriteApi};
use r2gitops::config::{IpRules, Jurisdiction, Owner, StorageClass};
use r2gitops::observed::{Effect, Policy, ResourceValue};
use r2gitops::secret::TokenValue;

fn config(emu: &Emulator, token: &str) -> ClientConfig {
    with_budget(emu, token, 1000)
}

fn with_budget(emu: &Emulator, token: &str, budget: u32) -> ClientConfig {
    ClientConfig {
        api_url: emu.api_url().to_string(),
        api_token: TokenValue::new(token),
        token_owner: Owner::Account,
        account_id: emu.account_id().to_string(),
        budget: (budget, Duration::from_secs(300)),
        concurrency: 4,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        max_retries: 3,
    }
}

async fn admin_client(emu: &Emulator) -> Client {
    Client::connect(config(emu, emu.admin_token()))
        .await
        .unwrap()
}

fn object_read_policy(emu: &Emulator, bucket: &str) -> Policy {
    Policy {
        effect: Effect::Allow,
        permission_groups: BTreeSet::from(["6a018a9f2fc74eb6b293b0c548f38b39".to_string()]),
        resources: [(
            format!(
                "com.cloudflare.edge.r2.bucket.{}_default_{bucket}",
                emu.account_id()
            ),
            ResourceValue::Str("*".into()),
        )]
        .into(),
    }
}

fn request(name: &str, policy: Policy) -> TokenRequest {
    TokenRequest {
        name: name.to_string(),
        policies: vec![policy],
        not_before: None,
        expires_on: None,
        condition: IpRules::default(),
        status: None,
    }
}

#[tokio::test]
async fn paging_returns_every_bucket_and_token_exactly_once() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    // The fixture's 2,620 creates would exceed the default budget; the listing under test
    // uses a client with the default one.
    let writer = Client::connect(with_budget(&emu, emu.admin_token(), 10_000))
        .await
        .unwrap()
        .into_writer();
    let mut creates = Vec::new();
    for i in 0..2500 {
        let j = if i % 2 == 0 {
            Jurisdiction::Default
        } else {
            Jurisdiction::Eu
        };
        let w = writer.clone();
        creates.push(tokio::spawn(async move {
            w.create_bucket(j, &format!("b-{i:05}"), None, StorageClass::Standard)
                .await
                .unwrap();
        }));
    }
    for c in creates {
        c.await.unwrap();
    }
    for i in 0..120 {
        writer
            .create_token(
                Owner::Account,
                &request(&format!("t{i}"), object_read_policy(&emu, "x")),
            )
            .await
            .unwrap();
    }
    emu.reset_stats();
    let reader = &admin_client(&emu).await;
    emu.reset_stats();
    let default = reader.list_buckets(Jurisdiction::Default).await.unwrap();
    let eu = reader.list_buckets(Jurisdiction::Eu).await.unwrap();
    let tokens = reader.list_tokens(Owner::Account).await.unwrap();
    assert_eq!(default.len(), 1250);
    assert_eq!(eu.len(), 1250);
    let names: BTreeSet<_> = default.iter().chain(&eu).map(|b| b.name.clone()).collect();
    assert_eq!(names.len(), 2500);
    assert!(eu.iter().all(|b| b.jurisdiction == Jurisdiction::Eu));
    let ids: BTreeSet<_> = tokens.iter().map(|t| t.id.clone()).collect();
    assert_eq!((tokens.len(), ids.len()), (120, 120));
    // 2 pages per jurisdiction (1000 + 250) and 3 token pages (50 + 50 + 20): no extra call.
    assert_eq!(emu.stats().total, 2 + 2 + 3);
}

#[tokio::test]
async fn a_429_pauses_every_call_for_retry_after() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let client = admin_client(&emu).await;
    emu.reset_stats();
    emu.set_faults(Faults {
        rate_limit: Some((2, Duration::from_secs(2))),
        ..Default::default()
    });
    let mut calls = Vec::new();
    for j in [
        Jurisdiction::Default,
        Jurisdiction::Eu,
        Jurisdiction::Fedramp,
        Jurisdiction::Us,
    ] {
        let c = client.clone();
        calls.push(tokio::spawn(async move { c.list_buckets(j).await }));
    }
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let calls = emu.stats().calls;
    let first_429 = calls
        .iter()
        .find(|c| c.status == 429)
        .expect("the budget was exceeded");
    // Nothing reached the server while the pause was in force.
    let during: Vec<_> = calls
        .iter()
        .filter(|c| c.at_ms > first_429.at_ms && c.at_ms < first_429.at_ms + 1500)
        .collect();
    assert!(during.is_empty(), "calls during the pause: {during:?}");
    assert!(client.metrics().rate_limit_pauses >= 1);
    assert_eq!(calls.iter().filter(|c| c.status == 200).count(), 4);
}

#[tokio::test]
async fn a_500_is_retried_and_a_409_is_not() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let writer = admin_client(&emu).await.into_writer();
    writer
        .create_bucket(Jurisdiction::Default, "taken", None, StorageClass::Standard)
        .await
        .unwrap();
    emu.reset_stats();
    let err = writer
        .create_bucket(Jurisdiction::Default, "taken", None, StorageClass::Standard)
        .await
        .unwrap_err();
    assert!(err.is_already_exists(), "{err}");
    assert_eq!(emu.stats().total, 1, "a 409 must not be retried");

    // Every call fails until the first 500 has been answered; the first retry waits at
    // least 500 ms (the backoff floor), so lifting the fault then lets the retry succeed.
    emu.set_faults(Faults {
        fail_rate: 1.0,
        ..Default::default()
    });
    emu.reset_stats();
    let reader = writer.reader().clone();
    let call = tokio::spawn(async move { reader.list_buckets(Jurisdiction::Default).await });
    while !emu.stats().calls.iter().any(|c| c.status == 500) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    emu.set_faults(Faults::default());
    let buckets = call.await.unwrap().unwrap();
    assert_eq!(buckets.len(), 1);
    let statuses: Vec<u16> = emu.stats().calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [500, 200]);
    assert_eq!(writer.reader().metrics().retries, 1);
}

#[tokio::test]
async fn an_invalid_token_fails_fast_with_a_clear_message() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let err = match Client::connect(config(&emu, "not-a-token")).await {
        Ok(_) => panic!("an invalid token was accepted"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.contains("the Cloudflare API token is invalid (code 1000)"),
        "{text}"
    );
    assert!(text.contains("hint:"), "{text}");
    assert_eq!(emu.stats().total, 1, "no retry of an auth failure");
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_hold_no_api_token_value_or_derived_secret() {
    use sha2::{Digest, Sha256};
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let w = admin_client(&emu).await.into_writer();
    w.create_bucket(Jurisdiction::Default, "logs", None, StorageClass::Standard)
        .await
        .unwrap();
    let created = w
        .create_token(
            Owner::Account,
            &request("t", object_read_policy(&emu, "logs")),
        )
        .await
        .unwrap();
    let rolled = w
        .roll_token(Owner::Account, &created.token.id)
        .await
        .unwrap();
    w.reader().list_tokens(Owner::Account).await.unwrap();
    let bad = Client::connect(config(&emu, "bad-token-value-xyz")).await;
    assert!(bad.is_err());

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("cloudflare request"),
        "trace logging did not run"
    );
    let mut secrets = vec![
        emu.admin_token().to_string(),
        created.value.expose().to_string(),
        rolled.expose().to_string(),
        "bad-token-value-xyz".to_string(),
    ];
    for v in [created.value.expose(), rolled.expose()] {
        secrets.push(hex::encode(Sha256::digest(v.as_bytes())));
    }
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "a secret reached the log");
    }
}
