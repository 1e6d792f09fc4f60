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
    assert_eq!(c.email.mode, EmailMode::Auto);
    assert_eq!(
        c.email_mode(),
        EmailMode::Dev,
        "on the default localhost URL"
    );
    assert_eq!(c.session_cookie_name(), "__Host-reverify_session");
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
            ("REVERIFY_EMAIL_MODE", "smtp"),
            ("REVERIFY_SESSIONS_INSECURE_COOKIES", "true"),
            (
                "REVERIFY_SERVER_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("REVERIFY_LOG", "debug"),
            ("REVERIFY_NEW_PASSWORD", "not a key"),
            ("REVERIFY_TEST_POSTGRES_URL", "not a key either"),
            // The JavaScript server SDK's, in an environment shared with the app.
            ("REVERIFY_ISSUER", "https://auth.example.com"),
            (
                "REVERIFY_JWKS_URL",
                "https://auth.example.com/.well-known/jwks.json",
            ),
            ("REVERIFY_AUTHORIZED_PARTIES", "https://app.example.com"),
            ("REVERIFY_ALLOWED_ORIGINS", "https://admin.example.com"),
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
                toml::Value::Table(t) if t.is_empty() => "{}".into(),
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

fn invalid(pairs: &[(&str, &str)]) -> String {
    match Config::load(None, env(pairs)) {
        Ok(_) => panic!("{pairs:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_public_server_must_deliver_its_codes_or_say_it_publishes_them() {
    // Localhost URLs: the dev outbox needs nothing.
    for url in [
        "http://localhost:8080",
        "http://127.0.0.1:3000/auth",
        "http://bank.localhost:8080",
    ] {
        let c = Config::load(None, env(&[("REVERIFY_SERVER_PUBLIC_URL", url)])).unwrap();
        assert_eq!(c.email_mode(), EmailMode::Dev, "{url}");
        assert!(c.dev_outbox());
    }
    let mut c = Config::default();
    for (url, local) in [
        ("http://[::1]:8080", true),
        ("http://127.1.2.3", true),
        ("https://LOCALHOST./auth", true),
        ("http://localhost.example.com", false),
        ("http://10.0.0.5:8080", false),
        ("http://[2001:db8::1]", false),
        ("http://0.0.0.0:8080", false),
    ] {
        c.server.public_url = url.into();
        assert_eq!(c.public_url_is_local(), local, "{url}");
    }
    // Anywhere else, `auto` refuses to start, saying what to set.
    let public = ("REVERIFY_SERVER_PUBLIC_URL", "https://auth.example.com");
    let e = invalid(&[public]);
    assert!(
        e.contains("https://auth.example.com")
            && e.contains("email.mode = \"smtp\"")
            && e.contains("email.danger_dev_outbox"),
        "{e}"
    );
    for url in [
        "http://localhost.example.com",
        "http://10.0.0.5:8080",
        "http://0.0.0.0:8080",
    ] {
        invalid(&[("REVERIFY_SERVER_PUBLIC_URL", url)]);
    }
    // An explicit `dev` is not enough there: it needs the `danger_` acknowledgement.
    let e = invalid(&[public, ("REVERIFY_EMAIL_MODE", "dev")]);
    assert!(
        e.contains("https://auth.example.com/dev/outbox") && e.contains("danger_dev_outbox"),
        "{e}"
    );
    let staging = Config::load(
        None,
        env(&[
            public,
            ("REVERIFY_EMAIL_MODE", "dev"),
            ("REVERIFY_EMAIL_DANGER_DEV_OUTBOX", "true"),
        ]),
    )
    .unwrap();
    assert!(staging.dev_outbox());
    let production = Config::load(None, env(&[public, ("REVERIFY_EMAIL_MODE", "smtp")])).unwrap();
    assert_eq!(production.email_mode(), EmailMode::Smtp);
    assert!(!production.dev_outbox());
}

#[test]
fn trusting_proxies_takes_the_new_keys_and_refuses_the_old_one() {
    let e = invalid(&[("REVERIFY_SERVER_TRUST_PROXY_HEADERS", "true")]);
    assert!(
        e.contains("leftmost")
            && e.contains("server.trusted_proxy_hops")
            && e.contains("server.trusted_proxies"),
        "{e}"
    );
    // `false`, the old default, is still accepted.
    Config::load(
        None,
        env(&[("REVERIFY_SERVER_TRUST_PROXY_HEADERS", "false")]),
    )
    .unwrap();
    let c = Config::load(
        None,
        env(&[(
            "REVERIFY_SERVER_TRUSTED_PROXIES",
            "10.0.0.0/8, 2001:db8::/32, 192.0.2.7",
        )]),
    )
    .unwrap();
    assert_eq!(c.server.trusted_proxies.len(), 3);
    Config::load(None, env(&[("REVERIFY_SERVER_TRUSTED_PROXY_HOPS", "2")])).unwrap();
    let e = invalid(&[("REVERIFY_SERVER_TRUSTED_PROXIES", "10.0.0.1/8")]);
    assert!(
        e.contains("server.trusted_proxies") && e.contains("10.0.0.1/8"),
        "{e}"
    );
    invalid(&[("REVERIFY_SERVER_TRUSTED_PROXIES", "proxy.internal")]);
    invalid(&[
        ("REVERIFY_SERVER_TRUSTED_PROXIES", "10.0.0.0/8"),
        ("REVERIFY_SERVER_TRUSTED_PROXY_HOPS", "1"),
    ]);
}

#[test]
fn the_admin_key_must_be_strong() {
    for (weak, why) in [
        ("x", "characters"),
        ("admin-secret-for-tests", "characters"),
        (&"a".repeat(64), "different characters"),
        (&"0123456789abcdef".repeat(3), "pattern"),
        ("abcdefghijklmnopqrstuvwxyz0123456789", "consecutive"),
        ("k7m2 9xq4 hd3e k7m2 9xq4 hd3e Zp0w Lr5n", "printable"),
    ] {
        let e = invalid(&[("REVERIFY_ADMIN_SECRET_KEY", weak)]);
        assert!(e.contains(why), "{weak}: {e}");
        assert!(
            e.contains("reverify admin-key generate") && e.contains("openssl rand -hex 32"),
            "{e}"
        );
        if weak.len() > 1 {
            assert!(
                !e.contains(weak),
                "the message does not repeat the key: {e}"
            );
        }
    }
    let generated = reverify_server::admin_key::generate();
    assert!(generated.len() >= 32);
    Config::load(None, env(&[("REVERIFY_ADMIN_SECRET_KEY", &generated)])).unwrap();
    // What `openssl rand -hex 32` prints.
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    Config::load(None, env(&[("REVERIFY_ADMIN_SECRET_KEY", hex)])).unwrap();
    // Empty: the admin API is off, which is fine.
    Config::load(None, env(&[("REVERIFY_ADMIN_SECRET_KEY", "")])).unwrap();
}

#[test]
fn secure_session_cookies_get_the_host_prefix() {
    let secure = Config::default();
    assert_eq!(secure.session_cookie_name(), "__Host-reverify_session");
    let insecure =
        Config::load(None, env(&[("REVERIFY_SESSIONS_INSECURE_COOKIES", "true")])).unwrap();
    assert_eq!(insecure.session_cookie_name(), "reverify_session");
    let named = Config::load(
        None,
        env(&[("REVERIFY_SESSIONS_COOKIE_NAME", "__Host-bank")]),
    )
    .unwrap();
    assert_eq!(
        named.session_cookie_name(),
        "__Host-bank",
        "not prefixed twice"
    );
    invalid(&[
        ("REVERIFY_SESSIONS_COOKIE_NAME", "__Host-bank"),
        ("REVERIFY_SESSIONS_INSECURE_COOKIES", "true"),
    ]);
    invalid(&[("REVERIFY_SESSIONS_COOKIE_NAME", "a;b")]);
    invalid(&[("REVERIFY_SESSIONS_COOKIE_NAME", "")]);
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

#[test]
fn the_app_name_defaults_to_the_issuer_and_the_logo_is_https_or_a_root_path() {
    let config = Config::load(None, env(&[])).unwrap();
    assert_eq!(config.app_name(), "Reverify");
    let config = Config::load(None, env(&[("REVERIFY_TOTP_ISSUER", "Acme")])).unwrap();
    assert_eq!(config.app_name(), "Acme");
    let config = Config::load(
        None,
        env(&[
            ("REVERIFY_TOTP_ISSUER", "Acme"),
            ("REVERIFY_APP_NAME", "Acme Bank"),
        ]),
    )
    .unwrap();
    assert_eq!(config.app_name(), "Acme Bank");
    for good in [
        "https://cdn.example.com/logo.svg",
        "/logo.svg",
        "/auth/static/a.png",
    ] {
        let config = Config::load(None, env(&[("REVERIFY_APP_LOGO_URL", good)])).unwrap();
        assert_eq!(config.app.logo_url().unwrap(), Some(good));
    }
    for bad in [
        "http://example.com/logo.svg",
        "//evil.example/logo.svg",
        "/\\evil.example/logo.svg",
        "javascript:alert(1)",
        "data:image/svg+xml,<svg/>",
        "logo.svg",
        "https://",
        "/logo with space.svg",
    ] {
        let e = invalid(&[("REVERIFY_APP_LOGO_URL", bad)]);
        assert!(e.contains("app.logo_url"), "{bad}: {e}");
    }
}
