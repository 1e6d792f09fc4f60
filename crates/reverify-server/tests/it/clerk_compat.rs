//! `sessions.token_format = "clerk_v2"`: RS256 tokens with the reference's version-2
//! session claims, which the reference's own backend SDK (the real `@clerk/backend`
//! package, run by `node/test/compat/clerk-check.mjs`) verifies with the server's public
//! key and decides `has({ reverification })` on exactly as Reverify's SDKs do; the switch
//! between formats is a key rotation.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reverify::{FactorClaim, ManualClock, Policy, decision};
use reverify_server::AppState;
use reverify_server::config::TokenFormat;
use serde_json::{Value, json};

use crate::steps::*;
use crate::support::{TestDb, TestServer, test_config};

const ORIGIN: &str = "https://app.example.com";
const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

/// The policies every case is decided on: the presets and two custom ones.
fn policies() -> Vec<(&'static str, Value)> {
    vec![
        ("strict_mfa", json!("strict_mfa")),
        ("strict", json!("strict")),
        ("moderate", json!("moderate")),
        ("lax", json!("lax")),
        (
            "first_factor_15",
            json!({ "level": "first_factor", "afterMinutes": 15 }),
        ),
        (
            "multi_factor_45",
            json!({ "level": "multi_factor", "afterMinutes": 45 }),
        ),
    ]
}

fn policy(value: &Value) -> Policy {
    match value {
        Value::String(name) => name.parse().unwrap(),
        other => other.to_string().parse().unwrap(),
    }
}

fn header_and_payload(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
            .unwrap()
    };
    (part(), part())
}

