//! Every file in `examples/` is valid: through `config::load`, through the binary, and
//! against the JSON Schema `r2gitops schema` prints, checked by the real Python `jsonschema`
//! package (what editors and CI linters use). Invalid files that break a rule a schema can
//! express must fail the schema too, so the schema and the validator agree.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use r2gitops::config::{self, Access, Jurisdiction, TokenScope};

fn examples() -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = fs::read_dir(common::root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    list.sort();
    list
}

fn schema_file(dir: &std::path::Path) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_r2gitops"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let path = dir.join("r2gitops.schema.json");
    fs::write(&path, &out.stdout).unwrap();
    path
}

/// Run Python's jsonschema on each file; returns (file, error or "") per file.
/// The loader follows YAML 1.2 like serde-saphyr and yaml-language-server: timestamps stay
/// strings and only true/false are booleans (PyYAML's YAML 1.1 rules would turn them into
/// datetime objects and read `yes` as true).
fn python_validate(schema: &std::path::Path, files: &[PathBuf]) -> Vec<(String, String)> {
    let script = r#"
import json, sys, yaml, jsonschema
class Loader(yaml.SafeLoader):
    pass
Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
import re
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    doc = yaml.load(open(path, encoding="utf-8"), Loader=Loader)
    errors = sorted(e.message for e in validator.iter_errors(doc))
    print(json.dumps([path, "; ".join(errors)]))
"#;
    let out = Command::new(common::python())
        .arg("-c")
        .arg(script)
        .arg(schema)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<(String, String)>(l).unwrap())
        .collect()
}

#[test]
fn the_three_documented_examples_exist() {
    let names: Vec<String> = examples()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["quickstart.yaml", "full.yaml", "multi-jurisdiction.yaml"] {
        assert!(names.iter().any(|n| n == want), "missing examples/{want}");
    }
}

#[test]
fn every_example_loads() {
    for path in examples() {
        let desired = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!desired.tokens.is_empty(), "{}", path.display());
        for t in &desired.tokens {
            assert!(!t.output.recipients.is_empty(), "{}", t.name);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_r2gitops"))
            .arg("validate")
            .arg("-f")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", path.display());
        let stdout = String::from_utf8(out.stdout).unwrap();
        let temporary = match desired.temporary_credentials.len() {
            0 => String::new(),
            n => format!(", {n} temporary credentials"),
        };
        let cost = config::cost::estimate(&desired, config::cost::DEFAULT_INTERVAL);
        assert_eq!(
            stdout,
            format!(
                "ok: {}: {} buckets, {} tokens{temporary}\n{}\n",
                path.display(),
                desired.buckets.len(),
                desired.tokens.len(),
                cost.line()
            )
        );
        assert!(cost.percent_of_limit() < 1.0, "{}", cost.line());
    }
}

#[test]
fn the_examples_show_what_they_promise() {
    let root = common::root().join("examples");
    let quick = config::load(&root.join("quickstart.yaml")).unwrap();
    assert_eq!((quick.buckets.len(), quick.tokens.len()), (1, 1));
    assert_eq!(quick.tokens[0].access, Access::ObjectReadWrite);
    assert_eq!(quick.tokens[0].output.format, config::OutputFormat::Env);

    let full = config::load(&root.join("full.yaml")).unwrap();
    // recipients_file adds to settings.recipients; output.recipients replaces both.
    assert_eq!(full.tokens[1].output.recipients.len(), 4);
    assert_eq!(full.tokens[0].output.recipients.len(), 1);
    assert_eq!(full.settings.output_dir, root.join("secrets"));
    let uploader = &full.tokens[0];
    assert!(uploader.not_before.unwrap() < uploader.expires_on.unwrap());
    assert_eq!(uploader.ip.allow.len(), 2);
    assert_eq!(
        uploader.rotate_every,
        Some(std::time::Duration::from_secs(90 * 86_400))
    );
    // Every field appears in full.yaml: each schema property name is in the text, but for
    // those the schema marks deprecated (ignored, kept so that old files load).
    let text = fs::read_to_string(root.join("full.yaml")).unwrap();
    let schema = config::raw::json_schema();
    fn live<'a>((name, p): (&'a String, &serde_json::Value)) -> Option<&'a str> {
        (p["deprecated"] != true).then_some(name.as_str())
    }
    let mut properties: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(live)
        .collect();
    for def in schema["$defs"].as_object().unwrap().values() {
        if let Some(p) = def["properties"].as_object() {
            properties.extend(p.iter().filter_map(live));
        }
    }
    for p in properties {
        assert!(text.contains(&format!("{p}:")), "full.yaml lacks field {p}");
    }

    let partner = &full.temporary_credentials[0];
    assert_eq!(partner.scope.prefixes, ["inbound/partner-a/"]);
    assert_eq!(
        partner.refresh_before,
        std::time::Duration::from_secs(4 * 3600)
    );
    let manifest = &full.temporary_credentials[1];
    assert_eq!(manifest.scope.objects, ["releases/manifest.json"]);
    assert_eq!(
        manifest.refresh_before,
        std::time::Duration::from_secs(8 * 3600)
    );

    let multi = config::load(&root.join("multi-jurisdiction.yaml")).unwrap();
    let jurisdictions: std::collections::BTreeSet<Jurisdiction> =
        multi.buckets.iter().map(|b| b.jurisdiction).collect();
    assert!(jurisdictions.len() >= 3, "{jurisdictions:?}");
    let eu_app = multi.tokens.iter().find(|t| t.name == "eu-app").unwrap();
    assert_eq!(eu_app.jurisdiction, Jurisdiction::Eu);
    assert!(matches!(&eu_app.scope, TokenScope::Buckets(b) if b.len() == 2));
}

