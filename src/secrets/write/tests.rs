//! Unit tests of `secrets::write`.

use super::*;

#[test]
fn temp_names_are_recognised_and_nothing_else_is() {
    let made = temp_name("media.env.age");
    assert!(made.starts_with(".media.env.age.r2gitops-tmp-"), "{made}");
    assert!(is_temp_name(&made));
    let cases = [
        (".a.age.r2gitops-tmp-0123456789abcdef", true),
        ("..env.r2gitops-tmp-0123456789abcdef", true),
        ("a.age.r2gitops-tmp-0123456789abcdef", false),
        (".a.age.r2gitops-tmp-0123456789abcde", false),
        (".a.age.r2gitops-tmp-0123456789abcdefa", false),
        (".a.age.r2gitops-tmp-0123456789abcdeg", false),
        (".r2gitops-tmp-0123456789abcdef", false),
        (".r2gitops-state.json", false),
        ("media.age", false),
    ];
    for (name, want) in cases {
        assert_eq!(is_temp_name(name), want, "{name}");
    }
}

/// Config refuses output names containing the marker (it cannot import us), so the two
/// constants must not drift apart.
#[test]
fn config_refuses_the_same_marker_the_sweep_deletes() {
    assert_eq!(TEMP_MARKER, crate::config::validate::WRITER_TEMP_MARKER);
}

#[test]
fn only_plain_relative_paths_are_output_paths() {
    let cases = [
        ("a.age", Some(vec!["a.age"])),
        ("team/a.age", Some(vec!["team", "a.age"])),
        ("/etc/passwd", None),
        ("../a.age", None),
        ("team/../../a.age", None),
        ("./a.age", Some(vec!["a.age"])),
        ("./team/./a.age", Some(vec!["team", "a.age"])),
        (".", None),
        ("", None),
    ];
    for (p, want) in cases {
        let got = checked_components(Path::new(p)).ok();
        assert_eq!(got, want, "{p}");
    }
}

#[test]
fn an_existing_output_dir_is_made_private_unless_it_is_shared_by_design() {
    let root = tempfile::tempdir().unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let cases = [
        (0o700, Ok(0o700)),
        (0o755, Ok(0o700)),
        (0o770, Ok(0o700)),
        (0o2770, Ok(0o700)),
        (0o1777, Err("is not r2gitops' own")),
    ];
    for (i, (before, want)) in cases.into_iter().enumerate() {
        let dir = root.path().join(i.to_string());
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(before)).unwrap();
        match (ensure_output_dir(&dir), want) {
            (Ok(()), Ok(after)) => assert_eq!(mode(&dir), after, "{before:o}"),
            (Err(e), Err(text)) => {
                assert!(e.to_string().contains(text), "{before:o}: {e}");
                assert_eq!(mode(&dir), before, "{before:o}: left as it was");
            }
            (got, _) => panic!("{before:o}: {got:?}"),
        }
    }

    let deep = root.path().join("a/b/c");
    ensure_output_dir(&deep).unwrap();
    for p in ["a", "a/b", "a/b/c"] {
        assert_eq!(mode(&root.path().join(p)), 0o700, "{p}");
    }
}
