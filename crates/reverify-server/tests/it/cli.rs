//! The `reverify` binary's commands.

use std::process::{Command, Output};

use crate::support::TestDb;

fn reverify(db_url: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reverify"));
    cmd.args(args)
        .env("REVERIFY_DATABASE_URL", db_url)
        .env("REVERIFY_PASSWORDS_ARGON2_MEMORY_KIB", "1024")
        .env("REVERIFY_PASSWORDS_ARGON2_ITERATIONS", "1")
        .env("REVERIFY_LOG", "warn");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[tokio::test]
async fn migrate_users_and_keys_from_the_command_line() {
    let db = TestDb::sqlite().await;
    db.store.close().await;
    let url = db.url.clone();
    let ok = |o: &Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    ok(&reverify(&url, &["migrate"], &[]));
    let created = reverify(
        &url,
        &["users", "create", "--email", "Rui@Example.com"],
        &[("REVERIFY_NEW_PASSWORD", "correct horse battery")],
    );
    ok(&created);
    let id = stdout(&created);
    assert!(id.starts_with("user_"), "{id}");
    let weak = reverify(
        &url,
        &["users", "create", "--email", "x@example.com"],
        &[("REVERIFY_NEW_PASSWORD", "short")],
    );
    assert!(!weak.status.success(), "a short password is refused");
    let listed = reverify(&url, &["users", "list"], &[]);
    ok(&listed);
    assert!(
        stdout(&listed).contains(&format!("{id}\trui@example.com")),
        "{}",
        stdout(&listed)
    );

    let rotated = reverify(&url, &["keys", "rotate"], &[]);
    ok(&rotated);
    assert!(stdout(&rotated).starts_with("ins_"));
    // The OpenID provider's keys rotate together: one new kid per algorithm.
    let oidc = [("REVERIFY_OIDC_ENABLED", "true")];
    assert!(
        !reverify(&url, &["keys", "rotate", "--oidc"], &[])
            .status
            .success(),
        "provider off"
    );
    let rotated = reverify(&url, &["keys", "rotate", "--oidc"], &oidc);
    ok(&rotated);
    let kids: Vec<String> = stdout(&rotated).lines().map(str::to_owned).collect();
    assert_eq!(kids.len(), 3, "{kids:?}");
    let store = reverify_server::store::Store::open(&url, 1).await.unwrap();
    let keys = store.published_keys(i64::MAX / 2).await.unwrap();
    let mut algs: Vec<(String, String)> = kids
        .iter()
        .map(|kid| {
            let k = keys
                .iter()
                .find(|k| k.kid == *kid)
                .expect("rotated key stored");
            (k.purpose.clone(), k.alg.clone())
        })
        .collect();
    algs.sort();
    assert_eq!(
        algs,
        [
            ("oidc", "RS256"),
            ("oidc_eddsa", "EdDSA"),
            ("oidc_es256", "ES256")
        ]
        .map(|(p, a)| (p.to_owned(), a.to_owned()))
    );
    store.close().await;

    ok(&reverify(&url, &["users", "delete", &id], &[]));
    assert!(
        !reverify(&url, &["users", "delete", &id], &[])
            .status
            .success(),
        "deleting twice fails"
    );

    let typo = reverify(&url, &["migrate"], &[("REVERIFY_DATABSE_URL", "x")]);
    assert!(!typo.status.success());
    assert!(String::from_utf8_lossy(&typo.stderr).contains("REVERIFY_DATABSE_URL"));
    db.cleanup().await;
}

#[tokio::test]
async fn audit_events_from_the_command_line() {
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let server = crate::support::TestServer::start_with(db, |c| c.database.url = url.clone()).await;
    let (_, done) = server
        .sign_up("ana@example.com", "correct horse battery")
        .await;
    let user_id = done["user"]["id"].as_str().unwrap();
    let (_, status, _) =
        crate::steps::sign_in(&server, "ana@example.com", "not the password").await;
    assert_eq!(status, 401);

    let out = reverify(&url, &["audit", "--user", user_id], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["sign_in.failed", "sign_up.completed"],
        "newest first"
    );
    assert_eq!(events[0]["ip"], "127.0.0.1");
    assert_eq!(events[0]["detail"]["factor"], "password");
    let only = reverify(&url, &["audit", "--kind", "sign_up.", "--limit", "5"], &[]);
    assert_eq!(stdout(&only).lines().count(), 1);
    server.stop().await;
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_owned()
}

#[tokio::test]
async fn a_failed_start_prints_its_cause() {
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    // A server others can reach, with no email delivery configured.
    let out = reverify(
        &url,
        &["serve"],
        &[("REVERIFY_SERVER_PUBLIC_URL", "https://auth.example.com")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: invalid configuration: no email delivery is configured")
            && err.contains("https://auth.example.com")
            && err.contains("email.mode = \"smtp\""),
        "{err}"
    );
    // The removed proxy key names its replacements.
    let out = reverify(
        &url,
        &["serve"],
        &[("REVERIFY_SERVER_TRUST_PROXY_HEADERS", "true")],
    );
    assert!(
        stderr(&out).contains("server.trusted_proxy_hops"),
        "{}",
        stderr(&out)
    );
    // A database that cannot be opened: which one (without its password), and why.
    let out = reverify(
        "sqlite:///nonexistent-dir-reverify/x.sqlite",
        &["serve"],
        &[],
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.starts_with(
            "error: cannot open the database sqlite:///nonexistent-dir-reverify/x.sqlite: "
        ) && err.contains("unable to open database file"),
        "{err}"
    );
    let out = reverify(
        "postgres://reverify:hunter2-secret@127.0.0.1:1/nothing",
        &["migrate"],
        &[],
    );
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error: cannot open the database postgres://reverify:***@127.0.0.1:1/nothing: "
        ) && err.contains("refused")
            && !err.contains("hunter2"),
        "{err}"
    );
    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = reverify(&url, &["serve"], &[("REVERIFY_SERVER_LISTEN", &addr)]);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: cannot listen on {addr}: ")) && err.contains("in use"),
        "{err}"
    );
    db.cleanup().await;
}

