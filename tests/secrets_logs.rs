//! A TRACE-level log of a write, a failing verify and an error holds no token value and no
//! derived secret. Its own test binary: the subscriber is process-wide, so no other test
//! can race it for tracing's callsite cache.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use r2gitops::config::{
    Access, IpRules, Jurisdiction, OutputFormat, OutputSpec, Owner, TokenScope, TokenSpec,
};
use r2gitops::secret::TokenValue;
use r2gitops::secrets::{OutputWriter, ProbeSettings, S3Endpoints};
use time::OffsetDateTime;

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// A local server answering every request with 403 SignatureDoesNotMatch.
async fn start_denying() -> String {
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::FORBIDDEN,
            "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code></Error>",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn token(scope: TokenScope, recipient: String) -> TokenSpec {
    TokenSpec {
        name: "app".into(),
        owner: Owner::Account,
        access: Access::ObjectReadWrite,
        scope,
        jurisdiction: Jurisdiction::Default,
        not_before: None,
        expires_on: None,
        ip: IpRules::default(),
        rotate_every: None,
        rotation_overlap: std::time::Duration::from_secs(3600),
        adopt: None,
        output: OutputSpec {
            file: PathBuf::from("app.env.age"),
            format: OutputFormat::Env,
            recipients: vec![recipient],
            armor: false,
            include_api_token: true,
            verify: true,
            kubernetes: None,
        },
    }
}

/// A writer for tracing output that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn trace_logs_of_a_write_a_failing_verify_and_an_error_hold_no_secret() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .init();
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = common::age_keygen(tmp.path(), "k");
    let id = "f00dfacef00dfacef00dfacef00dface";
    let value = TokenValue::new(format!("cfat_{:032x}", rand::random::<u128>()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s3 = start_denying().await;
        let endpoints = S3Endpoints::from_args(&[format!("default={s3}")], None).unwrap();
        let w = OutputWriter::new(&tmp.path().join("out"), ACCOUNT, endpoints).with_probe_settings(
            ProbeSettings {
                attempts: 2,
                first_pause: Duration::from_millis(10),
                request_timeout: Duration::from_secs(5),
            },
        );
        let t = token(TokenScope::Buckets(vec!["media".into()]), public);
        w.write(&t, id, &value, OffsetDateTime::now_utc()).unwrap();
        let outcome = w.verify(&t, id, &value).await.unwrap();
        assert!(!outcome.passed());
        tracing::warn!(%outcome, "as a caller would report it");
        let err = w
            .write(
                &token(TokenScope::Account, "age1bogus".into()),
                id,
                &value,
                OffsetDateTime::now_utc(),
            )
            .unwrap_err();
        tracing::error!(error = %err, "as a caller would log it");
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture really holds TRACE/DEBUG lines from our code and from the HTTP stack.
    assert!(logs.contains("output self-test not yet passing"), "{logs}");
    assert!(logs.contains("SignatureDoesNotMatch"), "{logs}");
    assert!(logs.contains("TRACE"), "{logs}");
    assert!(!logs.contains(value.expose()), "token value in logs");
    assert!(
        !logs.contains(&sha256_hex(value.expose())),
        "derived secret in logs"
    );
}
