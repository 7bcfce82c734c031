//! Table tests of rotation with overlap: which roll reasons become a `RotateToken` and which
//! still roll or replace at once, the duplicate rule with retiring records, retirement
//! scheduling, and overlap 0.

use std::time::Duration;

use time::macros::datetime;

use super::{NOW, converged, lines, obs_token, run};
use crate::fixtures::{bucket, desired, token};
use crate::inventory::RetiringRecord;
use crate::observed::TokenStatus;
use crate::plan::diff::*;
use crate::plan::{Bookkeeping, RollReason, Step};

const HOUR: Duration = Duration::from_secs(3600);
const OLD: &str = "00000000000000000000000000000000";
const NEW: &str = "11111111111111111111111111111111";

type Edit = fn(
    &mut crate::config::TokenSpec,
    &mut Inventory,
    &mut BTreeMap<String, OutputFact>,
    &mut Observed,
);

/// One declared token `reader` on `media`, converged, with `overlap`, edited by `edit`:
/// the action of its step (or none) and the reason's kind.
fn action(overlap: Duration, edit: Edit) -> Option<(&'static str, String)> {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("reader", &["media"])];
    d.tokens[0].rotation_overlap = overlap;
    let (mut o, mut inv, mut outputs) = converged(&d);
    edit(&mut d.tokens[0], &mut inv, &mut outputs, &mut o);
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.len() <= 1, "{:?}", lines(&p));
    p.steps.first().map(|s| {
        let kind = match s {
            Step::RollToken { reason, .. } => reason.kind().to_string(),
            Step::RotateToken {
                reason,
                old_id,
                overlap: o,
                ..
            } => {
                assert_eq!(old_id, OLD);
                assert_eq!(*o, overlap);
                reason.kind().to_string()
            }
            Step::ReplaceToken { reason, .. } => reason.kind(),
            other => panic!("unexpected {other:?}"),
        };
        (s.action(), kind)
    })
}

#[test]
fn reasons_where_the_old_secret_may_be_in_use_rotate_and_dead_ones_roll_or_replace() {
    let cases: Vec<(&str, Edit, (&str, &str))> = vec![
        (
            "rotate_every elapsed",
            |t, _, _, _| t.rotate_every = Some(Duration::from_secs(7 * 86_400)),
            ("rotate", "rotation"),
        ),
        (
            "recipients changed",
            |t, _, _, _| t.output.recipients.push("age1another".into()),
            ("rotate", "output_spec_changed"),
        ),
        (
            "output moved",
            |t, _, _, _| t.output.file = "moved/reader.env.age".into(),
            ("rotate", "output_moved"),
        ),
        (
            "endpoint shown changed",
            |_, inv, _, _| {
                let out = inv
                    .tokens
                    .get_mut("reader")
                    .unwrap()
                    .output
                    .as_mut()
                    .unwrap();
                out.details.insert("endpoint".into(), "https://old".into());
            },
            ("rotate", "output_detail_changed"),
        ),
        (
            "output missing",
            |_, _, out, _| {
                out.insert("reader".into(), OutputFact::Missing);
            },
            ("rotate", "output_missing"),
        ),
        (
            "output altered",
            |_, _, out, _| {
                out.insert(
                    "reader".into(),
                    OutputFact::Present {
                        sha256: "other".into(),
                    },
                );
            },
            ("rotate", "output_altered"),
        ),
        (
            "inventory lost: the value in use is unknown but live",
            |_, inv, _, _| inv.tokens.clear(),
            ("rotate", "output_unrecorded"),
        ),
        (
            "recorded from Cloudflare, never written: the value in use may be live",
            |_, inv, _, _| {
                let r = inv.tokens.get_mut("reader").unwrap();
                (r.output, r.unheld) = (None, true);
            },
            ("rotate", "output_unrecorded"),
        ),
        (
            "found unrecorded while a create of ours was in flight: nobody holds the value",
            |_, inv, _, _| {
                inv.tokens.clear();
                inv.pending.insert("reader".into());
            },
            ("roll", "output_unrecorded"),
        ),
        (
            "issued here, never written: nobody holds the value",
            |_, inv, _, _| inv.tokens.get_mut("reader").unwrap().output = None,
            ("roll", "output_unrecorded"),
        ),
        (
            "rolled elsewhere: the old secret is dead already",
            |_, inv, _, o| {
                inv.tokens.get_mut("reader").unwrap().modified_on =
                    Some(datetime!(2026-11-01 00:00 UTC));
                o.tokens[0].modified_on = Some(datetime!(2026-11-20 00:00 UTC));
            },
            ("roll", "changed_elsewhere"),
        ),
        (
            "revoked as exposed: replaced at once",
            |_, _, _, o| o.tokens[0].status = TokenStatus::RevokedExposed,
            ("replace", "revoked_exposed"),
        ),
    ];
    for (name, edit, (want_action, want_kind)) in &cases {
        let got = action(HOUR, *edit);
        assert_eq!(
            got,
            Some((*want_action, want_kind.to_string())),
            "{name} with a 1h overlap"
        );
        // With overlap 0 everything rolls as before (an exposed token is still replaced).
        let zero = action(Duration::ZERO, *edit).unwrap();
        let want = if *want_action == "replace" {
            "replace"
        } else {
            "roll"
        };
        assert_eq!(zero, (want, want_kind.to_string()), "{name} with overlap 0");
    }
    assert_eq!(action(HOUR, |_, _, _, _| {}), None, "as written: nothing");
}

