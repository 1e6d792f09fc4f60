//! The OpenID provider's authorization side: the consent screen of third-party clients
//! (bound to its request and session, single-use), consents listed and revoked, the
//! authorization request as another site's form POST, and `phr` asking for a passkey that
//! verifies the user.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::oidc::{
    FormBody, KEY, RP, SECRET, VERIFIER, admin, app_request, attr, authorize, browser, claims_of,
    location_params, rp_clients, signed_in_browser, token,
};
use crate::support::{TestDb, TestServer, status_json};

/// The provider with the admin API on.
async fn provider(db: TestDb) -> TestServer {
    let url = db.url.clone();
    TestServer::start_with(db, |c| {
        c.database.url = url;
        c.admin.secret_key = KEY.into();
        c.oidc.enabled = true;
        c.oidc.clients = rp_clients();
    })
    .await
}

/// The third-party client's request for `scope` (and `extra`).
fn third<'a>(scope: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![("client_id", "third-party"), ("scope", scope)];
    pairs.extend_from_slice(extra);
    app_request(&pairs)
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A consent screen as served: its request id, token, and what it asks.
struct Screen {
    request: String,
    token: String,
    asks: Vec<String>,
    granted: Vec<String>,
    html: String,
}

fn scopes_in(html: &str, name: &str) -> Vec<String> {
    let list: Value = serde_json::from_str(&unescape(&attr(html, name))).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap().to_owned())
        .collect()
}

/// Asks for the consent screen; panics unless the page is one.
async fn screen(server: &TestServer, b: &reqwest::Client, pairs: &[(&str, &str)]) -> Screen {
    let r = authorize(server, b, pairs).await;
    assert_eq!(
        r.status().as_u16(),
        200,
        "{:?}",
        r.headers().get("location")
    );
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert_eq!(attr(&html, "data-need"), "consent", "{html}");
    Screen {
        request: attr(&html, "data-request"),
        token: attr(&html, "data-consent-token"),
        asks: scopes_in(&html, "scopes"),
        granted: scopes_in(&html, "granted"),
        html,
    }
}

