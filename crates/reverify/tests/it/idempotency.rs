//! The idempotency layer on real stores: SQLite (a temporary file) and PostgreSQL (a fresh
//! database; skipped loudly when unreachable outside CI, required when `CI=true`).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::post;
use reverify::Session;
use reverify::axum::{AuthLayer, Reverified, Strict};
use reverify::idempotency::{IdempotencyLayer, PostgresIdempotencyStore, SqliteIdempotencyStore};
use reverify::testing::TestIssuer;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::sync::Notify;
use tower::ServiceExt;

fn postgres_admin_url() -> String {
    std::env::var("REVERIFY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A pool of one of the two databases.
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// One database; every [`TestDb::layer`] is a new pool on it (a new "app instance").
pub(crate) enum TestDb {
    Sqlite { dir: std::path::PathBuf },
    Postgres { url: String, name: String },
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("reverify-idem-{}", random_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        TestDb::Sqlite { dir }
    }

    #[allow(clippy::print_stderr)] // the loud skip is the point
    async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url();
        let admin = match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&admin_url)
            .await
        {
            Ok(admin) => admin,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI must reach PostgreSQL at {admin_url}: {e}");
                }
                eprintln!(
                    "\n*** SKIPPING the PostgreSQL half of this test: no server at {admin_url} ({e}) ***\n"
                );
                return None;
            }
        };
        let name = format!("reverify_idem_{}", random_suffix());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let base = admin_url.rsplit_once('/').unwrap().0;
        Some(TestDb::Postgres {
            url: format!("{base}/{name}"),
            name,
        })
    }

    pub(crate) async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        dbs.extend(TestDb::postgres().await);
        dbs
    }

    pub(crate) fn label(&self) -> &'static str {
        match self {
            TestDb::Sqlite { .. } => "sqlite",
            TestDb::Postgres { .. } => "postgres",
        }
    }

    /// An approval store on a new pool (migrated) on this database: a new app instance.
    /// `broken`: the pool is closed, so every use of the store fails.
    pub(crate) async fn approvals(&self, broken: bool) -> reverify::approval::Approvals {
        use reverify::approval::{Approvals, PostgresApprovalStore, SqliteApprovalStore};
        match self.pool().await {
            Pool::Sqlite(pool) => {
                let store = SqliteApprovalStore::new(pool.clone());
                store.migrate().await.unwrap();
                if broken {
                    pool.close().await;
                }
                Approvals::new(store)
            }
            Pool::Postgres(pool) => {
                let store = PostgresApprovalStore::new(pool.clone());
                store.migrate().await.unwrap();
                if broken {
                    pool.close().await;
                }
                Approvals::new(store)
            }
        }
    }

    /// A new pool on this database: a new app instance.
    async fn pool(&self) -> Pool {
        match self {
            TestDb::Sqlite { dir } => {
                let options = SqliteConnectOptions::from_str(&format!(
                    "sqlite://{}",
                    dir.join("app.sqlite").display()
                ))
                .unwrap()
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30));
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .connect_with(options)
                        .await
                        .unwrap(),
                )
            }
            TestDb::Postgres { url, .. } => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(8)
                    .connect(url)
                    .await
                    .unwrap(),
            ),
        }
    }

    /// A layer on a new pool and store (migrated) on this database.
    async fn layer(&self) -> IdempotencyLayer {
        match self.pool().await {
            Pool::Sqlite(pool) => {
                let store = SqliteIdempotencyStore::new(pool);
                store.migrate().await.unwrap();
                IdempotencyLayer::new(store)
            }
            Pool::Postgres(pool) => {
                let store = PostgresIdempotencyStore::new(pool);
                store.migrate().await.unwrap();
                IdempotencyLayer::new(store)
            }
        }
    }

    pub(crate) async fn cleanup(self) {
        match self {
            TestDb::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDb::Postgres { name, .. } => {
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&postgres_admin_url())
                    .await
                    .unwrap();
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await;
                admin.close().await;
            }
        }
    }
}

/// The handler's side: how often it ran, what it answers, and an optional gate it waits at.
#[derive(Default)]
struct Handler {
    runs: AtomicUsize,
    status: AtomicU16,
    entered: Notify,
    gate: Option<Notify>,
}

impl Handler {
    fn new() -> Arc<Handler> {
        Arc::new(Handler {
            status: AtomicU16::new(201),
            ..Handler::default()
        })
    }

