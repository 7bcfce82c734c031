//! Unit tests of `cloudflare::config`.

use super::*;

fn conn(token_file: Option<&std::path::Path>, account: Option<String>) -> Connection {
    Connection {
        api_token_file: token_file.map(Into::into),
        account_id: account,
        ..Connection::new("https://api.cloudflare.com/client/v4")
    }
}

#[test]
fn the_token_comes_from_the_file_trimmed_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "  from-file\n").unwrap();
    let a = conn(Some(&file), None);
    let c = ClientConfig::from_connection(&a, Some("acct"), Some("from-env".into())).unwrap();
    assert_eq!(c.api_token.expose(), "from-file");
    let c =
        ClientConfig::from_connection(&conn(None, None), Some("acct"), Some(" from-env ".into()))
            .unwrap();
    assert_eq!(c.api_token.expose(), "from-env");
    assert!(matches!(
        ClientConfig::from_connection(&conn(None, None), Some("acct"), None),
        Err(ConfigError::NoToken)
    ));
}

#[test]
fn the_account_comes_from_the_file_else_the_environment() {
    let acct = "023e105f4ecef8ad9ca31a8372d0c353".to_string();
    let c = ClientConfig::from_connection(&conn(None, Some(acct.clone())), None, Some("t".into()))
        .unwrap();
    assert_eq!(c.account_id, acct);
    assert!(matches!(
        ClientConfig::from_connection(&conn(None, None), None, Some("t".into())),
        Err(ConfigError::NoAccount)
    ));
    assert!(matches!(
        ClientConfig::from_connection(&conn(None, Some("XYZ".into())), None, Some("t".into())),
        Err(ConfigError::BadAccount(_))
    ));
}

#[test]
fn plain_http_is_refused_unless_loopback_or_insecure_http() {
    let cases = [
        ("https://api.cloudflare.com/client/v4", false, true),
        ("http://127.0.0.1:8080/client/v4", false, true),
        ("http://127.1:8080/client/v4", false, true),
        ("http://localhost:8080", false, true),
        ("http://[::1]:8080", false, true),
        ("http://api.example.com/client/v4", false, false),
        ("http://0.0.0.0:8080", false, false),
        ("http://10.0.0.1", false, false),
        ("http://api.example.com/client/v4", true, true),
        ("ftp://api.example.com", true, false),
        ("api.cloudflare.com", false, false),
    ];
    for (url, insecure, ok) in cases {
        assert_eq!(check_api_url(url, insecure).is_ok(), ok, "{url} {insecure}");
    }
    let msg = check_api_url("http://api.example.com/x", false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("'api.example.com'"), "{msg}");
    assert!(msg.contains("--insecure-http"), "{msg}");
}

#[test]
fn budgets_parse_as_requests_per_seconds() {
    assert_eq!(
        parse_budget("1000/300").unwrap(),
        (1000, Duration::from_secs(300))
    );
    assert_eq!(parse_budget("10/5s").unwrap(), (10, Duration::from_secs(5)));
    for bad in ["", "1000", "0/300", "a/b", "10/0"] {
        assert!(parse_budget(bad).is_err(), "{bad}");
    }
}
