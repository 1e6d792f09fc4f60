//! The admin API.

use serde_json::json;

use crate::support::{TestDb, TestServer, status_json};

/// A key as `reverify admin-key generate` prints them.
const KEY: &str = "Zq3vR8mT1xKp6wYb0nLc4hUe7sJd2gFa9oQi5tVy";

async fn admin_server() -> TestServer {
    TestServer::start_with(TestDb::sqlite().await, |c| c.admin.secret_key = KEY.into()).await
}

#[tokio::test]
async fn the_admin_api_needs_the_secret_key() {
    let server = admin_server().await;
    let client = server.client();
    let (status, body) = server.get(&client, "/v1/admin/users").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("admin_unauthorized"))
    );
    let r = client
        .get(server.url("/v1/admin/users"))
        .bearer_auth("sk_test_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;

    // Without a configured key the admin API does not exist.
    let off = TestServer::start().await;
    let r = off
        .client()
        .get(off.url("/v1/admin/users"))
        .bearer_auth("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    off.stop().await;
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let server = admin_server().await;
    let client = server.client();
    for value in [
        format!("Bearer {KEY}"),
        format!("bearer {KEY}"),
        format!("BEARER {KEY}"),
        format!("Bearer   {KEY}"),
    ] {
        let r = client
            .get(server.url("/v1/admin/users"))
            .header("authorization", &value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{value}");
    }
    for value in [
        format!("Basic {KEY}"),
        KEY.to_owned(),
        format!("Bearer{KEY}"),
    ] {
        let r = client
            .get(server.url("/v1/admin/users"))
            .header("authorization", &value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{value}");
    }
    server.stop().await;
}

#[tokio::test]
async fn wrong_keys_are_limited_per_client_ip() {
    let server = admin_server().await;
    let client = server.client();
    let request = |key: &str| client.get(server.url("/v1/admin/users")).bearer_auth(key);
    let send = |key: &str| request(key).send();
    // The right key does not use up the allowance.
    for _ in 0..15 {
        assert_eq!(send(KEY).await.unwrap().status(), 200);
    }
    // 100 wrong keys at once: at most 10 are compared, the rest are refused unread.
    let wrong: Vec<_> = (0..100)
        .map(|i| request(&format!("{}{i}", &KEY[..30])))
        .collect();
    let statuses: Vec<u16> = futures_join(wrong).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 90);
    // Limited: even the right key waits (or the limit would answer which key is right).
    let r = send(KEY).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "6");
    let (_, body) = status_json(r).await;
    assert_eq!(body["code"], "rate_limited");
    // One failure's worth of time later, one more key is compared.
    server.clock.advance(std::time::Duration::from_secs(6));
    assert_eq!(send(KEY).await.unwrap().status(), 200);
    assert_eq!(send("still wrong").await.unwrap().status(), 401);
    assert_eq!(send(KEY).await.unwrap().status(), 429);
    server.stop().await;
}

/// Sends all at once; their statuses, in order.
async fn futures_join(requests: Vec<reqwest::RequestBuilder>) -> Vec<u16> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(r.send()))
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().unwrap().status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn a_weak_admin_key_stops_the_server_at_start() {
    let db = TestDb::sqlite().await;
    let mut config = crate::support::test_config(&db.url);
    config.admin.secret_key = "x".into();
    let e = reverify_server::AppState::new(config).await.unwrap_err();
    let text = reverify_server::error::chain(&e);
    assert!(
        text.contains("admin.secret_key is too weak") && text.contains("admin-key generate"),
        "{text}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn admins_manage_users_and_sessions() {
    let server = admin_server().await;
    let admin = server.client();
    let call = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
        let mut req = admin.request(method, server.url(path)).bearer_auth(KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move { status_json(req.send().await.unwrap()).await }
    };
    let (status, created) = call(
        reqwest::Method::POST,
        "/v1/admin/users",
        Some(json!({"email": "Lee@Example.com", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["email"], "lee@example.com");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, dup) = call(
        reqwest::Method::POST,
        "/v1/admin/users",
        Some(json!({"email": "lee@example.com"})),
    )
    .await;
    assert_eq!((status, dup["code"].as_str()), (409, Some("email_taken")));
    let (status, bad) = call(
        reqwest::Method::POST,
        "/v1/admin/users",
        Some(json!({"email": "nope"})),
    )
    .await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_email")));
    let (status, bad) = call(reqwest::Method::GET, "/v1/admin/users?limit=0", None).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_query")));

    // The user signs in with the password the admin set.
    let user = server.client();
    let (status, _) = server
        .post(
            &user,
            "/v1/sign_ins",
            json!({"email": "lee@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, sessions) = call(
        reqwest::Method::GET,
        &format!("/v1/admin/users/{id}/sessions"),
        None,
    )
    .await;
    let sid = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("/v1/admin/sessions/{sid}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = server.get(&user, "/v1/sessions/current").await;
    assert_eq!(status, 401, "revoked by the admin");

    let (status, listed) = call(reqwest::Method::GET, "/v1/admin/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["users"].as_array().unwrap().len(), 1);
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("/v1/admin/users/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, gone) = call(reqwest::Method::GET, &format!("/v1/admin/users/{id}"), None).await;
    assert_eq!((status, gone["code"].as_str()), (404, Some("not_found")));
    server.stop().await;
}

#[tokio::test]
async fn cors_allows_configured_origins_only_and_their_tokens_carry_azp() {
    let server = TestServer::start_with(TestDb::sqlite().await, |c| {
        c.server.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let client = server.client();
    let preflight = |origin: &'static str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                server.url("/v1/sessions/current/tokens"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight("https://evil.example.com").await.unwrap();
    assert!(!evil.headers().contains_key("access-control-allow-origin"));

    let (signed_in, _) = server
        .sign_up("max@example.com", "correct horse battery")
        .await;
    let r = signed_in
        .post(server.url("/v1/sessions/current/tokens"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let (_, body) = status_json(r).await;
    let verifier = reverify::Verifier::builder(server.base.clone())
        .jwks_url(server.url("/.well-known/jwks.json"))
        .clock(server.clock.clone())
        .authorized_parties(["https://app.example.com"])
        .build()
        .unwrap();
    let session = verifier
        .verify(body["jwt"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        session.claims().azp.as_deref(),
        Some("https://app.example.com")
    );
    server.stop().await;
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn published_kids(server: &TestServer) -> Vec<String> {
    let (_, jwks) = server.get(&server.client(), "/.well-known/jwks.json").await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Emergency revocation of a leaked signing key: it leaves the JWKS and stops signing at
/// once on the instance that revokes it and within 30 s on the others, a new key signs at
/// once, SDK verifiers refuse the key's tokens as soon as they refetch, and the JWKS
/// `max-age` keeps the whole chain within 300 s.
#[tokio::test]
async fn a_revoked_key_leaves_the_jwks_and_never_signs_again() {
    let server = admin_server().await;
    let other = server.second_instance().await;
    let (client, done) = server
        .sign_up("kim@example.com", "correct horse battery")
        .await;
    let old_token = done["token"].as_str().unwrap().to_owned();
    let leaked = kid_of(&old_token);
    let verifier = reverify::Verifier::builder(server.base.clone())
        .jwks_url(server.url("/.well-known/jwks.json"))
        .clock(server.clock.clone())
        .build()
        .unwrap();
    verifier.verify(&old_token).await.unwrap();
    let r = client
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=270");
    assert_eq!(published_kids(&other).await, [leaked.as_str()]);

    let revoke = |kid: &str, key: &str| {
        let req = client
            .post(server.url(&format!("/v1/admin/keys/{kid}/revoke")))
            .bearer_auth(key);
        async move { status_json(req.send().await.unwrap()).await }
    };
    let (status, body) = revoke(&leaked, "sk_test_wrong").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("admin_unauthorized"))
    );
    assert_eq!(published_kids(&server).await, [leaked.as_str()]);
    let (status, body) = revoke("ins_unknown", KEY).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    let (status, body) = revoke(&leaked, KEY).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["kid"].as_str(), body["revoked"].as_bool()),
        (Some(leaked.as_str()), Some(true))
    );
    let replacement = body["replaced_by"].as_str().unwrap().to_owned();
    assert_ne!(replacement, leaked);

    // This instance: out of the JWKS, and the new key signs, at once.
    assert_eq!(published_kids(&server).await, [replacement.as_str()]);
    let (_, minted) = server
        .post(&client, "/v1/sessions/current/tokens", json!({}))
        .await;
    let fresh = minted["jwt"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&fresh), replacement);
    // The other instance has not reread the keys yet (at most 30 s)…
    assert_eq!(published_kids(&other).await, [leaked.as_str()]);

    // …and has 30 s later: it neither publishes nor signs with the revoked key.
    server.clock.advance(std::time::Duration::from_secs(30));
    assert_eq!(published_kids(&other).await, [replacement.as_str()]);
    let (_, minted) = other
        .post(&client, "/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!(kid_of(minted["jwt"].as_str().unwrap()), replacement);

    // The verifier meets the new key, refetches, and drops the revoked one with its cache.
    verifier.verify(&fresh).await.unwrap();
    assert_eq!(
        verifier.verify(&old_token).await.unwrap_err(),
        reverify::Error::UnknownKey
    );

    let (_, events) = status_json(
        client
            .get(server.url("/v1/admin/audit_events?kind=key.revoked"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["detail"],
        json!({"kid": leaked, "replaced_by": replacement, "by": "admin"})
    );
    assert_eq!(events[0]["ip"], "127.0.0.1");
    other.stop().await;
    server.stop().await;
}
