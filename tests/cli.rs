//! The command line itself, through the real binary: every option is described, the help
//! speaks to the command it belongs to, completions generate for bash, zsh and fish (and
//! bash accepts its script), the man pages render with `man -l`, usage errors exit 64, and
//! log lines follow the colour choice.

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
    assert_eq!(r2gitops(&["completions", "tcsh"]).status.code(), Some(64));
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

#[test]
fn a_usage_error_exits_64_so_that_a_step_accepting_2_never_passes_it() {
    for args in [
        vec!["reconcile", "--dry-rn"],
        vec![
            "reconcile",
            "--dry-run",
            "--detailed-exitcode",
            "--output",
            "yaml",
        ],
        vec!["reconcile", "--detailed-exitcode"],
        vec!["import", "--with", "corz"],
        vec!["import", "--output", "x.yaml"],
        vec!["frobnicate"],
        vec![],
    ] {
        let out = r2gitops(&args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {out:?}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: no plan on stdout: {out:?}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") || err.contains("Usage: r2gitops"),
            "{args:?}: {out:?}"
        );
    }
    for args in [
        vec!["--help"],
        vec!["reconcile", "--help"],
        vec!["--version"],
    ] {
        assert_eq!(r2gitops(&args).status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn every_command_has_a_man_page() {
    let cmd = Cli::command();
    let names: Vec<&str> = cmd
        .get_subcommands()
        .map(|c| c.get_name())
        .filter(|n| *n != "help")
        .collect();
    assert!(
        names.contains(&"import") && names.contains(&"adopt"),
        "{names:?}"
    );
    for name in names {
        let page = stdout(&["man", name]);
        assert!(
            page.contains(&format!(".TH r2gitops-{name} 1")),
            "{name}: {}",
            &page[..page.len().min(200)]
        );
    }
}

/// `man -l` of `r2gitops man ARGS`, as a reader sees it.
fn rendered_man_page(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.1");
    std::fs::write(&file, stdout(args)).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .output()
        .expect("man is installed by scripts/setup-test-tools.sh");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_man_page_says_its_exit_status_environment_files_and_examples() {
    let cmd = Cli::command();
    let commands = cmd
        .get_subcommands()
        .map(|c| c.get_name())
        .filter(|n| *n != "help");
    for name in std::iter::once(None).chain(commands.map(Some)) {
        let args: Vec<&str> = std::iter::once("man").chain(name).collect();
        let text = rendered_man_page(&args);
        // A section heading is a line of its own, flush left.
        let headings: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with(' '))
            .collect();
        for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
            assert!(
                headings.contains(&section),
                "{name:?}: no {section}: {headings:?}"
            );
        }
        // The lines under a heading, up to the next heading.
        let section = |title: &str| -> String {
            text.lines()
                .skip_while(|l| *l != title)
                .skip(1)
                .take_while(|l| l.is_empty() || l.starts_with(' '))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let exit = section("EXIT STATUS");
        let env = section("ENVIRONMENT");
        assert!(
            exit.contains("       0 ") && exit.contains("       64 "),
            "{name:?}: {exit}"
        );
        assert!(
            env.contains("RUST_LOG") && env.contains("NO_COLOR"),
            "{name:?}: {env}"
        );
        // What the command reaches Cloudflare with, including the token read by hand.
        if matches!(
            name,
            None | Some("reconcile" | "watch" | "import" | "adopt")
        ) {
            for var in [
                "CLOUDFLARE_API_TOKEN",
                "CLOUDFLARE_API_BASE_URL",
                "CLOUDFLARE_ACCOUNT_ID",
            ] {
                assert!(env.contains(var), "{name:?}: {var} missing: {env}");
            }
        }
        if matches!(name, Some("reconcile" | "watch" | "adopt")) {
            for var in ["R2GITOPS_S3_ENDPOINTS", "R2GITOPS_OUTPUT_DIR"] {
                assert!(env.contains(var), "{name:?}: {var} missing: {env}");
            }
            assert!(
                section("FILES").contains(".r2gitops-state.json"),
                "{name:?}"
            );
        }
        // Every example names the tool: a reader can paste it.
        let examples = section("EXAMPLES");
        assert!(examples.contains("r2gitops"), "{name:?}: {examples}");
    }
    let reconcile = rendered_man_page(&["man", "reconcile"]);
    assert!(
        reconcile.contains("--dry-run --detailed-exitcode: changes are pending"),
        "{reconcile}"
    );
}

#[test]
fn import_writes_with_out_and_offers_only_flags_that_do_something() {
    let help = stdout(&["import", "--help"]);
    assert!(help.contains("-o, --out <FILE>"), "{help}");
    // A read-only command writes no output and adopts nothing.
    for flag in [
        "--output ",
        "--output-dir",
        "--allow-adopt-roll",
        "--s3-endpoint",
    ] {
        assert!(!help.contains(flag), "import --help offers {flag}:\n{help}");
    }
    let with: String = help
        .lines()
        .skip_while(|l| !l.contains("--with <BLOCKS>"))
        .take_while(|l| l.contains("--with") || l.starts_with("          "))
        .collect::<Vec<_>>()
        .join(" ");
    for kind in r2gitops::observed::bucket_config::ConfigKind::ALL {
        assert!(
            with.contains(kind.key()),
            "--with help omits {}: {with}",
            kind.key()
        );
    }
    // `--out` and `-o` write the file; `--output` is a format elsewhere, never a file here.
    let out = r2gitops(&["import", "--output", "x.yaml"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--out"),
        "the error points at --out: {out:?}"
    );
}

/// A run that logs a warning at start (an API token file others can read) and then stops
/// at an invalid file, before any network call; its stderr, through a pipe or, with
/// `tty`, through a terminal (`script` from util-linux).
fn logged(flags: &[&str], env: &[(&str, &str)], tty: bool) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "version: 1\nbuckets:\n  - name: Bad_Name\n").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "not-a-real-token\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    args.extend(
        [
            "reconcile",
            "--dry-run",
            "--account-id",
            "023e105f4ecef8ad9ca31a8372d0c353",
            "--api-token-file",
            token.to_str().unwrap(),
            "-f",
            file.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let bin = env!("CARGO_BIN_EXE_r2gitops");
    let mut cmd = if tty {
        let line = std::iter::once(bin.to_string())
            .chain(args.iter().map(|a| format!("'{a}'")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = Command::new("script");
        c.args(["-qec", &format!("{line} 2>&1"), "/dev/null"]);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(&args);
        c
    };
    let out = cmd
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env("TERM", "xterm-256color")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = if tty { out.stdout } else { out.stderr };
    let text = String::from_utf8(text).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("is readable by others"))
        .unwrap_or_else(|| panic!("no warning logged: {text:?}"));
    line.to_string()
}

#[test]
fn log_lines_follow_color_and_no_color_as_plans_do() {
    let esc = '\x1b';
    // A terminal colours them, unless told not to.
    assert!(logged(&[], &[], true).contains(esc));
    assert!(!logged(&["--color", "never"], &[], true).contains(esc));
    assert!(!logged(&[], &[("NO_COLOR", "1")], true).contains(esc));
    // A pipe does not, unless told to.
    assert!(!logged(&[], &[], false).contains(esc));
    assert!(logged(&["--color", "always"], &[], false).contains(esc));
    assert!(logged(&[], &[("CLICOLOR_FORCE", "1")], false).contains(esc));
    // JSON lines are never painted.
    assert!(!logged(&["--color", "always", "--log-format", "json"], &[], false).contains(esc));
}
