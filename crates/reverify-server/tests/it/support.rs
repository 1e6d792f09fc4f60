//! Databases for tests: a fresh SQLite file, and a fresh PostgreSQL database when a server
//! is reachable (in CI it must be: the suite fails instead of skipping).

use reverify_server::store::Store;

/// The PostgreSQL server tests create their databases on.
fn postgres_admin_url() -> String {
    std::env::var("REVERIFY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A database under test; dropped (PostgreSQL) or deleted (SQLite) by `cleanup`.
pub struct TestDb {
    pub url: String,
    pub store: Store,
    name: String,
    sqlite_dir: Option<std::path::PathBuf>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("reverify-test-{}", random_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("reverify.sqlite").display());
        let store = Store::open(&url, 4).await.unwrap();
        TestDb {
            url,
            store,
            name: String::new(),
            sqlite_dir: Some(dir),
        }
    }

    /// `None` (after a loud message) when no PostgreSQL is reachable outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url();
        let admin = match Store::connect(&admin_url, 2).await {
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
        let name = format!("reverify_t_{}", random_suffix());
        admin
            .exec_raw(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await;
        let base = admin_url.rsplit_once('/').unwrap().0;
        let url = format!("{base}/{name}");
        let store = Store::open(&url, 4).await.unwrap();
        Some(TestDb {
            url,
            store,
            name,
            sqlite_dir: None,
        })
    }

    /// Both backends: SQLite always, PostgreSQL when reachable.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite().await];
        dbs.extend(TestDb::postgres().await);
        dbs
    }

    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(dir) = self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        } else {
            let admin = Store::connect(&postgres_admin_url(), 2).await.unwrap();
            let _ = admin
                .exec_raw(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            admin.close().await;
        }
    }
}

use std::sync::Arc;
use std::time::Duration;

use reverify::ManualClock;
use reverify_server::AppState;
use reverify_server::config::Config;
use serde_json::Value;

/// A configuration for tests: cheap Argon2 (tests are not about hashing cost), dev email,
/// plain-HTTP cookies.
pub fn test_config(db_url: &str) -> Config {
    let mut c = Config::default();
    c.database.url = db_url.into();
    c.passwords.argon2_memory_kib = 1024;
    c.passwords.argon2_iterations = 1;
    c.sessions.insecure_cookies = true;
    c
}

/// The real server, in-process on 127.0.0.1:0, with a manual clock.
pub struct TestServer {
    pub base: String,
    pub clock: ManualClock,
    pub state: AppState,
    pub db: Option<TestDb>,
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let db = TestDb::sqlite().await;
        let url = db.url.clone();
        TestServer::start_with(db, |c| c.database.url = url).await
    }

    pub async fn start_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::start_at(db, ManualClock::starting_now(), tweak).await
    }

    /// The same with the clock given (for instance set in the past, so that sessions can
    /// be made to have been verified some time before the real now).
    pub async fn start_at(
        db: TestDb,
        clock: ManualClock,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = test_config(&db.url);
        config.server.public_url = base.clone();
        tweak(&mut config);
        let state = serve_in_background(listener, config, db.store.clone(), &clock).await;
        TestServer {
            base,
            clock,
            state,
            db: Some(db),
            seen: Default::default(),
        }
    }

    /// Another server instance on the same database (its own pool and listener), as a
    /// second process behind a load balancer would be.
    pub async fn second_instance(&self) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = self.state.config.clone();
        let store = Store::connect(&config.database.url, 4).await.unwrap();
        let state = serve_in_background(listener, config, store, &self.clock).await;
        TestServer {
            base,
            clock: self.clock.clone(),
            state,
            db: None,
            seen: Default::default(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client with its own cookie jar.
    pub fn client(&self) -> reqwest::Client {
        http_client(true)
    }

    pub async fn post(&self, client: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
        let r = client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> (u16, Value) {
        status_json(client.get(self.url(path)).send().await.unwrap()).await
    }

    /// The code of the next email to `email` (see [`TestServer::next_message`]).
    pub async fn code_for(&self, email: &str) -> String {
        let message = self.next_message(email).await;
        message["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code in {message}"))
            .to_owned()
    }

    /// The newest email to `email` that no earlier call returned, waiting for it (emails
    /// are sent in the background).
    pub async fn next_message(&self, email: &str) -> Value {
        for _ in 0..200 {
            let (_, body) = self
                .get(
                    &http_client(false),
                    &format!("/v1/dev/outbox?email={email}"),
                )
                .await;
            let newest = &body["messages"][0];
            if let Some(id) = newest["id"].as_str()
                && self.seen.lock().unwrap().insert(id.to_owned())
            {
                return newest.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no new email to {email}");
    }

    /// Signs up through the API; returns the client (now signed in) and the response.
    pub async fn sign_up(&self, email: &str, password: &str) -> (reqwest::Client, Value) {
        let client = self.client();
        let (status, flow) = self
            .post(
                &client,
                "/v1/sign_ups",
                serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "{flow}");
        let code = self.code_for(email).await;
        let id = flow["id"].as_str().unwrap();
        let (status, done) = self
            .post(
                &client,
                &format!("/v1/sign_ups/{id}/attempt"),
                serde_json::json!({"code": code}),
            )
            .await;
        assert_eq!(status, 200, "{done}");
        (client, done)
    }

    pub async fn stop(mut self) {
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }
}

/// Builds the server state and serves it on `listener` in a background task.
async fn serve_in_background(
    listener: tokio::net::TcpListener,
    config: Config,
    store: Store,
    clock: &ManualClock,
) -> AppState {
    let state = AppState::with_store(config, store, Arc::new(clock.clone()))
        .await
        .unwrap();
    let served = state.clone();
    tokio::spawn(async move { reverify_server::serve(listener, served).await.unwrap() });
    state
}

pub async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// An HTTP client (reqwest is built without a TLS provider of its own here).
pub fn http_client(cookies: bool) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(cookies)
        .build()
        .unwrap()
}
