//! Sign-up, sign-in, sessions and session tokens through the HTTP API of a real server.

use std::time::Duration;

use reverify::{STRICT, Verifier};
use serde_json::json;

use crate::support::{TestDb, TestServer, status_json};

fn verifier(server: &TestServer) -> Verifier {
    Verifier::builder(server.base.clone())
        .jwks_url(server.url("/.well-known/jwks.json"))
        .clock(server.clock.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn sign_up_confirms_by_email_code_and_signs_in() {
    let server = TestServer::start().await;
    let (client, done) = server
        .sign_up("Alice@Example.com ", "correct horse battery")
        .await;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["user"]["email"], "alice@example.com");
    let token = done["token"].as_str().unwrap();

    // The SDK verifies the server's token against its JWKS, offline.
    let session = verifier(&server).verify(token).await.unwrap();
    assert_eq!(session.user_id(), done["user"]["id"]);
    assert_eq!(session.session_id(), done["session"]["id"].as_str());
    assert!(
        session.has(&STRICT),
        "no second factor: a fresh first factor satisfies strict"
    );
    assert_eq!(session.claims().amr, ["pwd", "email"]);

    // The cookie session works for the current-session endpoint.
    let (status, current) = server.get(&client, "/v1/sessions/current").await;
    assert_eq!(status, 200);
    assert_eq!(current["user"]["email"], "alice@example.com");
    server.stop().await;
}

#[tokio::test]
async fn refreshing_never_makes_a_verification_look_more_recent() {
    let server = TestServer::start().await;
    let (client, _) = server
        .sign_up("bob@example.com", "correct horse battery")
        .await;
    let v = verifier(&server);
    server.clock.advance(Duration::from_secs(11 * 60));
    let r = client
        .post(server.url("/v1/sessions/current/tokens"))
        .send()
        .await
        .unwrap();
    let set_cookie: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|h| h.to_str().unwrap().to_owned())
        .collect();
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200);
    assert!(
        set_cookie.iter().any(|c| c.starts_with("__session=")),
        "{set_cookie:?}"
    );
    let session = v.verify(body["jwt"].as_str().unwrap()).await.unwrap();
    assert!(
        !session.has(&STRICT),
        "signed in 11 minutes ago: strict is stale"
    );
    assert!(session.has(&reverify::MODERATE));
    let fvt = session.claims().fvt.clone().unwrap();
    assert_eq!(
        fvt[0].as_i64().unwrap(),
        session.claims().auth_time.unwrap()
    );
    assert_eq!(session.claims().fva.clone().unwrap(), json!([11, -1]));
    server.stop().await;
}

#[tokio::test]
async fn sign_up_does_not_reveal_existing_accounts() {
    let server = TestServer::start().await;
    server
        .sign_up("carol@example.com", "correct horse battery")
        .await;
    let client = server.client();
    let (status, again) = server
        .post(
            &client,
            "/v1/sign_ups",
            json!({"email": "carol@example.com", "password": "another password"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "needs_email_code");
    assert_eq!(again["email"], "c***@example.com");
    let (_, fresh) = server
        .post(
            &client,
            "/v1/sign_ups",
            json!({"email": "dave@example.com", "password": "another password"}),
        )
        .await;
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&fresh), "same shape either way");
    // The owner is told, without a code; no code can complete that flow.
    let message = server.next_message("carol@example.com").await;
    assert_eq!(message["subject"], "You already have an account");
    assert!(message["code"].is_null());
    let id = again["id"].as_str().unwrap();
    let (status, err) = server
        .post(
            &client,
            &format!("/v1/sign_ups/{id}/attempt"),
            json!({"code": "000000"}),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (422, Some("invalid_code")));
    server.stop().await;
}

