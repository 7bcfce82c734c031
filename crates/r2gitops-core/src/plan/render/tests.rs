//! The renderings' shared rules: a plan id in each, escaping, what blocked items read as,
//! a new key's restrictions in all three forms.

use std::borrow::Cow;

use super::{escape, json, markdown, text};
use crate::plan::{Blocked, Kind, Plan, Step};

fn plan() -> Plan {
    Plan {
        account_id: "acct".into(),
        steps: Vec::new(),
        blocked: vec![Blocked {
            kind: Kind::Bucket,
            name: "archive".into(),
            reason: "location is create-only (have enam, want weur)".into(),
        }],
        orphans: Vec::new(),
        elsewhere: Vec::new(),
        unchanged: 3,
        bookkeeping: Vec::new(),
        refused: None,
        skip_outputs: false,
        temporary: Vec::new(),
        domains: Vec::new(),
        rotations: Vec::new(),
        retiring: Vec::new(),
        publish: None,
    }
}

#[test]
fn a_plan_with_only_blocked_items_never_reads_as_in_sync() {
    let p = plan();
    assert!(p.differs() && !p.has_changes());
    let text = text(&p, "r2gitops.yaml");
    assert!(
        text.contains("\nNo changes can be applied, but Cloudflare does not match the file: 1 blocked, 3 unchanged.\nPlan id: "),
        "{text}"
    );
    let md = markdown(&p, "r2gitops.yaml");
    assert!(
        md.contains("> [!WARNING]\n> 1 blocked: Cloudflare cannot be brought to match the file until this is resolved.\n> - **bucket `archive`**: location is create-only (have enam, want weur)\n"),
        "{md}"
    );
    let mut synced = plan();
    synced.blocked.clear();
    assert!(!synced.differs());
    assert!(text_of(&synced).contains("\nNo changes. 3 unchanged.\nPlan id: "));
    assert!(!markdown(&synced, "f").contains("WARNING"));
}

#[test]
fn text_markdown_and_json_carry_the_plan_id() {
    let p = plan();
    let id = crate::plan::id::plan_id(&p);
    let text = text_of(&p);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("Plan id: "))
            .collect::<Vec<_>>(),
        [format!("Plan id: {id}")],
        "{text}"
    );
    let md = markdown(&p, "f");
    assert!(
        md.starts_with(&format!(
            "### r2gitops plan: `f`\n\n**No changes can be applied, but Cloudflare does not match the file: 1 blocked, 3 unchanged.**\n\nPlan id: `{id}`\n\n"
        )),
        "{md}"
    );
    assert_eq!(json(&p, "f")["plan_id"], serde_json::json!(id));
}

fn text_of(p: &Plan) -> String {
    text(p, "f")
}

#[test]
fn escaping_leaves_plain_text_alone_and_shows_what_could_break_a_line() {
    let cases = [
        ("uploader", "uploader"),
        ("name 'a' -> 'r2gitops:b'", "name 'a' -> 'r2gitops:b'"),
        ("caf\u{e9} \u{1f600}", "caf\u{e9} \u{1f600}"),
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("\u{1b}[31mred", "\\u{1b}[31mred"),
        (
            "nel\u{85}ls\u{2028}ps\u{2029}",
            "nel\\u{85}ls\\u{2028}ps\\u{2029}",
        ),
        ("\u{202e}txt.exe", "\\u{202e}txt.exe"),
        ("`code`", "\\u{60}code\\u{60}"),
        ("```", "\\u{60}\\u{60}\\u{60}"),
    ];
    for (raw, shown) in cases {
        assert_eq!(escape(raw), shown, "{raw:?}");
    }
    assert!(matches!(escape("plain"), Cow::Borrowed(_)));
}

#[test]
fn a_name_from_cloudflare_cannot_fake_a_plan_line_or_close_a_code_span() {
    let fake =
        "x\n  - delete bucket prod-data (default): no longer declared (prune, not protected)";
    let mut p = plan();
    p.blocked[0].name = "arch`ive\n> - **bucket `prod`**: fine".into();
    p.orphans.push(crate::plan::Orphan {
        kind: Kind::Token,
        name: fake.into(),
        detail: "0123".into(),
        reason: "no longer declared; prune is off, so it is kept".into(),
    });
    p.steps.push(Step::UpdateToken {
        token: "uploader".into(),
        id: "0123".into(),
        owner: crate::config::Owner::Account,
        request: crate::observed::TokenRequest {
            name: "r2gitops:uploader".into(),
            policies: Vec::new(),
            not_before: None,
            expires_on: None,
            condition: Default::default(),
            status: None,
        },
        changes: vec![format!("name '{fake}' -> 'r2gitops:uploader'")],
        buckets: Vec::new(),
        fallback: None,
    });
    let text = text(&p, "r2gitops.yaml");
    let md = markdown(&p, "r2gitops.yaml");
    for out in [&text, &md] {
        assert!(
            !out.lines().any(|l| l.trim_start().starts_with("- delete")),
            "a line was faked:\n{out}"
        );
        assert!(out.contains("x\\n  - delete bucket prod-data"), "{out}");
    }
    // Markdown: one line per item, and the only backticks are the renderer's own.
    let blocked: Vec<&str> = md.lines().filter(|l| l.starts_with("> - **")).collect();
    assert_eq!(
        blocked,
        [
            "> - **bucket `arch\\u{60}ive\\n> - **bucket \\u{60}prod\\u{60}**: fine`**: location is create-only (have enam, want weur)"
        ]
    );
    assert_eq!(
        md.matches("```").count(),
        2,
        "one fence, opened and closed: {md}"
    );
}

