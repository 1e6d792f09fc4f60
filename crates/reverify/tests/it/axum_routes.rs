//! The axum integration, driven through `oneshot`: 401 without a token, 403 with the exact
//! body and header when stale, 200 when fresh; extractors, layers and runtime policies.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use reverify::axum::{
    AuthLayer, CsrfGuard, Moderate, RequireReverificationLayer, Reverified, Strict, StrictMfa,
};
use reverify::testing::TestIssuer;
use reverify::{
    Policy, ReverificationRequired, ReverificationStatus, STRICT, Session, StepUpChallenge,
    Verifier,
};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn transfer(Reverified(session, ..): Reverified<Strict>) -> String {
    format!("transferred for {}", session.user_id())
}

async fn me(session: Session) -> String {
    session.user_id().to_owned()
}

async fn maybe_me(session: Option<Session>) -> String {
    session.map_or("anonymous".into(), |s| s.user_id().to_owned())
}

/// A policy read at run time (say from the app's settings).
async fn dynamic(session: Session) -> Result<&'static str, ReverificationRequired> {
    let policy: Policy = r#"{"level":"first_factor","afterMinutes":2}"#.parse().unwrap();
    session.require(&policy)?;
    Ok("ok")
}

async fn close(Reverified(..): Reverified<StrictMfa>) -> &'static str {
    "closed"
}

async fn report(Reverified(..): Reverified<Moderate>) -> &'static str {
    "report"
}

fn app(verifier: Verifier) -> Router {
    let sensitive = Router::new()
        .route(
            "/password",
            post(|s: Session| async move { format!("changed for {}", s.user_id()) }),
        )
        .route_layer(RequireReverificationLayer::new(STRICT));
    Router::new()
        .route("/api/transfer", post(transfer))
        .route("/api/me", get(me))
        .route("/api/maybe", get(maybe_me))
        .route("/api/dynamic", get(dynamic))
        .route("/api/close", post(close))
        .route("/api/report", get(report))
        .nest("/account", sensitive)
        .layer(AuthLayer::new(verifier))
}

fn request(method: &str, uri: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn no_token_is_401_with_a_clear_body() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let (status, headers, body) = send(&app, request("POST", "/api/transfer", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(
        json_body(&body),
        json!({"code": "token_missing", "message": "no session token was sent"})
    );
    let (status, ..) = send(&app, request("GET", "/api/me", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_invalid_token_is_401_with_its_code() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let expired = issuer.token().sign();
    issuer.clock().advance(Duration::from_secs(120));
    let (status, headers, body) = send(&app, request("GET", "/api/me", Some(&expired))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&body)["code"], "token_expired");
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token", error_description="the session token has expired""#
    );
    let (status, _, body) = send(&app, request("GET", "/api/me", Some("not.a.token"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&body)["code"], "token_malformed");
}

#[tokio::test]
async fn a_stale_session_gets_the_exact_reverification_error() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let stale = issuer
        .token()
        .first_factor_age(Duration::from_secs(7200))
        .second_factor_age(Duration::from_secs(601))
        .sign();
    let (status, headers, body) = send(&app, request("POST", "/api/transfer", Some(&stale))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":"strict"}}}"#
    );
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"insufficient_user_authentication\", error_description=\"A second-factor \
         verification within the last 10 minutes is required\", max_age=600, acr_values=\"second_factor\""
    );
    // A Rust client recognises both signals.
    let challenge =
        StepUpChallenge::from_www_authenticate(headers[header::WWW_AUTHENTICATE].to_str().unwrap())
            .unwrap();
    assert_eq!(challenge.max_age, Some(600));
    assert_eq!(
        ReverificationRequired::from_body(&body).unwrap().policy(),
        &STRICT
    );
}

#[tokio::test]
async fn a_custom_policy_is_named_in_camel_case() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let stale = issuer
        .token()
        .first_factor_age(Duration::from_secs(121))
        .sign();
    let (status, headers, body) = send(&app, request("GET", "/api/dynamic", Some(&stale))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json_body(&body)["clerk_error"]["metadata"]["reverification"],
        json!({"level": "first_factor", "afterMinutes": 2})
    );
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("max_age=120")
    );
    let fresh = issuer
        .token()
        .first_factor_age(Duration::from_secs(119))
        .sign();
    let (status, _, body) = send(&app, request("GET", "/api/dynamic", Some(&fresh))).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok".as_slice())
    );
}

