//! Unit tests of `config::policy::load`.

use super::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_policy_inside_the_checkout_of_the_file_is_refused_unless_the_operator_allows_it() {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let file = repo.join("team-a/r2gitops.yaml");
    write(&file, "version: 1\n");
    let beside = repo.join("team-a/policy.yaml");
    let elsewhere_in_repo = repo.join("policies/policy.yaml");
    let outside = root.path().join("etc/policy.yaml");
    for p in [&beside, &elsewhere_in_repo, &outside] {
        write(p, "version: 1\n");
    }
    for p in [&beside, &elsewhere_in_repo] {
        let e = load(p, Some(&file), false).unwrap_err();
        assert!(matches!(e, PolicyError::InRepository { .. }), "{e}");
        assert!(load(p, Some(&file), true).is_ok());
    }
    assert!(load(&outside, Some(&file), false).is_ok());
    // Without a checkout, the file's own directory tree is the repository.
    std::fs::remove_dir(repo.join(".git")).unwrap();
    assert!(load(&elsewhere_in_repo, Some(&file), false).is_ok());
    assert!(load(&beside, Some(&file), false).is_err());
}

#[cfg(unix)]
#[test]
fn a_symlink_is_resolved_once_and_where_it_leads_is_checked() {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    let file = repo.join("r2gitops.yaml");
    write(&file, "version: 1\n");
    write(&repo.join("policy.yaml"), "version: 1\n");
    let etc = root.path().join("etc");
    write(&etc.join("..data/policy.yaml"), "version: 1\n");
    // A ConfigMap mount: the file is a link to ..data/, itself a link.
    std::os::unix::fs::symlink(etc.join("..data/policy.yaml"), etc.join("policy.yaml")).unwrap();
    assert!(load(&etc.join("policy.yaml"), Some(&file), false).is_ok());
    // Out of the repository, pointing in: refused.
    std::os::unix::fs::symlink(repo.join("policy.yaml"), etc.join("in.yaml")).unwrap();
    let e = load(&etc.join("in.yaml"), Some(&file), false).unwrap_err();
    assert!(matches!(e, PolicyError::InRepository { .. }), "{e}");
    // In the repository, pointing out: refused too (a committer can retarget it).
    std::os::unix::fs::symlink(etc.join("policy.yaml"), repo.join("out.yaml")).unwrap();
    let e = load(&repo.join("out.yaml"), Some(&file), false).unwrap_err();
    assert!(matches!(e, PolicyError::InRepository { .. }), "{e}");
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_directory_is_not_read() {
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("policy.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let e = load(&fifo, None, false).unwrap_err();
    assert!(
        matches!(&e, PolicyError::Read { source, .. } if source.to_string().contains("FIFO")),
        "{e:?}"
    );
    assert!(load(root.path(), None, false).is_err());
    let e = load(&root.path().join("none.yaml"), None, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot read the policy {}",
            root.path().join("none.yaml").display()
        )
    );
}

#[test]
fn a_broken_policy_names_its_own_file_and_line() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("policy.yaml");
    write(&p, "version: 1\ntokens:\n  acess: [object-read]\n");
    let PolicyError::Invalid(d) = load(&p, None, false).unwrap_err() else {
        panic!("invalid")
    };
    assert_eq!(d.0[0].file, p.display().to_string());
    assert_eq!((d.0[0].line, d.0[0].column), (3, 3));
    assert_eq!(d.0[0].path, "tokens.acess");
}
