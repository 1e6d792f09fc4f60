//! Passkeys through the HTTP API of a real server, with a software authenticator that
//! makes real credentials and real signatures (1Password's `passkey` crate: a CTAP2
//! authenticator with discoverable credentials behind a WebAuthn client), against the
//! origin `http://localhost:<port>`.
//!
//! A device either verifies its user (a PIN or biometrics: it answers a "preferred" user
//! verification with UV) or cannot (it answers with user presence only).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::Passkey;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use reverify_server::store::AuditFilter;
use serde_json::{Value, json};

use crate::support::{TestDb, TestServer, status_json};

const PASSWORD: &str = "correct horse battery";

/// A server whose public URL (so its passkey origin and RP id) is `http://localhost:PORT`.
pub(crate) async fn server_on(db: TestDb) -> TestServer {
    TestServer::start_with(db, |c| {
        c.server.public_url = c.server.public_url.replace("127.0.0.1", "localhost");
    })
    .await
}

pub(crate) async fn server() -> TestServer {
    server_on(TestDb::sqlite().await).await
}

/// The user of a device: always present; verified only on a device that can.
struct DeviceUser {
    can_verify: bool,
}

#[async_trait::async_trait]
impl UserValidationMethod for DeviceUser {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification: verification && self.can_verify,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        self.can_verify.then_some(true)
    }
}

/// A software authenticator holding (at most) one passkey, as a browser would drive it.
pub(crate) struct Device {
    origin: url::Url,
    verifies_user: bool,
    passkey: Option<Passkey>,
}

impl Device {
    pub(crate) fn new(server: &TestServer, verifies_user: bool) -> Device {
        Device {
            origin: url::Url::parse(&server.state.config.server.public_url).unwrap(),
            verifies_user,
            passkey: None,
        }
    }

    fn authenticator(&self) -> Authenticator<Option<Passkey>, DeviceUser, RustCryptoBackend> {
        let mut authenticator = Authenticator::new(
            Aaguid::new_empty(),
            self.passkey.clone(),
            DeviceUser {
                can_verify: self.verifies_user,
            },
            RustCryptoBackend,
        );
        // Like most security keys: a signature counter.
        authenticator.set_make_credentials_with_signature_counter(true);
        authenticator
    }

    /// A copy of this authenticator as it is now (its keys and its signature counter).
    fn copy(&self, verifies_user: bool) -> Device {
        Device {
            origin: self.origin.clone(),
            verifies_user,
            passkey: self.passkey.clone(),
        }
    }

    /// `navigator.credentials.create({publicKey})`, as JSON.
    async fn create(&mut self, public_key: &Value) -> Value {
        let options: CredentialCreationOptions =
            serde_json::from_value(json!({ "publicKey": public_key })).unwrap();
        let mut client = Client::new(self.authenticator())
            .allows_insecure_localhost(true)
            .user_verification_when_preferred(self.verifies_user);
        let credential = client
            .register(&self.origin, options, DefaultClientData)
            .await
            .unwrap_or_else(|e| panic!("registration failed: {e:?}"));
        self.passkey = client.authenticator().store().clone();
        serde_json::to_value(credential).unwrap()
    }

    /// `navigator.credentials.get({publicKey})`, as JSON.
    pub(crate) async fn get(&mut self, public_key: &Value) -> Value {
        let options: CredentialRequestOptions =
            serde_json::from_value(json!({ "publicKey": public_key })).unwrap();
        let mut client = Client::new(self.authenticator())
            .allows_insecure_localhost(true)
            .user_verification_when_preferred(self.verifies_user);
        let credential = client
            .authenticate(&self.origin, options, DefaultClientData)
            .await
            .unwrap_or_else(|e| panic!("assertion failed: {e:?}"));
        self.passkey = client.authenticator().store().clone();
        serde_json::to_value(credential).unwrap()
    }
}

