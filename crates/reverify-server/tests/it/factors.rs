//! Second factors through the HTTP API: TOTP enrollment and replay, backup codes,
//! sign-in's second step, lockout, rate limits. Time moves on the test clock.

use std::time::Duration;

use serde_json::json;

use crate::steps::*;
use crate::support::{TestDb, TestServer};

#[tokio::test]
async fn totp_codes_confirm_enrollment_and_are_never_accepted_twice() {
    for db in TestDb::all().await {
        let server = server_on(db, |_| {}).await;
        let email = "tina@example.com";
        let (client, _) = server.sign_up(email, PASSWORD).await;
        let (secret, backup_codes) = enroll_totp(&server, &client).await;
        assert_eq!(backup_codes.len(), 10);

        // A second enrollment while one is confirmed is refused.
        let (status, body) = server.post(&client, "/v1/me/totp", json!({})).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("totp_already_enrolled"))
        );

        // The code that confirmed enrollment cannot sign in: its step is used.
        let (other, status, pending) = sign_in(&server, email, PASSWORD).await;
        assert_eq!(status, 200);
        assert_eq!(pending["status"], "needs_second_factor");
        assert_eq!(
            pending["supported_second_factors"],
            json!([{ "strategy": "totp" }, { "strategy": "backup_code" }])
        );
        assert!(
            pending.get("token").is_none(),
            "no session before the second factor"
        );
        let id = pending["id"].as_str().unwrap();
        let attempt_path = format!("/v1/sign_ins/{id}/attempt");
        let used = totp_now(&server, &secret);
        let (status, body) = server
            .post(
                &other,
                &attempt_path,
                json!({ "strategy": "totp", "code": used }),
            )
            .await;
        // A replayed code says so (the app still shows it), with its own code.
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("code_already_used")),
            "{body}"
        );

        // The next step's code works once...
        next_step(&server);
        let code = totp_now(&server, &secret);
        let (status, done) = server
            .post(
                &other,
                &attempt_path,
                json!({ "strategy": "totp", "code": code }),
            )
            .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["status"], "complete");
        assert_eq!(
            done["session"]["second_factor_verified_at"],
            json!(server_now(&server))
        );
        // ...and the same code in a parallel sign-in is a replay.
        let (third, _, pending) = sign_in(&server, email, PASSWORD).await;
        let id = pending["id"].as_str().unwrap();
        let (status, _) = server
            .post(
                &third,
                &format!("/v1/sign_ins/{id}/attempt"),
                json!({ "strategy": "totp", "code": code }),
            )
            .await;
        assert_eq!(status, 422);
        // A code from the previous step (drift) is also refused once a later one was used.
        let key = reverify_server::totp::base32_decode(&secret).unwrap();
        let earlier = reverify_server::totp::code_at(
            &key,
            reverify_server::totp::step_of(server_now(&server)) - 1,
        );
        let (status, _) = server
            .post(
                &third,
                &format!("/v1/sign_ins/{id}/attempt"),
                json!({ "strategy": "totp", "code": earlier }),
            )
            .await;
        assert_eq!(status, 422);
        // The drift tolerance itself: a code of the next step is accepted now.
        let ahead = reverify_server::totp::code_at(
            &key,
            reverify_server::totp::step_of(server_now(&server)) + 1,
        );
        let (status, body) = server
            .post(
                &third,
                &format!("/v1/sign_ins/{id}/attempt"),
                json!({ "strategy": "totp", "code": ahead }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        server.stop().await;
    }
}

fn server_now(server: &TestServer) -> i64 {
    reverify::Clock::now(&server.clock)
}

