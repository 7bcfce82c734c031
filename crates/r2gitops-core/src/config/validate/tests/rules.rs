//! The table of rules: each invalid file, with the position, path and message of every
//! problem it reports.

use super::*;

#[test]
fn rules_are_reported_with_position_path_and_message() {
    let admin = "    access: admin-read\n";
    let cases: Vec<(String, &str)> = vec![
        (
            base("", B, &token(admin)).replace("version: 1", "version: 2"),
            "1:10: version: unsupported version 2",
        ),
        (
            format!("account_id: ABC\n{}", base("", B, &token(admin))),
            "1:13: account_id: 'ABC' is not an account id (32 lowercase hex characters)",
        ),
        (
            base("", "  - name: ab\n", &token(admin)),
            "5:11: buckets[0].name: bucket name 'ab' is 2 characters long; R2 allows 3 to 63",
        ),
        (
            base("", "  - name: Media\n", &token(admin)),
            "5:11: buckets[0].name: bucket name 'Media' contains 'M'",
        ),
        (
            base("", "  - name: -media\n", &token(admin)),
            "5:11: buckets[0].name: bucket name '-media' must start and end with a letter or digit",
        ),
        (
            base("", "  - name: media\n  - name: media\n", &token(admin)),
            "6:11: buckets[1].name: bucket 'media' is declared twice",
        ),
        (
            base(
                "",
                B,
                &format!("{}{}", token(admin), token(admin).replace("t.age", "u.age")),
            ),
            "13:11: tokens[1].name: token 'tokens' is declared twice"
                .replace("'tokens'", "'t'")
                .leak(),
        ),
        (
            base("", B, &token(admin).replace("name: t", "name: ' '")),
            "10:11: tokens[0].name: token name must not be empty",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("name: t", &format!("name: {}", "x".repeat(112))),
            ),
            "10:11: tokens[0].name: token name is too long: 'r2gitops:' + 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is 121 characters; Cloudflare allows 120",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [medai]\n"),
            ),
            "13:15: tokens[0].buckets[0]: unknown bucket 'medai'",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [media, eu-data]\n"),
            ),
            "13:14: tokens[0].buckets: buckets span several jurisdictions: default (media), eu (eu-data)",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    buckets: [media]\n"),
            ),
            "13:14: tokens[0].buckets: admin-read tokens cover the whole account and take no buckets",
        ),
        (
            base("", B, &token("    access: object-read\n")),
            "12:13: tokens[0].buckets: object-read tokens need buckets",
        ),
        (
            base("", B, &token("    access: object-read\n    buckets: []\n")),
            "13:14: tokens[0].buckets: buckets is empty",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: ['*', media]\n"),
            ),
            "13:14: tokens[0].buckets: \"*\" must be the only entry",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [media, media]\n"),
            ),
            "13:22: tokens[0].buckets[1]: bucket 'media' is listed twice",
        ),
        (
            base(
                "",
                B,
                &token("    access: object-read\n    buckets: [media]\n    jurisdiction: eu\n"),
            ),
            "14:19: tokens[0].jurisdiction: jurisdiction is only allowed on admin-* tokens and on buckets: [\"*\"]",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    ip: {allow: [203.0.113.0/33]}\n"),
            ),
            "13:18: tokens[0].ip.allow[0]: '203.0.113.0/33' is not a CIDR",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    ip: {deny: ['2001:db8::1/32']}\n"),
            ),
            "13:17: tokens[0].ip.deny[0]: '2001:db8::1/32' has host bits set",
        ),
        (
            base(
                "",
                B,
                &token(
                    "    access: admin-read\n    not_before: 2027-01-01T00:00:00Z\n    expires_on: 2026-01-01T00:00:00Z\n",
                ),
            ),
            "14:17: tokens[0].expires_on: expires_on must be later than not_before",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    not_before: tomorrow\n"),
            ),
            "13:17: tokens[0].not_before: 'tomorrow' is not an RFC 3339 timestamp",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    rotate_every: 30m\n"),
            ),
            "13:19: tokens[0].rotate_every: rotate_every '30m' is shorter than 1h",
        ),
        (
            base(
                "",
                B,
                &token("    access: admin-read\n    rotate_every: 3 days\n"),
            ),
            "13:19: tokens[0].rotate_every: '3 days' is not a duration",
        ),
        (
            base("", B, &token(admin)).replace(&format!("recipients: [{AGE}]"), "prune: false"),
            "11:20: tokens[0].output: this token has no recipient: nobody could decrypt its file",
        ),
        (
            base("", B, &token(admin)).replace(AGE, "age1notakey"),
            "3:16: settings.recipients[0]: 'age1notakey' is not a valid age X25519 recipient",
        ),
        (
            base("", B, &token(admin)).replace(AGE, "'ssh-dss AAAAB3NzaC1kc3MAAACBAP'"),
            "3:16: settings.recipients[0]: SSH key type 'ssh-dss' is not supported",
        ),
        (
            base("", B, &token(admin)).replace(AGE, "AGE-SECRET-KEY-1QQQQ"),
            "3:16: settings.recipients[0]: this is a private key, not a recipient (value not shown)",
        ),
        (
            base("", B, &token(admin).replace("t.age", "../t.age")),
            "11:20: tokens[0].output.file: output file '../t.age' contains '..'",
        ),
        (
            base("", B, &token(admin).replace("t.age", "/etc/t.age")),
            "11:20: tokens[0].output.file: output file '/etc/t.age' is an absolute path",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", ".r2gitops-state.json"),
            ),
            "11:20: tokens[0].output.file: '.r2gitops-state.json' is the state file",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", ".r2gitops-state.json.lock"),
            ),
            "11:20: tokens[0].output.file: '.r2gitops-state.json.lock' is the inventory lock file",
        ),
        (
            base(
                "  state_file: secrets/inv.json\n",
                B,
                &token(admin).replace("t.age", "./inv.json.lock"),
            ),
            "12:20: tokens[0].output.file: './inv.json.lock' is the inventory lock file",
        ),
        (
            base(
                "  state_file: elsewhere/inv.json\n",
                B,
                &token(admin).replace("t.age", "team/.r2gitops-state.json"),
            ),
            "12:20: tokens[0].output.file: output file 'team/.r2gitops-state.json' is named like the state file",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", "team/.r2gitops-state.json.lock"),
            ),
            "11:20: tokens[0].output.file: output file 'team/.r2gitops-state.json.lock' is named like the inventory lock file",
        ),
        (
            base(
                "",
                B,
                &token(admin).replace("t.age", "team/.t.age.r2gitops-tmp-0123456789abcdef"),
            ),
            "11:20: tokens[0].output.file: output file 'team/.t.age.r2gitops-tmp-0123456789abcdef' is named like an r2gitops temp file",
        ),
        (
            base(
                "",
                B,
                &format!(
                    "{}{}",
                    token(admin),
                    token(admin)
                        .replace("name: t", "name: u")
                        .replace("t.age", "./t.age")
                ),
            ),
            "14:20: tokens[1].output.file: output file './t.age' is used twice",
        ),
        (
            base("  prune: true\n", "", "").replace("buckets:\ntokens:\n", ""),
            "4:10: settings.prune: refusing to plan the deletion of everything: prune is on and the file declares no bucket and no token",
        ),
        (
            base("  token_name_prefix: ''\n", B, &token(admin)),
            "4:22: settings.token_name_prefix: token name prefix must not be empty",
        ),
    ];
    let mut failures = Vec::new();
    for (yaml, want) in cases {
        let got = run(&yaml).expect_err(want);
        if !got.iter().any(|g| g == want) {
            failures.push(format!("want {want}\n got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
