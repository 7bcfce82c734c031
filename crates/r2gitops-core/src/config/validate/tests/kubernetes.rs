//! Table tests of `output.kubernetes` and `settings.publish`: each rule, located.

use super::*;

const AGE: &str = "age1p05a26tp9dn6m60qv4pp0ydcmxj0ndg97peeevu09efesx5u9qzsmqmt4w";

fn run_with(yaml: &str, facts: &Facts) -> Result<Desired, Vec<String>> {
    let raw: RawDoc = serde_saphyr::from_str_with_options(yaml, crate::config::yaml::options())
        .expect("raw parses");
    validate(&raw, facts, Path::new("r2gitops.yaml")).map_err(|list| {
        list.into_parts()
            .0
            .into_iter()
            .map(|v| format!("{}:{}: {}: {}", v.line, v.column, v.path, v.message))
            .collect()
    })
}

fn run(yaml: &str) -> Result<Desired, Vec<String>> {
    run_with(yaml, &Facts::default())
}

/// One token `media-reader` with `output` (the inline mapping's body) and `settings` lines.
fn file(settings: &str, output: &str) -> String {
    format!(
        "version: 1\nsettings:\n  recipients: [{AGE}]\n{settings}buckets: [{{name: media}}]\ntokens:\n  - name: media-reader\n    access: object-read\n    buckets: [media]\n    output: {{{output}}}\n"
    )
}

#[test]
fn a_kubernetes_output_gets_its_defaults_and_keeps_what_it_declares() {
    let d = run(&file(
        "",
        "file: a.sops.yaml, format: kubernetes-sops, kubernetes: {namespace: media}",
    ))
    .unwrap();
    let k = d.tokens[0].output.kubernetes.clone().unwrap();
    assert_eq!(k.name, "r2-media-reader");
    assert_eq!(k.namespace, "media");
    assert_eq!(k.keys, KeyStyle::Aws);
    assert!(k.labels.is_empty());

    let d = run(&file(
        "",
        "file: a.age, format: kubernetes, kubernetes: {name: media.r2, namespace: media, keys: r2, labels: {app: media, example.com/tier: \"\"}}",
    ))
    .unwrap();
    let k = d.tokens[0].output.kubernetes.clone().unwrap();
    assert_eq!(d.tokens[0].output.format, OutputFormat::Kubernetes);
    assert_eq!((k.name.as_str(), k.keys), ("media.r2", KeyStyle::R2));
    assert_eq!(k.labels.len(), 2);
}

#[test]
fn kubernetes_rules_are_located() {
    let cases = [
        (
            "file: a.sops.yaml, format: kubernetes-sops",
            "9:41: tokens[0].output.format: format kubernetes-sops needs output.kubernetes",
        ),
        (
            "file: a.age, format: env, kubernetes: {namespace: media}",
            "9:52: tokens[0].output.kubernetes: output.kubernetes is only read by the kubernetes formats, not env",
        ),
        (
            "file: a.sops.yaml, format: kubernetes-sops, armor: true, kubernetes: {namespace: m}",
            "9:65: tokens[0].output.armor: armor is for age files: a kubernetes-sops file is YAML whose values SOPS encrypts",
        ),
        (
            "file: a.age, format: kubernetes, kubernetes: {name: Media, namespace: m}",
            "9:66: tokens[0].output.kubernetes.name: Secret name 'Media' is not a DNS subdomain (lowercase letters, digits, '-' and '.')",
        ),
        (
            "file: a.age, format: kubernetes, kubernetes: {namespace: media.prod}",
            "9:71: tokens[0].output.kubernetes.namespace: namespace 'media.prod' is not a DNS label (lowercase letters, digits and '-', alphanumeric at both ends)",
        ),
        (
            "file: a.age, format: kubernetes, kubernetes: {namespace: m, labels: {\"a b\": x}}",
            "9:90: tokens[0].output.kubernetes.labels.a b: label key 'a b' is not a valid label name",
        ),
        (
            "file: a.age, format: kubernetes, kubernetes: {namespace: m, labels: {app: \"-x\"}}",
            "9:88: tokens[0].output.kubernetes.labels.app: label value '-x' has a character a label may not hold",
        ),
    ];
    for (output, want) in cases {
        let err = run(&file("", output)).unwrap_err();
        assert_eq!(err, [want.to_string()]);
    }
    // A token name that makes no Kubernetes name: the default is refused, with the fix.
    let yaml = file(
        "",
        "file: a.age, format: kubernetes, kubernetes: {namespace: m}",
    )
    .replace("name: media-reader", "name: Media_Reader");
    let err = run(&yaml).unwrap_err();
    assert_eq!(
        err,
        [
            "9:59: tokens[0].output.kubernetes: the default Secret name 'r2-Media_Reader' is not a DNS subdomain (lowercase letters, digits, '-' and '.')"
        ]
    );
}

const PUBLISH: &str = "  publish: {repository: fleet, branch: r2gitops-outputs}\n";

