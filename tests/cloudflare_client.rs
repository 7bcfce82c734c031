//! The Cloudflare client against the emulator: paging, the request budget and 429 pauses,
//! retries only where safe, fast failure on a bad token; the queue list across pages and the
//! zone lookup of custom domains. (The log scan is `cloudflare_logs`.)

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use cf_emulator::{Emulator, EmulatorConfig, Faults};
use common::{
    admin_client, client_config as config, client_config_with_budget as with_budget,
    object_read_policy, token_request as request,
};
use r2gitops::cloudflare::{Client, ReadApi, WriteApi};
use r2gitops::config::{Jurisdiction, Owner, StorageClass};

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
    // Calls already in flight when the first 429 arrived land within a few ms of it; after
    // them nothing reaches the server until the 2 s pause is over.
    let burst_end = first_429.at_ms + 100;
    let during: Vec<_> = calls
        .iter()
        .filter(|c| c.at_ms > burst_end && c.at_ms < first_429.at_ms + 1900)
        .collect();
    assert!(during.is_empty(), "calls during the pause: {during:?}");
    assert!(
        calls.iter().any(|c| c.at_ms >= first_429.at_ms + 1900),
        "the limited calls were retried after the pause: {calls:?}"
    );
    assert!(client.metrics().rate_limit_pauses >= 1);
    assert_eq!(calls.iter().filter(|c| c.status == 200).count(), 4);
}

#[tokio::test]
async fn an_exhausted_burst_item_of_a_multi_item_ratelimit_pauses_before_any_429() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let client = admin_client(&emu).await;
    emu.set_faults(Faults {
        rate_limit: Some((1000, Duration::from_secs(300))),
        burst_limit: Some((3, Duration::from_secs(2))),
        ..Default::default()
    });
    emu.reset_stats();
    // Sequential calls: each answer's `"default";r=..;t=300, "burst";r=..;t=2` is read
    // before the next call; when the burst item reaches r=0 the client waits for its reset.
    for _ in 0..6 {
        client.list_buckets(Jurisdiction::Default).await.unwrap();
    }
    let calls = emu.stats().calls;
    assert!(
        calls.iter().all(|c| c.status == 200),
        "no call was refused: {calls:?}"
    );
    assert_eq!(calls.len(), 6);
    assert!(
        calls[3].at_ms >= calls[2].at_ms + 1500,
        "the 4th call waited for the burst window: {calls:?}"
    );
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

#[tokio::test]
async fn every_queue_is_listed_across_pages_and_a_zone_is_told_apart_by_account_and_type() {
    use r2gitops::config::ZoneRef;
    use r2gitops::observed::custom_domain::{ZoneKind, ZoneLookup};
    let emu = Emulator::start(EmulatorConfig {
        queues: (0..45).map(|i| format!("q{i:02}")).collect(),
        zones: [
            "example.com",
            "cname.example:partial",
            "theirs.example@ffffffffffffffffffffffffffffffff",
        ]
        .iter()
        .map(|z| cf_emulator::ZoneSeed::parse(z).unwrap())
        .collect(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let client = admin_client(&emu).await;
    emu.reset_stats();
    let queues = client.queues().await.unwrap();
    let names: BTreeSet<String> = queues.iter().map(|q| q.name.clone()).collect();
    assert_eq!(names.len(), 45, "every queue once");
    assert_eq!(
        emu.stats().by_route["GET /accounts/:id/queues"],
        3,
        "three pages of the emulator's default 20"
    );
    let found = |z: ZoneLookup| match z {
        ZoneLookup::Found(z) => z,
        ZoneLookup::NotFound => panic!("not found"),
    };
    let mine = found(
        client
            .find_zone(&ZoneRef::Name("example.com".into()))
            .await
            .unwrap(),
    );
    assert_eq!(
        (mine.account_id.as_str(), &mine.kind),
        (emu.account_id(), &ZoneKind::Full)
    );
    let by_id = found(
        client
            .find_zone(&ZoneRef::Id(mine.id.clone()))
            .await
            .unwrap(),
    );
    assert_eq!(by_id, mine);
    let partial = found(
        client
            .find_zone(&ZoneRef::Name("cname.example".into()))
            .await
            .unwrap(),
    );
    assert_eq!(partial.kind, ZoneKind::Partial);
    emu.reset_stats();
    let theirs = found(
        client
            .find_zone(&ZoneRef::Name("theirs.example".into()))
            .await
            .unwrap(),
    );
    assert_eq!(theirs.account_id, "f".repeat(32));
    assert_eq!(
        emu.stats().by_route["GET /zones"],
        2,
        "in the account first, then by name alone"
    );
    assert_eq!(
        client
            .find_zone(&ZoneRef::Name("missing.example".into()))
            .await
            .unwrap(),
        ZoneLookup::NotFound
    );
    assert_eq!(
        client
            .find_zone(&ZoneRef::Id("0".repeat(32)))
            .await
            .unwrap(),
        ZoneLookup::NotFound
    );
}
