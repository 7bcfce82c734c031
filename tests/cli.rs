//! The command line itself, through the real binary: every option is described, the help
//! speaks to the command it belongs to, completions generate for bash, zsh and fish (and
//! bash accepts its script), and the man pages render with `man -l`.

use std::io::Write;
use std::process::{Command, Stdio};

use clap::CommandFactory;
use r2gitops::cli::Cli;

fn r2gitops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_r2gitops"))
        .args(args)
        .env_remove("CLOUDFLARE_API_BASE_URL")
        .output()
        .unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = r2gitops(args);
    assert!(out.status.success(), "{args:?}: {:?}", out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_option_of_every_command_has_a_description() {
    let mut cmd = Cli::command();
    cmd.build();
    let mut missing = Vec::new();
    for sub in std::iter::once(&cmd).chain(cmd.get_subcommands()) {
        for arg in sub.get_arguments() {
            if arg.get_help().is_none() && !matches!(arg.get_id().as_str(), "help" | "version") {
                missing.push(format!("{} --{}", sub.get_name(), arg.get_id()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "options without a description: {missing:?}"
    );
}

#[test]
fn the_help_speaks_to_its_command_and_shows_each_default_once() {
    let help = stdout(&["reconcile", "--help"]);
    assert!(!help.contains("daemon's own token"), "{help}");
    assert!(
        help.contains("--output <OUTPUT>\n          `text` (terraform-like)"),
        "{help}"
    );
    let log = help
        .lines()
        .skip_while(|l| !l.contains("--log-format"))
        .nth(1)
        .unwrap();
    assert_eq!(log.matches("default").count(), 1, "{log}");
    let help = stdout(&["validate", "--help"]);
    let output = help
        .lines()
        .find(|l| l.contains("--output <OUTPUT>"))
        .unwrap();
    assert!(output.contains("`text`: \"ok: ...\" on stdout"), "{help}");
}

#[test]
fn completions_generate_for_three_shells_and_bash_accepts_its_script() {
    let bash = stdout(&["completions", "bash"]);
    assert!(bash.contains("complete -F _r2gitops"), "{bash}");
    for sub in [
        "validate",
        "reconcile",
        "watch",
        "--dry-run",
        "--detailed-exitcode",
    ] {
        assert!(bash.contains(sub), "bash completes {sub}");
    }
    let mut check = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(bash.as_bytes())
        .unwrap();
    assert!(
        check.wait().unwrap().success(),
        "bash -n rejects the script"
    );

    assert!(stdout(&["completions", "zsh"]).starts_with("#compdef r2gitops"));
    assert!(stdout(&["completions", "fish"]).contains("complete -c r2gitops"));
    assert_eq!(r2gitops(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_man_pages_render_with_man() {
    for (args, title, needle) in [
        (vec!["man"], "r2gitops(1)", "reconcile"),
        (
            vec!["man", "reconcile"],
            "r2gitops-reconcile(1)",
            "--detailed-exitcode",
        ),
        (vec!["man", "watch"], "r2gitops-watch(1)", "--interval"),
    ] {
        let page = stdout(&args);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("page.1");
        std::fs::write(&file, &page).unwrap();
        let out = Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man is installed by scripts/setup-test-tools.sh");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(title), "{args:?}: {text}");
        assert!(text.contains(needle), "{args:?}: {text}");
    }
}