#[tokio::test]
async fn backup_codes_are_single_use_and_regenerating_kills_the_old_set() {
    for db in TestDb::all().await {
        let server = server_on(db, |_| {}).await;
        let email = "bea@example.com";
        let (client, _) = server.sign_up(email, PASSWORD).await;
        let (_, codes) = enroll_totp(&server, &client).await;

        let sign_in_with_code = |code: String| {
            let server = &server;
            async move {
                let (c, status, pending) = sign_in(server, email, PASSWORD).await;
                assert_eq!(status, 200);
                let id = pending["id"].as_str().unwrap().to_owned();
                server
                    .post(
                        &c,
                        &format!("/v1/sign_ins/{id}/attempt"),
                        json!({ "strategy": "backup_code", "code": code }),
                    )
                    .await
            }
        };
        // Typed loosely: upper case, spaces instead of dashes.
        let loose = codes[0].to_uppercase().replace('-', " ");
        let (status, done) = sign_in_with_code(loose).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["status"], "complete");
        let (status, body) = sign_in_with_code(codes[0].clone()).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("invalid_code")));
        let (status, me) = server.get(&client, "/v1/me").await;
        assert_eq!(status, 200);
        assert_eq!(me["factors"]["backup_codes_remaining"], 9);

        let (status, fresh) = server.post(&client, "/v1/me/backup_codes", json!({})).await;
        assert_eq!(status, 200, "{fresh}");
        let new_codes = fresh["backup_codes"].as_array().unwrap();
        assert_eq!(new_codes.len(), 10);
        let (status, _) = sign_in_with_code(codes[1].clone()).await;
        assert_eq!(status, 422, "the old set is dead");
        let (status, _) = sign_in_with_code(new_codes[0].as_str().unwrap().to_owned()).await;
        assert_eq!(status, 200);
        // Malformed input gets its own code.
        let (status, body) = sign_in_with_code("nope".into()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_code_format"))
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_and_the_lock_lifts_after_its_window() {
    for db in TestDb::all().await {
        let server = server_on(db, |c| {
            c.lockout.max_failures = 3;
            c.lockout.duration_secs = 120;
        })
        .await;
        let email = "lou@example.com";
        let (_client, done) = server.sign_up(email, PASSWORD).await;
        let user_id = done["user"]["id"].as_str().unwrap().to_owned();
        for _ in 0..3 {
            let (_, status, body) = sign_in(&server, email, "wrong password!").await;
            assert_eq!(
                (status, body["code"].as_str()),
                (401, Some("invalid_credentials"))
            );
        }
        // Locked: even the right password is refused, with a clear error and Retry-After.
        let r = server
            .client()
            .post(server.url("/v1/sign_ins"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 423);
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=120).contains(&retry), "{retry}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "locked");
        // An unknown email locks the same way (no enumeration through lockout).
        for _ in 0..3 {
            let (_, status, _) = sign_in(&server, "nobody@example.com", "wrong password!").await;
            assert_eq!(status, 401);
        }
        let (_, status, _) = sign_in(&server, "nobody@example.com", "wrong password!").await;
        assert_eq!(status, 423);

        server.clock.advance(Duration::from_secs(121));
        let (_, status, body) = sign_in(&server, email, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        let kinds = audit_kinds(&server, &user_id).await;
        assert!(kinds.contains(&"account.locked".to_owned()), "{kinds:?}");
        assert_eq!(
            kinds.iter().filter(|k| *k == "sign_in.failed").count(),
            3,
            "{kinds:?}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn wrong_totp_codes_end_the_sign_in_then_lock_the_factor() {
    let server = server_on(TestDb::sqlite().await, |c| {
        c.lockout.max_failures = 7;
        c.reverification.max_attempts = 5;
    })
    .await;
    let email = "tom@example.com";
    let (client, _) = server.sign_up(email, PASSWORD).await;
    let (secret, _) = enroll_totp(&server, &client).await;
    next_step(&server);
    let wrong = |code: &str| {
        if code == "000000" {
            "111111".to_owned()
        } else {
            "000000".to_owned()
        }
    };

    let (c, _, pending) = sign_in(&server, email, PASSWORD).await;
    let path = format!("/v1/sign_ins/{}/attempt", pending["id"].as_str().unwrap());
    for _ in 0..5 {
        let bad = wrong(&totp_now(&server, &secret));
        let (status, _) = server.post(&c, &path, json!({ "code": bad })).await;
        assert_eq!(status, 422);
    }
    // This sign-in is dead, even for the right code.
    let (status, body) = server
        .post(&c, &path, json!({ "code": totp_now(&server, &secret) }))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    // A new sign-in: two more wrong codes reach the account's limit (7): TOTP is locked.
    let (c, _, pending) = sign_in(&server, email, PASSWORD).await;
    let path = format!("/v1/sign_ins/{}/attempt", pending["id"].as_str().unwrap());
    for _ in 0..2 {
        let bad = wrong(&totp_now(&server, &secret));
        let (status, _) = server.post(&c, &path, json!({ "code": bad })).await;
        assert_eq!(status, 422);
    }
    let (status, body) = server
        .post(&c, &path, json!({ "code": totp_now(&server, &secret) }))
        .await;
    assert_eq!((status, body["code"].as_str()), (423, Some("locked")));
    server.clock.advance(Duration::from_secs(901));
    let client = sign_in_with_totp(&server, email, &secret).await;
    let (status, _) = server.get(&client, "/v1/sessions/current").await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn sign_ins_are_rate_limited_per_ip() {
    let server = server_on(TestDb::sqlite().await, |c| {
        c.ratelimit.sign_in_per_minute = 3
    })
    .await;
    for _ in 0..3 {
        let (_, status, _) = sign_in(&server, "rae@example.com", "wrong password!").await;
        assert_eq!(status, 401);
    }
    let r = server
        .client()
        .post(server.url("/v1/sign_ins"))
        .json(&json!({ "email": "rae@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "20");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    server.clock.advance(Duration::from_secs(20));
    let (_, status, _) = sign_in(&server, "rae@example.com", "wrong password!").await;
    assert_eq!(status, 401, "a token came back after 20 s");
    server.stop().await;
}

#[tokio::test]
async fn email_code_sign_in_of_a_totp_user_asks_for_the_second_factor() {
    let server = server_on(TestDb::sqlite().await, |_| {}).await;
    let email = "eve@example.com";
    let (client, _) = server.sign_up(email, PASSWORD).await;
    let (secret, _) = enroll_totp(&server, &client).await;
    next_step(&server);
    let other = server.client();
    let (status, flow) = server
        .post(
            &other,
            "/v1/sign_ins",
            json!({ "email": email, "strategy": "email_code" }),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/v1/sign_ins/{}/attempt", flow["id"].as_str().unwrap());
    let code = server.code_for(email).await;
    let (status, step) = server.post(&other, &path, json!({ "code": code })).await;
    assert_eq!(status, 200, "{step}");
    assert_eq!(step["status"], "needs_second_factor");
    let (status, _) = server.get(&other, "/v1/sessions/current").await;
    assert_eq!(status, 401, "no session yet");
    let (status, done) = server
        .post(
            &other,
            &path,
            json!({ "strategy": "totp", "code": totp_now(&server, &secret) }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let token = done["token"].as_str().unwrap();
    let claims = claims(&server, token).await;
    assert_eq!(claims.amr, ["email", "otp", "mfa"]);
    server.stop().await;
}

#[tokio::test]
async fn a_code_used_to_sign_in_is_refused_as_used_in_a_verification_and_is_not_a_guess() {
    for db in TestDb::all().await {
        // A small lockout budget, so that counting replays as guesses would show.
        let server = server_on(db, |c| {
            c.lockout.max_failures = 3;
            c.reverification.max_attempts = 3;
        })
        .await;
        let email = "rita@example.com";
        let (enrolled, _) = server.sign_up(email, PASSWORD).await;
        let (secret, _) = enroll_totp(&server, &enrolled).await;
        next_step(&server);

        // The second step of a sign-in uses this step's code...
        let code = totp_now(&server, &secret);
        let client = sign_in_with_totp(&server, email, &secret).await;
        // ...and a verification in the same 30 s step gets the same code from the app.
        let v = start_verification(&server, &client, "second_factor").await;
        assert_eq!(v["status"], "needs_second_factor", "{v}");
        let id = v["id"].as_str().unwrap();
        let attempts_left = v["attempts_left"].clone();
        for _ in 0..4 {
            let (status, body) = attempt(
                &server,
                &client,
                id,
                json!({ "strategy": "totp", "code": code }),
            )
            .await;
            assert_eq!(
                (status, body["code"].as_str()),
                (422, Some("code_already_used")),
                "{body}"
            );
        }
        // Four replays, more than the verification's and the session's budgets: none
        // counted, the session lives.
        let (status, v) = server
            .get(&client, &format!("/v1/sessions/current/verifications/{id}"))
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["attempts_left"], attempts_left);
        // A wrong code is a guess, and says it is wrong.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (status, body) = attempt(
            &server,
            &client,
            id,
            json!({ "strategy": "totp", "code": wrong }),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_code")),
            "{body}"
        );
        let (_, v) = server
            .get(&client, &format!("/v1/sessions/current/verifications/{id}"))
            .await;
        assert_eq!(
            v["attempts_left"].as_i64().unwrap(),
            attempts_left.as_i64().unwrap() - 1
        );
        // The next step's code completes the verification.
        next_step(&server);
        let (status, done) = attempt(
            &server,
            &client,
            id,
            json!({ "strategy": "totp", "code": totp_now(&server, &secret) }),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["verification"]["status"], "complete");

        // The sign-in's second step: a replay neither spends the flow's budget nor locks
        // the account's TOTP lane.
        let used = totp_now(&server, &secret);
        let (other, _, pending) = sign_in(&server, email, PASSWORD).await;
        let path = format!("/v1/sign_ins/{}/attempt", pending["id"].as_str().unwrap());
        for _ in 0..4 {
            let (status, body) = server
                .post(&other, &path, json!({ "strategy": "totp", "code": used }))
                .await;
            assert_eq!(
                (status, body["code"].as_str()),
                (422, Some("code_already_used")),
                "{body}"
            );
        }
        next_step(&server);
        let (status, done) = server
            .post(
                &other,
                &path,
                json!({ "strategy": "totp", "code": totp_now(&server, &secret) }),
            )
            .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["status"], "complete");
        let user_id = done["user"]["id"].as_str().unwrap();
        let kinds = audit_kinds(&server, user_id).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "verification.failed").count(),
            5,
            "replays are recorded: {kinds:?}"
        );
        assert!(
            !kinds
                .iter()
                .any(|k| k == "account.locked" || k == "session.ended")
        );
        server.stop().await;
    }
}
