//! Unit tests of `config::raw`.

use super::*;
use serde_json::json;

fn def<'a>(schema: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &schema["$defs"][name]
}

#[test]
fn every_object_in_the_schema_forbids_unknown_fields() {
    let schema = json_schema();
    assert_eq!(schema["additionalProperties"], json!(false));
    for name in [
        "Settings",
        "Bucket",
        "Token",
        "IpRules",
        "Output",
        "TemporaryCredential",
        "CorsRule",
        "LifecycleRule",
        "LockRule",
    ] {
        assert_eq!(
            def(schema, name)["additionalProperties"],
            json!(false),
            "{name}"
        );
    }
}

#[test]
fn schema_enums_match_the_model_spellings() {
    let schema = json_schema();
    let cases: [(&str, Vec<&str>); 8] = [
        ("CorsMethod", vec!["GET", "PUT", "POST", "DELETE", "HEAD"]),
        ("Retain", vec!["indefinite"]),
        (
            "Jurisdiction",
            model::Jurisdiction::ALL
                .iter()
                .map(|j| j.as_str())
                .collect(),
        ),
        (
            "LocationHint",
            model::LocationHint::ALL
                .iter()
                .map(|l| l.as_str())
                .collect(),
        ),
        ("StorageClass", vec!["Standard", "InfrequentAccess"]),
        ("Owner", vec!["account", "user"]),
        (
            "Access",
            vec![
                "object-read",
                "object-read-write",
                "admin-read",
                "admin-read-write",
            ],
        ),
        (
            "Format",
            vec![
                "env",
                "json",
                "rclone",
                "aws",
                "kubernetes",
                "kubernetes-sops",
            ],
        ),
    ];
    for (name, want) in cases {
        assert_eq!(def(schema, name)["enum"], json!(want), "{name}");
    }
}

#[test]
fn schema_requires_what_the_format_requires() {
    let schema = json_schema();
    assert_eq!(schema["required"], json!(["version"]));
    assert_eq!(def(schema, "Bucket")["required"], json!(["name"]));
    assert_eq!(
        def(schema, "Token")["required"],
        json!(["name", "access", "output"])
    );
    assert_eq!(def(schema, "Output")["required"], json!(["file", "format"]));
    assert_eq!(
        def(schema, "CorsRule")["required"],
        json!(["allowed_origins", "allowed_methods"])
    );
    assert_eq!(def(schema, "LifecycleRule")["required"], json!(["id"]));
    assert_eq!(def(schema, "LockRule")["required"], json!(["id"]));
    assert_eq!(schema["properties"]["version"]["const"], json!(1));
}
