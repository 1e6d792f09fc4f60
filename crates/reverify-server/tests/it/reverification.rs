//! The reverification flow and the server's own sensitive endpoints, end to end over
//! HTTP, with time on the test clock.

use std::time::Duration;

use reqwest::Method;
use reverify::{STRICT, STRICT_MFA};
use serde_json::json;

use crate::steps::*;
use crate::support::{TestDb, TestServer};

fn eleven_minutes(server: &TestServer) {
    server.clock.advance(Duration::from_secs(11 * 60));
}

#[tokio::test]
async fn a_password_only_user_satisfies_strict_with_a_password_verification() {
    for db in TestDb::all().await {
        let server = server_on(db, |_| {}).await;
        let (client, done) = server.sign_up("pat@example.com", PASSWORD).await;
        let user_id = done["user"]["id"].as_str().unwrap().to_owned();
        let fresh = freshness(&server, &client).await;
        assert_eq!(fresh["strict"]["satisfied"], true);
        let remaining = fresh["strict"]["seconds_remaining"].as_i64().unwrap();
        assert!((595..=600).contains(&remaining), "{remaining}");

        eleven_minutes(&server);
        let fresh = freshness(&server, &client).await;
        assert_eq!(
            fresh["strict"],
            json!({ "satisfied": false, "seconds_remaining": 0 })
        );
        assert_eq!(fresh["moderate"]["satisfied"], true);
        let (status, body, challenge) = sensitive(
            &server,
            &client,
            Method::POST,
            "/v1/me/password",
            Some(json!({ "new_password": "a brand new password" })),
        )
        .await;
        assert_reverification_error(status, &body, challenge.as_deref());

        // No second factor: second_factor falls back to a first-factor verification.
        let v = start_verification(&server, &client, "second_factor").await;
        assert_eq!(v["status"], "needs_first_factor");
        assert_eq!(v["supported_second_factors"], json!([]));
        let strategies: Vec<&str> = v["supported_first_factors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["strategy"].as_str().unwrap())
            .collect();
        assert_eq!(strategies, ["password", "email_code"]);
        assert_eq!(
            v["supported_first_factors"][1]["safe_identifier"],
            "p***@example.com"
        );
        let id = v["id"].as_str().unwrap();

        let (status, body) = attempt(
            &server,
            &client,
            id,
            json!({ "strategy": "password", "password": "nope nope nope" }),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("incorrect_password"))
        );
        let (status, body) = attempt(
            &server,
            &client,
            id,
            json!({ "strategy": "totp", "code": "123456" }),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("strategy_not_allowed"))
        );

        let verified_at = server.clock.now();
        let r = client
            .post(server.url(&format!("/v1/sessions/current/verifications/{id}/attempt")))
            .json(&json!({ "strategy": "password", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("__session="))
            .expect("the fresh token is set as the __session cookie");
        let done: serde_json::Value = r.json().await.unwrap();
        assert_eq!(done["verification"]["status"], "complete");
        let token = done["token"].as_str().unwrap();
        assert!(cookie.starts_with(&format!("__session={token};")));
        let claims = claims(&server, token).await;
        assert_eq!(claims.fvt, Some(json!([verified_at, -1])));
        assert!(reverify::decision::has(
            &claims,
            &STRICT,
            server.clock.now()
        ));
        assert_eq!(done["reverification"]["strict"]["satisfied"], true);

        let (status, body, _) = sensitive(
            &server,
            &client,
            Method::POST,
            "/v1/me/password",
            Some(json!({ "new_password": "a brand new password" })),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // The verification is used up.
        let (status, body) = attempt(
            &server,
            &client,
            id,
            json!({ "strategy": "password", "password": PASSWORD }),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("verification_ended"))
        );

        let kinds = audit_kinds(&server, &user_id).await;
        for expected in [
            "sign_up.completed",
            "verification.started",
            "verification.failed",
            "verification.succeeded",
            "password.changed",
        ] {
            assert!(
                kinds.contains(&expected.to_owned()),
                "{expected} in {kinds:?}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_verification_elevates_only_its_own_session() {
    let server = server_on(TestDb::sqlite().await, |_| {}).await;
    let email = "sam@example.com";
    let (a, _) = server.sign_up(email, PASSWORD).await;
    let (b, status, _) = sign_in(&server, email, PASSWORD).await;
    assert_eq!(status, 200);
    eleven_minutes(&server);

    let v = start_verification(&server, &a, "first_factor").await;
    let id = v["id"].as_str().unwrap();
    // Session B cannot see, use or cancel A's verification.
    let (status, _) = server
        .get(&b, &format!("/v1/sessions/current/verifications/{id}"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = attempt(
        &server,
        &b,
        id,
        json!({ "strategy": "password", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = attempt(
        &server,
        &a,
        id,
        json!({ "strategy": "password", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(freshness(&server, &a).await["strict"]["satisfied"], true);
    assert_eq!(freshness(&server, &b).await["strict"]["satisfied"], false);
    let (status, body, challenge) =
        sensitive(&server, &b, Method::POST, "/v1/me/backup_codes", None).await;
    assert_reverification_error(status, &body, challenge.as_deref());
    server.stop().await;
}

#[tokio::test]
async fn refresh_after_verification_keeps_the_new_times_and_never_advances_them() {
    let server = server_on(TestDb::sqlite().await, |_| {}).await;
    let (client, done) = server.sign_up("rex@example.com", PASSWORD).await;
    let signed_in_at = claims(&server, done["token"].as_str().unwrap()).await.iat;
    eleven_minutes(&server);
    let v = start_verification(&server, &client, "first_factor").await;
    let verified_at = server.clock.now();
    let (status, _) = attempt(
        &server,
        &client,
        v["id"].as_str().unwrap(),
        json!({ "strategy": "password", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(verified_at > signed_in_at);
    for minutes in [0, 3, 9, 30] {
        server.clock.advance(Duration::from_secs(minutes * 60));
        let (status, t) = server
            .post(&client, "/v1/sessions/current/tokens", json!({}))
            .await;
        assert_eq!(status, 200, "{t}");
        let c = claims(&server, t["jwt"].as_str().unwrap()).await;
        assert_eq!(
            c.fvt,
            Some(json!([verified_at, -1])),
            "refresh at +{minutes} min"
        );
        assert_eq!(c.auth_time, Some(signed_in_at), "auth_time is the sign-in");
        assert_eq!(c.iat, server.clock.now());
    }
    server.stop().await;
}

#[tokio::test]
async fn totp_enrolled_mid_session_must_be_verified_for_strict() {
    for db in TestDb::all().await {
        let server = server_on(db, |_| {}).await;
        let email = "tess@example.com";
        let (a, _) = server.sign_up(email, PASSWORD).await;
        let (b, status, _) = sign_in(&server, email, PASSWORD).await;
        assert_eq!(status, 200);
        assert_eq!(freshness(&server, &b).await["strict"]["satisfied"], true);

        // A enrolls TOTP: the code it typed counts for A; B has not verified it.
        let (secret, _) = enroll_totp(&server, &a).await;
        assert_eq!(freshness(&server, &a).await["strict"]["satisfied"], true);
        assert_eq!(
            freshness(&server, &a).await["strict_mfa"]["satisfied"],
            true
        );
        assert_eq!(freshness(&server, &b).await["strict"]["satisfied"], false);
        let (status, t) = server
            .post(&b, "/v1/sessions/current/tokens", json!({}))
            .await;
        assert_eq!(status, 200);
        let c = claims(&server, t["jwt"].as_str().unwrap()).await;
        assert_eq!(
            c.fvt.as_ref().unwrap()[1],
            0,
            "enrolled, not verified in this session"
        );
        assert!(!reverify::decision::has(&c, &STRICT, server.clock.now()));
        let (status, body, challenge) =
            sensitive(&server, &b, Method::DELETE, "/v1/me/totp", None).await;
        assert_reverification_error(status, &body, challenge.as_deref());

        // B is asked for the second factor, not the password.
        let v = start_verification(&server, &b, "second_factor").await;
        assert_eq!(v["status"], "needs_second_factor");
        assert_eq!(
            v["supported_second_factors"],
            json!([{ "strategy": "totp" }, { "strategy": "backup_code" }])
        );
        let id = v["id"].as_str().unwrap();
        let (status, body) = attempt(
            &server,
            &b,
            id,
            json!({ "strategy": "password", "password": PASSWORD }),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("strategy_not_allowed"))
        );
        // The enrollment code's step is used; the next step's code completes.
        let (status, _) = attempt(
            &server,
            &b,
            id,
            json!({ "strategy": "totp", "code": totp_now(&server, &secret) }),
        )
        .await;
        assert_eq!(status, 422);
        next_step(&server);
        let (status, done) = attempt(
            &server,
            &b,
            id,
            json!({ "strategy": "totp", "code": totp_now(&server, &secret) }),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["verification"]["status"], "complete");
        let c = claims(&server, done["token"].as_str().unwrap()).await;
        assert!(reverify::decision::has(&c, &STRICT, server.clock.now()));
        assert!(c.amr.contains(&"otp".to_owned()) && c.amr.contains(&"mfa".to_owned()));
        let (status, body, _) = sensitive(&server, &b, Method::DELETE, "/v1/me/totp", None).await;
        assert_eq!(status, 200, "{body}");
        // Removing the factor: back to "no second factor" everywhere.
        let (status, t) = server
            .post(&a, "/v1/sessions/current/tokens", json!({}))
            .await;
        assert_eq!(status, 200);
        let c = claims(&server, t["jwt"].as_str().unwrap()).await;
        assert_eq!(c.fvt.as_ref().unwrap()[1], -1);
        server.stop().await;
    }
}

#[tokio::test]
async fn multi_factor_asks_for_both_and_email_codes_are_single_use_and_expire() {
    let server = server_on(TestDb::sqlite().await, |c| c.email.code_ttl_secs = 120).await;
    let email = "mia@example.com";
    let (client, _) = server.sign_up(email, PASSWORD).await;
    let (secret, codes) = enroll_totp(&server, &client).await;
    eleven_minutes(&server);

    let v = start_verification(&server, &client, "multi_factor").await;
    assert_eq!(v["status"], "needs_first_factor");
    let id = v["id"].as_str().unwrap().to_owned();
    let prepare = |strategy: &'static str| {
        let (server, client, id) = (&server, &client, id.clone());
        async move {
            server
                .post(
                    client,
                    &format!("/v1/sessions/current/verifications/{id}/prepare"),
                    json!({ "strategy": strategy }),
                )
                .await
        }
    };
    let (status, body) = attempt(
        &server,
        &client,
        &id,
        json!({ "strategy": "email_code", "code": "123456" }),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("not_prepared")));
    let (status, _) = prepare("email_code").await;
    assert_eq!(status, 200);
    let first_code = server.code_for(email).await;
    // Expiry: a code is worth code_ttl_secs.
    server.clock.advance(Duration::from_secs(121));
    let (status, body) = attempt(
        &server,
        &client,
        &id,
        json!({ "strategy": "email_code", "code": first_code }),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (410, Some("code_expired")));
    let (status, _) = prepare("email_code").await;
    assert_eq!(status, 200);
    let code = server.code_for(email).await;
    let (status, step) = attempt(
        &server,
        &client,
        &id,
        json!({ "strategy": "email_code", "code": code }),
    )
    .await;
    assert_eq!(status, 200, "{step}");
    assert_eq!(step["status"], "needs_second_factor");
    assert!(step.get("token").is_none());
    // Reuse: the code is gone with its step.
    let (status, _) = attempt(
        &server,
        &client,
        &id,
        json!({ "strategy": "email_code", "code": code }),
    )
    .await;
    assert_eq!(
        status, 400,
        "email_code is not allowed any more at this step"
    );
    let (status, done) = attempt(
        &server,
        &client,
        &id,
        json!({ "strategy": "backup_code", "code": codes[3] }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["verification"]["status"], "complete");
    let c = claims(&server, done["token"].as_str().unwrap()).await;
    assert!(reverify::decision::has(&c, &STRICT_MFA, server.clock.now()));

    // A new verification: the used email code is not valid there either.
    let v = start_verification(&server, &client, "first_factor").await;
    let id = v["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .post(
            &client,
            &format!("/v1/sessions/current/verifications/{id}/prepare"),
            json!({ "strategy": "email_code" }),
        )
        .await;
    assert_eq!(status, 200);
    let fresh = server.code_for(email).await;
    let old = if fresh == code {
        "000000".to_owned()
    } else {
        code
    };
    let (status, _) = attempt(
        &server,
        &client,
        &id,
        json!({ "strategy": "email_code", "code": old }),
    )
    .await;
    assert_eq!(status, 422);
    let _ = secret;
    server.stop().await;
}

#[tokio::test]
async fn verifications_expire_die_after_wrong_attempts_and_can_be_cancelled() {
    let server = server_on(TestDb::sqlite().await, |c| {
        c.reverification.max_attempts = 3
    })
    .await;
    let (client, done) = server.sign_up("val@example.com", PASSWORD).await;
    let user_id = done["user"]["id"].as_str().unwrap().to_owned();
    let v = start_verification(&server, &client, "first_factor").await;
    let id = v["id"].as_str().unwrap();
    for left in [2, 1, 0] {
        let (status, _) = attempt(
            &server,
            &client,
            id,
            json!({ "strategy": "password", "password": "wrong wrong" }),
        )
        .await;
        assert_eq!(status, 422);
        let (_, v) = server
            .get(&client, &format!("/v1/sessions/current/verifications/{id}"))
            .await;
        assert_eq!(v["attempts_left"], left);
    }
    let (status, body) = attempt(
        &server,
        &client,
        id,
        json!({ "strategy": "password", "password": PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );

    let v = start_verification(&server, &client, "first_factor").await;
    let id = v["id"].as_str().unwrap();
    server.clock.advance(Duration::from_secs(601));
    let (status, body) = attempt(
        &server,
        &client,
        id,
        json!({ "strategy": "password", "password": PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("verification_expired"))
    );

    let v = start_verification(&server, &client, "first_factor").await;
    let id = v["id"].as_str().unwrap();
    let r = client
        .delete(server.url(&format!("/v1/sessions/current/verifications/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = attempt(
        &server,
        &client,
        id,
        json!({ "strategy": "password", "password": PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("verification_ended"))
    );
    let (status, body) = server
        .post(
            &client,
            "/v1/sessions/current/verifications",
            json!({ "level": "everything" }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_level"))
    );
    let kinds = audit_kinds(&server, &user_id).await;
    assert!(
        kinds.contains(&"verification.cancelled".to_owned()),
        "{kinds:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_servers_sensitive_endpoints_refuse_a_stale_session_and_work_after_verification() {
    for db in TestDb::all().await {
        let server = server_on(db, |_| {}).await;
        let email = "sue@example.com";
        let (client, done) = server.sign_up(email, PASSWORD).await;
        let user_id = done["user"]["id"].as_str().unwrap().to_owned();
        let (other, _, signed_in) = sign_in(&server, email, PASSWORD).await;
        let other_id = signed_in["session"]["id"].as_str().unwrap().to_owned();
        eleven_minutes(&server);
        let (_, _, _) = (other, 0, 0);
        let calls: Vec<(Method, String, Option<serde_json::Value>)> = vec![
            (
                Method::POST,
                "/v1/me/password".into(),
                Some(json!({ "new_password": "another good password" })),
            ),
            (Method::POST, "/v1/me/totp".into(), None),
            (Method::DELETE, "/v1/me/totp".into(), None),
            (Method::POST, "/v1/me/backup_codes".into(), None),
            (Method::DELETE, format!("/v1/sessions/{other_id}"), None),
            (Method::DELETE, "/v1/me".into(), None),
        ];
        for (method, path, body) in &calls {
            let (status, b, challenge) =
                sensitive(&server, &client, method.clone(), path, body.clone()).await;
            assert_reverification_error(status, &b, challenge.as_deref());
        }
        // Reading is not sensitive.
        let (status, _) = server.get(&client, "/v1/me").await;
        assert_eq!(status, 200);

        let v = start_verification(&server, &client, "second_factor").await;
        let (status, _) = attempt(
            &server,
            &client,
            v["id"].as_str().unwrap(),
            json!({ "strategy": "password", "password": PASSWORD }),
        )
        .await;
        assert_eq!(status, 200);
        let (status, b, _) = sensitive(
            &server,
            &client,
            Method::DELETE,
            &format!("/v1/sessions/{other_id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{b}");
        let (status, b, _) = sensitive(&server, &client, Method::DELETE, "/v1/me", None).await;
        assert_eq!(status, 200, "{b}");
        let (status, _) = server.get(&client, "/v1/me").await;
        assert_eq!(status, 401, "the account is gone");
        let kinds = audit_kinds(&server, &user_id).await;
        assert!(
            kinds.ends_with(&[
                "verification.succeeded".into(),
                "session.revoked".into(),
                "account.deleted".into()
            ]),
            "{kinds:?}"
        );
        server.stop().await;
    }
}
