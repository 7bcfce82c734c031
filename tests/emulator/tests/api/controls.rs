//! The emulator's own controls: call stats, injected failures, rate limits, latency, and the
//! binary's startup line.

use std::time::Duration;

use cf_emulator::Faults;
use reqwest::Method;

use crate::support;
use crate::support::*;

#[tokio::test]
async fn stats_count_calls_by_route_template_and_reset() {
    let emu = start().await;
    let admin = Api::admin(&emu);
    admin.create_bucket("default", "one").await;
    admin
        .json(Method::GET, "/accounts/:acct/r2/buckets/one", None)
        .await;
    admin
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    let stats: serde_json::Value =
        reqwest::get(emu.api_url().replace("/client/v4", "/__emulator/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["mutating"], 1);
    assert_eq!(stats["by_route"]["GET /accounts/:id/r2/buckets/:name"], 1);
    assert_eq!(stats["by_route"]["POST /accounts/:id/r2/buckets"], 1);
    support::http()
        .post(
            emu.api_url()
                .replace("/client/v4", "/__emulator/reset-stats"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(emu.stats().total, 0);
}

#[tokio::test]
async fn fail_rate_one_answers_500_with_code_10001() {
    let emu = start().await;
    emu.set_faults(Faults {
        fail_rate: 1.0,
        ..Default::default()
    });
    let (s, v) = Api::admin(&emu)
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    assert_eq!((s, v["errors"][0]["code"].as_i64()), (500, Some(10001)));
    emu.set_faults(Faults::default());
    assert_eq!(
        Api::admin(&emu)
            .json(Method::GET, "/accounts/:acct/r2/buckets", None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn fail_rate_is_deterministic_for_a_seed() {
    let run = |seed| async move {
        let emu = start().await;
        emu.set_faults(Faults {
            fail_rate: 0.5,
            seed,
            ..Default::default()
        });
        let api = Api::admin(&emu);
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(
                api.json(Method::GET, "/accounts/:acct/r2/buckets", None)
                    .await
                    .0,
            );
        }
        out
    };
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert!(a.contains(&500) && a.contains(&200));
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let emu = start().await;
    emu.set_faults(Faults {
        rate_limit: Some((3, Duration::from_secs(2))),
        ..Default::default()
    });
    let api = Api::admin(&emu);
    for i in 0..3 {
        let r = api
            .req(Method::GET, "/accounts/:acct/r2/buckets")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rl = r.headers()["ratelimit"].to_str().unwrap().to_string();
        assert!(
            rl.starts_with(&format!("\"default\";r={};t=", 2 - i)),
            "{rl}"
        );
        assert_eq!(r.headers()["ratelimit-policy"], "\"default\";q=3;w=2");
    }
    let r = api
        .req(Method::GET, "/accounts/:acct/r2/buckets")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], 971);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(
        api.req(Method::GET, "/accounts/:acct/r2/buckets")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn latency_delays_every_call() {
    let emu = start().await;
    emu.set_faults(Faults {
        latency_ms: 300,
        ..Default::default()
    });
    let started = std::time::Instant::now();
    Api::admin(&emu)
        .json(Method::GET, "/accounts/:acct/r2/buckets", None)
        .await;
    // A lower bound only: the call cannot be faster than the injected latency.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn the_binary_prints_one_startup_line_and_serves() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cf-emulator"))
        .args([
            "--account-id",
            "023e105f4ecef8ad9ca31a8372d0c353",
            "--admin-token",
            "secret-admin",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["account_id"], "023e105f4ecef8ad9ca31a8372d0c353");
    assert_eq!(v["admin_token"], "secret-admin");
    for j in ["default", "eu", "fedramp", "us"] {
        assert!(
            v["s3_urls"][j]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
    }
    let r = support::http()
        .get(format!(
            "{}/accounts/023e105f4ecef8ad9ca31a8372d0c353/tokens/verify",
            v["api_url"].as_str().unwrap()
        ))
        .bearer_auth("secret-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // SIGTERM ends it.
    std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().code().is_some());
}
