//! The admin API.

use serde_json::json;

use crate::support::{TestDb, TestServer, status_json};

const KEY: &str = "sk_test_0123456789abcdef";

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
