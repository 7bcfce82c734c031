//! Table tests of the bucket rules: what a declared bucket needs, one found in Cloudflare,
//! and a storage-class change Cloudflare refused.

use super::*;

#[test]
fn bucket_rules() {
    type Edit = fn(&mut BucketSpec, &mut ObservedBucket, &mut Inventory);
    let cases: Vec<(&str, Edit, Vec<&str>, Vec<&str>)> = vec![
        (
            "storage class differs -> update",
            |b, _, _| b.storage_class = StorageClass::InfrequentAccess,
            vec!["~ update bucket media: storage class Standard -> InfrequentAccess"],
            vec![],
        ),
        (
            "location differs -> blocked, never recreated",
            |b, o, _| {
                b.location_hint = Some(LocationHint::Weur);
                o.location = Some(LocationHint::Enam);
            },
            vec![],
            vec!["media: location is create-only (have enam, want weur)"],
        ),
        (
            "no location reported -> nothing to compare",
            |b, o, _| {
                b.location_hint = Some(LocationHint::Weur);
                o.location = None;
            },
            vec![],
            vec![],
        ),
        (
            "managed in eu, now declared default -> blocked, no create",
            |_, o, inv| {
                o.jurisdiction = Jurisdiction::Eu;
                inv.buckets.clear();
                inv.buckets
                    .insert((Jurisdiction::Eu, "media".into()), BucketRecord::new(false));
            },
            vec![],
            vec!["media: jurisdiction is create-only (have eu, want default)"],
        ),
        (
            "unmanaged bucket of the same name in eu -> create in default",
            |_, o, inv| {
                o.jurisdiction = Jurisdiction::Eu;
                inv.buckets.clear();
            },
            vec!["+ create bucket media (default)"],
            vec![],
        ),
    ];
    for (name, edit, want_lines, want_blocked) in cases {
        let mut d = desired();
        d.settings.prune = true;
        d.buckets = vec![bucket("media")];
        let (mut o, mut inv, outputs) = converged(&d);
        edit(&mut d.buckets[0], &mut o.buckets[0], &mut inv);
        let p = run(&d, &o, &inv, &outputs);
        assert_eq!(lines(&p), want_lines, "{name}");
        let blocked: Vec<String> = p
            .blocked
            .iter()
            .map(|b| format!("{}: {}", b.name, b.reason))
            .collect();
        assert_eq!(blocked, want_blocked, "{name}");
        assert_eq!(p.deletions(), 0, "{name}: a bucket is never replaced");
    }
}

#[test]
fn an_existing_declared_bucket_is_adopted_silently() {
    let mut d = desired();
    d.buckets = vec![bucket("media")];
    let mut o = observed();
    o.buckets.push(obs_bucket(&d.buckets[0]));
    let p = run(&d, &o, &Inventory::default(), &BTreeMap::new());
    assert!(p.steps.is_empty());
    assert_eq!(p.unchanged, 1);
    assert_eq!(
        p.bookkeeping,
        [Bookkeeping::TrackBucket {
            bucket: BucketRef {
                jurisdiction: Jurisdiction::Default,
                name: "media".into()
            },
            protect: true
        }]
    );
}

#[test]
fn a_refused_storage_class_change_is_blocked_for_a_day_then_tried_again() {
    let mut d = desired();
    d.buckets = vec![bucket("cold")];
    let (mut o, mut inv, outputs) = converged(&d);
    d.buckets[0].storage_class = StorageClass::InfrequentAccess;
    let refused_at = NOW - time::Duration::hours(2);
    inv.buckets
        .get_mut(&(Jurisdiction::Default, "cold".into()))
        .unwrap()
        .storage_class_refused = Some(crate::inventory::Refusal {
        to: StorageClass::InfrequentAccess,
        at: refused_at,
        detail: "HTTP 405, code 7001: Method not allowed".into(),
    });
    let p = run(&d, &o, &inv, &outputs);
    assert!(p.steps.is_empty(), "{:?}", lines(&p));
    assert_eq!(
        p.blocked[0].reason,
        "Cloudflare refused to change the storage class to InfrequentAccess (HTTP 405, code 7001: Method not allowed) at 2026-11-23T10:00:00Z; r2gitops tries again after 2026-11-24T10:00:00Z"
    );
    let later = diff(&Input {
        desired: &d,
        observed: &o,
        inventory: &inv,
        outputs: &outputs,
        details: &BTreeMap::new(),
        now: NOW + time::Duration::days(1),
        skip_outputs: false,

        temporary: &TemporaryFacts::default(),
    });
    assert_eq!(
        lines(&later),
        ["~ update bucket cold: storage class Standard -> InfrequentAccess"]
    );
    // A refusal of another target does not block this one.
    o.buckets[0].storage_class = StorageClass::InfrequentAccess;
    d.buckets[0].storage_class = StorageClass::Standard;
    let p = run(&d, &o, &inv, &outputs);
    assert_eq!(
        lines(&p),
        ["~ update bucket cold: storage class InfrequentAccess -> Standard"]
    );
}
