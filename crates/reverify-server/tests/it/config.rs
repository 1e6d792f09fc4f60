//! Configuration: defaults, TOML, environment overrides, validation.

use reverify_server::config::{Config, EmailMode};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_safe_and_documented_values() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.sessions.idle_timeout_secs, 3600);
    assert_eq!(c.sessions.absolute_lifetime_secs, 86_400);
    assert_eq!(c.sessions.token_lifetime_secs, 60);
    assert!(!c.sessions.insecure_cookies);
    assert_eq!(c.database.url, "sqlite://reverify.sqlite");
    assert_eq!(c.email.mode, EmailMode::Dev);
}

#[test]
fn toml_then_environment() {
    let dir = std::env::temp_dir().join(format!("reverify-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reverify.toml");
    std::fs::write(
        &path,
        "[server]\npublic_url = \"https://auth.example.com\"\nallowed_origins = [\"https://app.example.com\"]\n[sessions]\ntoken_lifetime_secs = 30\n",
    )
    .unwrap();
    let c = Config::load(
        Some(&path),
        env(&[
            ("REVERIFY_SESSIONS_TOKEN_LIFETIME_SECS", "45"),
            ("REVERIFY_DATABASE_URL", "postgres://db/reverify"),
            ("REVERIFY_EMAIL_SMTP_PASSWORD", "123456"),
            ("REVERIFY_SESSIONS_INSECURE_COOKIES", "true"),
            (
                "REVERIFY_SERVER_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("REVERIFY_LOG", "debug"),
            ("REVERIFY_NEW_PASSWORD", "not a key"),
            ("REVERIFY_TEST_POSTGRES_URL", "not a key either"),
            ("HOME", "/somewhere"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.public_url, "https://auth.example.com");
    assert_eq!(c.issuer(), "https://auth.example.com");
    assert_eq!(c.sessions.token_lifetime_secs, 45, "the environment wins");
    assert_eq!(c.database.url, "postgres://db/reverify");
    assert_eq!(c.email.smtp_password, "123456", "stays a string");
    assert!(c.sessions.insecure_cookies);
    assert_eq!(
        c.server.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mistakes_are_errors_not_silently_ignored() {
    for bad in [
        vec![("REVERIFY_SESSIONS_TOKEN_LIFETIME", "45")],
        vec![("REVERIFY_NOPE_X", "1")],
        vec![("REVERIFY_SESSIONS_TOKEN_LIFETIME_SECS", "soon")],
        vec![("REVERIFY_SESSIONS_TOKEN_LIFETIME_SECS", "1")],
        vec![("REVERIFY_DATABASE_URL", "mysql://x")],
        vec![("REVERIFY_SESSIONS_INSECURE_COOKIES", "maybe")],
        vec![("REVERIFY_PASSWORDS_MIN_LENGTH", "4")],
    ] {
        assert!(Config::load(None, env(&bad)).is_err(), "{bad:?}");
    }
    let dir = std::env::temp_dir().join(format!("reverify-config-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[sessions]\ntoken_lifetme_secs = 30\n").unwrap();
    assert!(
        Config::load(Some(&path), env(&[])).is_err(),
        "typo in a TOML key"
    );
    assert!(Config::load(Some(&dir.join("missing.toml")), env(&[])).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_key_is_documented_with_its_default() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    let mut documented = 0;
    for (section, keys) in &defaults {
        for (key, value) in keys.as_table().unwrap() {
            let shown = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(a) if a.is_empty() => "[]".into(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => panic!("document how to show {other:?}"),
            };
            let row = format!("| `{section}.{key}` | `{shown}` |");
            assert!(
                doc.contains(&row),
                "docs/configuration.md lacks the row {row}"
            );
            documented += 1;
        }
    }
    let rows = doc.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(
        rows, documented,
        "the page documents keys the code does not have"
    );
}

/// A preset is only its bare name and a custom policy only a JSON object: a quoted name or a
/// JSON string holding a policy is refused at start-up, never read as a policy.
#[test]
fn the_sensitive_policy_is_a_preset_name_or_a_json_object() {
    let policy = |raw: &str| {
        Config::load(
            None,
            env(&[("REVERIFY_REVERIFICATION_SENSITIVE_POLICY", raw)]),
        )
        .map(|c| c.reverification.policy().unwrap())
    };
    assert_eq!(policy("moderate").unwrap(), reverify::MODERATE);
    assert_eq!(
        policy(r#"{"level":"multi_factor","afterMinutes":5}"#).unwrap(),
        reverify::Policy::custom(reverify::Level::MultiFactor, 5.0).unwrap()
    );
    for bad in [
        r#""strict""#,
        r#""\"strict\"""#,
        r#""{\"level\":\"first_factor\",\"afterMinutes\":5}""#,
        r#"["lax"]"#,
        " lax",
        r#"{"level":"first_factor","afterMinutes":1e400}"#,
    ] {
        let err = policy(bad).unwrap_err().to_string();
        assert!(
            err.contains("reverification.sensitive_policy"),
            "{bad}: {err}"
        );
    }
}