fn create(ip: (&[&str], &[&str]), times: (bool, bool), every: Option<u64>) -> Step {
    use crate::config::{Access, IpRules, Jurisdiction, Owner};
    use time::macros::datetime;
    let nets = |n: &[&str]| n.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>();
    Step::CreateToken {
        token: "reader".into(),
        owner: Owner::Account,
        access: Access::ObjectRead,
        request: crate::observed::TokenRequest {
            name: "r2gitops:reader".into(),
            policies: Vec::new(),
            not_before: times.0.then_some(datetime!(2026-12-01 00:00 UTC)),
            expires_on: times.1.then_some(datetime!(2027-06-01 12:00 UTC)),
            condition: IpRules {
                allow: nets(ip.0),
                deny: nets(ip.1),
            },
            status: None,
        },
        buckets: vec![crate::plan::BucketRef {
            jurisdiction: Jurisdiction::Default,
            name: "media".into(),
        }],
        output: "reader.env.age".into(),
        rotate_every: every.map(std::time::Duration::from_secs),
    }
}

#[test]
fn a_new_tokens_restrictions_are_shown_in_text_markdown_and_json() {
    let line = "+ create token reader (object-read on media) -> reader.env.age";
    let cases: [(Step, &[&str]); 4] = [
        (create((&[], &[]), (false, false), None), &[]),
        (
            create(
                (&["10.0.0.0/8", "192.168.0.0/16"], &[]),
                (false, false),
                None,
            ),
            &["ip allow: 10.0.0.0/8, 192.168.0.0/16"],
        ),
        (
            create((&[], &["10.1.0.0/16"]), (true, false), None),
            &["ip deny: 10.1.0.0/16", "not_before: 2026-12-01T00:00:00Z"],
        ),
        (
            create(
                (&["10.0.0.0/8"], &["10.1.0.0/16"]),
                (true, true),
                Some(90 * 86_400),
            ),
            &[
                "ip allow: 10.0.0.0/8",
                "ip deny: 10.1.0.0/16",
                "not_before: 2026-12-01T00:00:00Z",
                "expires_on: 2027-06-01T12:00:00Z",
                "rotate_every: 90d",
            ],
        ),
    ];
    for (step, want) in cases {
        let mut p = plan();
        p.blocked.clear();
        p.steps = vec![step];
        let under: String = want.iter().map(|l| format!("    {l}\n")).collect();
        let t = text_of(&p);
        assert!(
            t.contains(&format!("  {line}\n{under}  = 3 unchanged")),
            "{t}"
        );
        let md = markdown(&p, "f");
        let under: String = want.iter().map(|l| format!("  {l}\n")).collect();
        assert!(
            md.contains(&format!("```diff\n{line}\n{under}= 3 unchanged")),
            "{md}"
        );
        let v = json(&p, "f");
        let c = &v["changes"][0];
        assert_eq!(
            (c["access"].as_str(), &c["buckets"]),
            (Some("object-read"), &serde_json::json!(["media"]))
        );
        let has = |prefix: &str| want.iter().find_map(|l| l.strip_prefix(prefix));
        let listed = |key: &str| {
            c["ip"][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(listed("allow"), has("ip allow: ").unwrap_or(""), "{c}");
        assert_eq!(listed("deny"), has("ip deny: ").unwrap_or(""), "{c}");
        assert_eq!(c["not_before"].as_str(), has("not_before: "), "{c}");
        assert_eq!(c["expires_on"].as_str(), has("expires_on: "), "{c}");
        assert_eq!(
            c["rotate_every_seconds"].as_u64(),
            has("rotate_every: ").map(|_| 90 * 86_400),
            "{c}"
        );
    }
}

#[test]
fn the_next_rotation_of_a_kept_token_is_in_the_json() {
    let mut p = plan();
    p.rotations = vec![crate::plan::NextRotation {
        token: "ci".into(),
        id: "3f2a".into(),
        every: std::time::Duration::from_secs(30 * 86_400),
        due: time::macros::datetime!(2027-01-15 08:00 UTC),
    }];
    assert_eq!(
        json(&p, "f")["rotations"],
        serde_json::json!([{
            "token": "ci", "id": "3f2a", "rotate_every_seconds": 2_592_000,
            "next_rotation": "2027-01-15T08:00:00Z",
        }])
    );
}