/// Answers a consent screen as the hosted page does.
async fn decide(
    server: &TestServer,
    b: &reqwest::Client,
    request: &str,
    token: &str,
    decision: &str,
) -> (u16, Value) {
    server
        .post(
            b,
            "/oauth/authorize/consent",
            json!({ "request": request, "consent_token": token, "decision": decision }),
        )
        .await
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn exchange_third(server: &TestServer, code: &str) -> (u16, Value) {
    crate::oidc::exchange_as(server, "third-party", code, &[]).await
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    server
        .state
        .store
        .scalar_text(sql)
        .await
        .unwrap()
        .parse()
        .unwrap()
}

async fn user_id(server: &TestServer, b: &reqwest::Client) -> String {
    let (status, me) = server.get(b, "/v1/me").await;
    assert_eq!(status, 200, "{me}");
    me["user"]["id"].as_str().unwrap().to_owned()
}

async fn audit_kinds(server: &TestServer, user: &str) -> Vec<String> {
    let (status, events) = admin(
        server,
        Method::GET,
        &format!("/v1/admin/audit_events?user_id={user}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The whole consent story: asked, allowed (a code the client exchanges), remembered,
/// asked again for more scopes only, always with `prompt=consent`; listed and revoked by
/// the user (the client's tokens die with it) and by an admin.
#[tokio::test]
async fn third_parties_are_asked_once_per_scope_and_consents_can_be_withdrawn() {
    for db in TestDb::all().await {
        let server = provider(db).await;
        let b = signed_in_browser(&server, "consent@example.com").await;
        let uid = user_id(&server, &b).await;

        let r = authorize(&server, &b, &third("openid email", &[("prompt", "none")])).await;
        let p = location_params(&r);
        assert_eq!(
            (p["error"].as_str(), p["state"].as_str(), p["iss"].as_str()),
            ("consent_required", "st-1", server.base.as_str())
        );

        // The screen: the client's name, the scopes in words, the account, the buttons.
        let s = screen(&server, &b, &third("openid email", &[])).await;
        assert_eq!(s.asks, ["openid", "email"]);
        assert!(s.granted.is_empty());
        assert!(s.html.contains("<reverify-consent"), "{}", s.html);
        assert_eq!(attr(&s.html, "account"), "consent@example.com");
        assert!(s.html.contains("See your email address"));
        assert_eq!(attr(&s.html, "src"), "/oauth/hosted.js");
        assert_eq!(s.token.len(), 43, "256 bits");

        let (status, answer) = decide(&server, &b, &s.request, &s.token, "allow").await;
        assert_eq!(status, 200, "{answer}");
        let target = answer["redirect_to"].as_str().unwrap();
        assert!(target.starts_with(RP), "{target}");
        let q = query_of(target);
        assert_eq!(
            (q["state"].as_str(), q["iss"].as_str()),
            ("st-1", server.base.as_str())
        );
        let (status, tokens) = exchange_third(&server, &q["code"]).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["scope"], "openid email");
        assert!(tokens.get("refresh_token").is_none());

        // Used up.
        let (status, again) = decide(&server, &b, &s.request, &s.token, "allow").await;
        assert_eq!(
            (status, again["code"].as_str()),
            (400, Some("consent_invalid"))
        );

        // Remembered: no screen for what was allowed, prompt=none included.
        for extra in [
            &[][..],
            &[("prompt", "none")][..],
            &[("scope", "openid")][..],
        ] {
            let r = authorize(&server, &b, &third("openid email", extra)).await;
            assert!(
                location_params(&r).contains_key("code"),
                "{extra:?}: {:?}",
                r.headers()
            );
        }
        // More scopes: asked again, for the new one only.
        let r = authorize(
            &server,
            &b,
            &third("openid email offline_access", &[("prompt", "none")]),
        )
        .await;
        assert_eq!(location_params(&r)["error"], "consent_required");
        let more = screen(&server, &b, &third("openid email offline_access", &[])).await;
        assert_eq!(more.asks, ["offline_access"]);
        assert_eq!(more.granted, ["email", "openid"]);
        // prompt=consent asks for everything, even when allowed.
        let forced = screen(
            &server,
            &b,
            &third("openid email", &[("prompt", "consent")]),
        )
        .await;
        assert_eq!(forced.asks, ["openid", "email"]);
        let (status, answer) = decide(&server, &b, &forced.request, &forced.token, "allow").await;
        assert_eq!(status, 200, "{answer}");
        assert!(query_of(answer["redirect_to"].as_str().unwrap()).contains_key("code"));

        let (status, answer) = decide(&server, &b, &more.request, &more.token, "allow").await;
        assert_eq!(status, 200, "{answer}");
        let (status, tokens) = exchange_third(
            &server,
            &query_of(answer["redirect_to"].as_str().unwrap())["code"],
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let access = tokens["access_token"].as_str().unwrap().to_owned();

        // Listed.
        let (status, list) = server.get(&b, "/v1/me/oidc/consents").await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["consents"].as_array().unwrap().len(), 1, "{list}");
        let c = &list["consents"][0];
        assert_eq!(c["client_id"], "third-party");
        assert_eq!(c["scopes"], json!(["email", "offline_access", "openid"]));
        assert!(c["granted_at"].as_i64().is_some());
        let (status, by_admin) = admin(
            &server,
            Method::GET,
            &format!("/v1/admin/users/{uid}/oidc/consents"),
            None,
        )
        .await;
        assert_eq!((status, &by_admin["consents"]), (200, &list["consents"]));

        // Revoked by the user: the client's tokens die, the next request asks again.
        let r = b
            .delete(server.url("/v1/me/oidc/consents/third-party"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let (status, _, err) = token(
            &server,
            Some(("third-party", SECRET)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let r = reqwest::Client::new()
            .get(server.url("/oauth/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "the access token is revoked too");
        let r = authorize(&server, &b, &third("openid", &[("prompt", "none")])).await;
        assert_eq!(location_params(&r)["error"], "consent_required");
        let r = b
            .delete(server.url("/v1/me/oidc/consents/third-party"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "nothing left to revoke");
        let (_, list) = server.get(&b, "/v1/me/oidc/consents").await;
        assert_eq!(list["consents"], json!([]));

        // Revoked by an admin.
        let s = screen(&server, &b, &third("openid", &[])).await;
        let (status, _) = decide(&server, &b, &s.request, &s.token, "allow").await;
        assert_eq!(status, 200);
        let (status, done) = admin(
            &server,
            Method::DELETE,
            &format!("/v1/admin/users/{uid}/oidc/consents/third-party"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{done}");
        let r = authorize(&server, &b, &third("openid", &[("prompt", "none")])).await;
        assert_eq!(location_params(&r)["error"], "consent_required");

        let kinds = audit_kinds(&server, &uid).await;
        for kind in ["oidc_consent.granted", "oidc_consent.revoked"] {
            assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
        }
        server.stop().await;
    }
}

/// The decision belongs to one screen, one session, once: forged, replayed, expired,
/// another session's, cross-site or signed-out answers are refused; Deny goes back with
/// `access_denied` and records nothing.
#[tokio::test]
async fn a_consent_decision_is_bound_to_its_screen_and_session() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "victim@example.com").await;
    let uid = user_id(&server, &b).await;
    let s = screen(&server, &b, &third("openid email", &[])).await;

    // Deny.
    let (status, answer) = decide(&server, &b, &s.request, &s.token, "deny").await;
    assert_eq!(status, 200, "{answer}");
    let target = answer["redirect_to"].as_str().unwrap();
    assert!(target.starts_with(RP));
    let q = query_of(target);
    assert_eq!(
        (
            q["error"].as_str(),
            q["state"].as_str(),
            q["iss"].as_str(),
            q.get("code")
        ),
        ("access_denied", "st-1", server.base.as_str(), None)
    );
    let (_, list) = server.get(&b, "/v1/me/oidc/consents").await;
    assert_eq!(list["consents"], json!([]), "a denial records nothing");
    let (status, _) = decide(&server, &b, &s.request, &s.token, "allow").await;
    assert_eq!(status, 400, "denied is answered: no allow after it");
    assert!(
        audit_kinds(&server, &uid)
            .await
            .contains(&"oidc_consent.denied".to_owned())
    );

    let s = screen(&server, &b, &third("openid email", &[])).await;
    // A forged token, or another screen's, changes nothing.
    let other = screen(&server, &b, &third("openid", &[])).await;
    for (request, token) in [
        (s.request.as_str(), "A".repeat(43)),
        (s.request.as_str(), other.token.clone()),
        (other.request.as_str(), s.token.clone()),
        (s.request.as_str(), String::new()),
        (s.request.as_str(), "x".repeat(10_000)),
    ] {
        let (status, err) = decide(&server, &b, request, &token, "allow").await;
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("consent_invalid")),
            "{err}"
        );
    }
    // Another session, of another user or of the same one, cannot answer it.
    let attacker = signed_in_browser(&server, "attacker@example.com").await;
    let (status, err) = decide(&server, &attacker, &s.request, &s.token, "allow").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("consent_invalid"))
    );
    let (second, status, done) =
        crate::steps::sign_in(&server, "victim@example.com", crate::steps::PASSWORD).await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("complete")),
        "{done}"
    );
    let (status, _) = decide(&server, &second, &s.request, &s.token, "allow").await;
    assert_eq!(status, 400, "the same user's other session");
    // Signed out: no session to answer for.
    let (status, err) = decide(&server, &browser(), &s.request, &s.token, "allow").await;
    assert_eq!((status, err["code"].as_str()), (401, Some("signed_out")));
    // From another site: the cross-site request guard.
    let r = b
        .post(server.url("/oauth/authorize/consent"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"request": s.request, "consent_token": s.token, "decision": "allow"}))
        .send()
        .await
        .unwrap();
    let (status, err) = status_json(r).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("cross_site_request"))
    );
    // As a form (what another site could send without a preflight): refused.
    let r = b
        .post(server.url("/oauth/authorize/consent"))
        .form_body(&[
            ("request", s.request.as_str()),
            ("consent_token", s.token.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let (status, err) = decide(&server, &b, &s.request, &s.token, "maybe").await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_body")));
    // None of that used the screen: its own session still can, once.
    let (status, answer) = decide(&server, &b, &s.request, &s.token, "allow").await;
    assert_eq!(status, 200, "{answer}");
    assert!(query_of(answer["redirect_to"].as_str().unwrap()).contains_key("code"));

    // A screen expires with its request (10 minutes).
    let s = screen(
        &server,
        &b,
        &third("openid email", &[("prompt", "consent")]),
    )
    .await;
    server.clock.advance(Duration::from_secs(601));
    let (status, _) = decide(&server, &b, &s.request, &s.token, "allow").await;
    assert_eq!(status, 400);
    server.stop().await;
}

/// 100 Allow answers to one screen at once: exactly one code.
#[tokio::test]
async fn a_consent_is_answered_once_under_concurrency() {
    for db in TestDb::all().await {
        let server = provider(db).await;
        let b = signed_in_browser(&server, "double@example.com").await;
        let s = screen(&server, &b, &third("openid email", &[])).await;
        let mut answers = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let req = b.post(server.url("/oauth/authorize/consent")).json(
                &json!({"request": s.request, "consent_token": s.token, "decision": "allow"}),
            );
            answers.spawn(async move { status_json(req.send().await.unwrap()).await });
        }
        let answers = answers.join_all().await;
        let ok: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b)
            .collect();
        let refused = answers
            .iter()
            .filter(|(s, b)| *s == 400 && b["code"] == "consent_invalid")
            .count();
        assert_eq!((ok.len(), refused), (1, 99), "{answers:?}");
        assert!(query_of(ok[0]["redirect_to"].as_str().unwrap()).contains_key("code"));
        let codes = count(
            &server,
            "SELECT CAST(COUNT(*) AS TEXT) FROM oidc_codes WHERE client_id = 'third-party'",
        )
        .await;
        assert_eq!(codes, 1);
        server.stop().await;
    }
}

/// OpenID Connect's form POST of the authorization request from the client's site: the
/// cross-site request guard lets it reach the authorization logic; without the session
/// cookie (`SameSite=Lax` is not sent with it) it continues on a same-site GET.
#[tokio::test]
async fn the_authorization_request_may_be_another_sites_form_post() {
    let server = provider(TestDb::sqlite().await).await;
    let b = signed_in_browser(&server, "post@example.com").await;
    let cross_site = |client: &reqwest::Client, form: &[(&str, &str)]| {
        client
            .post(server.url("/oauth/authorize"))
            .header("origin", "https://rp.example.com")
            .header("sec-fetch-site", "cross-site")
            .form_body(form)
    };
    let form = app_request(&[]);
    // With the session cookie: the authorization logic answers (a code, first party).
    let r = cross_site(&b, &form).send().await.unwrap();
    let p = location_params(&r);
    assert_eq!(
        (p["state"].as_str(), p["iss"].as_str()),
        ("st-1", server.base.as_str())
    );
    assert!(p.contains_key("code"));
    // Invalid requests are judged by the authorization logic too (an error page).
    let r = b
        .post(server.url("/oauth/authorize"))
        .header("origin", "https://evil.example")
        .form_body(&[("client_id", "nope"), ("redirect_uri", RP)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none());
    // Other state-changing requests stay guarded.
    let r = b
        .post(server.url("/v1/me/password"))
        .header("origin", "https://rp.example.com")
        .json(&json!({"new_password": "another long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Without the cookie: recorded, and continued on this site, where the cookie is sent.
    let r = cross_site(&browser(), &form).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/oauth/authorize/continue?request=oreq_"),
        "{location}"
    );
    let r = b.get(server.url(&location)).send().await.unwrap();
    assert!(location_params(&r).contains_key("code"));
    // A third-party client's form POST leads to its consent screen.
    let r = cross_site(&b, &third("openid", &[])).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(attr(&r.text().await.unwrap(), "data-need"), "consent");
    server.stop().await;
}

/// `phr` is a passkey that verifies its user: the page's modal offers only the passkey, a
/// TOTP code leaves the request waiting, a passkey that cannot verify the user does not
/// make an essential `phr` reachable.
#[tokio::test]
async fn phr_asks_for_a_passkey_that_verifies_the_user() {
    use crate::passkeys::{Device, attempt_passkey, prepare_passkey, register};
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let server = TestServer::start_with(db, |c| {
        c.database.url = url;
        // The passkey origin: http://localhost:PORT.
        c.server.public_url = c.server.public_url.replace("127.0.0.1", "localhost");
        c.oidc.enabled = true;
        c.oidc.clients = rp_clients();
    })
    .await;
    let essential = r#"{"id_token":{"acr":{"essential":true,"values":["phr"]}}}"#;

    // A security key without user verification, and an authenticator app: mfa at best.
    let lea = signed_in_browser(&server, "lea@example.com").await;
    let (secret, _) = crate::steps::enroll_totp(&server, &lea).await;
    let mut key = Device::new(&server, false);
    register(&server, &lea, &mut key, None).await;
    let r = authorize(&server, &lea, &app_request(&[("claims", essential)])).await;
    assert_eq!(
        location_params(&r)["error"],
        "unmet_authentication_requirements"
    );
    // Voluntary: the best the user can do (mfa, verified when the app was enrolled), said
    // in the token; no page waiting for a passkey the user does not have.
    let r = authorize(&server, &lea, &app_request(&[("acr_values", "phr")])).await;
    let code = location_params(&r)["code"].clone();
    let (status, tokens) = crate::oidc::exchange(&server, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        crate::oidc::claims_of(tokens["id_token"].as_str().unwrap())["acr"],
        "urn:reverify:acr:mfa"
    );
    let _ = secret;

    // A passkey that verifies the user.
    let max = signed_in_browser(&server, "max@example.com").await;
    let (secret, _) = crate::steps::enroll_totp(&server, &max).await;
    let mut phone = Device::new(&server, true);
    register(&server, &max, &mut phone, None).await;
    server.clock.advance(Duration::from_secs(120));
    let r = authorize(&server, &max, &app_request(&[("claims", essential)])).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert_eq!(attr(&html, "data-need"), "step_up");
    assert_eq!(attr(&html, "data-level"), "multi_factor");
    assert_eq!(attr(&html, "data-strategies"), "passkey");
    assert!(html.contains("with a passkey"));
    let continue_url = attr(&html, "data-continue");
    // The script hands the restriction to the modal.
    let js = reqwest::Client::new()
        .get(server.url("/oauth/hosted.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("dataset.strategies") && js.contains("openVerification"));
    // Other levels name no restriction.
    let r = authorize(
        &server,
        &max,
        &app_request(&[("acr_values", "urn:reverify:acr:mfa"), ("max_age", "1")]),
    )
    .await;
    let other = r.text().await.unwrap();
    assert_eq!(attr(&other, "data-strategies"), "");

    // Password and authenticator app: multi-factor, still not phr.
    crate::steps::next_step(&server);
    let v = crate::steps::start_verification(&server, &max, "multi_factor").await;
    let id = v["id"].as_str().unwrap().to_owned();
    let mut status = v["status"].as_str().unwrap().to_owned();
    while status != "complete" {
        let body = if status == "needs_first_factor" {
            json!({"strategy": "password", "password": crate::steps::PASSWORD})
        } else {
            json!({"strategy": "totp", "code": crate::steps::totp_now(&server, &secret)})
        };
        let (s, done) = crate::steps::attempt(&server, &max, &id, body).await;
        assert_eq!(s, 200, "{done}");
        status = done["verification"]["status"]
            .as_str()
            .unwrap_or(done["status"].as_str().unwrap_or(""))
            .to_owned();
    }
    let r = max.get(server.url(&continue_url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "a TOTP code is not phr: waiting");

    // The passkey, with user verification: done.
    server.clock.advance(Duration::from_secs(5));
    let v = crate::steps::start_verification(&server, &max, "multi_factor").await;
    let id = v["id"].as_str().unwrap().to_owned();
    let public_key = prepare_passkey(&server, &max, &id).await;
    let credential = phone.get(&public_key).await;
    let (s, done) = attempt_passkey(&server, &max, &id, &credential).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["verification"]["status"], "complete");
    let r = max.get(server.url(&continue_url)).send().await.unwrap();
    let p = location_params(&r);
    let (s, _, tokens) = token(
        &server,
        Some(("app", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", RP),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["acr"], "phr");
    let amr = id_token["amr"].as_array().unwrap();
    assert!(
        amr.contains(&json!("hwk")) && amr.contains(&json!("user")),
        "{amr:?}"
    );
    server.stop().await;
}

/// `oidc.theme`: the elements' custom properties, as a stylesheet the hosted pages link
/// (the page's CSP allows its own styles only); anything else is refused at start.
#[tokio::test]
async fn the_hosted_pages_take_the_operators_theme() {
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let server = TestServer::start_with(db, |c| {
        c.database.url = url;
        c.oidc.enabled = true;
        c.oidc.clients = rp_clients();
        c.oidc
            .theme
            .insert("--reverify-accent".into(), "#0f766e".into());
        c.oidc
            .theme
            .insert("--reverify-radius".into(), "4px".into());
    })
    .await;
    let r = authorize(&server, &browser(), &app_request(&[])).await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<link rel=\"stylesheet\" href=\"/oauth/hosted.css\">"),
        "{html}"
    );
    let r = reqwest::Client::new()
        .get(server.url("/oauth/hosted.css"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        r.text().await.unwrap(),
        ":root{--reverify-accent:#0f766e;--reverify-radius:4px;}\n"
    );
    server.stop().await;

    // Without a theme: no stylesheet linked.
    let server = provider(TestDb::sqlite().await).await;
    let html = authorize(&server, &browser(), &app_request(&[]))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("hosted.css"));
    server.stop().await;

    let mut config = reverify_server::config::Config::default();
    config.oidc.enabled = true;
    for (name, value) in [
        ("--reverify-accent", "red;} body{display:none"),
        ("--reverify-accent", "</style>"),
        ("--reverify-accent", " "),
        ("color", "red"),
        ("--reverify-font", "a\\62"),
    ] {
        config.oidc.theme.clear();
        config.oidc.theme.insert(name.into(), value.into());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("oidc.theme"), "{name}={value:?}: {err}");
    }
}
