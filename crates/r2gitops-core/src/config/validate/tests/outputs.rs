//! Outputs and their recipients: where output files and the inventory may live, the
//! recipients a file names and how its problems are reported (never quoting a line, never
//! echoing a private key), and symlinks that escape.

use super::*;

#[test]
fn a_pinned_output_dir_keeps_the_inventory_in_it() {
    let yaml = base(
        "  state_file: inv/state.json\n",
        B,
        &token("    access: admin-read\n"),
    );
    assert!(
        run(&yaml).is_ok(),
        "not pinned: the file decides, inside its tree"
    );
    let pinned = Facts {
        output_dir_pinned: true,
        ..Facts::default()
    };
    assert_eq!(
        run_with(&yaml, &pinned).unwrap_err(),
        [
            "4:15: settings.state_file: state_file cannot be set while the operator pins the output directory (--output-dir or R2GITOPS_OUTPUT_DIR): the inventory lives there"
        ]
    );
}

/// An absolute `output_dir` replaced a `.bashrc` with ciphertext: unpinned, the file keeps
/// its outputs and inventory in its own directory tree, as it does its recipients file.
#[test]
fn unpinned_output_dir_and_state_file_stay_inside_the_files_tree() {
    let link = |field: &'static str| Facts {
        escaping_settings: BTreeMap::from([(field, "'out' -> /home/ops".to_string())]),
        ..Facts::default()
    };
    let none = Facts::default();
    let cases: &[(&str, &Facts, Option<&str>)] = &[
        ("  output_dir: out/secrets\n", &none, None),
        ("  output_dir: ./out\n", &none, None),
        ("  state_file: inv/state.json\n", &none, None),
        (
            "  output_dir: /home/ops\n",
            &none,
            Some("4:15: settings.output_dir: output directory '/home/ops' is an absolute path"),
        ),
        (
            "  output_dir: ../ops\n",
            &none,
            Some("4:15: settings.output_dir: output directory '../ops' contains '..'"),
        ),
        (
            "  output_dir: out/../../ops\n",
            &none,
            Some("4:15: settings.output_dir: output directory 'out/../../ops' contains '..'"),
        ),
        (
            "  output_dir: out\n",
            &link("settings.output_dir"),
            Some(
                "4:15: settings.output_dir: output directory 'out' leads out of the directory of this file through the symlink 'out' -> /home/ops",
            ),
        ),
        (
            "  state_file: /etc/cron.d/x\n",
            &none,
            Some("4:15: settings.state_file: state file '/etc/cron.d/x' is an absolute path"),
        ),
        (
            "  state_file: ../x.json\n",
            &none,
            Some("4:15: settings.state_file: state file '../x.json' contains '..'"),
        ),
        (
            "  state_file: out/x.json\n",
            &link("settings.state_file"),
            Some(
                "4:15: settings.state_file: state file 'out/x.json' leads out of the directory of this file through the symlink 'out' -> /home/ops",
            ),
        ),
    ];
    for (settings, facts, want) in cases {
        let yaml = base(settings, B, &token("    access: admin-read\n"));
        match (run_with(&yaml, facts), want) {
            (Ok(_), None) => {}
            (Err(got), Some(want)) => assert_eq!(got, [want.to_string()], "{settings}"),
            (got, want) => panic!("{settings}: want {want:?}, got {:?}", got.err()),
        }
        // The operator's pin decides instead: the file's output_dir is never written.
        if settings.contains("output_dir") {
            let pinned = Facts {
                output_dir_pinned: true,
                ..Facts::default()
            };
            assert!(run_with(&yaml, &pinned).is_ok(), "pinned: {settings}");
        }
    }
}

#[test]
fn output_recipients_replace_the_defaults_and_recipients_file_adds_to_them() {
    let facts = Facts {
        recipients_file: Some(Ok(format!("# ops\n\n{AGE2}\n{AGE}\n"))),
        ..Facts::default()
    };
    let yaml = base(
        "  recipients_file: keys/ops.txt\n",
        B,
        &token("    access: admin-read\n"),
    );
    let d = run_with(&yaml, &facts).unwrap();
    assert_eq!(
        d.tokens[0].output.recipients,
        vec![AGE.to_string(), AGE2.to_string()]
    );
    let own = token(&format!(
        "    access: admin-read\n    output: {{file: t.age, format: env, recipients: [{AGE2}]}}\n"
    ))
    .replace("    output: {file: t.age, format: env}\n", "");
    let d = run_with(&base("  recipients_file: keys/ops.txt\n", B, &own), &facts).unwrap();
    assert_eq!(d.tokens[0].output.recipients, vec![AGE2.to_string()]);
}

