//! Steps shared by the second-factor and reverification tests: enrolling TOTP, computing
//! codes on the test clock, signing in, verifying.

use std::time::Duration;

use reverify_server::totp;
use serde_json::{Value, json};

use crate::support::{TestServer, http_client, status_json};

pub const PASSWORD: &str = "correct horse battery";

/// A test server on `db` with the admin API on (for audit events) and `tweak` applied.
pub async fn server_on(
    db: crate::support::TestDb,
    tweak: impl FnOnce(&mut reverify_server::config::Config),
) -> TestServer {
    let url = db.url.clone();
    TestServer::start_with(db, |c| {
        c.database.url = url;
        c.admin.secret_key = "Zq3vR8mT1xKp6wYb0nLc4hUe7sJd2gFa9oQi5tVy".into();
        tweak(c);
    })
    .await
}

/// The TOTP code for `secret` at the test clock's now.
pub fn totp_now(server: &TestServer, secret: &str) -> String {
    let key = totp::base32_decode(secret).unwrap();
    totp::code_at(&key, totp::step_of(server.clock.now()))
}

/// Moves to the next TOTP time step (a used step can never be used again).
pub fn next_step(server: &TestServer) {
    server.clock.advance(Duration::from_secs(30));
}

/// Enrolls and confirms TOTP for the signed-in `client`; returns the secret and the
/// backup codes.
pub async fn enroll_totp(server: &TestServer, client: &reqwest::Client) -> (String, Vec<String>) {
    let (status, pending) = server.post(client, "/v1/me/totp", json!({})).await;
    assert_eq!(status, 200, "{pending}");
    let secret = pending["secret"].as_str().unwrap().to_owned();
    assert!(
        pending["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(pending["qr_svg"].as_str().unwrap().contains("<svg"));
    let code = totp_now(server, &secret);
    let (status, done) = server
        .post(client, "/v1/me/totp/confirm", json!({ "code": code }))
        .await;
    assert_eq!(status, 200, "{done}");
    let codes: Vec<String> = done["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// Starts a password sign-in on a new client; returns it and the answer.
pub async fn sign_in(
    server: &TestServer,
    email: &str,
    password: &str,
) -> (reqwest::Client, u16, Value) {
    let client = server.client();
    let (status, body) = server
        .post(
            &client,
            "/v1/sign_ins",
            json!({ "email": email, "password": password }),
        )
        .await;
    (client, status, body)
}

/// Signs in with password and TOTP; returns the signed-in client.
pub async fn sign_in_with_totp(server: &TestServer, email: &str, secret: &str) -> reqwest::Client {
    let (client, status, body) = sign_in(server, email, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "needs_second_factor");
    let id = body["id"].as_str().unwrap();
    let (status, done) = server
        .post(
            &client,
            &format!("/v1/sign_ins/{id}/attempt"),
            json!({ "strategy": "totp", "code": totp_now(server, secret) }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "complete");
    client
}

/// Starts a verification at `level`.
pub async fn start_verification(
    server: &TestServer,
    client: &reqwest::Client,
    level: &str,
) -> Value {
    let (status, v) = server
        .post(
            client,
            "/v1/sessions/current/verifications",
            json!({ "level": level }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Attempts a factor on verification `id`.
pub async fn attempt(
    server: &TestServer,
    client: &reqwest::Client,
    id: &str,
    body: Value,
) -> (u16, Value) {
    server
        .post(
            client,
            &format!("/v1/sessions/current/verifications/{id}/attempt"),
            body,
        )
        .await
}

/// Calls a sensitive endpoint; returns status, body and `WWW-Authenticate`.
pub async fn sensitive(
    server: &TestServer,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut request = client.request(method, server.url(path));
    if let Some(b) = body {
        request = request.json(&b);
    }
    let r = request.send().await.unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = status_json(r).await;
    (status, body, challenge)
}

/// Asserts the standard reverification error for `strict`.
pub fn assert_reverification_error(status: u16, body: &Value, challenge: Option<&str>) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["clerk_error"]["reason"], "reverification-error",
        "{body}"
    );
    assert_eq!(body["clerk_error"]["metadata"]["reverification"], "strict");
    let challenge = challenge.expect("a WWW-Authenticate challenge");
    assert!(
        challenge.contains("insufficient_user_authentication"),
        "{challenge}"
    );
}

/// The presets report of the current session.
pub async fn freshness(server: &TestServer, client: &reqwest::Client) -> Value {
    let (status, current) = server.get(client, "/v1/sessions/current").await;
    assert_eq!(status, 200, "{current}");
    current["reverification"].clone()
}

/// Audit events of a user through the admin API.
pub async fn audit_kinds(server: &TestServer, user_id: &str) -> Vec<String> {
    let r = http_client(false)
        .get(server.url(&format!(
            "/v1/admin/audit_events?user_id={user_id}&limit=1000"
        )))
        .bearer_auth(&server.state.config.admin.secret_key)
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200, "{body}");
    let mut kinds: Vec<String> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

/// The verified claims of a session token from `server`.
pub async fn claims(server: &TestServer, token: &str) -> reverify::SessionClaims {
    let verifier = reverify::Verifier::builder(server.base.clone())
        .jwks_url(server.url("/.well-known/jwks.json"))
        .clock(server.clock.clone())
        .build()
        .unwrap();
    verifier.verify(token).await.unwrap().claims().clone()
}
