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
        TestDb { url, store, name: String::new(), sqlite_dir: Some(dir) }
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
                eprintln!("\n*** SKIPPING the PostgreSQL half of this test: no server at {admin_url} ({e}) ***\n");
                return None;
            }
        };
        let name = format!("reverify_t_{}", random_suffix());
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        admin.close().await;
        let base = admin_url.rsplit_once('/').unwrap().0;
        let url = format!("{base}/{name}");
        let store = Store::open(&url, 4).await.unwrap();
        Some(TestDb { url, store, name, sqlite_dir: None })
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
            let _ = admin.exec_raw(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
            admin.close().await;
        }
    }
}