#[tokio::test]
async fn password_sign_in_says_the_same_for_unknown_email_and_wrong_password() {
    let server = TestServer::start().await;
    server
        .sign_up("erin@example.com", "correct horse battery")
        .await;
    let client = server.client();
    let (s1, wrong) = server
        .post(
            &client,
            "/v1/sign_ins",
            json!({"email": "erin@example.com", "password": "nope nope nope"}),
        )
        .await;
    let (s2, unknown) = server
        .post(
            &client,
            "/v1/sign_ins",
            json!({"email": "nobody@example.com", "password": "nope nope nope"}),
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], "invalid_credentials");
    let (status, ok) = server
        .post(
            &client,
            "/v1/sign_ins",
            json!({"email": "ERIN@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["status"], "complete");
    server.stop().await;
}

#[tokio::test]
async fn email_code_sign_in_is_single_use_limited_and_expires() {
    let server = TestServer::start().await;
    server
        .sign_up("fay@example.com", "correct horse battery")
        .await;
    let client = server.client();
    let start = |email: &'static str| {
        let (server, client) = (&server, &client);
        async move {
            let (status, flow) = server
                .post(
                    client,
                    "/v1/sign_ins",
                    json!({"email": email, "strategy": "email_code"}),
                )
                .await;
            assert_eq!(status, 200);
            flow["id"].as_str().unwrap().to_owned()
        }
    };
    // Unknown emails get the same answer, and no code.
    let ghost = start("ghost@example.com").await;
    let (status, _) = server
        .post(
            &client,
            &format!("/v1/sign_ins/{ghost}/attempt"),
            json!({"code": "123456"}),
        )
        .await;
    assert_eq!(status, 422);

    let id = start("fay@example.com").await;
    let code = server.code_for("fay@example.com").await;
    let (status, done) = server
        .post(
            &client,
            &format!("/v1/sign_ins/{id}/attempt"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let (status, reused) = server
        .post(
            &client,
            &format!("/v1/sign_ins/{id}/attempt"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (409, Some("flow_completed"))
    );

    // Five wrong codes, then the flow is locked even for the right code.
    let id = start("fay@example.com").await;
    let code = server.code_for("fay@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let (status, _) = server
            .post(
                &client,
                &format!("/v1/sign_ins/{id}/attempt"),
                json!({"code": wrong}),
            )
            .await;
        assert_eq!(status, 422);
    }
    let r = client
        .post(server.url(&format!("/v1/sign_ins/{id}/attempt")))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    let (status, locked) = status_json(r).await;
    assert_eq!(
        (status, locked["code"].as_str()),
        (429, Some("too_many_attempts"))
    );

    // Codes expire.
    let id = start("fay@example.com").await;
    let code = server.code_for("fay@example.com").await;
    server.clock.advance(Duration::from_secs(601));
    let (status, expired) = server
        .post(
            &client,
            &format!("/v1/sign_ins/{id}/attempt"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(
        (status, expired["code"].as_str()),
        (410, Some("code_expired"))
    );
    server.stop().await;
}

#[tokio::test]
async fn sessions_list_revoke_sign_out_and_time_out() {
    let server = TestServer::start().await;
    let (laptop, _) = server
        .sign_up("gus@example.com", "correct horse battery")
        .await;
    let phone = server.client();
    let (status, _) = server
        .post(
            &phone,
            "/v1/sign_ins",
            json!({"email": "gus@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200);

    let (_, list) = server.get(&laptop, "/v1/sessions").await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let phone_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Revoke the phone's session from the laptop: the phone is signed out at once.
    let r = laptop
        .delete(server.url(&format!("/v1/sessions/{phone_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = server
        .post(&phone, "/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("signed_out")));
    // Someone else's (or an unknown) session is not found.
    let r = laptop
        .delete(server.url("/v1/sessions/sess_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Idle timeout: one hour without use.
    server.clock.advance(Duration::from_secs(3601));
    let (status, _) = server.get(&laptop, "/v1/sessions/current").await;
    assert_eq!(status, 401);

    // Sign-out clears the cookies and ends the session.
    let (other, _) = server
        .sign_up("hal@example.com", "correct horse battery")
        .await;
    let r = other
        .delete(server.url("/v1/sessions/current"))
        .send()
        .await
        .unwrap();
    let cleared: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|h| h.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    let (status, _) = server.get(&other, "/v1/sessions/current").await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn sessions_end_after_their_absolute_lifetime() {
    let server = TestServer::start().await;
    let (client, _) = server
        .sign_up("ivy@example.com", "correct horse battery")
        .await;
    // Used every ~hour, so never idle: alive until the 24 hours are up.
    for _ in 0..24 {
        server.clock.advance(Duration::from_secs(3590));
        let (status, _) = server
            .post(&client, "/v1/sessions/current/tokens", json!({}))
            .await;
        assert_eq!(status, 200);
    }
    server
        .clock
        .advance(Duration::from_secs(86_400 - 24 * 3590));
    let (status, _) = server.get(&client, "/v1/sessions/current").await;
    assert_eq!(
        status, 401,
        "24 hours after sign-in, even an active session ends"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_a_stable_code() {
    let server = TestServer::start().await;
    let client = server.client();
    let raw = |body: &'static str, ct: Option<&'static str>| {
        let mut req = client.post(server.url("/v1/sign_ups")).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req
    };
    let cases = [
        (
            raw("{not json", Some("application/json")),
            400,
            "invalid_json",
        ),
        (
            raw(r#"{"email": 5, "password": "x"}"#, Some("application/json")),
            400,
            "invalid_body",
        ),
        (
            raw(r#"{"email": "a@b.co"}"#, Some("application/json")),
            400,
            "invalid_body",
        ),
        (
            raw(
                r#"{"email":"a@b.co","password":"long enough","admin":true}"#,
                Some("application/json"),
            ),
            400,
            "invalid_body",
        ),
        (
            raw(r#"{"email": "a@b.co", "password": "x"}"#, None),
            415,
            "unsupported_media_type",
        ),
        (
            raw(
                r#"{"email": "not-an-email", "password": "long enough"}"#,
                Some("application/json"),
            ),
            400,
            "invalid_email",
        ),
        (
            raw(
                r#"{"email": "a@b.co", "password": "short"}"#,
                Some("application/json"),
            ),
            400,
            "password_too_short",
        ),
    ];
    for (req, status, code) in cases {
        let (got, body) = status_json(req.send().await.unwrap()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(body["message"].is_string());
    }
    let big = format!(
        r#"{{"email": "a@b.co", "password": "{}"}}"#,
        "x".repeat(100_000)
    );
    let (status, body) = status_json(
        client
            .post(server.url("/v1/sign_ups"))
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("body_too_large"))
    );
    let (status, body) = server
        .post(
            &client,
            "/v1/sign_ups/flow_nope/attempt",
            json!({"code": "123456"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = server
        .post(
            &client,
            "/v1/sign_ups/flow_nope/attempt",
            json!({"code": "12a456"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_code_format"))
    );
    let (status, body) = server.get(&client, "/v1/nothing-here").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = server.get(&client, "/v1/sessions/current").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("signed_out")));
    let r = client.get(server.url("/healthz")).send().await.unwrap();
    assert!(
        r.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    server.stop().await;
}

#[tokio::test]
async fn keys_rotate_with_the_new_key_published_before_it_signs() {
    let server = TestServer::start().await;
    let (client, _) = server
        .sign_up("jo@example.com", "correct horse battery")
        .await;
    let v = verifier(&server);
    let token = |c: &reqwest::Client| {
        let server = &server;
        let c = c.clone();
        async move {
            let (_, body) = server
                .post(&c, "/v1/sessions/current/tokens", json!({}))
                .await;
            body["jwt"].as_str().unwrap().to_owned()
        }
    };
    let kid_of = |t: &str| {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let old = token(&client).await;
    let old_kid = kid_of(&old);
    let new_kid = server
        .state
        .keys
        .rotate(server.clock.now(), 600, 60)
        .await
        .unwrap();
    let (_, jwks) = server.get(&client, "/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [old_kid.as_str(), new_kid.as_str()],
        "published ahead of signing"
    );
    assert_eq!(
        kid_of(&token(&client).await),
        old_kid,
        "the old key still signs"
    );
    server.clock.advance(Duration::from_secs(600));
    let fresh = token(&client).await;
    assert_eq!(kid_of(&fresh), new_kid);
    assert!(v.verify(&fresh).await.is_ok());
    server.clock.advance(Duration::from_secs(121));
    let (_, jwks) = server.get(&client, "/.well-known/jwks.json").await;
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        1,
        "the old key left after its last tokens expired"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_same_flows_work_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let server = TestServer::start_with(db, |_| {}).await;
    let (client, done) = server
        .sign_up("pg@example.com", "correct horse battery")
        .await;
    assert!(
        verifier(&server)
            .verify(done["token"].as_str().unwrap())
            .await
            .is_ok()
    );
    let (status, _) = server
        .post(&client, "/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn token_refresh_reads_but_never_writes_within_a_minute() {
    let server = TestServer::start().await;
    let (client, _) = server
        .sign_up("nia@example.com", "correct horse battery")
        .await;
    // Another connection holds SQLite's write lock: a refresh that wrote would now wait
    // (up to the busy timeout); one that only reads goes through.
    let other = reverify_server::store::Store::connect(&server.db.as_ref().unwrap().url, 1)
        .await
        .unwrap();
    let lock = other.hold_write_lock().await.unwrap();
    for _ in 0..20 {
        server.clock.advance(Duration::from_secs(2));
        let r = tokio::time::timeout(
            Duration::from_secs(3),
            client
                .post(server.url("/v1/sessions/current/tokens"))
                .send(),
        )
        .await
        .expect("a refresh must not wait for the write lock")
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    drop(lock);
    other.close().await;
    server.stop().await;
}