#[tokio::test]
async fn a_fresh_session_passes_with_bearer_or_cookie() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let fresh = issuer
        .token()
        .user("user_42")
        .second_factor_age(Duration::from_secs(30))
        .sign();
    let (status, _, body) = send(&app, request("POST", "/api/transfer", Some(&fresh))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"transferred for user_42");

    let with_cookie = Request::post("/api/transfer")
        .header(
            header::COOKIE,
            format!("theme=dark; __session={fresh}; other=1"),
        )
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&app, with_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"transferred for user_42");
}

#[tokio::test]
async fn presets_are_enforced_per_handler() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    // Password 20 min ago, TOTP 5 min ago: strict yes, strict_mfa no, moderate yes.
    let token = issuer
        .token()
        .first_factor_age(Duration::from_secs(1200))
        .second_factor_age(Duration::from_secs(300))
        .sign();
    assert_eq!(
        send(&app, request("POST", "/api/transfer", Some(&token)))
            .await
            .0,
        StatusCode::OK
    );
    let (status, _, body) = send(&app, request("POST", "/api/close", Some(&token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json_body(&body)["clerk_error"]["metadata"]["reverification"],
        "strict_mfa"
    );
    assert_eq!(
        send(&app, request("GET", "/api/report", Some(&token)))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sessions_go_stale_as_the_clock_moves() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let token = issuer
        .token()
        .second_factor_age(Duration::ZERO)
        .lifetime(Duration::from_secs(3600))
        .sign();
    assert_eq!(
        send(&app, request("POST", "/api/transfer", Some(&token)))
            .await
            .0,
        StatusCode::OK
    );
    issuer.clock().advance(Duration::from_secs(599));
    assert_eq!(
        send(&app, request("POST", "/api/transfer", Some(&token)))
            .await
            .0,
        StatusCode::OK
    );
    issuer.clock().advance(Duration::from_secs(1));
    assert_eq!(
        send(&app, request("POST", "/api/transfer", Some(&token)))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_layer_protects_a_group_of_routes() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let (status, _, body) = send(&app, request("POST", "/account/password", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&body)["code"], "token_missing");
    let stale = issuer
        .token()
        .second_factor_age(Duration::from_secs(3600))
        .sign();
    let (status, headers, body) =
        send(&app, request("POST", "/account/password", Some(&stale))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(
        json_body(&body)["clerk_error"]["reason"],
        "reverification-error"
    );
    let fresh = issuer
        .token()
        .user("u1")
        .second_factor_age(Duration::from_secs(5))
        .sign();
    let (status, _, body) = send(&app, request("POST", "/account/password", Some(&fresh))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body, b"changed for u1",
        "the handler reuses the session the layer verified"
    );
}

#[tokio::test]
async fn reverification_can_answer_401_for_bearer_apis() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier_builder()
        .reverification_status(ReverificationStatus::Unauthorized)
        .build()
        .unwrap();
    let app = app(verifier);
    let stale = issuer
        .token()
        .second_factor_age(Duration::from_secs(3600))
        .sign();
    let (status, headers, body) = send(&app, request("POST", "/api/transfer", Some(&stale))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("insufficient_user_authentication")
    );
    assert!(ReverificationRequired::from_body(&body).is_some());
}

#[tokio::test]
async fn optional_session_and_missing_verifier() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let (status, _, body) = send(&app, request("GET", "/api/maybe", None)).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"anonymous".as_slice())
    );
    let token = issuer.token().user("u7").sign();
    let (_, _, body) = send(&app, request("GET", "/api/maybe", Some(&token))).await;
    assert_eq!(body, b"u7");
    let (status, ..) = send(&app, request("GET", "/api/maybe", Some("bad"))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a bad token is not anonymous"
    );

    // A router without AuthLayer is a server bug: 500, without leaking details.
    let bare = Router::new().route("/api/me", get(me));
    let (status, _, body) = send(&bare, request("GET", "/api/me", Some(&token))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        json_body(&body),
        json!({"code": "verifier_missing", "message": "internal server error"})
    );
}