#[test]
fn publish_defaults_and_the_operators_pins() {
    let out = "file: c/r2.sops.yaml, format: kubernetes-sops, kubernetes: {namespace: m}";
    let d = run(&file(PUBLISH, out)).unwrap();
    let p = d.settings.publish.unwrap();
    assert_eq!(p.repository, PathBuf::from("fleet"));
    assert_eq!(p.branch, "r2gitops-outputs");
    assert_eq!(
        (p.author_name.as_str(), p.author_email.as_str()),
        ("r2gitops", "r2gitops@localhost")
    );
    assert_eq!(p.prefix, PathBuf::new());

    // Pinned: the operator's clone and branch replace the file's; the file's prefix goes
    // below the operator's. A committed `../../elsewhere` is then never used.
    let pinned = Facts {
        publish_pins: PublishPins {
            repository: Some(PathBuf::from("/srv/fleet")),
            branch: Some("outputs".into()),
            prefix: Some("tenants/a".into()),
        },
        ..Facts::default()
    };
    let settings = "  publish: {repository: ../../elsewhere, branch: main, prefix: media, author: \"Ops <ops@example.com>\"}\n";
    let d = run_with(&file(settings, out), &pinned).unwrap();
    let p = d.settings.publish.unwrap();
    assert_eq!(p.repository, PathBuf::from("/srv/fleet"));
    assert_eq!(p.branch, "outputs");
    assert_eq!(p.prefix, PathBuf::from("tenants/a/media"));
    assert_eq!(p.author_email, "ops@example.com");

    // The operator's flag alone turns publishing on.
    let d = run_with(&file("", out), &pinned).unwrap();
    assert_eq!(d.settings.publish.unwrap().branch, "outputs");
    assert!(run(&file("", out)).unwrap().settings.publish.is_none());
}

#[test]
fn a_committers_publish_repository_stays_inside_the_files_tree() {
    let out = "file: c/r2.sops.yaml, format: kubernetes-sops, kubernetes: {namespace: m}";
    let link = Facts {
        escaping_settings: BTreeMap::from([(
            "settings.publish.repository",
            "'fleet' -> /srv/other".to_string(),
        )]),
        ..Facts::default()
    };
    let none = Facts::default();
    let cases: &[(&str, &Facts, &str)] = &[
        (
            "  publish: {repository: ../../elsewhere, branch: b}\n",
            &none,
            "4:25: settings.publish.repository: publish repository '../../elsewhere' contains '..'",
        ),
        (
            "  publish: {repository: /srv/fleet, branch: b}\n",
            &none,
            "4:25: settings.publish.repository: publish repository '/srv/fleet' is an absolute path",
        ),
        (
            PUBLISH,
            &link,
            "4:25: settings.publish.repository: publish repository 'fleet' leads out of the directory of this file through the symlink 'fleet' -> /srv/other",
        ),
        (
            "  publish: {branch: b}\n",
            &none,
            "4:12: settings.publish: settings.publish names no repository",
        ),
        (
            "  publish: {repository: fleet}\n",
            &none,
            "4:12: settings.publish: settings.publish names no branch",
        ),
        (
            "  publish: {repository: fleet, branch: \"a..b\"}\n",
            &none,
            "4:40: settings.publish.branch: branch 'a..b' is not a valid branch name",
        ),
        (
            "  publish: {repository: fleet, branch: b, author: nobody}\n",
            &none,
            "4:51: settings.publish.author: author 'nobody' is not `Name <email>`",
        ),
        (
            "  publish: {repository: fleet, branch: b, prefix: x/.git/hooks}\n",
            &none,
            "4:51: settings.publish.prefix: publish prefix 'x/.git/hooks' has a .git component",
        ),
    ];
    for (settings, facts, want) in cases {
        let err = run_with(&file(settings, out), facts).unwrap_err();
        assert_eq!(err, [want.to_string()]);
    }
}

#[test]
fn published_outputs_keep_their_formats_suffix_and_stay_out_of_dot_git() {
    let cases = [
        (
            "file: r2.yaml, format: kubernetes-sops, kubernetes: {namespace: m}",
            "10:20: tokens[0].output.file: output file 'r2.yaml' is published, and a published kubernetes-sops file must end in .sops.yaml",
        ),
        (
            "file: creds.env, format: env",
            "10:20: tokens[0].output.file: output file 'creds.env' is published, and a published env file must end in .age",
        ),
        (
            "file: .GIT/hooks/pre-commit.age, format: env",
            "10:20: tokens[0].output.file: output file '.GIT/hooks/pre-commit.age' would be published inside a .git directory",
        ),
    ];
    for (output, want) in cases {
        let err = run(&file(PUBLISH, output)).unwrap_err();
        assert_eq!(err, [want.to_string()]);
        // Without publishing, the same names are fine.
        assert!(run(&file("", output)).is_ok(), "{output}");
    }
    assert!(run(&file(PUBLISH, "file: creds.env.age, format: env")).is_ok());
}

#[test]
fn branch_names_follow_git_check_ref_format() {
    for ok in ["r2gitops-outputs", "a/b", "feature/x.y", "v1"] {
        assert_eq!(branch_problem(ok), None, "{ok}");
    }
    for bad in [
        "", "a b", "-x", "a..b", "a/", "/a", "a//b", "a.lock", ".a", "a/.b", "a~1", "a^", "a:b",
        "@", "a@{1}", "x.",
    ] {
        assert!(branch_problem(bad).is_some(), "{bad:?}");
    }
}