/// Signs up `email`; returns the (freshly verified) browser and the user id.
pub(crate) async fn user(server: &TestServer, email: &str) -> (reqwest::Client, String) {
    let (client, done) = server.sign_up(email, PASSWORD).await;
    (client, done["user"]["id"].as_str().unwrap().to_owned())
}

async fn send(
    server: &TestServer,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, server.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    status_json(request.send().await.unwrap()).await
}

/// Starts a registration for the signed-in `client`.
async fn start_registration(server: &TestServer, client: &reqwest::Client) -> Value {
    let (status, started) = server
        .post(client, "/v1/me/passkeys/registrations", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    assert!(started["id"].as_str().unwrap().starts_with("wac_"));
    started
}

async fn finish_registration(
    server: &TestServer,
    client: &reqwest::Client,
    id: &str,
    body: Value,
) -> (u16, Value) {
    server
        .post(client, &format!("/v1/me/passkeys/registrations/{id}"), body)
        .await
}

/// Adds a passkey on `device` to the signed-in `client`'s account; returns its public view.
pub(crate) async fn register(
    server: &TestServer,
    client: &reqwest::Client,
    device: &mut Device,
    name: Option<&str>,
) -> Value {
    let started = start_registration(server, client).await;
    let mut body = json!({ "credential": device.create(&started["publicKey"]).await });
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let id = started["id"].as_str().unwrap();
    let (status, passkey) = finish_registration(server, client, id, body).await;
    assert_eq!(status, 200, "{passkey}");
    passkey
}

/// Starts a passkey sign-in on a new browser.
async fn start_sign_in(server: &TestServer) -> (reqwest::Client, Value) {
    let browser = server.client();
    let (status, started) = server
        .post(&browser, "/v1/sign_ins/passkey", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(
        started["publicKey"]["allowCredentials"],
        json!([]),
        "discoverable"
    );
    (browser, started)
}

async fn finish_sign_in(
    server: &TestServer,
    browser: &reqwest::Client,
    id: &str,
    credential: &Value,
) -> (u16, Value) {
    server
        .post(
            browser,
            &format!("/v1/sign_ins/passkey/{id}"),
            json!({ "credential": credential }),
        )
        .await
}

/// A passkey sign-in with `device` on a new browser: status, body, browser.
async fn sign_in(server: &TestServer, device: &mut Device) -> (u16, Value, reqwest::Client) {
    let (browser, started) = start_sign_in(server).await;
    let credential = device.get(&started["publicKey"]).await;
    let id = started["id"].as_str().unwrap();
    let (status, body) = finish_sign_in(server, &browser, id, &credential).await;
    (status, body, browser)
}

/// The claims of a session token (its signature is the SDK tests' business).
pub(crate) fn claims(token: &Value) -> Value {
    let payload = token.as_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn passkeys_of(server: &TestServer, client: &reqwest::Client) -> Vec<Value> {
    let (status, list) = server.get(client, "/v1/me/passkeys").await;
    assert_eq!(status, 200, "{list}");
    list["passkeys"].as_array().unwrap().clone()
}

/// The kinds of the user's audit events starting with `prefix`, sorted (events of the
/// same second have no order).
pub(crate) async fn audit_kinds(server: &TestServer, user_id: &str, prefix: &str) -> Vec<String> {
    let events = server
        .state
        .store
        .audit_events(&AuditFilter {
            user_id: Some(user_id.into()),
            kind: Some(prefix.into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let mut kinds: Vec<String> = events.into_iter().map(|e| e.kind).collect();
    kinds.sort();
    kinds
}

fn assert_reverification_required(status: u16, body: &Value) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["clerk_error"]["reason"], "reverification-error",
        "{body}"
    );
}

/// Sets up an authenticator app for the signed-in (fresh) `client`.
pub(crate) async fn enroll_totp(server: &TestServer, client: &reqwest::Client) -> String {
    crate::steps::enroll_totp(server, client).await.0
}

/// Starts a reverification of the current session at `level`.
async fn start_verification(server: &TestServer, client: &reqwest::Client, level: &str) -> Value {
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

/// Asks for the passkey challenge of verification `id`: the `publicKey` options.
pub(crate) async fn prepare_passkey(
    server: &TestServer,
    client: &reqwest::Client,
    id: &str,
) -> Value {
    let (status, prepared) = server
        .post(
            client,
            &format!("/v1/sessions/current/verifications/{id}/prepare"),
            json!({ "strategy": "passkey" }),
        )
        .await;
    assert_eq!(status, 200, "{prepared}");
    prepared["passkey"]["publicKey"].clone()
}

pub(crate) async fn attempt_passkey(
    server: &TestServer,
    client: &reqwest::Client,
    id: &str,
    credential: &Value,
) -> (u16, Value) {
    server
        .post(
            client,
            &format!("/v1/sessions/current/verifications/{id}/attempt"),
            json!({ "strategy": "passkey", "credential": credential }),
        )
        .await
}

#[tokio::test]
async fn passkeys_are_added_listed_renamed_and_removed() {
    for db in TestDb::all().await {
        let server = server_on(db).await;
        let (alice, alice_id) = user(&server, "alice@example.com").await;
        let mut laptop = Device::new(&server, true);

        let passkey = register(&server, &alice, &mut laptop, Some(" MacBook Touch ID ")).await;
        let id = passkey["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("pk_"), "{passkey}");
        assert_eq!(passkey["name"], "MacBook Touch ID");
        assert_eq!(passkey["created_at"], server.clock.now());
        assert!(passkey["last_used_at"].is_null());
        assert_eq!(passkeys_of(&server, &alice).await, vec![passkey.clone()]);
        let (_, me) = server.get(&alice, "/v1/me").await;
        assert_eq!(me["factors"]["passkeys"], 1);

        // Without a name: "Passkey". The user's passkeys are excluded from new registrations.
        let mut phone = Device::new(&server, true);
        let started = start_registration(&server, &alice).await;
        let excluded = started["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap();
        assert_eq!(excluded.len(), 1, "{started}");
        let body = json!({ "credential": phone.create(&started["publicKey"]).await });
        let (status, second) =
            finish_registration(&server, &alice, started["id"].as_str().unwrap(), body).await;
        assert_eq!((status, second["name"].as_str()), (200, Some("Passkey")));
        assert_eq!(passkeys_of(&server, &alice).await.len(), 2);

        // Rename (not a sensitive change).
        let path = format!("/v1/me/passkeys/{id}");
        let patch = reqwest::Method::PATCH;
        let (status, renamed) = send(
            &server,
            &alice,
            patch.clone(),
            &path,
            Some(json!({"name": "Work laptop"})),
        )
        .await;
        assert_eq!(
            (status, renamed["name"].as_str()),
            (200, Some("Work laptop"))
        );
        let listed = passkeys_of(&server, &alice).await;
        let listed = listed.iter().find(|p| p["id"] == id.as_str()).unwrap();
        assert_eq!(listed["name"], "Work laptop");
        for bad in [json!({"name": "   "}), json!({"name": "x".repeat(65)})] {
            let (status, err) = send(&server, &alice, patch.clone(), &path, Some(bad)).await;
            assert_eq!((status, err["code"].as_str()), (400, Some("invalid_name")));
        }

        // Someone else's passkey does not exist for Bob.
        let (bob, _) = user(&server, "bob@example.com").await;
        let (status, err) = send(
            &server,
            &bob,
            patch.clone(),
            &path,
            Some(json!({"name": "mine"})),
        )
        .await;
        assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
        let (status, _) = send(&server, &bob, reqwest::Method::DELETE, &path, None).await;
        assert_eq!(status, 404);
        assert!(passkeys_of(&server, &bob).await.is_empty());
        assert_eq!(passkeys_of(&server, &alice).await.len(), 2);

        // Remove.
        let (status, deleted) = send(&server, &alice, reqwest::Method::DELETE, &path, None).await;
        assert_eq!((status, deleted["status"].as_str()), (200, Some("deleted")));
        let left = passkeys_of(&server, &alice).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["id"], second["id"]);
        let (status, _) = send(&server, &alice, reqwest::Method::DELETE, &path, None).await;
        assert_eq!(status, 404);
        // A removed passkey no longer signs in.
        let (status, err, _) = sign_in(&server, &mut laptop).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (422, Some("passkey_rejected"))
        );

        assert_eq!(
            audit_kinds(&server, &alice_id, "factor.").await,
            [
                "factor.passkey_added",
                "factor.passkey_added",
                "factor.passkey_removed",
                "factor.passkey_renamed",
            ]
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn adding_or_removing_a_passkey_needs_a_recent_verification() {
    let server = server().await;
    let (client, _) = user(&server, "cleo@example.com").await;
    let mut device = Device::new(&server, true);
    let passkey = register(&server, &client, &mut device, None).await;
    let started = start_registration(&server, &client).await;
    let credential = Device::new(&server, true)
        .create(&started["publicKey"])
        .await;

    // Signed up 11 minutes ago: the default `strict` policy (10 minutes) is not met.
    server.clock.advance(Duration::from_secs(11 * 60));
    let (status, body) = server
        .post(&client, "/v1/me/passkeys/registrations", json!({}))
        .await;
    assert_reverification_required(status, &body);
    let id = started["id"].as_str().unwrap();
    let (status, body) =
        finish_registration(&server, &client, id, json!({ "credential": credential })).await;
    assert_reverification_required(status, &body);
    let path = format!("/v1/me/passkeys/{}", passkey["id"].as_str().unwrap());
    let (status, body) = send(&server, &client, reqwest::Method::DELETE, &path, None).await;
    assert_reverification_required(status, &body);
    // Listing and renaming are not sensitive.
    assert_eq!(passkeys_of(&server, &client).await.len(), 1);
    let (status, _) = send(
        &server,
        &client,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"name": "Old key"})),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_ceremony_is_answered_once_in_time_by_its_own_user_and_origin() {
    let server = server().await;
    let (alice, _) = user(&server, "dana@example.com").await;

    // Answered twice: the second time is a conflict.
    let started = start_registration(&server, &alice).await;
    let id = started["id"].as_str().unwrap();
    let body =
        json!({ "credential": Device::new(&server, true).create(&started["publicKey"]).await });
    let (status, _) = finish_registration(&server, &alice, id, body.clone()).await;
    assert_eq!(status, 200);
    let (status, err) = finish_registration(&server, &alice, id, body).await;
    assert_eq!((status, err["code"].as_str()), (409, Some("ceremony_used")));

    // Too late.
    let started = start_registration(&server, &alice).await;
    let body =
        json!({ "credential": Device::new(&server, true).create(&started["publicKey"]).await });
    server.clock.advance(Duration::from_secs(301));
    let id = started["id"].as_str().unwrap();
    let (status, err) = finish_registration(&server, &alice, id, body).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (410, Some("ceremony_expired"))
    );

    // Another user's ceremony, or none, is not found.
    let started = start_registration(&server, &alice).await;
    let id = started["id"].as_str().unwrap();
    let (bob, _) = user(&server, "eli@example.com").await;
    let body =
        json!({ "credential": Device::new(&server, true).create(&started["publicKey"]).await });
    let (status, err) = finish_registration(&server, &bob, id, body.clone()).await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
    let (status, _) = finish_registration(&server, &alice, "wac_nope", body).await;
    assert_eq!(status, 404);

    // Not a credential at all: a clear 400, and the ceremony is still usable.
    for bad in [
        json!({ "credential": "nope" }),
        json!({ "credential": { "id": 5 } }),
        json!({}),
        json!({ "credential": {}, "extra": true }),
    ] {
        let (status, err) = finish_registration(&server, &alice, id, bad).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("invalid_body")),
            "{err}"
        );
    }
    let (status, err) =
        finish_registration(&server, &alice, id, json!({ "credential": {}, "name": "" })).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_name")));

    // Made for another origin (a phishing site on another port): rejected, used up.
    let mut phished = Device::new(&server, true);
    phished.origin.set_port(Some(1)).unwrap();
    let body = json!({ "credential": phished.create(&started["publicKey"]).await });
    let (status, err) = finish_registration(&server, &alice, id, body).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("passkey_rejected"))
    );
    let body =
        json!({ "credential": Device::new(&server, true).create(&started["publicKey"]).await });
    let (status, err) = finish_registration(&server, &alice, id, body).await;
    assert_eq!((status, err["code"].as_str()), (409, Some("ceremony_used")));

    // The same for sign-in ceremonies.
    let (browser, started) = start_sign_in(&server).await;
    let id = started["id"].as_str().unwrap();
    let (status, err) = finish_sign_in(&server, &browser, id, &json!({"rawId": []})).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_body")));
    let (status, _) = finish_sign_in(&server, &browser, "wac_nope", &json!({})).await;
    assert_eq!(status, 400, "the body is checked first");
    server.clock.advance(Duration::from_secs(301));
    let (status, err) = server
        .post(
            &browser,
            &format!("/v1/sign_ins/passkey/{id}"),
            json!({ "credential": {
                "id": "AA", "rawId": "AA", "type": "public-key",
                "response": {"authenticatorData": "AA", "clientDataJSON": "AA", "signature": "AA"}
            } }),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (410, Some("ceremony_expired"))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_passkey_that_verifies_the_user_signs_in_with_both_factors() {
    for db in TestDb::all().await {
        let server = server_on(db).await;
        let (alice, alice_id) = user(&server, "fred@example.com").await;
        let mut device = Device::new(&server, true);
        let passkey = register(&server, &alice, &mut device, None).await;

        server.clock.advance(Duration::from_secs(3600 * 2));
        let now = server.clock.now();
        let before = device.copy(true);
        let (browser, started) = start_sign_in(&server).await;
        let id = started["id"].as_str().unwrap();
        assert_eq!(started["publicKey"]["userVerification"], "preferred");
        let credential = device.get(&started["publicKey"]).await;
        let (status, done) = finish_sign_in(&server, &browser, id, &credential).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["status"], "complete");
        assert_eq!(done["user"]["id"], alice_id.as_str());
        let claims = claims(&done["token"]);
        assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
        // Both factors were proved, but this user has no second factor: the session
        // says "none" (-1), so that a later password verification satisfies `strict`.
        assert_eq!(claims["fvt"], json!([now, -1]), "first factor just now");
        assert_eq!(done["session"]["second_factor_verified_at"], Value::Null);
        let (status, _) = server.get(&browser, "/v1/sessions/current").await;
        assert_eq!(status, 200, "the cookie session works");
        let used = passkeys_of(&server, &browser).await;
        assert_eq!(used[0]["id"], passkey["id"]);
        assert_eq!(used[0]["last_used_at"], now);

        // The same answer again: to the same ceremony, a conflict; to a new one, the
        // challenge does not match.
        let (status, err) = finish_sign_in(&server, &browser, id, &credential).await;
        assert_eq!((status, err["code"].as_str()), (409, Some("ceremony_used")));
        let (browser, started) = start_sign_in(&server).await;
        let fresh = started["id"].as_str().unwrap();
        let (status, err) = finish_sign_in(&server, &browser, fresh, &credential).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (422, Some("passkey_rejected"))
        );
        // A copy of the authenticator from before that sign-in: its signature counter
        // did not grow past the stored one (a cloned key).
        let mut clone = before;
        let (status, err, _) = sign_in(&server, &mut clone).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (422, Some("passkey_rejected"))
        );
        // This passkey verified its user when it was registered: it must every time.
        let mut no_pin = device.copy(false);
        let (status, err, _) = sign_in(&server, &mut no_pin).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (422, Some("user_verification_required"))
        );
        let (status, _, _) = sign_in(&server, &mut device).await;
        assert_eq!(status, 200, "the device itself still signs in");
        assert_eq!(
            audit_kinds(&server, &alice_id, "sign_in.").await,
            [
                "sign_in.failed",
                "sign_in.failed",
                "sign_in.failed",
                "sign_in.succeeded",
                "sign_in.succeeded"
            ]
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_passkey_that_does_not_verify_the_user_is_a_first_factor() {
    let server = server().await;
    // A security key without PIN: registration prefers UV but does not require it.
    let (gina, _) = user(&server, "gina@example.com").await;
    let mut key = Device::new(&server, false);
    register(&server, &gina, &mut key, None).await;
    server.clock.advance(Duration::from_secs(60));
    let now = server.clock.now();
    let (status, done, browser) = sign_in(&server, &mut key).await;
    assert_eq!(status, 200, "{done}");
    let c = claims(&done["token"]);
    assert_eq!(c["amr"], json!(["hwk"]));
    assert_eq!(
        c["fvt"],
        json!([now, -1]),
        "one factor; no second factor enrolled"
    );
    // For a user without a second factor, a fresh first factor is enough.
    let (_, me) = server.get(&browser, "/v1/me").await;
    assert_eq!(me["reverification"]["strict"]["satisfied"], true, "{me}");

    // With an authenticator app enrolled, such a passkey is one factor of two: the
    // sign-in asks for the second, as after a password.
    let (hugo, _) = user(&server, "hugo@example.com").await;
    let secret = enroll_totp(&server, &hugo).await;
    let mut key = Device::new(&server, false);
    register(&server, &hugo, &mut key, None).await;
    server.clock.advance(Duration::from_secs(60));
    let (status, pending, browser) = sign_in(&server, &mut key).await;
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["status"], "needs_second_factor");
    assert!(pending.get("token").is_none(), "no session yet: {pending}");
    let (status, _) = server.get(&browser, "/v1/sessions/current").await;
    assert_eq!(status, 401);
    let now = server.clock.now();
    let id = pending["id"].as_str().unwrap();
    let (status, done) = server
        .post(
            &browser,
            &format!("/v1/sign_ins/{id}/attempt"),
            json!({ "strategy": "totp", "code": crate::steps::totp_now(&server, &secret) }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let c = claims(&done["token"]);
    assert_eq!(c["amr"], json!(["hwk", "otp", "mfa"]));
    assert_eq!(c["fvt"], json!([now, now]));
    server.stop().await;
}

#[tokio::test]
async fn a_passkey_proves_only_its_own_user() {
    let server = server().await;
    let (alice, alice_id) = user(&server, "ivan@example.com").await;
    let (bob, bob_id) = user(&server, "jane@example.com").await;
    let mut alices = Device::new(&server, true);
    let mut bobs = Device::new(&server, true);
    register(&server, &alice, &mut alices, None).await;
    register(&server, &bob, &mut bobs, None).await;

    // Alice's credential, with Bob's user handle (which the signature does not cover).
    let (browser, started) = start_sign_in(&server).await;
    let mut credential = alices.get(&started["publicKey"]).await;
    assert_eq!(
        credential["response"]["userHandle"],
        URL_SAFE_NO_PAD.encode(alice_id.as_bytes())
    );
    credential["response"]["userHandle"] = json!(URL_SAFE_NO_PAD.encode(bob_id.as_bytes()));
    let id = started["id"].as_str().unwrap();
    let (status, err) = finish_sign_in(&server, &browser, id, &credential).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("passkey_rejected"))
    );
    // A discoverable sign-in without a user handle.
    let (browser, started) = start_sign_in(&server).await;
    let mut credential = alices.get(&started["publicKey"]).await;
    credential["response"]
        .as_object_mut()
        .unwrap()
        .remove("userHandle");
    let id = started["id"].as_str().unwrap();
    let (status, _) = finish_sign_in(&server, &browser, id, &credential).await;
    assert_eq!(status, 422);
    // A bad signature.
    let (browser, started) = start_sign_in(&server).await;
    let mut credential = alices.get(&started["publicKey"]).await;
    let mut signature = URL_SAFE_NO_PAD
        .decode(credential["response"]["signature"].as_str().unwrap())
        .unwrap();
    let last = signature.len() - 1;
    signature[last] ^= 1;
    credential["response"]["signature"] = json!(URL_SAFE_NO_PAD.encode(signature));
    let id = started["id"].as_str().unwrap();
    let (status, _) = finish_sign_in(&server, &browser, id, &credential).await;
    assert_eq!(status, 422);
    // No session came of any of it.
    assert!(
        audit_kinds(&server, &alice_id, "sign_in.succeeded")
            .await
            .is_empty()
    );

    // Bob reverifies; a client that drops the allowed credentials gets Alice's device to
    // answer Bob's challenge: rejected, and counted.
    server.clock.advance(Duration::from_secs(11 * 60));
    let v = start_verification(&server, &bob, "second_factor").await;
    let vid = v["id"].as_str().unwrap();
    let mut public_key = prepare_passkey(&server, &bob, vid).await;
    assert_eq!(public_key["allowCredentials"].as_array().unwrap().len(), 1);
    public_key["allowCredentials"] = json!([]);
    let credential = alices.get(&public_key).await;
    let (status, err) = attempt_passkey(&server, &bob, vid, &credential).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("passkey_rejected"))
    );
    let (_, v) = server
        .get(&bob, &format!("/v1/sessions/current/verifications/{vid}"))
        .await;
    assert_eq!(v["attempts_left"], 4, "{v}");
    // Bob's own device completes it.
    let public_key = prepare_passkey(&server, &bob, vid).await;
    let credential = bobs.get(&public_key).await;
    let (status, done) = attempt_passkey(&server, &bob, vid, &credential).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["verification"]["status"], "complete");
    server.stop().await;
}

