use super::*;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-12-01 12:00:00 UTC);
const TTL: Duration = Duration::seconds(30);

fn lease(holder: &str, epoch: u64, expires_in: i64) -> Lease {
    Lease {
        holder: holder.into(),
        epoch,
        acquired_at: T0 - Duration::seconds(60),
        expires_at: T0 + Duration::seconds(expires_in),
    }
}

fn present(l: Lease) -> Seen {
    Seen::Present {
        lease: l,
        etag: "\"e1\"".into(),
    }
}

#[test]
fn acquire_decisions() {
    let cases: Vec<(&str, Seen, u64, Acquire)> = vec![
        (
            "an absent lease is created at epoch 1",
            Seen::Absent,
            0,
            Acquire::Create(Lease {
                holder: "me".into(),
                epoch: 1,
                acquired_at: T0,
                expires_at: T0 + TTL,
            }),
        ),
        (
            "an expired lease is taken over with the next epoch, on the ETag read",
            present(lease("old", 7, -1)),
            3,
            Acquire::TakeOver {
                lease: Lease {
                    holder: "me".into(),
                    epoch: 8,
                    acquired_at: T0,
                    expires_at: T0 + TTL,
                },
                if_match: "\"e1\"".into(),
            },
        ),
        (
            "a lease expiring exactly now is expired",
            present(lease("old", 2, 0)),
            0,
            Acquire::TakeOver {
                lease: Lease {
                    holder: "me".into(),
                    epoch: 3,
                    acquired_at: T0,
                    expires_at: T0 + TTL,
                },
                if_match: "\"e1\"".into(),
            },
        ),
        (
            "a live lease is refused, naming its holder and expiry",
            present(lease("ci-runner/42/ab12", 3, 1)),
            9,
            Acquire::Held {
                holder: "ci-runner/42/ab12".into(),
                expires_at: T0 + Duration::seconds(1),
            },
        ),
        (
            "after a release the epoch continues from the inventory's",
            Seen::Absent,
            5,
            Acquire::Create(Lease {
                holder: "me".into(),
                epoch: 6,
                acquired_at: T0,
                expires_at: T0 + TTL,
            }),
        ),
        (
            "a takeover goes past the inventory's epoch when it is ahead of the lease",
            present(lease("old", 2, -5)),
            4,
            Acquire::TakeOver {
                lease: Lease {
                    holder: "me".into(),
                    epoch: 5,
                    acquired_at: T0,
                    expires_at: T0 + TTL,
                },
                if_match: "\"e1\"".into(),
            },
        ),
    ];
    for (what, seen, floor, want) in cases {
        assert_eq!(acquire(&seen, floor, "me", T0, TTL), want, "{what}");
    }
}

#[test]
fn renewal_and_standing_by_the_age_of_the_last_renewal() {
    // (seconds since the last renewal, renewal due, standing) with TTL 30 s.
    let cases = [
        (0, false, Standing::Mutate),
        (9, false, Standing::Mutate),
        (10, true, Standing::Mutate),
        (19, true, Standing::Mutate),
        (20, true, Standing::Overdue),
        (29, true, Standing::Overdue),
        (30, true, Standing::Lost),
        (300, true, Standing::Lost),
    ];
    for (age, due, stand) in cases {
        let renewed_at = T0 - Duration::seconds(age);
        assert_eq!(renew_due(renewed_at, T0, TTL), due, "due after {age} s");
        assert_eq!(
            standing(renewed_at, T0, TTL),
            stand,
            "standing after {age} s"
        );
    }
    assert_eq!(renew_every(TTL), Duration::seconds(10));
}

#[test]
fn records_keep_whole_seconds() {
    let now = T0 + Duration::milliseconds(1_750);
    let Acquire::Create(l) = acquire(&Seen::Absent, 0, "me", now, TTL) else {
        panic!("an absent lease is created")
    };
    assert_eq!(
        (l.acquired_at, l.expires_at),
        (T0 + Duration::seconds(1), T0 + Duration::seconds(32)),
        "the expiry is rounded up: never earlier than the holder's own count"
    );
    assert_eq!(renewed(&l, now, TTL).expires_at, T0 + Duration::seconds(32));
    assert_eq!(
        renewed(&l, T0 + Duration::seconds(2), TTL).expires_at,
        T0 + Duration::seconds(32),
        "a whole second stays"
    );
}

#[test]
fn a_renewal_keeps_holder_epoch_and_acquisition_and_moves_the_expiry() {
    let l = lease("me", 4, 5);
    let r = renewed(&l, T0, TTL);
    assert_eq!(
        (r.holder.as_str(), r.epoch, r.acquired_at, r.expires_at),
        ("me", 4, l.acquired_at, T0 + TTL)
    );
}

#[test]
fn a_write_under_an_older_epoch_is_refused() {
    let cases = [
        (None, 1, true),
        (Some(1), 1, true),
        (Some(1), 2, true),
        (Some(3), 2, false),
    ];
    for (stored, mine, ok) in cases {
        assert_eq!(
            fence(stored, mine).is_ok(),
            ok,
            "stored {stored:?}, mine {mine}"
        );
    }
    assert_eq!(
        fence(Some(5), 4).unwrap_err().to_string(),
        "the inventory was written under lease epoch 5, newer than this runner's 4: another runner took the lease over; nothing was written"
    );
}

#[test]
fn waiting_sleeps_until_expiry_bounded_by_poll_and_deadline() {
    let s = Duration::seconds;
    let cases = [
        // (expires in, deadline in, poll) -> sleep
        (s(3), s(60), s(5), Some(s(3))),
        (s(30), s(60), s(5), Some(s(5))),
        (s(30), s(2), s(5), Some(s(2))),
        (s(-10), s(60), s(5), Some(Duration::milliseconds(50))),
        (s(30), s(0), s(5), None),
        (s(30), s(-1), s(5), None),
    ];
    for (exp, dl, poll, want) in cases {
        assert_eq!(
            wait_for(T0 + exp, T0, T0 + dl, poll),
            want,
            "{exp} {dl} {poll}"
        );
    }
}

#[test]
fn the_record_round_trips_and_bad_records_are_refused_without_quoting_them() {
    let l = lease("host/1/ab", 2, 30);
    assert_eq!(Lease::from_json(l.to_json().as_bytes()), Ok(l.clone()));
    let json: serde_json::Value = serde_json::from_str(&l.to_json()).unwrap();
    assert_eq!(
        json.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["acquired_at", "epoch", "expires_at", "holder"]
    );
    let bad: [&[u8]; 6] = [
        b"not json SECRETLIKE",
        br#"{"holder":"a","epoch":1,"acquired_at":"2026-12-01T12:00:00Z"}"#,
        br#"{"holder":"","epoch":1,"acquired_at":"2026-12-01T12:00:00Z","expires_at":"2026-12-01T12:00:30Z"}"#,
        br#"{"holder":"a","epoch":0,"acquired_at":"2026-12-01T12:00:00Z","expires_at":"2026-12-01T12:00:30Z"}"#,
        br#"{"holder":"a","epoch":1,"acquired_at":"2026-12-01T12:00:00Z","expires_at":"2026-12-01T11:00:00Z"}"#,
        br#"{"holder":"a","epoch":1,"acquired_at":"2026-12-01T12:00:00Z","expires_at":"2026-12-01T12:00:30Z","x":1}"#,
    ];
    for b in bad {
        let e = Lease::from_json(b).unwrap_err().to_string();
        assert!(!e.contains("SECRETLIKE"), "{e}");
    }
    assert!(Lease::from_json(&vec![b' '; MAX_LEASE_BYTES + 1]).is_err());
}
