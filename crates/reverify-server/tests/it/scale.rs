//! Deployment shapes: two instances on one PostgreSQL, and the server embedded in an app.

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use reverify::axum::{AuthLayer, Reverified, Strict};
use serde_json::json;

use crate::support::{TestDb, TestServer, http_client, status_json, test_config};

#[tokio::test]
async fn two_instances_on_one_postgres_share_sessions_and_revocations() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = TestServer::start_with(db, |_| {}).await;
    let b = a.second_instance().await;
    // The cookie jar is per host, not per port: one browser talking to both instances.
    let (browser, _) = a.sign_up("olu@example.com", "correct horse battery").await;
    let (status, token) = b
        .post(&browser, "/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!(status, 200, "instance B continues A's session: {token}");

    // A code sign-in started on B is finished on A.
    let other = a.client();
    let (_, flow) = b
        .post(
            &other,
            "/v1/sign_ins",
            json!({"email": "olu@example.com", "strategy": "email_code"}),
        )
        .await;
    let code = a.code_for("olu@example.com").await;
    let id = flow["id"].as_str().unwrap();
    let (status, _) = a
        .post(
            &other,
            &format!("/v1/sign_ins/{id}/attempt"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(status, 200);

    // Sign out on B: A sees it at once.
    let r = browser
        .delete(b.url("/v1/sessions/current"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = a
        .post(&browser, "/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!(status, 401);
    // A revocation on B reaches an A that has the session cached, by NOTIFY, without
    // waiting for the cache entry to age.
    let (status, _) = a
        .post(&other, "/v1/sessions/current/tokens", json!({}))
        .await;
    assert_eq!(status, 200, "A now has other's session cached");
    let (_, list) = b.get(&other, "/v1/sessions").await;
    let current_id = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = other
        .delete(b.url(&format!("/v1/sessions/{current_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let mut seen = false;
    for _ in 0..100 {
        let (status, _) = a
            .post(&other, "/v1/sessions/current/tokens", json!({}))
            .await;
        if status == 401 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen,
        "A must see B's revocation within 2 s of wall time, the clock unmoved"
    );
    // Keys are shared: a token minted by B verifies with A's JWKS.
    let fresh = a.client();
    let (status, _) = a
        .post(
            &fresh,
            "/v1/sign_ins",
            json!({"email": "olu@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, minted) = b
        .post(&fresh, "/v1/sessions/current/tokens", json!({}))
        .await;
    let verifier = reverify::Verifier::builder(a.base.clone())
        .jwks_url(a.url("/.well-known/jwks.json"))
        .clock(a.clock.clone())
        .build()
        .unwrap();
    // Both instances share one configuration (one public URL behind the load balancer).
    let session = verifier
        .verify(minted["jwt"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(session.claims().iss, a.base);
    b.stop().await;
    a.stop().await;
}

/// Polls `instance` until it refuses `client`'s session (401), for at most 2 s of wall time
/// with the test clock unmoved; the last answer if it never did.
async fn refused_soon(instance: &TestServer, client: &reqwest::Client) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        let (status, body) = instance
            .post(client, "/v1/sessions/current/tokens", json!({}))
            .await;
        if status == 401 {
            return Ok(());
        }
        last = format!("{status} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(last)
}

#[tokio::test]
async fn a_user_deleted_from_the_command_line_is_signed_out_on_every_instance_at_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = TestServer::start_with(db, |_| {}).await;
    let b = a.second_instance().await;
    let (browser, done) = a.sign_up("ida@example.com", "correct horse battery").await;
    let user_id = done["user"]["id"].as_str().unwrap();
    for instance in [&a, &b] {
        let (status, _) = instance
            .post(&browser, "/v1/sessions/current/tokens", json!({}))
            .await;
        assert_eq!(status, 200, "both instances now have the session cached");
    }
    // `reverify users delete`: a third process on the same database.
    let deleted = std::process::Command::new(env!("CARGO_BIN_EXE_reverify"))
        .args(["users", "delete", user_id])
        .env("REVERIFY_DATABASE_URL", &a.state.config.database.url)
        .env("REVERIFY_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    for (name, instance) in [("A", &a), ("B", &b)] {
        if let Err(last) = refused_soon(instance, &browser).await {
            panic!(
                "instance {name} must refuse the deleted user's cached session at once, not after the cache TTL; it answered {last}"
            );
        }
    }
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn sessions_changed_through_the_store_are_forgotten_by_the_running_server_at_once() {
    // The embedding API: a program holding the store (a clone taken before the server was
    // built) ends a session and deletes a user; the server in the same process must not
    // keep serving its cached copies. No waiting: the eviction is part of the change.
    for db in TestDb::all().await {
        let url = db.url.clone();
        let store = db.store.clone();
        let server = TestServer::start_with(db, |c| c.database.url = url).await;
        let (ann, _) = server
            .sign_up("ann@example.com", "correct horse battery")
            .await;
        let (bob, done) = server
            .sign_up("bob@example.com", "correct horse battery")
            .await;
        let bob_id = done["user"]["id"].as_str().unwrap().to_owned();
        let (_, current) = server.get(&ann, "/v1/sessions/current").await;
        let ann_session = current["session"]["id"].as_str().unwrap().to_owned();
        for client in [&ann, &bob] {
            let (status, _) = server
                .post(client, "/v1/sessions/current/tokens", json!({}))
                .await;
            assert_eq!(status, 200, "cached now");
        }
        assert!(
            store
                .end_session(&ann_session, server.clock.now(), "revoked")
                .await
                .unwrap()
        );
        assert!(store.delete_user(&bob_id).await.unwrap());
        for client in [&ann, &bob] {
            let (status, _) = server
                .post(client, "/v1/sessions/current/tokens", json!({}))
                .await;
            assert_eq!(status, 401);
        }
        server.stop().await;
    }
}

async fn transfer(Reverified(session, ..): Reverified<Strict>) -> String {
    format!("transferred for {}", session.user_id())
}

#[tokio::test]
async fn embedded_under_auth_with_a_protected_app_route_on_the_same_origin() {
    let db = TestDb::sqlite().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = test_config(&db.url);
    config.server.public_url = format!("{base}/auth");
    let clock = reverify::ManualClock::starting_now();
    let state = reverify_server::AppState::with_store(
        config,
        db.store.clone(),
        std::sync::Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let verifier = reverify::Verifier::builder(format!("{base}/auth"))
        .jwks_url(format!("{base}/auth/.well-known/jwks.json"))
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/api/transfer", post(transfer))
        .layer(AuthLayer::new(verifier))
        .nest("/auth", reverify_server::router(state));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let browser = http_client(true);
    let (status, flow) = status_json(
        browser
            .post(format!("{base}/auth/v1/sign_ups"))
            .json(&json!({"email": "pat@example.com", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let mut code = None;
    for _ in 0..200 {
        let (_, outbox) = status_json(
            browser
                .get(format!("{base}/auth/v1/dev/outbox?email=pat@example.com"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if let Some(c) = outbox["messages"][0]["code"].as_str() {
            code = Some(c.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let id = flow["id"].as_str().unwrap();
    let (status, _) = status_json(
        browser
            .post(format!("{base}/auth/v1/sign_ups/{id}/attempt"))
            .json(&json!({"code": code.unwrap()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    // The `__session` cookie the auth server set is what the app's extractor reads.
    let (status, body) = status_json(
        browser
            .post(format!("{base}/api/transfer"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.as_str().unwrap().starts_with("transferred for user_"));
    // Eleven minutes later (with a refreshed token) strict is stale: the standard error.
    clock.advance(Duration::from_secs(11 * 60));
    let (status, _) = status_json(
        browser
            .post(format!("{base}/auth/v1/sessions/current/tokens"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = status_json(
        browser
            .post(format!("{base}/api/transfer"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["clerk_error"]["reason"], "reverification-error");
    db.cleanup().await;
}

/// Restarts the PostgreSQL server this machine runs (override with
/// `REVERIFY_TEST_PG_RESTART`).
fn restart_postgres() {
    let cmd = std::env::var("REVERIFY_TEST_PG_RESTART").unwrap_or_else(|_| {
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | tail -n1) main restart"
            .into()
    });
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .status()
        .unwrap();
    assert!(status.success(), "{cmd} failed");
}

/// When the PostgreSQL server started (changes on a restart).
async fn postmaster_start() -> String {
    let url = std::env::var("REVERIFY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let store = reverify_server::store::Store::connect(&url, 1)
        .await
        .unwrap();
    let started = store
        .scalar_text("SELECT CAST(pg_postmaster_start_time() AS TEXT)")
        .await
        .unwrap();
    store.close().await;
    started
}

#[tokio::test]
#[ignore = "restarts the machine's PostgreSQL: run alone (scripts/test runs it after the suite)"]
async fn the_server_recovers_when_postgres_restarts_under_load() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let server = std::sync::Arc::new(TestServer::start_with(db, |_| {}).await);
    let (browser, _) = server
        .sign_up("quinn@example.com", "correct horse battery")
        .await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (server, browser, stop) = (server.clone(), browser.clone(), stop.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = tokio::time::timeout(
                    Duration::from_secs(20),
                    browser
                        .post(server.url("/v1/sessions/current/tokens"))
                        .send(),
                )
                .await
                .expect("a request hung while the database was down");
                statuses.push(sent.map(|r| r.status().as_u16()).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = postmaster_start().await;
    tokio::task::spawn_blocking(restart_postgres).await.unwrap();
    // Recovery: the same server instance answers again, without being restarted.
    let mut recovered = false;
    for _ in 0..200 {
        let (status, _) = server
            .post(&browser, "/v1/sessions/current/tokens", json!({}))
            .await;
        if status == 200 {
            recovered = true;
            break;
        }
        assert_eq!(
            status, 503,
            "while the database is down the answer is 503, never 500"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the server did not recover after PostgreSQL restarted"
    );
    assert_ne!(
        postmaster_start().await,
        started,
        "PostgreSQL really restarted"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = load.await.unwrap();
    eprintln!(
        "{} refreshes during the restart, {} answered 503",
        statuses.len(),
        statuses.iter().filter(|s| **s == 503).count()
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "only 200 or 503 under a restart: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&200));
    let (status, _) = server.get(&browser, "/v1/sessions/current").await;
    assert_eq!(status, 200);
    if let Ok(server) = std::sync::Arc::try_unwrap(server) {
        server.stop().await;
    }
}