#[test]
fn admin_keys_are_generated_strong() {
    let out = Command::new(env!("CARGO_BIN_EXE_reverify"))
        .args(["admin-key", "generate"])
        // Even a configuration the key would fix does not stop it.
        .env("REVERIFY_ADMIN_SECRET_KEY", "weak")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out);
    assert!(key.len() >= 32, "{key}");
    assert_eq!(reverify_server::admin_key::weakness(&key), None);
}

#[tokio::test]
async fn the_dev_outbox_is_announced_loudly_at_start() {
    use std::io::BufRead;

    let db = TestDb::sqlite().await;
    db.store.close().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_reverify"))
        .arg("serve")
        .env("REVERIFY_DATABASE_URL", &db.url)
        .env("REVERIFY_SERVER_LISTEN", "127.0.0.1:0")
        .env("REVERIFY_SERVER_PUBLIC_URL", "http://localhost:8080/auth")
        .env("REVERIFY_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.contains("WARN") && line.contains("http://localhost:8080/auth/dev/outbox"),
        "{line}"
    );
    db.cleanup().await;
}

/// `reverify keys revoke KID`: the key leaves the JWKS and stops signing, the new signing
/// key's id is printed, an unknown key is an error, and the audit trail says who.
#[tokio::test]
async fn keys_revoke_from_the_command_line() {
    let db = TestDb::sqlite().await;
    db.store.close().await;
    let url = db.url.clone();
    let ok = |o: &Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ok(&reverify(&url, &["users", "list"], &[])); // creates the first key
    let store = reverify_server::store::Store::open(&url, 2).await.unwrap();
    let now = || reverify::Clock::now(&reverify::SystemClock);
    let first = store.published_keys(now()).await.unwrap();
    assert_eq!(first.len(), 1);
    let leaked = first[0].kid.clone();

    let revoked = reverify(&url, &["keys", "revoke", &leaked], &[]);
    ok(&revoked);
    let replacement = stdout(&revoked);
    assert!(
        replacement.starts_with("ins_") && replacement != leaked,
        "{replacement}"
    );
    let keys = store.published_keys(now()).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        [replacement.as_str()]
    );
    assert!(keys[0].signs_from <= now() && keys[0].signs_until.is_none());

    let unknown = reverify(&url, &["keys", "revoke", "ins_unknown"], &[]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));

    let audit = reverify(&url, &["audit", "--kind", "key.revoked"], &[]);
    ok(&audit);
    let events: Vec<serde_json::Value> = stdout(&audit)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["detail"],
        serde_json::json!({"kid": leaked, "replaced_by": replacement, "by": "cli"})
    );
    store.close().await;
    db.cleanup().await;
}

/// `reverify keys pem`: the PEM public key of the newest key, for the reference's SDKs;
/// refused for an Ed25519 key. With `clerk_v2` turned on, the start rotates an RS256 key in
/// ahead of signing, and that is the key printed.
#[tokio::test]
async fn keys_pem_from_the_command_line() {
    use base64::Engine;
    let db = TestDb::sqlite().await;
    db.store.close().await;
    let url = db.url.clone();
    let ok = |o: &Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let eddsa = reverify(&url, &["keys", "pem"], &[]);
    assert!(!eddsa.status.success());
    assert!(stderr(&eddsa).contains("not RS256"), "{}", stderr(&eddsa));

    let clerk = [("REVERIFY_SESSIONS_TOKEN_FORMAT", "clerk_v2")];
    let pem = reverify(&url, &["keys", "pem"], &clerk);
    ok(&pem);
    let text = stdout(&pem);
    assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{text}");
    assert!(text.ends_with("\n-----END PUBLIC KEY-----"), "{text}");
    assert!(text.lines().all(|l| l.len() <= 64));
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();

    let store = reverify_server::store::Store::open(&url, 2).await.unwrap();
    let now = reverify::Clock::now(&reverify::SystemClock);
    let keys = store.published_keys(now).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.alg.as_str()).collect::<Vec<_>>(),
        ["EdDSA", "RS256"],
        "the RS256 key is published ahead of signing"
    );
    assert!(keys[1].signs_from > now);
    assert_eq!(
        der,
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&keys[1].public_key)
            .unwrap()
    );
    // 2048-bit, e = 65537: the SubjectPublicKeyInfo the reference's Node SDK reads.
    assert_eq!(der.len(), 294);
    assert!(der.ends_with(&[0x02, 0x03, 0x01, 0x00, 0x01]));

    let by_kid = reverify(&url, &["keys", "pem", &keys[0].kid], &clerk);
    assert!(!by_kid.status.success(), "the EdDSA key has no PEM");
    let again = reverify(&url, &["keys", "pem", &keys[1].kid], &clerk);
    ok(&again);
    assert_eq!(stdout(&again), text);
    assert_eq!(
        store.published_keys(now).await.unwrap().len(),
        2,
        "no second rotation"
    );
    store.close().await;
    db.cleanup().await;
}
