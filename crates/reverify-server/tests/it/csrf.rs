//! Cross-site request forgery: a state-changing request that carries cookies must come from
//! the server's own origin or an allowed one (`Sec-Fetch-Site` / `Origin`), or it is refused
//! with 403 `cross_site_request`.

use reverify_server::store::AuditFilter;
use serde_json::{Value, json};

use crate::steps::*;
use crate::support::{TestDb, TestServer, status_json};

const APP: &str = "https://app.example.com";

async fn regenerations(server: &TestServer, user_id: &str) -> usize {
    server
        .state
        .store
        .audit_events(&AuditFilter {
            user_id: Some(user_id.into()),
            kind: Some("factor.backup_codes_regenerated".into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .len()
}

/// A bodiless POST to the backup codes with the browser's cookies and these headers.
async fn post_backup_codes(
    server: &TestServer,
    client: &reqwest::Client,
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut request = client.post(server.url("/v1/me/backup_codes"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    status_json(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_cross_origin_bodiless_post_cannot_replace_the_backup_codes() {
    let server = server_on(TestDb::sqlite().await, |c| {
        c.server.allowed_origins = vec![APP.into()];
    })
    .await;
    let (client, done) = server.sign_up("cyd@example.com", PASSWORD).await;
    let user_id = done["user"]["id"].as_str().unwrap().to_owned();
    enroll_totp(&server, &client).await;
    // Another origin of the same site (another port of this host): SameSite=Lax lets the
    // session cookie through, so only the origin check stands in the way.
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let sibling = format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap() ^ 1);
    let forged: Vec<Vec<(&str, String)>> = vec![
        vec![("origin", sibling.clone())],
        vec![("origin", sibling), ("sec-fetch-site", "same-site".into())],
        vec![
            ("origin", "https://evil.example".into()),
            ("sec-fetch-site", "cross-site".into()),
        ],
        vec![("sec-fetch-site", "cross-site".into())],
        vec![("origin", "null".into())],
        // The server's own host over another scheme is another origin.
        vec![("origin", format!("https://127.0.0.1:{port}"))],
    ];
    for headers in &forged {
        let (status, body) = post_backup_codes(&server, &client, headers).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("cross_site_request")),
            "{headers:?}: {body}"
        );
    }
    assert_eq!(
        regenerations(&server, &user_id).await,
        0,
        "no forged request replaced the codes"
    );

    // The page's own requests pass: modern browsers say `same-origin`, older ones send the
    // server's origin; an allowed origin passes; a client that sends neither header (curl,
    // this test's reqwest) is not a browser and passes too.
    let own: Vec<Vec<(&str, String)>> = vec![
        vec![
            ("sec-fetch-site", "same-origin".into()),
            ("origin", server.base.clone()),
        ],
        vec![("origin", server.base.clone())],
        vec![
            ("origin", APP.into()),
            ("sec-fetch-site", "cross-site".into()),
        ],
        vec![],
    ];
    for headers in &own {
        let (status, body) = post_backup_codes(&server, &client, headers).await;
        assert_eq!(status, 200, "{headers:?}: {body}");
        assert_eq!(body["backup_codes"].as_array().unwrap().len(), 10);
    }
    assert_eq!(regenerations(&server, &user_id).await, own.len());
    server.stop().await;
}

#[tokio::test]
async fn every_state_changing_method_with_cookies_is_guarded_and_bearer_requests_are_not() {
    let server = server_on(TestDb::sqlite().await, |_| {}).await;
    let (client, _) = server.sign_up("dee@example.com", PASSWORD).await;
    let evil = |method: reqwest::Method, path: &str| {
        client
            .request(method, server.url(path))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
    };
    for (method, path) in [
        (reqwest::Method::POST, "/v1/sessions/current/tokens"),
        (reqwest::Method::POST, "/v1/sign_ins"),
        (reqwest::Method::PATCH, "/v1/me/passkeys/pk_x"),
        (reqwest::Method::DELETE, "/v1/sessions/current"),
        (reqwest::Method::DELETE, "/v1/me"),
    ] {
        let (status, body) = status_json(evil(method.clone(), path).send().await.unwrap()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("cross_site_request")),
            "{method} {path}"
        );
    }
    // Reads are not guarded (and a signed-in read shows the session survived).
    let (status, _) = status_json(
        evil(reqwest::Method::GET, "/v1/sessions/current")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    // The admin API authenticates by bearer key, which no page on another site can make a
    // browser send: not guarded, even with cookies.
    let (status, body) = status_json(
        evil(reqwest::Method::POST, "/v1/admin/users")
            .bearer_auth(&server.state.config.admin.secret_key)
            .json(&json!({"email": "eve@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Without cookies there is no ambient authority to abuse: a cross-origin sign-in is
    // up to CORS, as before.
    let (status, _) = status_json(
        server
            .client()
            .post(server.url("/v1/sign_ins"))
            .header("origin", "https://evil.example")
            .json(&json!({"email": "dee@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn embedded_on_the_apps_origin_the_requests_host_is_the_servers_own() {
    // Mounted under /auth, reached by another name than `server.public_url`'s host (here
    // 127.0.0.1 for `localhost`): the request's own origin, with the public URL's scheme.
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let server = TestServer::start_with(db, |c| {
        c.database.url = url;
        c.server.public_url = "http://localhost:9/auth".into();
    })
    .await;
    let (client, _) = server.sign_up("eli@example.com", PASSWORD).await;
    let refresh = |origin: String| {
        client
            .post(server.url("/v1/sessions/current/tokens"))
            .header("origin", origin)
            .send()
    };
    let (status, _) = status_json(refresh(server.base.clone()).await.unwrap()).await;
    assert_eq!(status, 200);
    let (status, _) = status_json(refresh("http://localhost:9".into()).await.unwrap()).await;
    assert_eq!(status, 200, "the public URL's origin");
    let https = server.base.replace("http://", "https://");
    let (status, _) = status_json(refresh(https).await.unwrap()).await;
    assert_eq!(status, 403, "the public URL says http");
    server.stop().await;
}