#[test]
fn a_rotation_shows_its_reason_overlap_and_old_key() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("reader", &["media"])];
    d.tokens[0].rotation_overlap = 2 * HOUR;
    d.tokens[0].rotate_every = Some(Duration::from_secs(90 * 86_400));
    let (o, mut inv, outputs) = converged(&d);
    inv.tokens.get_mut("reader").unwrap().created_at = datetime!(2026-08-01 00:00 UTC);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "± rotate token reader: rotate_every 90d elapsed; new key issued, old key 00000000 retired after 2h overlap"
        ]
    );
    let json = crate::plan::render::json(&p, "f");
    let change = &json["changes"][0];
    assert_eq!(change["action"], "rotate");
    assert_eq!(change["overlap_seconds"], 7200);
    assert_eq!(change["reason"], "rotation");
    assert_eq!(json["summary"]["rotate"], 1);
    assert_eq!(p.deletions(), 0);
}

/// The plan's body lines (indented under its header).
fn body(p: &Plan) -> Vec<String> {
    crate::plan::render::text(p, "f")
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(str::to_string)
        .collect()
}

/// The world after a rotation: `reader` served by NEW, OLD recorded as retiring until
/// `retire_at`, both in Cloudflare under the same name.
fn rotated(
    retire_at: time::OffsetDateTime,
    recorded: bool,
) -> (Desired, Observed, Inventory, BTreeMap<String, OutputFact>) {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("reader", &["media"])];
    d.tokens[0].rotation_overlap = HOUR;
    let (mut o, mut inv, outputs) = converged(&d);
    let mut new = obs_token(&d, &d.tokens[0], NEW);
    new.issued_on = Some(datetime!(2026-11-23 11:00 UTC));
    o.tokens.push(new);
    let mut record = inv.tokens.remove("reader").unwrap();
    record.id = NEW.into();
    inv.tokens.insert("reader".into(), record);
    if recorded {
        inv.retiring.push(RetiringRecord {
            token: "reader".into(),
            id: OLD.into(),
            owner: d.tokens[0].owner,
            retire_at,
        });
    }
    (d, o, inv, outputs)
}

#[test]
fn a_recorded_retiring_token_is_kept_until_retire_at_then_retired_outside_max_deletions() {
    // Before retire_at: kept, shown among the unchanged, never a duplicate.
    let (d, o, inv, outputs) = rotated(NOW + Duration::from_secs(20 * 60), true);
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(
        body(&p),
        [
            "= token reader: old key 00000000 retires at 2026-11-23T12:20:00Z (in 20m)",
            "= 2 unchanged"
        ]
    );
    assert_eq!(
        crate::plan::render::json(&p, "f")["retiring"][0]["retire_at"],
        "2026-11-23T12:20:00Z"
    );

    // At retire_at (and after): a retire step, shown, not counted against max_deletions.
    for at in [NOW, NOW - HOUR] {
        let (mut d, o, inv, outputs) = rotated(at, true);
        d.settings.max_deletions = 0;
        let p = run(&d, &o, &inv, &outputs);
        assert_eq!(
            body(&p),
            [
                "- retire token reader 00000000 (overlap ended)",
                "= 2 unchanged"
            ]
        );
        assert_eq!(p.deletions(), 0);
        assert!(p.refused.is_none());
        let json = crate::plan::render::json(&p, "f");
        assert_eq!(json["changes"][0]["action"], "retire");
        assert_eq!(json["changes"][0]["retire_at"], crate::plan::timestamp(at));
    }

    // A retiring token the inventory does not record is a duplicate, as before.
    let (d, o, inv, outputs) = rotated(NOW + HOUR, false);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        p.steps,
        [Step::DeleteToken {
            token: "reader".into(),
            name: o.tokens[0].name.clone(),
            id: OLD.into(),
            owner: d.tokens[0].owner,
            reason: crate::plan::DeleteReason::Duplicate { kept: NEW.into() },
        }]
    );

    // One Cloudflare no longer holds is forgotten.
    let (d, mut o, inv, outputs) = rotated(NOW + HOUR, true);
    o.tokens.retain(|t| t.id != OLD);
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.bookkeeping,
        [Bookkeeping::ForgetRetiring { id: OLD.into() }]
    );
}

#[test]
fn a_rotation_interrupted_before_its_output_was_written_rolls_the_undelivered_key() {
    // The crash left NEW recorded without an output and OLD retiring: nobody holds NEW's
    // value, so a roll breaks nobody, and a second rotation would only add a token.
    let (d, o, mut inv, outputs) = rotated(NOW + HOUR, true);
    inv.tokens.get_mut("reader").unwrap().output = None;
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        p.steps,
        [Step::RollToken {
            token: "reader".into(),
            id: NEW.into(),
            owner: d.tokens[0].owner,
            reason: RollReason::OutputUnrecorded,
        }]
    );
}

#[test]
fn r2gitops_rotate_rotates_a_token_that_is_as_written_and_revoke_old_says_so() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("reader", &["media"])];
    d.tokens[0].rotation_overlap = HOUR;
    let (o, inv, outputs) = converged(&d);
    d.rotate_now.insert("reader".into(), false);
    assert_eq!(
        lines(&run(&d, &o, &inv, &outputs)),
        [
            "± rotate token reader: rotation requested (r2gitops rotate); new key issued, old key 00000000 retired after 1h overlap"
        ]
    );
    d.rotate_now.insert("reader".into(), true);
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [
            "± rotate token reader: rotation requested (r2gitops rotate); new key issued, old key 00000000 deleted once the new output is written (--revoke-old)"
        ]
    );
    assert_eq!(
        crate::plan::render::json(&p, "f")["changes"][0]["overlap_seconds"],
        0
    );
}