#[tokio::test]
async fn a_passkey_reverifies_the_session() {
    let server = server().await;
    let (kim, _) = user(&server, "kim@example.com").await;
    let mut device = Device::new(&server, true);
    register(&server, &kim, &mut device, None).await;
    server.clock.advance(Duration::from_secs(11 * 60));
    let (status, body) = server
        .post(&kim, "/v1/me/passkeys/registrations", json!({}))
        .await;
    assert_reverification_required(status, &body);

    let v = start_verification(&server, &kim, "second_factor").await;
    assert!(
        v["supported_first_factors"]
            .as_array()
            .unwrap()
            .contains(&json!({"strategy": "passkey"})),
        "{v}"
    );
    let vid = v["id"].as_str().unwrap();
    let public_key = prepare_passkey(&server, &kim, vid).await;
    assert_eq!(public_key["userVerification"], "preferred");
    let now = server.clock.now();
    let credential = device.get(&public_key).await;
    let (status, done) = attempt_passkey(&server, &kim, vid, &credential).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["verification"]["status"], "complete");
    let c = claims(&done["token"]);
    assert_eq!(c["fvt"][0], now, "{c}");
    let (status, _) = server
        .post(&kim, "/v1/me/passkeys/registrations", json!({}))
        .await;
    assert_eq!(
        status, 200,
        "a fresh verification again allows sensitive changes"
    );

    // With an authenticator app enrolled, the second step needs a passkey that verifies
    // the user: one that does not is refused with a clear code ...
    let (lea, _) = user(&server, "lea@example.com").await;
    enroll_totp(&server, &lea).await;
    let mut key = Device::new(&server, false);
    register(&server, &lea, &mut key, None).await;
    server.clock.advance(Duration::from_secs(11 * 60));
    let v = start_verification(&server, &lea, "second_factor").await;
    assert_eq!(v["status"], "needs_second_factor");
    assert!(
        v["supported_second_factors"]
            .as_array()
            .unwrap()
            .contains(&json!({"strategy": "passkey", "requires_user_verification": true})),
        "{v}"
    );
    let vid = v["id"].as_str().unwrap();
    let public_key = prepare_passkey(&server, &lea, vid).await;
    let credential = key.get(&public_key).await;
    let (status, err) = attempt_passkey(&server, &lea, vid, &credential).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("user_verification_required")),
        "{err}"
    );

    // ... and one that does completes it, with both factors fresh in the new token.
    let (max, _) = user(&server, "max@example.com").await;
    enroll_totp(&server, &max).await;
    let mut phone = Device::new(&server, true);
    register(&server, &max, &mut phone, None).await;
    server.clock.advance(Duration::from_secs(11 * 60));
    let v = start_verification(&server, &max, "second_factor").await;
    assert_eq!(v["status"], "needs_second_factor");
    let vid = v["id"].as_str().unwrap();
    let public_key = prepare_passkey(&server, &max, vid).await;
    let credential = phone.get(&public_key).await;
    let now = server.clock.now();
    let (status, done) = attempt_passkey(&server, &max, vid, &credential).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["verification"]["status"], "complete");
    assert_eq!(claims(&done["token"])["fvt"], json!([now, now]));
    server.stop().await;
}

