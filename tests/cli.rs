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
    // The option's whole entry: its line and the indented lines under it.
    let log: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.contains("--log-format"))
        .take_while(|l| l.contains("--log-format") || l.starts_with("          "))
        .collect();
    let log = log.join("\n");
    assert_eq!(log.matches("default").count(), 1, "{log}");
    let help = stdout(&["validate", "--help"]);
    let output: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.contains("--output <OUTPUT>"))
        .take(2)
        .collect();
    assert!(
        output.join(" ").contains("`text`: \"ok: ...\" on stdout"),
        "{help}"
    );
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

#[test]
fn colour_follows_the_terminal_the_flag_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "version: 1\nbuckets:\n  - name: Bad_Name\n").unwrap();
    let run = |flags: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_r2gitops"))
            .args(flags)
            .arg("validate")
            .arg("-f")
            .arg(&file)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stderr).unwrap()
    };
    let red = "\x1b[31m";
    let dim = "\x1b[2m  hint:";
    // A pipe is not a terminal: plain, as in a file or a CI log.
    assert!(!run(&[], &[]).contains('\x1b'));
    let forced = run(&[], &[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.starts_with(red) && forced.contains(dim),
        "{forced:?}"
    );
    assert!(!run(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
    assert!(run(&["--color", "always"], &[("NO_COLOR", "1")]).starts_with(red));
    assert!(!run(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    // What the colour wraps is exactly the plain text.
    assert_eq!(
        anstream::adapter::strip_str(&forced).to_string(),
        run(&[], &[])
    );
}
