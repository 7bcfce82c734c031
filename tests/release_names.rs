//! One set of archive names, offline: what `scripts/release.sh` names each target's archive,
//! what `.github/workflows/release.yml` builds, what `cargo binstall` fetches (Cargo.toml's
//! `[package.metadata.binstall]`, expanded as binstall expands it) and what the GitHub
//! Action looks for (`action/install.sh`). A rename in one place that the others miss makes
//! an install fail only after a release; here it fails now.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `scripts/release.sh --name TARGET VERSION`.
fn release_name(target: &str) -> String {
    let out = Command::new("bash")
        .arg(common::root().join("scripts/release.sh"))
        .args(["--name", target, VERSION])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The targets of release.yml's build matrix.
fn released_targets() -> Vec<String> {
    let text =
        std::fs::read_to_string(common::root().join(".github/workflows/release.yml")).unwrap();
    let wf: Value = serde_saphyr::from_str(&text).unwrap();
    wf["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap().to_string())
        .collect()
}

fn package() -> Value {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "r2gitops")
        .unwrap()
        .clone()
}

/// A binstall template with its variables filled in (`{ name }` and `{name}` alike).
fn expand(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s
            .replace(&format!("{{ {k} }}"), v)
            .replace(&format!("{{{k}}}"), v);
    }
    assert!(!s.contains('{'), "a variable left in {s}");
    s
}

#[test]
fn cargo_binstall_fetches_the_archive_release_sh_names_for_every_released_target() {
    let pkg = package();
    let repo = pkg["repository"]
        .as_str()
        .expect("Cargo.toml names a repository");
    let meta = &pkg["metadata"]["binstall"];
    assert_eq!(meta["pkg-fmt"], "tgz");
    let targets = released_targets();
    assert!(targets.len() >= 5, "{targets:?}");
    for target in &targets {
        let over = &meta["overrides"][target.as_str()];
        let pick = |key: &str| {
            over[key]
                .as_str()
                .or(meta[key].as_str())
                .unwrap()
                .to_string()
        };
        let ext = if target.contains("windows") {
            ".exe"
        } else {
            ""
        };
        let vars = [
            ("repo", repo),
            ("version", VERSION),
            ("name", "r2gitops"),
            ("target", target.as_str()),
            ("archive-suffix", ".tar.gz"),
            ("bin", "r2gitops"),
            ("binary-ext", ext),
        ];
        let url = expand(&pick("pkg-url"), &vars);
        let name = release_name(target);
        assert_eq!(
            url,
            format!("{repo}/releases/download/v{VERSION}/{name}"),
            "{target}"
        );
        let bin_dir = expand(&pick("bin-dir"), &vars);
        assert_eq!(
            bin_dir,
            format!("{}/r2gitops", name.trim_end_matches(".tar.gz")),
            "{target}"
        );
    }
}

#[test]
fn the_action_looks_only_for_archives_the_release_builds_and_finds_one_for_each_runner() {
    let released: BTreeSet<String> = released_targets().iter().map(|t| release_name(t)).collect();
    let script = std::fs::read_to_string(common::root().join("action/install.sh")).unwrap();
    let mut runners = Vec::new();
    for line in script.lines() {
        let Some((runner, rest)) = line.trim().split_once(") arch=") else {
            continue;
        };
        let wanted = rest.split('"').nth(1).unwrap();
        let names: Vec<String> = wanted
            .split_whitespace()
            .map(|t| format!("r2gitops-{VERSION}-{t}.tar.gz"))
            .collect();
        for n in &names {
            assert!(
                released.contains(n),
                "{runner} looks for {n}, which release.yml does not build: {released:?}"
            );
        }
        runners.push(runner.to_string());
    }
    assert_eq!(
        runners,
        ["Linux/X64", "Linux/ARM64", "macOS/ARM64", "macOS/X64"]
    );
    // The archive release.sh builds here is one the action installs on Linux X64.
    assert!(
        script.contains(
            &release_name("x86_64-unknown-linux-gnu")
                .replace(&format!("r2gitops-{VERSION}-"), "")
                .replace(".tar.gz", "")
        )
    );
}

#[test]
fn the_archive_holds_the_binary_where_bin_dir_says_with_license_readme_completions_and_man_pages() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(common::root().join("scripts/release.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_r2gitops"), VERSION])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = release_name("x86_64-unknown-linux-gnu");
    let list = Command::new("tar")
        .arg("-tvzf")
        .arg(dir.path().join(&name))
        .output()
        .unwrap();
    let listing = String::from_utf8(list.stdout).unwrap();
    let base = name.trim_end_matches(".tar.gz");
    let entries: Vec<&str> = listing
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    let mut want = vec![
        format!("{base}/"),
        format!("{base}/LICENSE"),
        format!("{base}/README.md"),
        format!("{base}/completions/"),
        format!("{base}/completions/_r2gitops"),
        format!("{base}/completions/r2gitops.bash"),
        format!("{base}/completions/r2gitops.fish"),
        format!("{base}/man/"),
        format!("{base}/man/r2gitops.1"),
    ];
    for (page, _) in r2gitops::manpage::MAN_PAGES {
        want.push(format!("{base}/man/r2gitops-{page}.1"));
    }
    want.push(format!("{base}/r2gitops"));
    want.sort();
    assert_eq!(entries, want, "sorted, and nothing else");
    // Fixed owners and modes: root, 0755 for the binary and directories, 0644 for the rest.
    for line in listing.lines() {
        let (mode, owner) = (
            line.split(' ').next().unwrap(),
            line.split_whitespace().nth(1).unwrap(),
        );
        assert_eq!(owner, "0/0", "{line}");
        let exec = line.ends_with("/r2gitops") || line.ends_with('/');
        assert_eq!(
            mode.trim_start_matches(['d', '-']),
            if exec { "rwxr-xr-x" } else { "rw-r--r--" },
            "{line}"
        );
    }
    // SHA256SUMS lists it, in sha256sum's format.
    let sums = std::fs::read_to_string(dir.path().join("SHA256SUMS")).unwrap();
    use sha2::Digest;
    let sum = hex::encode(sha2::Sha256::digest(
        std::fs::read(dir.path().join(&name)).unwrap(),
    ));
    assert_eq!(sums, format!("{sum}  {name}\n"));
    // Packed again: the same bytes.
    let again = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(common::root().join("scripts/release.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_r2gitops"), VERSION])
        .arg(again.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        std::fs::read(again.path().join(&name)).unwrap()
            == std::fs::read(dir.path().join(&name)).unwrap(),
        "two packs of one binary differ"
    );
}