#[tokio::test]
async fn the_authorization_header_wins_over_the_cookie() {
    let issuer = TestIssuer::new();
    let app = app(issuer.verifier());
    let header_token = issuer.token().user("from_header").sign();
    let cookie_token = issuer.token().user("from_cookie").sign();
    let req = Request::get("/api/me")
        .header(header::AUTHORIZATION, format!("bearer {header_token}"))
        .header(header::COOKIE, format!("__session={cookie_token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.2, b"from_header");
    // A non-Bearer Authorization header falls back to the cookie.
    let req = Request::get("/api/me")
        .header(header::AUTHORIZATION, "Basic dXNlcjpwdw==")
        .header(header::COOKIE, format!("__session={cookie_token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.2, b"from_cookie");
}

/// Routes behind [`CsrfGuard`], as an app's state-changing API would be.
fn guarded_app(verifier: Verifier, guard: CsrfGuard) -> Router {
    Router::new()
        .route("/api/transfer", post(transfer))
        .route("/api/me", get(me))
        .layer(guard)
        .layer(AuthLayer::new(verifier))
}

/// A browser-like request: the `__session` cookie plus the given headers.
fn from_browser(method: &str, uri: &str, token: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "bank.example.com")
        .header(header::COOKIE, format!("__session={token}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_csrf_guard_refuses_cross_site_posts_riding_on_the_cookie() {
    let issuer = TestIssuer::new();
    let app = guarded_app(
        issuer.verifier(),
        CsrfGuard::new().allow_origin("https://admin.example.com"),
    );
    let token = issuer
        .token()
        .user("user_7")
        .second_factor_age(Duration::from_secs(30))
        .sign();
    let refused = [
        // A page on another site (older browser: Origin only).
        vec![("origin", "https://evil.example")],
        // Modern browser metadata, with or without Origin.
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "cross-site")],
        // A sibling origin of the same site: SameSite=Lax lets the cookie through.
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "https://bank.example.com:8443"),
        ],
        // Sandboxed frames and some redirects.
        vec![("origin", "null")],
    ];
    for headers in &refused {
        let (status, _, body) =
            send(&app, from_browser("POST", "/api/transfer", &token, headers)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(
            json_body(&body)["code"],
            "cross_site_request",
            "{headers:?}"
        );
    }
    for method in ["PUT", "PATCH", "DELETE"] {
        let (status, _, _) = send(
            &app,
            from_browser(
                method,
                "/api/transfer",
                &token,
                &[("origin", "https://evil.example")],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
    }
}

#[tokio::test]
async fn the_csrf_guard_lets_same_origin_allowed_and_non_browser_requests_through() {
    let issuer = TestIssuer::new();
    let app = guarded_app(
        issuer.verifier(),
        CsrfGuard::new().allow_origin("https://Admin.example.com:443/"),
    );
    let token = issuer
        .token()
        .user("user_7")
        .second_factor_age(Duration::from_secs(30))
        .sign();
    let allowed = [
        vec![("sec-fetch-site", "same-origin")],
        vec![
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://bank.example.com"),
        ],
        vec![("sec-fetch-site", "none")],
        // Older browsers: Origin only, the request's own (any port spelling) or allowed.
        vec![("origin", "https://bank.example.com")],
        vec![("origin", "https://BANK.example.com:443")],
        vec![("origin", "http://bank.example.com")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "https://admin.example.com"),
        ],
        // Neither header: not a browser (curl, another server, a test client).
        vec![],
    ];
    for headers in &allowed {
        let (status, _, body) =
            send(&app, from_browser("POST", "/api/transfer", &token, headers)).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}");
        assert_eq!(body, b"transferred for user_7");
    }
    // Reading is never refused, and neither is a bearer token (no page on another site can
    // make a browser send one), nor a request without the cookie (it is simply 401).
    let evil = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let (status, _, _) = send(&app, from_browser("GET", "/api/me", &token, &evil)).await;
    assert_eq!(status, StatusCode::OK);
    let mut bearer = request("POST", "/api/transfer", Some(&token));
    bearer
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    bearer
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(send(&app, bearer).await.0, StatusCode::OK);
    let mut anonymous = request("POST", "/api/transfer", None);
    anonymous
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let (status, _, body) = send(&app, anonymous).await;
    assert_eq!(
        (status, json_body(&body)["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_missing"))
    );
}

#[tokio::test]
async fn the_csrf_guard_can_require_the_scheme_and_follow_the_cookie_name() {
    let issuer = TestIssuer::new();
    let verifier = issuer
        .verifier_builder()
        .cookie_name("app_token")
        .build()
        .unwrap();
    let app = guarded_app(
        verifier,
        CsrfGuard::new()
            .host_scheme("https")
            .cookie_name("app_token"),
    );
    let token = issuer
        .token()
        .user("user_7")
        .second_factor_age(Duration::from_secs(30))
        .sign();
    let with_cookie = |origin: &str| {
        Request::post("/api/transfer")
            .header(header::HOST, "bank.example.com")
            .header(header::COOKIE, format!("app_token={token}"))
            .header("origin", origin)
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, body) = send(&app, with_cookie("http://bank.example.com")).await;
    assert_eq!(
        (status, json_body(&body)["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("cross_site_request")),
        "a plain-HTTP page on the same host is another origin"
    );
    let (status, _, body) = send(&app, with_cookie("https://bank.example.com")).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"transferred for user_7".as_slice())
    );
}
