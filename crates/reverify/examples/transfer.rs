//! The reverification round trip on the backend, without an auth server.
//!
//! ```text
//! cargo run -p reverify --example transfer --features axum,testing
//! ```
//!
//! Mints session tokens with the `testing` helper, mounts `POST /api/transfer` protected
//! by `strict` with one extractor, shows the three answers (no token → 401, stale → 403
//! with the reverification error, fresh → 200), then keeps serving on 127.0.0.1:3000
//! (`PORT` to change it) with ready-made curl commands. Ctrl-C stops it.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::{get, post};
use reverify::Session;
use reverify::axum::{AuthLayer, Reverified, Strict};
use reverify::testing::TestIssuer;
use tower::ServiceExt;

async fn transfer(Reverified(session, ..): Reverified<Strict>) -> String {
    format!("{{\"ok\":true,\"user\":\"{}\"}}\n", session.user_id())
}

async fn balance(session: Session) -> String {
    format!("{{\"user\":\"{}\",\"balance\":100}}\n", session.user_id())
}

#[tokio::main]
async fn main() {
    let issuer = TestIssuer::new();
    let app = Router::new()
        .route("/api/transfer", post(transfer))
        .route("/api/balance", get(balance))
        .layer(AuthLayer::new(issuer.verifier()));

    let hour = Duration::from_secs(3600);
    let stale = issuer
        .token()
        .user("user_alice")
        .lifetime(hour)
        .first_factor_age(Duration::from_secs(1800))
        .second_factor_age(Duration::from_secs(900))
        .sign();
    let fresh = issuer
        .token()
        .user("user_alice")
        .lifetime(hour)
        .second_factor_age(Duration::from_secs(30))
        .sign();

    println!(
        "POST /api/transfer, protected by `Reverified<Strict>` (second factor within 10 min)\n"
    );
    for (label, token) in [
        ("no token", None),
        ("TOTP verified 15 min ago", Some(&stale)),
        ("TOTP verified 30 s ago", Some(&fresh)),
    ] {
        let mut req = Request::post("/api/transfer");
        if let Some(token) = token {
            req = req.header(header::COOKIE, format!("__session={token}"));
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let challenge = res.headers().get(header::WWW_AUTHENTICATE).cloned();
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        println!("-- {label}: {status}");
        if let Some(c) = challenge {
            println!("   WWW-Authenticate: {}", c.to_str().unwrap_or("?"));
        }
        println!("   {}", String::from_utf8_lossy(&body).trim());
    }

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind 127.0.0.1:$PORT");
    let addr = listener.local_addr().unwrap();
    println!(
        "\nServing on http://{addr} (the test clock is frozen, so these tokens stay as they are):"
    );
    println!("  curl -i -X POST http://{addr}/api/transfer -H 'Authorization: Bearer {stale}'");
    println!("  curl -i -X POST http://{addr}/api/transfer -H 'Authorization: Bearer {fresh}'");
    println!("Ctrl-C to stop.");
    axum::serve(listener, app).await.unwrap();
}