#[test]
fn every_example_is_valid_against_the_printed_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_file(dir.path());
    let files = examples();
    let results = python_validate(&schema, &files);
    assert_eq!(results.len(), files.len());
    for (path, errors) in results {
        assert_eq!(errors, "", "{path} fails the schema");
    }
}

#[test]
fn invalid_files_that_break_a_schema_rule_fail_the_schema_too() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_file(dir.path());
    let invalid = common::root().join("tests/data/invalid");
    // Rules a JSON Schema can state: field names, types, enums, patterns, required, const.
    let names = [
        "account-id",
        "admin-with-buckets",
        "object-without-buckets",
        "account-id-length",
        "bucket-name-characters",
        "bucket-name-ends",
        "bucket-name-too-short",
        "enum-access",
        "enum-jurisdiction",
        "enum-location-hint",
        "many-unknown-fields",
        "missing-token-fields",
        "missing-version",
        "root-not-a-mapping",
        "rotate-unparsable",
        "recipient-private-key",
        "token-name-empty",
        "token-jurisdiction-with-named-buckets",
        "token-name-prefix-empty",
        "unknown-field",
        "unknown-field-nested",
        "version-2",
        "wrong-type-boolean",
        "wrong-type-integer",
        "cors-method-enum",
        "lifecycle-both-expiries",
        "lock-no-retention",
    ];
    let files: Vec<PathBuf> = names
        .iter()
        .map(|n| invalid.join(format!("{n}.yaml")))
        .collect();
    for (path, errors) in python_validate(&schema, &files) {
        assert_ne!(errors, "", "{path} passes the schema but not r2gitops");
    }
}

/// `validate --policy POLICY --output json` on one example: the (path, message) of each
/// diagnostic, empty when it passes.
fn under_policy(example: &std::path::Path, policy: &std::path::Path) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_r2gitops"))
        .args(["validate", "--output", "json", "--policy"])
        .arg(policy)
        .arg("-f")
        .arg(example)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        out.status.code(),
        Some(if report["valid"] == true { 0 } else { 1 })
    );
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_example_passes_a_permissive_policy_and_a_strict_one_refuses_exactly_its_admin_tokens() {
    // Outside the repository, as the operator keeps it.
    let ops = tempfile::tempdir().unwrap();
    let permissive = ops.path().join("permissive.yaml");
    fs::write(
        &permissive,
        "version: 1
tokens:
  access: [object-read, object-read-write, admin-read, admin-read-write]
  require_ip_rules: false
buckets:
  public_dev_url: true
  delete: true
temporary_credentials:
  max: 100
  min_ttl: 1m
api:
  max_calls_per_hour: 14400
",
    )
    .unwrap();
    let strict = ops.path().join("strict.yaml");
    fs::write(
        &strict,
        "version: 1
tokens:
  access: [object-read, object-read-write]
buckets:
  public_dev_url: false
  custom_domain_zones: [example.com]
",
    )
    .unwrap();
    let mut refused = Vec::new();
    for path in examples() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(under_policy(&path, &permissive), [], "{name}");
        for (field, message) in under_policy(&path, &strict) {
            assert!(
                message.contains("is not allowed by the policy"),
                "{name}: {field}: {message}"
            );
            refused.push((name.clone(), field, message));
        }
    }
    // The two admin tokens, and nothing else: object tokens, the r2.dev setting (false)
    // and the custom domain (in example.com) are inside.
    let admin = |level: &str| {
        format!(
            "{level} is not allowed by the policy ({}:3:11 allows object-read, object-read-write)",
            strict.display()
        )
    };
    assert_eq!(
        refused,
        [
            (
                "full.yaml".to_string(),
                "tokens[2].access".to_string(),
                admin("admin-read-write")
            ),
            (
                "multi-jurisdiction.yaml".to_string(),
                "tokens[4].access".to_string(),
                admin("admin-read")
            ),
        ]
    );
}

/// `examples/platform/`: the worked example of docs/policy.md, two teams each with a file
/// and a policy (kept in the repository only as an example, hence `--policy-in-repo`).
#[test]
fn each_teams_file_passes_its_own_policy_and_the_other_teams_refuses_it() {
    let dir = common::root().join("examples/platform");
    let run = |team: &str, policy: &str| {
        Command::new(env!("CARGO_BIN_EXE_r2gitops"))
            .args([
                "--color",
                "never",
                "validate",
                "--policy-in-repo",
                "--policy",
            ])
            .arg(dir.join(format!("{policy}.policy.yaml")))
            .arg("-f")
            .arg(dir.join(format!("{team}.yaml")))
            .output()
            .unwrap()
    };
    for (team, other) in [("team-a", "team-b"), ("team-b", "team-a")] {
        let own = run(team, team);
        assert_eq!(
            own.status.code(),
            Some(0),
            "{team}: {}",
            String::from_utf8_lossy(&own.stderr)
        );
        let refused = run(team, other);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{team} under {other}");
        // Each bucket of the team is outside the other's names, and its key is not theirs.
        assert!(stderr.contains("buckets[0].name: bucket"), "{stderr}");
        assert!(
            stderr.contains("settings.recipients[0]: recipient"),
            "{stderr}"
        );
    }
}