#[test]
fn recipients_file_problems_name_the_file_and_line() {
    let yaml = base(
        "  recipients_file: keys/ops.txt\n",
        B,
        &token("    access: admin-read\n"),
    );
    let cases = [
        (
            Some(Err(Unread::Failed(
                "No such file or directory (os error 2)".to_string(),
            ))),
            "4:20: settings.recipients_file: cannot read 'keys/ops.txt': No such file or directory (os error 2)",
        ),
        (
            Some(Err(Unread::Escapes("'keys' -> /run/secrets".to_string()))),
            "4:20: settings.recipients_file: 'keys/ops.txt' leads out of the directory of this file through the symlink 'keys' -> /run/secrets",
        ),
        (
            Some(Ok(format!("{AGE}\nnot-a-key\n"))),
            "4:20: settings.recipients_file: keys/ops.txt line 2: not an age or SSH public key (text not shown)",
        ),
        (
            Some(Ok("# only a comment\n".into())),
            "4:20: settings.recipients_file: 'keys/ops.txt' holds no recipient",
        ),
    ];
    for (file, want) in cases {
        let facts = Facts {
            recipients_file: file,
            ..Facts::default()
        };
        let got = run_with(&yaml, &facts).expect_err(want);
        assert_eq!(got, vec![want.to_string()]);
    }
}

/// A `recipients_file` pointed at the daemon's API token file printed the token.
#[test]
fn no_line_of_a_recipients_file_is_ever_quoted() {
    let token_like = "Zq3vX9kLm2Np8Rt5Wy7Bc4Df6Gh1Jk0Lm3Np5Qr7St";
    let lines = [
        token_like.to_string(),
        format!("age1{token_like}"),
        format!("age1plugin1{token_like}"),
        format!("ssh-{token_like} AAAA"),
        format!("ssh-ed25519 {token_like}"),
        format!("AGE-SECRET-KEY-1{token_like}"),
        format!("ecdsa-{token_like}"),
    ];
    let yaml = base(
        "  recipients_file: keys/ops.txt\n",
        B,
        &token("    access: admin-read\n"),
    );
    for line in lines {
        let facts = Facts {
            recipients_file: Some(Ok(format!("# keys\n{line}\n"))),
            ..Facts::default()
        };
        let got = run_with(&yaml, &facts).expect_err(&line);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("keys/ops.txt line 2: "), "{got:?}");
        assert!(got[0].ends_with(" (text not shown)"), "{got:?}");
        // Not the value, nor any 8 characters of it.
        for window in token_like.as_bytes().windows(8) {
            let piece = std::str::from_utf8(window).unwrap();
            assert!(!got[0].contains(piece), "{piece} quoted in {got:?}");
        }
    }
}

#[test]
fn a_recipients_file_outside_the_files_directory_is_refused_unread() {
    let cases = [
        (
            "/run/secrets/cloudflare/token",
            "recipients file '/run/secrets/cloudflare/token' is an absolute path",
        ),
        ("../../token", "recipients file '../../token' contains '..'"),
        (
            "keys/../../token",
            "recipients file 'keys/../../token' contains '..'",
        ),
    ];
    for (path, want) in cases {
        let yaml = base(
            &format!("  recipients_file: {path}\n"),
            B,
            &token("    access: admin-read\n"),
        );
        // `load` gathers nothing for such a path; a text here would be ignored.
        let facts = Facts {
            recipients_file: Some(Ok(AGE.to_string())),
            ..Facts::default()
        };
        let got = run_with(&yaml, &facts).expect_err(path);
        assert_eq!(
            got,
            [format!("4:20: settings.recipients_file: {want}")],
            "{path}"
        );
    }
}

#[test]
fn an_output_through_an_escaping_symlink_is_refused() {
    let facts = Facts {
        escaping_symlinks: BTreeMap::from([(
            "link/t.age".to_string(),
            "'link' -> /etc".to_string(),
        )]),
        ..Facts::default()
    };
    let yaml = base(
        "",
        B,
        &token("    access: admin-read\n").replace("t.age", "link/t.age"),
    );
    let got = run_with(&yaml, &facts).unwrap_err();
    assert_eq!(
        got,
        [
            "11:20: tokens[0].output.file: 'link/t.age' leads out of the output directory through the symlink 'link' -> /etc"
        ]
    );
}

#[test]
fn recipients_accept_age_and_ssh_keys_and_never_echo_private_keys() {
    let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJir+V9+nE/+H/UqYAOe+xgp1oRlczIIbCNuWaZ66sCD ops@example";
    assert_eq!(parse_recipient(AGE), Ok(()));
    assert_eq!(parse_recipient(ed), Ok(()));
    let secret = "AGE-SECRET-KEY-1NOTAREALKEYNOTAREALKEYNOTAREALKEY";
    let (message, _) = parse_recipient(secret).unwrap_err();
    assert!(!message.contains("NOTAREAL"), "{message}");
    assert!(
        parse_recipient("age1yubikey1qwerty")
            .unwrap_err()
            .0
            .contains("plugin")
    );
    assert!(parse_recipient("ssh-ed25519 AAAA").is_err());
}

#[test]
fn output_files_stay_inside_the_output_directory() {
    for ok in ["a.age", "team/a.age", "./a.age", "a..b.age"] {
        assert_eq!(output_file_problem(ok), None, "{ok}");
    }
    for bad in [
        "",
        "../a",
        "a/../../b",
        "/abs",
        "dir/",
        ".",
        "a\u{7}b",
        ".a.age.r2gitops-tmp-0123456789abcdef",
    ] {
        assert!(output_file_problem(bad).is_some(), "{bad:?}");
    }
}
