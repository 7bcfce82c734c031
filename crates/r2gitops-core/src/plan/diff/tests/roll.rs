//! Table tests of rolls: which output facts cannot be vouched for, what blocks a roll, a
//! token changed elsewhere, and when a kept token is next rotated.

use super::*;

#[test]
fn roll_reasons() {
    type Edit = fn(&mut TokenSpec, &mut Inventory, &mut BTreeMap<String, OutputFact>);
    let cases: Vec<(&str, Edit, Option<&str>)> = vec![
        ("all as written", |_, _, _| {}, None),
        (
            "inventory lost",
            |_, inv, _| inv.tokens.clear(),
            Some(
                "no record of its output (a new or lost inventory, or an interrupted write); any secret in use stops working",
            ),
        ),
        (
            "create answered, write never happened",
            |_, inv, _| inv.tokens.get_mut("uploader").unwrap().output = None,
            Some(
                "no record of its output (a new or lost inventory, or an interrupted write); any secret in use stops working",
            ),
        ),
        (
            "file deleted",
            |_, _, out| {
                out.insert("uploader".into(), OutputFact::Missing);
            },
            Some("output file missing"),
        ),
        (
            "file edited",
            |_, _, out| {
                out.insert(
                    "uploader".into(),
                    OutputFact::Present {
                        sha256: "other".into(),
                    },
                );
            },
            Some("output file changed since it was written"),
        ),
        (
            "output path changed in the file",
            |t, _, _| t.output.file = "moved/uploader.env.age".into(),
            Some("output file moved (was uploader.env.age)"),
        ),
        (
            "recipients changed",
            |t, _, _| t.output.recipients.push("age1another".into()),
            Some("output recipients or format changed"),
        ),
        (
            "format changed",
            |t, _, _| t.output.format = OutputFormat::Json,
            Some("output recipients or format changed"),
        ),
        (
            "rotation due",
            |t, _, _| t.rotate_every = Some(Duration::from_secs(7 * 86400)),
            Some("rotate_every elapsed (value issued 2026-11-01T00:00:00Z)"),
        ),
        (
            "rotation not yet due after a recent roll",
            |t, inv, _| {
                t.rotate_every = Some(Duration::from_secs(7 * 86400));
                inv.tokens.get_mut("uploader").unwrap().rolled_at =
                    Some(datetime!(2026-11-20 00:00 UTC));
            },
            None,
        ),
    ];
    for (name, edit, want) in cases {
        let mut d = desired();
        d.buckets = vec![bucket("media")];
        d.tokens = vec![token("uploader", &["media"])];
        let (o, mut inv, mut outputs) = converged(&d);
        edit(&mut d.tokens[0], &mut inv, &mut outputs);
        let p = run(&d, &o, &inv, &outputs);
        let got: Vec<String> = p
            .steps
            .iter()
            .map(|s| match s {
                Step::RollToken { reason, id, .. } => {
                    assert_eq!(id, &o.tokens[0].id, "{name}: same key id");
                    reason.describe()
                }
                other => panic!("{name}: unexpected {other:?}"),
            })
            .collect();
        let want: Vec<String> = want.into_iter().map(String::from).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn recipient_order_is_not_a_change() {
    let mut d = desired();
    d.tokens = vec![token("t", &["b"])];
    d.buckets = vec![bucket("b")];
    d.tokens[0].output.recipients = vec!["age1a".into(), "age1b".into()];
    let (o, inv, outputs) = converged(&d);
    d.tokens[0].output.recipients = vec!["age1b".into(), "age1a".into()];
    assert!(run(&d, &o, &inv, &outputs).steps.is_empty());
}

#[test]
fn an_unreadable_output_blocks_and_skip_outputs_plans_no_roll() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("uploader", &["media"])];
    let (o, mut inv, mut outputs) = converged(&d);
    outputs.insert(
        "uploader".into(),
        OutputFact::Unreadable {
            reason: "it is a symlink".into(),
        },
    );
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.blocked[0].reason,
        "output file uploader.env.age cannot be checked: it is a symlink"
    );

    // Not created either: the new value could not be delivered.
    let p = run(&d, &observed(), &Inventory::default(), &outputs);
    assert_eq!(lines(&p), ["+ create bucket media (default)"]);
    assert_eq!(p.blocked.len(), 1);
    assert_eq!(p.blocked[0].name, "uploader");

    inv.tokens.clear();
    let p = diff(&Input {
        desired: &d,
        observed: &o,
        inventory: &inv,
        outputs: &BTreeMap::new(),
        details: &BTreeMap::new(),
        now: NOW,
        skip_outputs: true,

        temporary: &TemporaryFacts::default(),
    });
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert!(p.skip_outputs);
}

