//! Verifications for an action (approvals) through the HTTP API of a real server: the
//! action is checked and digested by the server, a passkey signs over the digest, and
//! only the token minted at completion carries the approval.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reverify::approval::{APPROVE, Action, Check, check};
use serde_json::{Value, json};

use crate::passkeys::{
    Device, attempt_passkey, audit_kinds, claims, prepare_passkey, register, server, user,
};
use crate::steps::{attempt, enroll_totp, totp_now};
use crate::support::{TestDb, TestServer};

const PASSWORD: &str = "correct horse battery";

fn transfer(amount_cents: u64, payee: &str) -> Action {
    Action::new(
        "transfer",
        format!(
            "Send €{}.{:02} to {payee}",
            amount_cents / 100,
            amount_cents % 100
        ),
    )
    .field("amount_cents", amount_cents)
    .field("currency", "EUR")
    .field("payee", payee)
}

/// Starts a verification for `action` (as the browser SDK does with the 403's metadata).
async fn start_for(
    server: &TestServer,
    client: &reqwest::Client,
    level: &str,
    action: &Value,
) -> (u16, Value) {
    server
        .post(
            client,
            "/v1/sessions/current/verifications",
            json!({ "level": level, "action": action }),
        )
        .await
}

fn challenge_of(public_key: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(public_key["challenge"].as_str().unwrap())
        .unwrap()
}