/// The unix time of the real clock: the reference's SDK checks `exp`/`nbf`/`iat` against
/// it, so the tokens it is given are minted at the real now.
fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn mint(server: &TestServer, client: &reqwest::Client) -> String {
    let r = client
        .post(server.url("/v1/sessions/current/tokens"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    let (status, body) = crate::support::status_json(r).await;
    assert_eq!(status, 200, "{body}");
    body["jwt"].as_str().unwrap().to_owned()
}

async fn verify_second_factor(server: &TestServer, client: &reqwest::Client, secret: &str) {
    let v = start_verification(server, client, "second_factor").await;
    assert_eq!(v["status"], "needs_second_factor", "{v}");
    let (status, done) = attempt(
        server,
        client,
        v["id"].as_str().unwrap(),
        json!({ "strategy": "totp", "code": totp_now(server, secret) }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
}

async fn verify_first_factor(server: &TestServer, client: &reqwest::Client) {
    let v = start_verification(server, client, "first_factor").await;
    let (status, done) = attempt(
        server,
        client,
        v["id"].as_str().unwrap(),
        json!({ "strategy": "password", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
}

/// Where `node/` is, and whether its dev dependencies (the reference's SDK) are installed:
/// without them the check fails in CI and is skipped, loudly, elsewhere.
fn node_package() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node");
    if dir
        .join("node_modules/@clerk/backend/package.json")
        .is_file()
    {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI must run the reference-SDK check: node/node_modules is missing (scripts/prepare-js)"
        );
    }
    eprintln!(
        "\n*** SKIPPING the @clerk/backend half of this test: node/node_modules is missing \
         (run scripts/prepare-js) ***\n"
    );
    None
}

#[tokio::test]
async fn the_reference_sdk_verifies_our_tokens_and_decides_as_our_sdks() {
    // Everything happens on a clock that starts three days before the real now and ends at
    // it, so that sessions verified minutes, hours or days ago get tokens minted at the
    // real now (the reference checks `exp`, `nbf` and `iat` against the real clock).
    let end = real_now();
    let clock = ManualClock::new(end - 3 * DAY);
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let server = TestServer::start_at(db, clock.clone(), |c| {
        c.database.url = url;
        c.sessions.token_format = TokenFormat::ClerkV2;
        c.sessions.absolute_lifetime_secs = 7 * DAY;
        c.sessions.idle_timeout_secs = 7 * DAY;
        c.sessions.token_lifetime_secs = 600;
        c.server.allowed_origins = vec![ORIGIN.into()];
    })
    .await;
    let at = |secs_before_end: i64| clock.set(end - secs_before_end);

    // Users: one without a second factor, two with TOTP.
    let (pat, _) = server.sign_up("pat@example.com", PASSWORD).await;
    drop(pat);
    let (max, _) = server.sign_up("max@example.com", PASSWORD).await;
    let (max_secret, _) = enroll_totp(&server, &max).await;
    next_step(&server);
    let (tia, _) = server.sign_up("tia@example.com", PASSWORD).await;
    let (tia_secret, _) = enroll_totp(&server, &tia).await;

    let password_session = |email: &'static str| {
        let server = &server;
        async move {
            let (client, status, body) = sign_in(server, email, PASSWORD).await;
            assert_eq!((status, body["status"].as_str()), (200, Some("complete")));
            client
        }
    };

    let mut sessions: Vec<(&str, reqwest::Client)> = Vec::new();
    at(2 * DAY);
    sessions.push((
        "no second factor, 2 days",
        password_session("pat@example.com").await,
    ));
    sessions.push((
        "two factors, 2 days",
        sign_in_with_totp(&server, "max@example.com", &max_secret).await,
    ));
    at(2 * 60 * MINUTE);
    let second_fresh = sign_in_with_totp(&server, "tia@example.com", &tia_secret).await;
    next_step(&server);
    let first_fresh = sign_in_with_totp(&server, "tia@example.com", &tia_secret).await;
    at(30 * MINUTE);
    sessions.push((
        "no second factor, 30 min",
        password_session("pat@example.com").await,
    ));
    sessions.push((
        "two factors, 30 min",
        sign_in_with_totp(&server, "max@example.com", &max_secret).await,
    ));
    at(10 * MINUTE);
    sessions.push((
        "no second factor, exactly 10 min",
        password_session("pat@example.com").await,
    ));
    // A second factor enrolled in another session: never verified in this one.
    at(5 * MINUTE);
    let (lee, _) = server.sign_up("lee@example.com", PASSWORD).await;
    let elsewhere = password_session("lee@example.com").await;
    enroll_totp(&server, &lee).await;
    sessions.push(("second factor enrolled elsewhere, first 5 min", elsewhere));
    at(3 * MINUTE);
    verify_second_factor(&server, &second_fresh, &tia_secret).await;
    sessions.push(("second factor 3 min, first 2 h", second_fresh));
    at(2 * MINUTE);
    sessions.push((
        "no second factor, 2 min",
        password_session("pat@example.com").await,
    ));
    sessions.push((
        "two factors, 2 min",
        sign_in_with_totp(&server, "max@example.com", &max_secret).await,
    ));
    at(MINUTE);
    verify_first_factor(&server, &first_fresh).await;
    sessions.push(("first factor 1 min, second 2 h", first_fresh));
    at(0);

    // What the reference's algorithm answers for each state (its truth table, by hand):
    // strict_mfa, strict, moderate, lax, {first_factor, 15}, {multi_factor, 45}.
    let expected: &[(&str, [i64; 2], [bool; 6])] = &[
        ("no second factor, 2 days", [2880, -1], [false; 6]),
        ("two factors, 2 days", [2880, 2880], [false; 6]),
        (
            "no second factor, 30 min",
            [30, -1],
            [false, false, true, true, false, true],
        ),
        (
            "two factors, 30 min",
            [30, 30],
            [false, false, true, true, false, true],
        ),
        // An age equal to `afterMinutes` is stale (the reference's strict comparison).
        (
            "no second factor, exactly 10 min",
            [10, -1],
            [false, false, true, true, true, true],
        ),
        // The reference would say `-1` here and let `strict` pass on the password alone;
        // Reverify's `fva` is the age of the epoch, stale for every second-factor check.
        (
            "second factor enrolled elsewhere, first 5 min",
            [5, end / 60],
            [false, false, false, false, true, false],
        ),
        (
            "second factor 3 min, first 2 h",
            [120, 3],
            [false, true, true, true, false, false],
        ),
        ("no second factor, 2 min", [2, -1], [true; 6]),
        ("two factors, 2 min", [2, 2], [true; 6]),
        (
            "first factor 1 min, second 2 h",
            [1, 119],
            [false, false, false, true, true, false],
        ),
    ];
    assert_eq!(sessions.len(), expected.len());

    let verifier = reverify::Verifier::builder(server.base.clone())
        .jwks_url(server.url("/.well-known/jwks.json"))
        .authorized_parties([ORIGIN])
        .clock(server.clock.clone())
        .build()
        .unwrap();
    let policies = policies();
    let mut cases = Vec::new();
    for ((name, client), (expected_name, fva, decisions)) in sessions.iter().zip(expected) {
        assert_eq!(name, expected_name);
        let token = mint(&server, client).await;
        let (header, payload) = header_and_payload(&token);
        assert_eq!(header["alg"], "RS256", "{header}");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(payload["v"], 2, "{payload}");
        assert_eq!(payload["sts"], "active");
        assert_eq!(payload["azp"], ORIGIN);
        assert_eq!(payload["fva"], json!(fva), "{name}: {payload}");
        assert!(
            payload["fvt"].is_array() && payload["amr"].is_array(),
            "{payload}"
        );
        let claims = verifier
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{name}: the Rust SDK refused it: {e}"))
            .claims()
            .clone();
        let FactorClaim::Valid(ages) = claims.fva() else {
            panic!("{name}: fva {:?}", claims.fva());
        };
        let mut expect = serde_json::Map::new();
        for ((policy_name, value), want) in policies.iter().zip(decisions) {
            let p = policy(value);
            // Reverify's decision (exact ages from `fvt`) and the reference's algorithm on
            // `fva`, both as the Rust SDK computes them, against the table.
            assert_eq!(
                decision::has(&claims, &p, server.clock.now()),
                *want,
                "{name}: has({policy_name}) on fvt"
            );
            assert_eq!(
                decision::decide_fva(ages, &p),
                *want,
                "{name}: has({policy_name}) on fva"
            );
            expect.insert((*policy_name).to_owned(), json!(want));
        }
        cases.push(json!({ "name": name, "token": token, "expected": expect }));
    }

    // The key the reference's SDK is given: the server's PEM, which `reverify keys pem`
    // prints, of the key in the JWKS.
    let (_, jwks) = server.get(&server.client(), "/.well-known/jwks.json").await;
    let (_, alias) = server.get(&server.client(), "/v1/jwks").await;
    assert_eq!(jwks, alias, "/v1/jwks serves the same set");
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(key["e"], "AQAB");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    let stored = server
        .state
        .keys
        .published(server.clock.now())
        .await
        .unwrap();
    let pem = reverify_server::keys::public_pem(&stored[0]).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));

    // A token whose payload was changed (lax-fresh ages), its signature kept.
    let first = cases[0]["token"].as_str().unwrap();
    let mut parts: Vec<String> = first.split('.').map(str::to_owned).collect();
    let (_, mut payload) = header_and_payload(first);
    payload["fva"] = json!([0, 0]);
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    assert!(verifier.verify(&tampered).await.is_err());

    let Some(node_dir) = node_package() else {
        server.stop().await;
        return;
    };
    let input = json!({
        "pem": pem,
        "jwks": jwks,
        "issuer": server.base,
        "apiUrl": server.base,
        "authorizedParties": [ORIGIN],
        "policies": policies
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<serde_json::Map<_, _>>(),
        "cases": cases,
        "tampered": tampered,
    });
    // Off the runtime's thread: the script fetches `/v1/jwks` from this server.
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("node")
            .arg("test/compat/clerk-check.mjs")
            .current_dir(&node_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("node must be installed to run the reference-SDK check");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "the reference's SDK disagrees:\n{stdout}{stderr}"
    );
    assert!(
        stdout.contains(&format!("all {} cases agree", expected.len())),
        "{stdout}"
    );
    server.stop().await;
}

/// Turning `clerk_v2` on over an existing EdDSA key set is a rotation: the RS256 key is
/// published at once and signs `keys.publish_ahead_secs` later; the EdDSA key signs until
/// then and stays published until its last tokens expired. Several instances starting
/// with the new setting rotate once. Revoking an RS256 key replaces it with an RS256 key.
#[tokio::test]
async fn switching_to_clerk_v2_rotates_to_an_rs256_key_published_ahead() {
    for db in TestDb::all().await {
        let clock = ManualClock::new(real_now());
        let mut config = test_config(&db.url);
        config.sessions.token_lifetime_secs = 60;
        let eddsa = AppState::with_store(config.clone(), db.store.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        let algs = |set: &reverify::JwkSet| {
            set.keys
                .iter()
                .map(|k| k.alg.clone().unwrap())
                .collect::<Vec<_>>()
        };
        let signed_alg = |state: &AppState| {
            let state = state.clone();
            let now = clock.now();
            async move {
                let token = state.keys.sign(&json!({"sub": "u"}), now).await.unwrap();
                header_and_payload(&token).0["alg"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        assert_eq!(signed_alg(&eddsa).await, "EdDSA");

        config.sessions.token_format = TokenFormat::ClerkV2;
        let instances = start_together(&config, &db, &clock).await;
        let rs = &instances[0];
        let set = rs.keys.jwks(clock.now()).await.unwrap();
        assert_eq!(
            algs(&set),
            ["EdDSA", "RS256"],
            "one RS256 key, published ahead"
        );
        assert_eq!(
            signed_alg(rs).await,
            "EdDSA",
            "the old key signs until then"
        );

        clock.advance(Duration::from_secs(600));
        assert_eq!(signed_alg(rs).await, "RS256");
        assert_eq!(signed_alg(&eddsa).await, "RS256", "every instance follows");
        clock.advance(Duration::from_secs(121));
        let set = rs.keys.jwks(clock.now()).await.unwrap();
        assert_eq!(algs(&set), ["RS256"], "the EdDSA key left after its tokens");
        // The Rust SDK verifies RS256 tokens of this server's JWKS.
        let token = rs
            .keys
            .sign(
                &json!({"iss": "i", "sub": "u", "iat": clock.now(), "exp": clock.now() + 60}),
                clock.now(),
            )
            .await
            .unwrap();
        let verifier = reverify::Verifier::builder("i")
            .jwks(set.clone())
            .clock(clock.clone())
            .build()
            .unwrap();
        assert_eq!(verifier.verify(&token).await.unwrap().claims().sub, "u");

        // Starting again with the same setting rotates nothing.
        let again = AppState::with_store(config.clone(), db.store.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        assert_eq!(
            algs(&again.keys.jwks(clock.now()).await.unwrap()),
            ["RS256"]
        );

        // Revoking the RS256 key: an RS256 key signs at once.
        let kid = set.keys[0].kid.clone().unwrap();
        let revoked = rs.revoke_signing_key(&kid, "test").await.unwrap();
        let new_kid = revoked.replaced_by.unwrap();
        let set = rs.keys.jwks(clock.now()).await.unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some(new_kid.as_str()));
        assert_eq!(algs(&set), ["RS256"]);
        assert_eq!(signed_alg(rs).await, "RS256");
        db.cleanup().await;
    }
}

/// Three instances starting at once with the new setting.
async fn start_together(
    config: &reverify_server::config::Config,
    db: &TestDb,
    clock: &ManualClock,
) -> Vec<AppState> {
    let start = || {
        let config = config.clone();
        let store = db.store.clone();
        let clock = clock.clone();
        tokio::spawn(async move {
            AppState::with_store(config, store, Arc::new(clock))
                .await
                .unwrap()
        })
    };
    let handles = [start(), start(), start()];
    let mut states = Vec::new();
    for h in handles {
        states.push(h.await.unwrap());
    }
    states
}

#[test]
fn clerk_v2_needs_rs256_and_unknown_algorithms_are_refused() {
    let mut c = reverify_server::config::Config::default();
    assert_eq!(
        c.signing_algorithm().unwrap(),
        reverify_server::config::SigningAlgorithm::EdDSA
    );
    c.sessions.token_format = TokenFormat::ClerkV2;
    assert_eq!(
        c.signing_algorithm().unwrap(),
        reverify_server::config::SigningAlgorithm::RS256
    );
    c.keys.algorithm = "EdDSA".into();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("clerk_v2") && e.contains("RS256"), "{e}");
    c.keys.algorithm = "RS256".into();
    assert!(c.validate().is_ok());
    c.sessions.token_format = TokenFormat::Reverify;
    assert_eq!(
        c.signing_algorithm().unwrap(),
        reverify_server::config::SigningAlgorithm::RS256,
        "RS256 without the reference's claims"
    );
    c.keys.algorithm = "HS256".into();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("keys.algorithm"), "{e}");
    // From the environment, as every key.
    let c = reverify_server::config::Config::load(
        None,
        [(
            "REVERIFY_SESSIONS_TOKEN_FORMAT".to_owned(),
            "clerk_v2".to_owned(),
        )],
    )
    .unwrap();
    assert_eq!(c.sessions.token_format, TokenFormat::ClerkV2);
}
