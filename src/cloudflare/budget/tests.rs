//! Unit tests of `cloudflare::budget`.

use super::*;
use reqwest::header::{HeaderMap, HeaderValue};

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn rate_limit_headers_say_how_long_to_wait() {
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    type Case = (Vec<(&'static str, &'static str)>, Option<u64>);
    let cases: Vec<Case> = vec![
        (vec![("retry-after", "2")], Some(2)),
        (
            vec![("retry-after", "Tue, 14 Nov 2023 22:13:40 GMT")],
            Some(20),
        ),
        (vec![("ratelimit", "\"default\";r=0;t=30")], Some(30)),
        (vec![("ratelimit", "\"default\";r=5;t=30")], None),
        (
            vec![("ratelimit", "\"default\";r=50;t=30, \"burst\";r=0;t=4")],
            Some(4),
        ),
        (
            vec![("ratelimit", "\"default\";r=0;t=30,\"burst\";r=0;t=4")],
            Some(30),
        ),
        (
            vec![("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "7")],
            Some(7),
        ),
        (
            vec![("x-ratelimit-remaining", "3"), ("x-ratelimit-reset", "7")],
            None,
        ),
        (vec![], None),
    ];
    for (pairs, want) in cases {
        assert_eq!(
            wait_from_headers(&headers(&pairs), now, 0).map(|d| d.as_secs()),
            want,
            "{pairs:?}"
        );
    }
}

#[test]
fn what_calls_in_flight_will_spend_counts_as_spent() {
    let now = std::time::UNIX_EPOCH;
    let wait = |pairs: &[(&'static str, &str)], in_flight| {
        wait_from_headers(&headers(pairs), now, in_flight).map(|d| d.as_secs())
    };
    let rl = [("ratelimit", "\"default\";r=3;t=12")];
    assert_eq!(wait(&rl, 2), None, "one call is still free");
    assert_eq!(wait(&rl, 3), Some(12), "the three in flight take the rest");
    assert_eq!(wait(&rl, 7), Some(12));
    let legacy = [("x-ratelimit-remaining", "2"), ("x-ratelimit-reset", "9")];
    assert_eq!(wait(&legacy, 1), None);
    assert_eq!(wait(&legacy, 2), Some(9));
}

#[test]
fn ratelimit_lists_parse_item_by_item() {
    let item = |name: &str, r: Option<u64>, t: Option<u64>| RateItem {
        name: name.into(),
        remaining: r,
        reset: t,
    };
    let cases: Vec<(&str, Vec<RateItem>)> = vec![
        (
            "\"default\";r=50;t=30",
            vec![item("default", Some(50), Some(30))],
        ),
        (
            "\"default\";r=50;t=30, \"burst\";r=0;t=4",
            vec![
                item("default", Some(50), Some(30)),
                item("burst", Some(0), Some(4)),
            ],
        ),
        (
            "  \"default\" ; r=1 ;t=2 ,\t\"burst\";t=9;r=0  ",
            vec![
                item("default", Some(1), Some(2)),
                item("burst", Some(0), Some(9)),
            ],
        ),
        (
            "\"default\";q=100;r=3;w=60;t=7;pk=:abc=:",
            vec![item("default", Some(3), Some(7))],
        ),
        (
            "\"odd;name, here\";r=0;t=5",
            vec![item("odd;name, here", Some(0), Some(5))],
        ),
        ("default;r=x;t=", vec![item("default", None, None)]),
        ("", vec![]),
    ];
    for (header, want) in cases {
        assert_eq!(ratelimit_items(header), want, "{header:?}");
    }
}

#[test]
fn the_latest_reset_among_exhausted_items_wins() {
    let now = std::time::UNIX_EPOCH;
    let wait =
        |v: &str| wait_from_headers(&headers(&[("ratelimit", v)]), now, 0).map(|d| d.as_secs());
    assert_eq!(wait("\"default\";r=0;t=30, \"burst\";r=0;t=4"), Some(30));
    assert_eq!(wait("\"default\";r=9;t=30, \"burst\";r=0;t=4"), Some(4));
    assert_eq!(wait("\"default\";r=9;t=30, \"burst\";r=2;t=4"), None);
    assert_eq!(
        wait("\"default\";t=30"),
        None,
        "no r: nothing is known exhausted"
    );
}

#[tokio::test(start_paused = true)]
async fn the_budget_holds_back_the_request_beyond_the_limit() {
    let budget = Budget::new(2, Duration::from_secs(10));
    let start = tokio::time::Instant::now();
    budget.acquire().await;
    budget.acquire().await;
    assert_eq!(start.elapsed(), Duration::ZERO);
    budget.acquire().await;
    assert!(start.elapsed() >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_pause_stops_every_caller() {
    let budget = Budget::new(100, Duration::from_secs(300));
    budget.pause(Duration::from_secs(2)).await;
    let start = tokio::time::Instant::now();
    budget.acquire().await;
    assert!(start.elapsed() >= Duration::from_secs(2));
}