/// The `challenge` the authenticator signed (inside `clientDataJSON`).
fn signed_challenge(credential: &Value) -> Vec<u8> {
    let client_data = credential["response"]["clientDataJSON"].as_str().unwrap();
    let client_data: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(client_data).unwrap()).unwrap();
    URL_SAFE_NO_PAD
        .decode(client_data["challenge"].as_str().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_passkey_signs_over_the_action_and_its_assertion_approves_nothing_else() {
    let server = server().await;
    let (kim, kim_id) = user(&server, "kim@example.com").await;
    let mut device = Device::new(&server, true);
    register(&server, &kim, &mut device, None).await;
    server.clock.advance(Duration::from_secs(11 * 60));

    let bob = transfer(2500, "Bob");
    let mallory = transfer(999_900, "Mallory");
    let (status, v) = start_for(&server, &kim, "second_factor", &bob.to_json().unwrap()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["action"]["summary"], "Send €25.00 to Bob");
    assert_eq!(v["action"]["digest"], bob.digest().unwrap());
    let vid = v["id"].as_str().unwrap().to_owned();
    let public_key = prepare_passkey(&server, &kim, &vid).await;
    let challenge = challenge_of(&public_key);
    assert_eq!(challenge.len(), 48);
    assert_eq!(&challenge[16..], bob.digest_bytes().unwrap());
    let credential = device.get(&public_key).await;
    // What the authenticator signed covers the action.
    let signed = signed_challenge(&credential);
    assert_eq!(&signed[16..], bob.digest_bytes().unwrap());

    // The same assertion offered to a verification for another action is refused.
    let (_, v2) = start_for(&server, &kim, "second_factor", &mallory.to_json().unwrap()).await;
    let vid2 = v2["id"].as_str().unwrap().to_owned();
    let other_key = prepare_passkey(&server, &kim, &vid2).await;
    assert_eq!(
        &challenge_of(&other_key)[16..],
        mallory.digest_bytes().unwrap()
    );
    let (status, err) = attempt_passkey(&server, &kim, &vid2, &credential).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("passkey_rejected")),
        "{err}"
    );

    // Its own verification completes, and only the token minted now carries the approval.
    let (status, done) = attempt_passkey(&server, &kim, &vid, &credential).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["verification"]["status"], "complete");
    assert_eq!(done["approval"]["digest"], bob.digest().unwrap());
    let c = claims(&done["token"]);
    let apr = &c["apr"];
    assert_eq!(apr["dig"], bob.digest().unwrap(), "{c}");
    assert_eq!(apr["typ"], "transfer");
    assert_eq!(apr["lvl"], "second_factor");
    assert_eq!(apr["id"], done["approval"]["id"]);
    assert_eq!(apr["exp"], server.clock.now() + 120);
    // The SDK's decision on the real token's claims agrees.
    let sdk_claims: reverify::SessionClaims = serde_json::from_value(c.clone()).unwrap();
    let now = server.clock.now();
    assert!(matches!(
        check(&sdk_claims, &bob.digest().unwrap(), &APPROVE, now),
        Check::Consume(_)
    ));
    assert!(matches!(
        check(&sdk_claims, &mallory.digest().unwrap(), &APPROVE, now),
        Check::Refused(_)
    ));

    // A refresh never carries it.
    let (status, refreshed) = server
        .post(&kim, "/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(
        claims(&refreshed["jwt"]).get("apr").is_none(),
        "{refreshed}"
    );

    let kinds = audit_kinds(&server, &kim_id, "approval.").await;
    assert_eq!(
        kinds,
        [
            "approval.granted",
            "approval.requested",
            "approval.requested"
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn codes_and_passwords_approve_too_and_plain_verifications_approve_nothing() {
    for db in TestDb::all().await {
        let server = crate::passkeys::server_on(db).await;
        let (ana, ana_id) = user(&server, "ana@example.com").await;
        let (secret, _) = enroll_totp(&server, &ana).await;
        crate::steps::next_step(&server);
        server.clock.advance(Duration::from_secs(11 * 60));

        // A verification without an action: fresh, but no approval.
        let v = crate::steps::start_verification(&server, &ana, "second_factor").await;
        let vid = v["id"].as_str().unwrap();
        assert!(v["action"].is_null(), "{v}");
        let (status, done) = attempt(
            &server,
            &ana,
            vid,
            json!({"strategy": "totp", "code": totp_now(&server, &secret)}),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        assert!(claims(&done["token"]).get("apr").is_none());
        assert!(done.get("approval").is_none());

        // For an action at multi_factor: password, then TOTP.
        crate::steps::next_step(&server);
        let bob = transfer(2500, "Bob");
        let (status, v) = start_for(&server, &ana, "multi_factor", &bob.to_json().unwrap()).await;
        assert_eq!(status, 200, "{v}");
        let vid = v["id"].as_str().unwrap();
        let (status, step) = attempt(
            &server,
            &ana,
            vid,
            json!({"strategy": "password", "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, 200, "{step}");
        assert!(step.get("token").is_none(), "no token before completion");
        let (status, done) = attempt(
            &server,
            &ana,
            vid,
            json!({"strategy": "totp", "code": totp_now(&server, &secret)}),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        let apr = claims(&done["token"])["apr"].clone();
        assert_eq!(apr["lvl"], "multi_factor");
        assert_eq!(apr["dig"], bob.digest().unwrap());

        // Cancelled: refused, audited with the summary.
        let (_, v) = start_for(&server, &ana, "second_factor", &bob.to_json().unwrap()).await;
        let vid = v["id"].as_str().unwrap();
        let cancelled = ana
            .delete(server.url(&format!("/v1/sessions/current/verifications/{vid}")))
            .send()
            .await
            .unwrap();
        assert_eq!(cancelled.status(), 200);
        let kinds = audit_kinds(&server, &ana_id, "approval.").await;
        assert_eq!(
            kinds,
            [
                "approval.granted",
                "approval.refused",
                "approval.requested",
                "approval.requested"
            ]
        );
        let refused = server
            .state
            .store
            .audit_events(&reverify_server::store::AuditFilter {
                user_id: Some(ana_id.clone()),
                kind: Some("approval.refused".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let detail: Value = serde_json::from_str(&refused[0].detail).unwrap();
        assert_eq!(detail["summary"], "Send €25.00 to Bob");
        assert_eq!(detail["reason"], "cancelled");
        server.stop().await;
    }
}

#[tokio::test]
async fn invalid_actions_are_400_and_a_wrong_digest_is_422() {
    let server = server().await;
    let (eve, _) = user(&server, "eve@example.com").await;
    let bob = transfer(2500, "Bob");
    let mut wrong_digest = bob.to_json().unwrap();
    wrong_digest["digest"] = json!(transfer(999_900, "Mallory").digest().unwrap());
    let mut relabelled = bob.to_json().unwrap();
    relabelled["summary"] = json!("Send €9,999.00 to Mallory");
    let cases = [
        (json!("transfer"), 400, "invalid_action"),
        (json!({"type": "transfer"}), 400, "invalid_action"),
        (
            json!({"type": "Transfer", "summary": "x"}),
            400,
            "invalid_action",
        ),
        (
            json!({"type": "transfer", "summary": ""}),
            400,
            "invalid_action",
        ),
        (
            json!({"type": "transfer", "summary": "a\u{7}b"}),
            400,
            "invalid_action",
        ),
        (
            json!({"type": "transfer", "summary": "x", "fields": {"n": 1}}),
            400,
            "invalid_action",
        ),
        (
            json!({"type": "transfer", "summary": "x", "fields": {"Payee": "b"}}),
            400,
            "invalid_action",
        ),
        (
            json!({"type": "transfer", "summary": "x", "extra": 1}),
            400,
            "invalid_action",
        ),
        (
            json!({"type": "transfer", "summary": "x".repeat(201)}),
            400,
            "invalid_action",
        ),
        (wrong_digest, 422, "action_digest_mismatch"),
        // The summary is part of the digest: another label for the same fields is caught.
        (relabelled, 422, "action_digest_mismatch"),
    ];
    for (action, status, code) in cases {
        let (got, body) = start_for(&server, &eve, "second_factor", &action).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{action}: {body}"
        );
    }
    server.stop().await;
}
