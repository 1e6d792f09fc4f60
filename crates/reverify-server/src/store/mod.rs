//! Storage: one code path for SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! sqlx's compile-time-checked macros cannot serve both databases from one code path, so
//! queries are plain strings in a portable dialect (`$n` placeholders, `RETURNING`,
//! `ON CONFLICT`; TEXT and BIGINT only) and their correctness comes from the shared test
//! suite, which runs against both databases.
//!
//! SQLite: a file in WAL mode, created on first start; writes take the lock up front
//! (`BEGIN IMMEDIATE`) so that concurrent writers wait instead of failing.

mod audit;
mod factors;
mod flows;
mod keys;
mod lockouts;
mod migrate;
mod outbox;
mod passkeys;
mod sessions;
mod sqlite_reader;
mod users;
mod verifications;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};

use crate::session_cache::SessionCache;

pub use audit::{AuditEvent, AuditFilter};
pub use factors::TotpFactor;
pub use flows::{Flow, FlowKind};
pub use keys::StoredKey;
pub use outbox::OutboxMessage;
pub use passkeys::{CeremonyRow, PasskeyRow};
pub use sessions::{NewSession, SessionRow};
pub use users::User;
pub use verifications::VerificationRow;

/// A database error, kept opaque: callers log it and answer 500 or 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated (e.g. an email already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else the database said.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The direct SQLite reader failed.
    #[error("sqlite reader: {0}")]
    Reader(String),
}

impl StoreError {
    fn from_insert(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The store: a pool and the knowledge of its backend. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite files only: the inline reader for session lookups.
    reader: Option<std::sync::Arc<sqlite_reader::SqliteReader>>,
    /// Recently read sessions, shared by every clone; off until
    /// [`Store::enable_session_cache`]. Kept here so that every change to a session row
    /// evicts it (see `sessions.rs`).
    session_cache: std::sync::Arc<SessionCache>,
    /// The URL it was opened with (the PostgreSQL listener connects to it).
    url: String,
}

impl Store {
    /// Connects (creating an SQLite file if needed) and applies pending migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let store = Store::connect(url, max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let reader = match backend {
            Backend::Sqlite => sqlite_reader::SqliteReader::for_url(&url).map(std::sync::Arc::new),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            backend,
            reader,
            session_cache: std::sync::Arc::new(SessionCache::off()),
            url,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Turns on the session cache (`sessions.cache_ttl_secs`; 0 leaves it off). On
    /// PostgreSQL it starts listening for other instances' session changes.
    pub(crate) fn enable_session_cache(&self, ttl_secs: i64) {
        let listen = (self.backend == Backend::Postgres).then_some(self.url.as_str());
        self.session_cache.enable(ttl_secs, listen);
    }

    /// The session cache (see `session_cache.rs`).
    pub(crate) fn session_cache(&self) -> &std::sync::Arc<SessionCache> {
        &self.session_cache
    }

    /// The pool, for reads.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction.
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Starts a write transaction and keeps it open until dropped (tests of lock behaviour).
    #[doc(hidden)]
    pub async fn hold_write_lock(&self) -> Result<impl Drop, StoreError> {
        let mut tx = self.write().await?;
        // SQLite takes the lock at BEGIN IMMEDIATE; PostgreSQL needs a write to hold one.
        sqlx::query("UPDATE schema_migrations SET name = name WHERE version = 1")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Applies pending migrations; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        migrate::run(self).await
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Runs one SQL statement as is (administration and tests: `CREATE DATABASE`, …).
    #[doc(hidden)]
    pub async fn exec_raw(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The text value of a one-row, one-column query (administration and tests).
    #[doc(hidden)]
    pub async fn scalar_text(&self, sql: &str) -> Result<String, StoreError> {
        let row: (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.0)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