#[test]
fn a_detail_the_output_shows_that_changed_rolls_the_token_and_says_which() {
    let d = sample();
    let (o, mut inv, outputs) = converged(&d);
    let record = inv.tokens.get_mut("uploader").unwrap();
    let out = record.output.as_mut().unwrap();
    out.details
        .insert("endpoint".into(), "http://127.0.0.1:9000".into());
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        [format!(
            "↻ roll token uploader: output endpoint changed (http://127.0.0.1:9000→https://{ACCT}.default.example)"
        )]
    );
    assert_eq!(
        crate::plan::render::step_json(&p.steps[0])["reason"],
        "output_detail_changed"
    );

    // A record from before details were kept knows nothing to differ: no roll.
    let (o, mut inv, outputs) = converged(&d);
    for r in inv.tokens.values_mut() {
        r.output.as_mut().unwrap().details.clear();
    }
    assert!(run(&d, &o, &inv, &outputs).steps.is_empty());
}

#[test]
fn a_token_changed_elsewhere_after_our_last_write_is_rolled() {
    let d = sample();
    let (mut o, mut inv, outputs) = converged(&d);
    let ours = datetime!(2026-11-20 10:00 UTC);
    for r in inv.tokens.values_mut() {
        r.modified_on = Some(ours);
    }
    for t in &mut o.tokens {
        t.modified_on = Some(ours);
    }
    assert!(
        run(&d, &o, &inv, &outputs).steps.is_empty(),
        "ours: no roll"
    );
    // Someone rolled (or edited) the uploader in the dashboard.
    o.tokens[0].modified_on = Some(datetime!(2026-11-22 08:00 UTC));
    assert_eq!(
        lines(&run(&d, &o, &inv, &outputs)),
        [
            "↻ roll token uploader: changed outside r2gitops at 2026-11-22T08:00:00Z (a roll there would leave its output dead)"
        ]
    );
    // Unknown on either side: nothing can be concluded.
    inv.tokens.get_mut("uploader").unwrap().modified_on = None;
    assert!(run(&d, &o, &inv, &outputs).steps.is_empty());
}

#[test]
fn a_kept_token_shows_when_it_is_next_rotated_and_a_rolled_one_does_not() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    d.tokens = vec![token("kept", &["media"]), token("due", &["media"])];
    let week = Duration::from_secs(7 * 86400);
    d.tokens[0].rotate_every = Some(week);
    d.tokens[1].rotate_every = Some(week);
    let (o, mut inv, outputs) = converged(&d);
    inv.tokens.get_mut("kept").unwrap().rolled_at = Some(datetime!(2026-11-20 06:00 UTC));
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["↻ roll token due: rotate_every elapsed (value issued 2026-11-01T00:00:00Z)"]
    );
    assert_eq!(
        p.rotations,
        [crate::plan::NextRotation {
            token: "kept".into(),
            id: o.tokens[0].id.clone(),
            every: week,
            due: datetime!(2026-11-27 06:00 UTC),
        }]
    );
    assert_eq!(crate::plan::NextRotation::of(&d, &inv)[0], p.rotations[0]);
}

#[test]
fn a_change_of_ours_in_flight_when_a_pass_died_is_recorded_not_rolled() {
    let d = sample();
    let (mut o, mut inv, outputs) = converged(&d);
    let ours = datetime!(2026-11-20 10:00 UTC);
    for r in inv.tokens.values_mut() {
        r.modified_on = Some(ours);
    }
    for t in &mut o.tokens {
        t.modified_on = Some(ours);
    }
    // The update took effect, and the pass died before recording its `modified_on`.
    let after = datetime!(2026-11-20 10:00:05 UTC);
    o.tokens[0].modified_on = Some(after);
    let name = inv
        .tokens
        .iter()
        .find(|(_, r)| r.id == o.tokens[0].id)
        .map(|(n, _)| n.clone())
        .unwrap();
    inv.updating.insert(name.clone());
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(
        p.bookkeeping,
        [Bookkeeping::OwnUpdate {
            token: name.clone(),
            id: o.tokens[0].id.clone(),
            modified_on: Some(after),
        }]
    );
    // Without the mark the same facts are a change made elsewhere.
    inv.updating.clear();
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(p.steps.len(), 1);
    assert!(
        lines(&p)[0].contains("changed outside r2gitops"),
        "{:?}",
        lines(&p)
    );
    // Marked, but the token is not as declared: the update is planned again and nothing
    // is taken for ours yet.
    inv.updating.insert(name);
    o.tokens[0].policies.clear();
    let p = run(&d, &o, &inv, &outputs);
    assert!(
        p.bookkeeping
            .iter()
            .all(|b| !matches!(b, Bookkeeping::OwnUpdate { .. }))
    );
    assert!(
        lines(&p).iter().any(|l| l.starts_with("~ update token")),
        "{:?}",
        lines(&p)
    );
}
