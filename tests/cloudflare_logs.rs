//! A TRACE-level log of the client's calls (verify, create, roll, list, a rejected token)
//! holds neither the API token nor any token value nor any derived secret. Its own test
//! binary: the subscriber must not race other tests for tracing's callsite cache.

mod common;

use std::sync::{Arc, Mutex};

use cf_emulator::{Emulator, EmulatorConfig};
use common::{admin_client, client_config, object_read_policy, token_request};
use r2gitops::cloudflare::{Client, ReadApi, WriteApi};
use r2gitops::config::{Jurisdiction, Owner, StorageClass};

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
            &token_request("t", object_read_policy(&emu, "logs")),
        )
        .await
        .unwrap();
    let rolled = w
        .roll_token(Owner::Account, &created.token.id)
        .await
        .unwrap();
    w.reader().list_tokens(Owner::Account).await.unwrap();
    let bad = Client::connect(client_config(&emu, "bad-token-value-xyz")).await;
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
