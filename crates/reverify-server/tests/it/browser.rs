//! Browser hardening: security headers on every response, `no-store` on everything not
//! public, the outbox page's policy, and `__Host-` session cookies.

use base64::Engine;
use serde_json::json;

use crate::support::{TestDb, TestServer, http_client, status_json};

fn header<'r>(r: &'r reqwest::Response, name: &str) -> &'r str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} on {}", r.url()))
}

/// The headers every response carries.
fn assert_hardened(r: &reqwest::Response) {
    assert_eq!(header(r, "x-frame-options"), "DENY", "{}", r.url());
    assert_eq!(
        header(r, "x-content-type-options"),
        "nosniff",
        "{}",
        r.url()
    );
    let csp = header(r, "content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{}: {csp}",
        r.url()
    );
}

/// Signs up without a cookie jar; the response that sets the cookies.
async fn sign_up_response(server: &TestServer, email: &str) -> reqwest::Response {
    let client = http_client(false);
    let (status, flow) = server
        .post(
            &client,
            "/v1/sign_ups",
            json!({"email": email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200, "{flow}");
    let code = server.code_for(email).await;
    client
        .post(server.url(&format!(
            "/v1/sign_ups/{}/attempt",
            flow["id"].as_str().unwrap()
        )))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn answers_carrying_secrets_are_never_cached_nor_framed() {
    let server = TestServer::start().await;
    let done = sign_up_response(&server, "ada@example.com").await;
    assert_eq!(done.status(), 200);
    assert_hardened(&done);
    assert_eq!(header(&done, "cache-control"), "no-store");
    let cookie = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let client = http_client(false);
    for (method, path) in [
        (reqwest::Method::POST, "/v1/sessions/current/tokens"),
        (reqwest::Method::POST, "/v1/me/totp"),
        (reqwest::Method::GET, "/v1/me"),
        (reqwest::Method::GET, "/v1/dev/outbox"),
        (reqwest::Method::GET, "/healthz"),
        (reqwest::Method::GET, "/no/such/route"),
    ] {
        let r = client
            .request(method, server.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_hardened(&r);
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
    }
    // Errors too (a wrong code, a preflight the CORS layer answers).
    let r = client
        .post(server.url("/v1/sign_ins"))
        .json(&json!({"email": "ada@example.com", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_hardened(&r);
    assert_eq!(header(&r, "cache-control"), "no-store");
    server.stop().await;
}

#[tokio::test]
async fn public_resources_may_be_cached() {
    let server = TestServer::start().await;
    let client = http_client(false);
    for path in ["/.well-known/jwks.json", "/openapi.json", "/sdk/index.js"] {
        let r = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_hardened(&r);
        let cache = header(&r, "cache-control");
        assert!(cache.starts_with("public, max-age="), "{path}: {cache}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_outbox_page_runs_nothing_but_its_own_style() {
    let server = TestServer::start().await;
    let _ = sign_up_response(&server, "bo@example.com").await;
    let r = http_client(false)
        .get(server.url("/dev/outbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_hardened(&r);
    assert_eq!(header(&r, "cache-control"), "no-store");
    let csp = header(&r, "content-security-policy").to_owned();
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("bo@example.com"));
    let style = page
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .unwrap()
        .0;
    let digest = ring::digest::digest(&ring::digest::SHA256, style.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    assert!(
        csp.contains(&format!("style-src 'sha256-{hash}'")),
        "the policy allows the page's style by its hash: {csp}"
    );
    server.stop().await;
}

#[tokio::test]
async fn secure_session_cookies_use_the_host_prefix() {
    let server = TestServer::start_with(TestDb::sqlite().await, |c| {
        c.sessions.insecure_cookies = false;
    })
    .await;
    let done = sign_up_response(&server, "cy@example.com").await;
    assert_eq!(done.status(), 200);
    let cookies: Vec<String> = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-reverify_session="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    // What browsers require of a `__Host-` cookie.
    assert!(
        session.contains("; Path=/;") && session.contains("; Secure"),
        "{session}"
    );
    assert!(
        !session.to_ascii_lowercase().contains("domain="),
        "{session}"
    );
    // The token cookie keeps the name the SDKs read.
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__session=") && c.contains("; Secure"))
    );
    // The device cookie (its own lockout lane) is a `__Host-` cookie too, HttpOnly.
    let device = cookies
        .iter()
        .find(|c| c.starts_with("__Host-reverify_device="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    assert!(
        device.contains("; Path=/;") && device.contains("; Secure") && device.contains("HttpOnly"),
        "{device}"
    );

    let secret = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    let current = |cookie: String| {
        http_client(false)
            .get(server.url("/v1/sessions/current"))
            .header("cookie", cookie)
            .send()
    };
    let r = current(format!("__Host-reverify_session={secret}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The unprefixed name, which a subdomain or plain-HTTP page could plant, is not read.
    let (status, body) =
        status_json(current(format!("reverify_session={secret}")).await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("signed_out")));

    // Signing out clears the prefixed cookie.
    let r = http_client(false)
        .delete(server.url("/v1/sessions/current"))
        .header("cookie", format!("__Host-reverify_session={secret}"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("__Host-reverify_session=;")),
        "{:?}",
        r.headers()
    );
    server.stop().await;
}

#[tokio::test]
async fn plain_http_development_cookies_keep_the_plain_name() {
    let server = TestServer::start().await; // the tests' `insecure_cookies = true`
    let done = sign_up_response(&server, "di@example.com").await;
    let names: Vec<String> = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["reverify_session", "__session", "reverify_device"]);
    server.stop().await;
}