/// Issue 9, item 3: after a passkey with user verification, a user without an
/// authenticator app could never reverify by password (the passkey's time was stored as a
/// second-factor time, which a password verification does not refresh).
#[tokio::test]
async fn after_a_passkey_a_user_without_a_second_factor_reverifies_by_password() {
    for db in TestDb::all().await {
        let server = server_on(db).await;
        let (ivy, _) = user(&server, "ivy@example.com").await;
        let mut device = Device::new(&server, true);
        register(&server, &ivy, &mut device, None).await;
        // A passkey sign-in (with user verification) on a new browser ...
        server.clock.advance(Duration::from_secs(2 * 3600));
        let (status, done, browser) = sign_in(&server, &mut device).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(claims(&done["token"])["fvt"][1], -1);
        // ... and a passkey reverification later.
        server.clock.advance(Duration::from_secs(11 * 60));
        let v = start_verification(&server, &browser, "second_factor").await;
        let vid = v["id"].as_str().unwrap();
        let public_key = prepare_passkey(&server, &browser, vid).await;
        let credential = device.get(&public_key).await;
        let (status, done) = attempt_passkey(&server, &browser, vid, &credential).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(claims(&done["token"])["fvt"][1], -1);
        // Stale again: a password verification alone must satisfy `strict` now.
        server.clock.advance(Duration::from_secs(11 * 60));
        let (status, body) = server
            .post(&browser, "/v1/me/passkeys/registrations", json!({}))
            .await;
        assert_reverification_required(status, &body);
        let v = start_verification(&server, &browser, "second_factor").await;
        assert_eq!(v["status"], "needs_first_factor");
        let vid = v["id"].as_str().unwrap();
        let (status, done) = send(
            &server,
            &browser,
            reqwest::Method::POST,
            &format!("/v1/sessions/current/verifications/{vid}/attempt"),
            Some(json!({ "strategy": "password", "password": PASSWORD })),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["verification"]["status"], "complete");
        assert_eq!(
            done["reverification"]["strict"]["satisfied"], true,
            "{done}"
        );
        let (status, body) = server
            .post(&browser, "/v1/me/passkeys/registrations", json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        server.stop().await;
    }
}

#[test]
fn the_passkey_configuration_is_checked() {
    use reverify_server::config::Config;
    let mut c = Config::default();
    assert!(
        c.validate().is_ok(),
        "defaults: rp id localhost, origin the public URL"
    );
    c.passkeys.rp_id = "example.com".into();
    c.passkeys.origins = vec![
        "https://example.com".into(),
        "https://app.example.com:8443".into(),
    ];
    assert!(c.validate().is_ok());
    for bad in ["example.com", "ftp://example.com", "https://"] {
        c.passkeys.origins = vec![bad.into()];
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("passkeys.origins"), "{e}");
    }
    c.passkeys.origins = Vec::new();
    c.passkeys.rp_id = "https://example.com".into();
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("passkeys.rp_id")
    );
}
