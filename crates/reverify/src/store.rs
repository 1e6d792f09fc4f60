//! What the app-database stores share: their future type and their error.

use std::future::Future;
use std::pin::Pin;

/// The boxed future the methods of the stores (`IdempotencyStore`, `ApprovalStore`) return (the trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a store failed (a database error, typically).
///
/// ```
/// let e = reverify::idempotency::StoreError::new(std::io::Error::other("disk full"));
/// assert_eq!(e.to_string(), "store: disk full");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps the underlying error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError(error.into())
    }
}

/// Runs `statements` (`CREATE … IF NOT EXISTS`) on an SQLite pool, in order.
#[cfg(feature = "sqlx")]
pub(crate) async fn migrate_sqlite(
    pool: &sqlx::SqlitePool,
    statements: &[&'static str],
) -> Result<(), StoreError> {
    for statement in statements {
        sqlx::query(*statement)
            .execute(pool)
            .await
            .map_err(StoreError::new)?;
    }
    Ok(())
}

/// Runs `statements` on PostgreSQL in one transaction under the advisory lock `lock`, so
/// that instances starting together do not collide.
#[cfg(feature = "sqlx")]
pub(crate) async fn migrate_postgres(
    pool: &sqlx::PgPool,
    lock: i64,
    statements: &[&'static str],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::new)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::new)?;
    for statement in statements {
        sqlx::query(*statement)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::new)?;
    }
    tx.commit().await.map_err(StoreError::new)
}
