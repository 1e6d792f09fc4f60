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
mod devices;
mod factors;
mod flows;
mod keys;
mod lockouts;
mod migrate;
mod oidc;
mod oidc_clients;
mod oidc_consents;
mod outbox;
mod passkeys;
mod session_cache;
mod sessions;
mod sqlite_reader;
mod users;
mod verifications;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};

pub(crate) use session_cache::SessionCache;

pub use audit::{AuditEvent, AuditFilter};
pub use factors::TotpFactor;
pub use flows::{Flow, FlowKind};
pub use keys::StoredKey;
pub use lockouts::{Limit, Reserved};
pub use oidc::{OidcCodeRow, OidcTokenRow, Purged, Redeemed};
pub use oidc_clients::OidcClientRow;
pub use oidc_consents::ConsentRow;
pub use outbox::OutboxMessage;
pub use passkeys::{CeremonyRow, PasskeyRow};
pub use sessions::{FactorTimes, NewSession, SessionRow};
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
    /// The database could not be reached (pool timeout, closed pool, I/O, TLS): answer
    /// 503, not 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
            )
        )
    }

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

/// The store: a pool for reads, a pool for writes, and the knowledge of its backend.
/// Cheap to clone.
///
/// Reads and writes have separate pools so that a request holding a write transaction can
/// never wait on a read connection held by another writer: on SQLite the write pool has
/// exactly one connection (SQLite has one writer; writers queue in the pool instead of
/// polling the file lock), so a code path that waited for a second write connection while
/// holding one would hang in every test that reaches it instead of only under load.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    writer: AnyPool,
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
        let writers = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => max_connections.max(2),
        };
        let writer = Store::open_pool(backend, writers, &options).await?;
        let pool = Store::open_pool(backend, max_connections.max(2), &options).await?;
        let reader = match backend {
            Backend::Sqlite => sqlite_reader::SqliteReader::for_url(&url).map(std::sync::Arc::new),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            writer,
            backend,
            reader,
            session_cache: std::sync::Arc::new(SessionCache::off()),
            url,
        })
    }

    async fn open_pool(
        backend: Backend,
        max_connections: u32,
        options: &AnyConnectOptions,
    ) -> Result<AnyPool, StoreError> {
        match Store::pool_options(backend, max_connections)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => Ok(pool),
            // The pool's timeout hides why no connection opened (refused, bad password…):
            // one direct attempt tells, for the start-up error.
            Err(sqlx::Error::PoolTimedOut) => {
                let direct = sqlx::ConnectOptions::connect(options);
                Err(
                    match tokio::time::timeout(Duration::from_secs(5), direct).await {
                        Ok(Err(cause)) => cause.into(),
                        _ => sqlx::Error::PoolTimedOut.into(),
                    },
                )
            }
            Err(e) => Err(e.into()),
        }
    }

    fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
        AnyPoolOptions::new()
            .max_connections(max_connections)
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

    /// The pool for single-statement writes outside a transaction. Never call a method
    /// that uses it while holding a [`Tx`]: on SQLite it is the same single connection.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Starts a write transaction. Hold it only for statements: read what you need before
    /// it or through it, and never wait for another connection while it is open.
    pub async fn write(&self) -> Result<Tx, StoreError> {
        Ok(Tx(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        }))
    }

    /// Starts a write transaction and keeps it open until dropped (tests of lock behaviour).
    #[doc(hidden)]
    pub async fn hold_write_lock(&self) -> Result<impl Drop, StoreError> {
        let mut tx = self.write().await?;
        // SQLite takes the lock at BEGIN IMMEDIATE; PostgreSQL needs a write to hold one.
        sqlx::query("UPDATE schema_migrations SET name = name WHERE version = 1")
            .execute(tx.conn())
            .await?;
        Ok(tx.0)
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
            .execute(&self.writer)
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

    /// Closes the pools.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// An open write transaction: commit it, or drop it to roll back. The only way code
/// outside `store` holds a transaction (no sqlx type leaves this module).
#[derive(Debug)]
pub struct Tx(Transaction<'static, Any>);

impl Tx {
    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await?;
        Ok(())
    }

    /// Rolls back (dropping does the same, later).
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.0.rollback().await?;
        Ok(())
    }

    /// The connection, for statements of this module.
    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.0
    }
}
