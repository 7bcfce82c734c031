//! Unit tests of `config::load`.

use super::*;

const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

fn doc(settings: &str, file: &str) -> String {
    format!(
        "version: 1\nsettings:\n{settings}buckets: [{{name: media}}]\ntokens:\n  - name: t\n    access: object-read\n    buckets: [media]\n    output: {{file: {file}, format: env}}\n"
    )
}

#[test]
fn paths_resolve_against_the_files_directory() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "conf/r2gitops.yaml",
        &doc(&format!("  recipients: [{AGE}]\n"), "t.age"),
    );
    let d = load(&p).unwrap();
    assert_eq!(d.settings.output_dir, dir.path().join("conf/secrets"));
    assert_eq!(
        d.settings.state_file,
        dir.path().join("conf/secrets/.r2gitops-state.json")
    );
    assert_eq!(d.source, p);

    let p = write(
        dir.path(),
        "conf/other.yaml",
        &doc(
            &format!("  recipients: [{AGE}]\n  output_dir: out/r2\n  state_file: state/inv.json\n"),
            "t.age",
        ),
    );
    let d = load(&p).unwrap();
    assert_eq!(d.settings.output_dir, dir.path().join("conf/out/r2"));
    assert_eq!(
        d.settings.state_file,
        dir.path().join("conf/state/inv.json")
    );
}

#[test]
fn recipients_file_is_read_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "keys/ops.txt", &format!("# ops team\n{AGE}\n"));
    let p = write(
        dir.path(),
        "r2gitops.yaml",
        &doc("  recipients_file: keys/ops.txt\n", "t.age"),
    );
    assert_eq!(
        load(&p).unwrap().tokens[0].output.recipients,
        vec![AGE.to_string()]
    );

    let p = write(
        dir.path(),
        "missing.yaml",
        &doc("  recipients_file: keys/none.txt\n", "t.age"),
    );
    let err = load(&p).unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(
        err.0[0].message.starts_with("cannot read 'keys/none.txt'"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn an_output_path_through_a_symlink_leading_out_is_refused_and_one_staying_in_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("secrets/real")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("secrets/out")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("secrets/real"),
        dir.path().join("secrets/in"),
    )
    .unwrap();
    let settings = format!("  recipients: [{AGE}]\n");
    let p = write(dir.path(), "a.yaml", &doc(&settings, "out/t.age"));
    let err = load(&p).unwrap_err();
    assert_eq!(err.0[0].path, "tokens[0].output.file");
    assert!(
        err.0[0].message.contains("through the symlink 'out' -> "),
        "{err}"
    );
    let p = write(dir.path(), "b.yaml", &doc(&settings, "in/t.age"));
    assert!(load(&p).is_ok());
}

#[test]
fn an_unreadable_file_is_one_diagnostic_without_position() {
    let err = load(Path::new("/nonexistent/r2gitops.yaml")).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!((err.0[0].line, err.0[0].column), (0, 0));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/r2gitops.yaml: cannot read the file"),
        "{err}"
    );
}
