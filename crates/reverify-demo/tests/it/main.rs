//! The demo app's own responses: its pages cannot be framed (the verification modal is
//! not clickjackable) and run only this origin's scripts; its API is never cached.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, header};
use tower::ServiceExt as _;

async fn demo() -> (axum::Router, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "reverify-demo-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = reverify_server::config::Config::default();
    config.database.url = format!("sqlite://{}", dir.join("demo.sqlite").display());
    config.server.public_url = "http://localhost:3000/auth".into();
    config.sessions.insecure_cookies = true;
    config.passwords.argon2_memory_kib = 1024;
    config.passwords.argon2_iterations = 1;
    let state = reverify_server::AppState::new(config).await.unwrap();
    let verifier = reverify::Verifier::builder("http://localhost:3000/auth")
        .jwks_url("http://127.0.0.1:3000/auth/.well-known/jwks.json")
        .build()
        .unwrap();
    let app = reverify_demo::app(
        state,
        verifier,
        reverify::STRICT,
        reverify_demo::Bank::new(100),
        None,
    );
    (app, dir)
}

async fn get(app: &axum::Router, path: &str) -> axum::response::Response {
    app.clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn header_of(r: &axum::response::Response, name: header::HeaderName) -> &str {
    r.headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn pages_cannot_be_framed_and_run_only_their_own_scripts() {
    let (app, dir) = demo().await;
    for path in ["/", "/react"] {
        let r = get(&app, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header_of(&r, header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        let csp = header_of(&r, header::CONTENT_SECURITY_POLICY);
        assert_eq!(csp, reverify_demo::PAGE_CSP);
        for part in [
            "default-src 'none'",
            "script-src 'self';",
            "frame-ancestors 'none'",
            "connect-src 'self'",
            "img-src 'self' data:",
        ] {
            assert!(csp.contains(part), "{path}: {part} in {csp}");
        }
        assert!(
            !csp.split(';')
                .find(|d| d.trim().starts_with("script-src"))
                .unwrap()
                .contains("unsafe"),
            "{csp}"
        );
        // No inline script the policy would block.
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        for tag in html.split("<script").skip(1) {
            assert!(
                tag.trim_start().starts_with("type=\"module\" src=\"/"),
                "{tag}"
            );
        }
    }
    // The auth server nested under /auth keeps its own (stricter) headers.
    let r = get(&app, "/auth/dev/outbox").await;
    assert_eq!(header_of(&r, header::X_FRAME_OPTIONS), "DENY");
    assert!(header_of(&r, header::CONTENT_SECURITY_POLICY).contains("style-src 'sha256-"));
    let r = get(&app, "/app.js").await;
    assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let r = get(&app, "/api/balance").await;
    assert_eq!(r.status(), 401);
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-store");
    assert_eq!(header_of(&r, header::X_FRAME_OPTIONS), "DENY");
    let _ = std::fs::remove_dir_all(dir);
}
