//! What a page asks before and around signing in: `GET /v1/environment` (the product and
//! the password rules) and `GET /v1/client` ("am I signed in?", never an error).

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestDb, TestServer, http_client, status_json};

const PASSWORD: &str = "correct horse battery";

/// `GET path` with `cookie` as the `Cookie` header; status, `Set-Cookie` values, body.
async fn get_with_cookie(
    server: &TestServer,
    path: &str,
    cookie: Option<&str>,
) -> (u16, Vec<String>, Value) {
    let mut request = http_client(false).get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let r = request.send().await.unwrap();
    let set_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|h| h.to_str().unwrap().to_owned())
        .collect();
    let (status, body) = status_json(r).await;
    (status, set_cookie, body)
}

fn signed_out() -> Value {
    json!({ "session": null, "user": null, "reverification": null })
}

/// Both cookies cleared, as sign-out clears them.
fn assert_cleared(set_cookie: &[String], session_cookie: &str) {
    for name in [session_cookie, "__session"] {
        assert!(
            set_cookie
                .iter()
                .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
            "{name} not cleared: {set_cookie:?}"
        );
    }
}

#[tokio::test]
async fn the_environment_names_the_product_and_the_password_rules_and_may_be_cached() {
    // Defaults: the name authenticator apps show, no logo.
    let server = TestServer::start_with(TestDb::sqlite().await, |c| {
        c.totp.issuer = "Acme".into();
        c.passwords.min_length = 12;
    })
    .await;
    let r = http_client(false)
        .get(server.url("/v1/environment"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "app": { "name": "Acme", "logo_url": null },
            "password": { "min_length": 12, "max_length": 256 },
        })
    );
    server.stop().await;

    // `[app]` set: its name wins over the issuer; the logo as configured.
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let server = TestServer::start_with(db, |c| {
        c.database.url = url;
        c.app.name = "Acme Bank".into();
        c.app.logo_url = "/static/logo.svg".into();
    })
    .await;
    let (status, body) = server.get(&http_client(false), "/v1/environment").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["app"],
        json!({ "name": "Acme Bank", "logo_url": "/static/logo.svg" })
    );
    server.stop().await;
}

#[tokio::test]
async fn am_i_signed_in_is_never_an_error_and_an_ended_session_clears_its_cookies() {
    for db in TestDb::all().await {
        let url = db.url.clone();
        let server = TestServer::start_with(db, |c| c.database.url = url).await;
        let cookie_name = server.state.config.session_cookie_name();

        // No cookie at all: signed out, nothing to clear.
        let (status, set_cookie, body) = get_with_cookie(&server, "/v1/client", None).await;
        assert_eq!((status, &body), (200, &signed_out()));
        assert!(set_cookie.is_empty(), "{set_cookie:?}");

        // An unknown session cookie: signed out, and the cookies cleared.
        let unknown = format!("{cookie_name}=nope; __session=stale");
        let (status, set_cookie, body) =
            get_with_cookie(&server, "/v1/client", Some(&unknown)).await;
        assert_eq!((status, &body), (200, &signed_out()));
        assert_cleared(&set_cookie, &cookie_name);

        // Signed in: exactly the body of GET /v1/sessions/current.
        let (client, _) = server.sign_up("cleo@example.com", PASSWORD).await;
        let (status, current) = server.get(&client, "/v1/sessions/current").await;
        assert_eq!(status, 200);
        let (status, body) = server.get(&client, "/v1/client").await;
        assert_eq!((status, &body), (200, &current));
        assert_eq!(body["user"]["email"], "cleo@example.com");
        assert!(body["reverification"]["strict"]["satisfied"].is_boolean());

        // Signed out elsewhere (another tab, an admin, a revocation): signed out here, and
        // the browser's cookies cleared.
        let secret = sign_in_bare(&server, "cleo@example.com", &cookie_name).await;
        let cookie = format!("{cookie_name}={secret}");
        let (status, _, body) = get_with_cookie(&server, "/v1/client", Some(&cookie)).await;
        assert_eq!(status, 200);
        assert_eq!(body["user"]["email"], "cleo@example.com");
        let r = http_client(false)
            .delete(server.url("/v1/sessions/current"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (status, set_cookie, body) =
            get_with_cookie(&server, "/v1/client", Some(&cookie)).await;
        assert_eq!((status, &body), (200, &signed_out()));
        assert_cleared(&set_cookie, &cookie_name);

        // An idle session: the same.
        let (client, _) = server.sign_up("cyd@example.com", PASSWORD).await;
        server.clock.advance(Duration::from_secs(3601));
        let (status, body) = server.get(&client, "/v1/client").await;
        assert_eq!((status, &body), (200, &signed_out()));
        server.stop().await;
    }
}

/// Signs in with the password on a client without a cookie jar; returns the session
/// cookie's value.
async fn sign_in_bare(server: &TestServer, email: &str, cookie_name: &str) -> String {
    let r = http_client(false)
        .post(server.url("/v1/sign_ins"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let prefix = format!("{cookie_name}=");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|h| {
            let value = h.to_str().unwrap().strip_prefix(&prefix)?;
            Some(value.split(';').next().unwrap().to_owned())
        })
        .expect("a session cookie")
}