    fn gated() -> Arc<Handler> {
        Arc::new(Handler {
            status: AtomicU16::new(201),
            gate: Some(Notify::new()),
            ..Handler::default()
        })
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

fn app(issuer: &TestIssuer, layer: IdempotencyLayer, handler: Arc<Handler>) -> Router {
    let strict = handler.clone();
    Router::new()
        .route(
            "/api/transfer",
            post(move |session: Session, body: String| {
                let handler = handler.clone();
                async move {
                    let run = handler.runs.fetch_add(1, Ordering::SeqCst) + 1;
                    handler.entered.notify_one();
                    if let Some(gate) = &handler.gate {
                        gate.notified().await;
                    }
                    let status =
                        StatusCode::from_u16(handler.status.load(Ordering::SeqCst)).unwrap();
                    let body = json!({"run": run, "user": session.user_id(), "body": body});
                    (status, axum::Json(body))
                }
            }),
        )
        .route(
            "/api/strict",
            post(move |Reverified(session, ..): Reverified<Strict>| {
                let handler = strict.clone();
                async move {
                    let run = handler.runs.fetch_add(1, Ordering::SeqCst) + 1;
                    axum::Json(json!({"run": run, "user": session.user_id()}))
                }
            }),
        )
        .route_layer(layer)
        .layer(AuthLayer::new(issuer.verifier()))
}

fn request(path: &str, token: Option<&str>, key: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

fn code(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body).unwrap()["code"].clone()
}

/// A failing test must fail, not hang.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("timed out")
}

const KEY: &str = "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"";
const BODY: &str = r#"{"amount":2500,"to":"bob"}"#;

#[tokio::test]
async fn twenty_sequential_identical_requests_run_the_handler_once() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let token = issuer.token().user("user_a").sign();
        let handler = Handler::new();
        let app = app(&issuer, db.layer().await, handler.clone());
        let mut answers = Vec::new();
        for _ in 0..20 {
            answers.push(
                send(
                    &app,
                    request("/api/transfer", Some(&token), Some(KEY), BODY),
                )
                .await,
            );
        }
        assert_eq!(handler.runs(), 1, "{}", db.label());
        let (first_status, first_headers, first_body) = &answers[0];
        assert_eq!(*first_status, StatusCode::CREATED);
        assert!(!first_headers.contains_key("idempotent-replayed"));
        for (status, headers, body) in &answers[1..] {
            assert_eq!(status, first_status, "{}", db.label());
            assert_eq!(body, first_body);
            assert_eq!(headers["idempotent-replayed"], "true");
            assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        }
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_while_the_first_runs_get_409() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let token = issuer.token().user("user_a").sign();
        let handler = Handler::gated();
        let app = app(&issuer, db.layer().await, handler.clone());
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (app, token) = (app.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                send(
                    &app,
                    request("/api/transfer", Some(&token), Some(KEY), BODY),
                )
                .await
            }));
        }
        // The first one is in the handler; the other 99 must come back while it is held.
        tokio::time::timeout(Duration::from_secs(30), handler.entered.notified())
            .await
            .unwrap();
        let mut conflicts = 0;
        let mut pending = Vec::new();
        for task in tasks {
            if task.is_finished() {
                let (status, headers, body) = task.await.unwrap();
                assert_eq!(status, StatusCode::CONFLICT, "{}", db.label());
                assert_eq!(code(&body), "idempotency_request_in_flight");
                assert_eq!(headers[header::RETRY_AFTER], "1");
                conflicts += 1;
            } else {
                pending.push(task);
            }
        }
        // Wait for the rest: all but the held one answer 409 without the gate opening.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while pending.iter().filter(|t| !t.is_finished()).count() > 1 {
            assert!(tokio::time::Instant::now() < deadline, "requests hang");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(handler.runs(), 1, "{}", db.label());
        handler.gate.as_ref().unwrap().notify_one();
        let mut created = Vec::new();
        for task in pending {
            let (status, _, body) = task.await.unwrap();
            if status == StatusCode::CONFLICT {
                conflicts += 1;
            } else {
                assert_eq!(status, StatusCode::CREATED, "{}", db.label());
                created.push(body);
            }
        }
        assert_eq!((conflicts, created.len()), (99, 1), "{}", db.label());
        assert_eq!(handler.runs(), 1);
        let (status, headers, body) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(headers["idempotent-replayed"], "true");
        assert_eq!(body, created[0]);
        assert_eq!(handler.runs(), 1);
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_app_instances_on_one_database_run_the_handler_once() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let token = issuer.token().user("user_a").sign();
        let handler = Handler::new();
        // Two pools and stores: two processes sharing the database (the counter is shared
        // only to count runs in total).
        let one = app(&issuer, db.layer().await, handler.clone());
        let two = app(&issuer, db.layer().await, handler.clone());
        let mut tasks = Vec::new();
        for i in 0..100 {
            let app = if i % 2 == 0 { one.clone() } else { two.clone() };
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                send(
                    &app,
                    request("/api/transfer", Some(&token), Some(KEY), BODY),
                )
                .await
            }));
        }
        let mut created = 0;
        for task in tasks {
            let (status, _, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => assert_eq!(code(&body), "idempotency_request_in_flight"),
                other => panic!("{}: unexpected {other}", db.label()),
            }
        }
        assert!(created >= 1);
        assert_eq!(handler.runs(), 1, "{}", db.label());
        for app in [&one, &two] {
            let (status, headers, _) =
                send(app, request("/api/transfer", Some(&token), Some(KEY), BODY)).await;
            assert_eq!(status, StatusCode::CREATED);
            assert_eq!(headers["idempotent-replayed"], "true");
        }
        assert_eq!(handler.runs(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let token = issuer.token().user("user_a").sign();
        let handler = Handler::new();
        let app = app(&issuer, db.layer().await, handler.clone());
        let (status, ..) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let other = r#"{"amount":999900,"to":"mallory"}"#;
        let (status, headers, body) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), other),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", db.label());
        assert_eq!(code(&body), "idempotency_key_mismatch");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        // Another query string is another request too.
        let (status, ..) = send(
            &app,
            request("/api/transfer?to=mallory", Some(&token), Some(KEY), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(handler.runs(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_reverification_403_and_a_500_are_not_stored() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let stale = issuer
            .token()
            .user("user_a")
            .second_factor_age(Duration::from_secs(3600))
            .sign();
        let fresh = issuer
            .token()
            .user("user_a")
            .second_factor_age(Duration::from_secs(30))
            .sign();
        let handler = Handler::new();
        let app = app(&issuer, db.layer().await, handler.clone());

        let (status, _, body) =
            send(&app, request("/api/strict", Some(&stale), Some(KEY), BODY)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", db.label());
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["clerk_error"]["reason"], "reverification-error");
        assert_eq!(handler.runs(), 0);
        // The retry after verifying, with the same key, runs the handler.
        let (status, headers, body) =
            send(&app, request("/api/strict", Some(&fresh), Some(KEY), BODY)).await;
        assert_eq!(status, StatusCode::OK, "{}", db.label());
        assert!(!headers.contains_key("idempotent-replayed"));
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["run"], 1);
        let (_, headers, _) =
            send(&app, request("/api/strict", Some(&fresh), Some(KEY), BODY)).await;
        assert_eq!(headers["idempotent-replayed"], "true");
        assert_eq!(handler.runs(), 1);

        let key = "\"second\"";
        handler.status.store(500, Ordering::SeqCst);
        let (status, ..) = send(
            &app,
            request("/api/transfer", Some(&fresh), Some(key), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        handler.status.store(201, Ordering::SeqCst);
        let (status, headers, _) = send(
            &app,
            request("/api/transfer", Some(&fresh), Some(key), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}", db.label());
        assert!(!headers.contains_key("idempotent-replayed"));
        assert_eq!(handler.runs(), 3);
        // A 4xx that is the request's final answer is stored.
        let key = "\"third\"";
        handler.status.store(400, Ordering::SeqCst);
        let (status, ..) = send(
            &app,
            request("/api/transfer", Some(&fresh), Some(key), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        handler.status.store(201, Ordering::SeqCst);
        let (status, headers, _) = send(
            &app,
            request("/api/transfer", Some(&fresh), Some(key), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers["idempotent-replayed"], "true");
        assert_eq!(handler.runs(), 4);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_restarted_app_replays_the_stored_response() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let token = issuer.token().user("user_a").sign();
        let handler = Handler::new();
        let (status, _, first) = {
            let app = app(&issuer, db.layer().await, handler.clone());
            send(
                &app,
                request("/api/transfer", Some(&token), Some(KEY), BODY),
            )
            .await
        };
        assert_eq!(status, StatusCode::CREATED);
        // A new pool and store on the same database: nothing kept in memory.
        let app = app(&issuer, db.layer().await, handler.clone());
        let (status, headers, body) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}", db.label());
        assert_eq!(headers["idempotent-replayed"], "true");
        assert_eq!(body, first);
        assert_eq!(handler.runs(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_expired_key_runs_again() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let token = issuer.token().user("user_a").sign();
        let handler = Handler::new();
        let layer = db.layer().await.ttl(Duration::from_millis(400));
        let app = app(&issuer, layer, handler.clone());
        let (status, ..) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, headers, _) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), BODY),
        )
        .await;
        assert_eq!(headers["idempotent-replayed"], "true");
        tokio::time::sleep(Duration::from_millis(600)).await;
        // Expired: the key is free again, even for another body.
        let (status, headers, body) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), r#"{"amount":1}"#),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}", db.label());
        assert!(!headers.contains_key("idempotent-replayed"));
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["run"], 2);
        assert_eq!(handler.runs(), 2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_abandoned_reservation_is_taken_over_after_the_lease() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let token = issuer.token().user("user_a").sign();
        let handler = Handler::gated();
        let app = app(
            &issuer,
            db.layer().await.lease(Duration::from_millis(500)),
            handler.clone(),
        );
        // The first request's handler never finishes (its "process died").
        let stuck = {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                send(
                    &app,
                    request("/api/transfer", Some(&token), Some(KEY), BODY),
                )
                .await
            })
        };
        within(handler.entered.notified()).await;
        let (status, ..) = within(send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), BODY),
        ))
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{}", db.label());
        tokio::time::sleep(Duration::from_millis(700)).await;
        stuck.abort();
        let second = {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                send(
                    &app,
                    request("/api/transfer", Some(&token), Some(KEY), BODY),
                )
                .await
            })
        };
        within(handler.entered.notified()).await;
        handler.gate.as_ref().unwrap().notify_one();
        let (status, ..) = within(second).await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{}", db.label());
        assert_eq!(handler.runs(), 2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn without_a_session_or_a_key_the_request_passes_through_and_a_bad_key_is_400() {
    let db = TestDb::sqlite();
    let issuer = TestIssuer::new();
    let token = issuer.token().user("user_a").sign();
    let handler = Handler::new();
    let app = app(&issuer, db.layer().await, handler.clone());
    // No session: the handler's extractor answers 401, nothing is reserved.
    let (status, _, body) = send(&app, request("/api/transfer", None, Some(KEY), BODY)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "token_missing");
    // No key: runs every time.
    for run in 1..=2 {
        let (status, headers, body) =
            send(&app, request("/api/transfer", Some(&token), None, BODY)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(!headers.contains_key("idempotent-replayed"));
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["run"], run);
    }
    let long = format!("\"{}\"", "k".repeat(256));
    for bad in [
        "\"\"",
        "\"open",
        "\"a\"b",
        long.as_str(),
        "a b",
        "\"tab\there\"",
    ] {
        let (status, _, body) = send(
            &app,
            request("/api/transfer", Some(&token), Some(bad), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(code(&body), "invalid_idempotency_key");
    }
    // A bare token is accepted, and is the same key as its quoted form.
    let (status, ..) = send(
        &app,
        request("/api/transfer", Some(&token), Some("bare-1"), BODY),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, headers, _) = send(
        &app,
        request("/api/transfer", Some(&token), Some("\"bare-1\""), BODY),
    )
    .await;
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(handler.runs(), 3);
    // Too large a body.
    let big = "x".repeat((1 << 20) + 1);
    let (status, _, body) = send(
        &app,
        request("/api/transfer", Some(&token), Some("\"big\""), &big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&body), "body_too_large");
    assert_eq!(handler.runs(), 3);

    // `.required(true)`: a signed-in request without a key is refused.
    let strict = app_required(&issuer, &db, handler.clone()).await;
    let (status, _, body) = send(&strict, request("/api/transfer", Some(&token), None, BODY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "idempotency_key_required");
    assert_eq!(handler.runs(), 3);
    db.cleanup().await;
}

async fn app_required(issuer: &TestIssuer, db: &TestDb, handler: Arc<Handler>) -> Router {
    app(issuer, db.layer().await.required(true), handler)
}

#[tokio::test]
async fn keys_are_per_user() {
    for db in TestDb::all().await {
        let issuer = TestIssuer::new();
        let alice = issuer.token().user("user_a").sign();
        let bob = issuer.token().user("user_b").sign();
        let handler = Handler::new();
        let app = app(&issuer, db.layer().await, handler.clone());
        let (_, _, a) = send(
            &app,
            request("/api/transfer", Some(&alice), Some(KEY), BODY),
        )
        .await;
        let (status, headers, b) =
            send(&app, request("/api/transfer", Some(&bob), Some(KEY), BODY)).await;
        assert_eq!(status, StatusCode::CREATED, "{}", db.label());
        assert!(!headers.contains_key("idempotent-replayed"));
        let (a, b): (Value, Value) = (
            serde_json::from_slice(&a).unwrap(),
            serde_json::from_slice(&b).unwrap(),
        );
        assert_eq!(
            (a["user"].as_str(), b["user"].as_str()),
            (Some("user_a"), Some("user_b"))
        );
        assert_eq!(handler.runs(), 2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_response_above_the_limit_is_passed_through_whole_and_not_stored() {
    let db = TestDb::sqlite();
    let issuer = TestIssuer::new();
    let token = issuer.token().user("user_a").sign();
    let handler = Handler::new();
    let app = app(
        &issuer,
        db.layer().await.response_limit(16),
        handler.clone(),
    );
    for run in 1..=2 {
        let (status, headers, body) = send(
            &app,
            request("/api/transfer", Some(&token), Some(KEY), BODY),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(!headers.contains_key("idempotent-replayed"));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["run"], run);
        assert_eq!(body["body"], BODY);
    }
    assert_eq!(handler.runs(), 2);
    db.cleanup().await;
}
