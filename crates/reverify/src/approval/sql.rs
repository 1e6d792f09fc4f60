//! The SQLite and PostgreSQL approval stores: one table, `reverify_approvals`, in the app's
//! database. Per approved request: one `INSERT … ON CONFLICT DO NOTHING`.

use super::{ApprovalStore, ConsumedApproval};
use crate::store::{BoxFuture, StoreError};

const TABLE: &str = "CREATE TABLE IF NOT EXISTS reverify_approvals (\
     approval_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, session_id TEXT, \
     action_type TEXT NOT NULL, summary TEXT NOT NULL, digest TEXT NOT NULL, \
     consumed_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)";

const INDEX: &str = "CREATE INDEX IF NOT EXISTS reverify_approvals_by_user \
     ON reverify_approvals (user_id, consumed_at)";

/// The unique key makes the first insert the only one that counts, whichever instance runs
/// it; the loser inserts nothing.
const CONSUME: &str = "INSERT INTO reverify_approvals \
     (approval_id, user_id, session_id, action_type, summary, digest, consumed_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (approval_id) DO NOTHING";

const PURGE: &str = "DELETE FROM reverify_approvals WHERE expires_at < $1";

macro_rules! sql_store {
    ($(#[$doc:meta])* $name:ident, $pool:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            pool: $pool,
        }

        impl $name {
            /// A store on the app's pool. Call [`migrate`](Self::migrate) once at start-up.
            pub fn new(pool: $pool) -> Self {
                $name { pool }
            }

            /// Deletes the records of approvals that expired more than `keep` ago (they are
            /// the app's record of what was approved: keep them as long as you audit).
            /// Returns how many rows went.
            pub async fn purge(&self, keep: std::time::Duration) -> Result<u64, StoreError> {
                let now = crate::clock::system_millis() / 1000;
                let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
                let done = sqlx::query(PURGE)
                    .bind(now.saturating_sub(keep))
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::new)?;
                Ok(done.rows_affected())
            }
        }

        impl ApprovalStore for $name {
            fn consume<'a>(
                &'a self,
                a: &'a ConsumedApproval<'a>,
            ) -> BoxFuture<'a, Result<bool, StoreError>> {
                Box::pin(async move {
                    let done = sqlx::query(CONSUME)
                        .bind(a.approval_id)
                        .bind(a.user_id)
                        .bind(a.session_id)
                        .bind(a.action_type)
                        .bind(a.summary)
                        .bind(a.digest)
                        .bind(a.consumed_at)
                        .bind(a.expires_at)
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::new)?;
                    Ok(done.rows_affected() == 1)
                })
            }
        }
    };
}

sql_store!(
    /// The approval store in the app's SQLite database (table `reverify_approvals`).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use reverify::approval::{Approvals, SqliteApprovalStore};
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db").await?;
    /// let store = SqliteApprovalStore::new(pool);
    /// store.migrate().await?;
    /// let approvals = Approvals::new(store);
    /// # Ok(()) }
    /// ```
    SqliteApprovalStore,
    sqlx::SqlitePool
);

sql_store!(
    /// The approval store in the app's PostgreSQL database (table `reverify_approvals`);
    /// single-use holds across any number of app instances on the same database.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use reverify::approval::{Approvals, PostgresApprovalStore};
    /// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
    /// let store = PostgresApprovalStore::new(pool);
    /// store.migrate().await?;
    /// let approvals = Approvals::new(store);
    /// # Ok(()) }
    /// ```
    PostgresApprovalStore,
    sqlx::PgPool
);

impl SqliteApprovalStore {
    /// Creates the table and its index if they do not exist.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::store::migrate_sqlite(&self.pool, &[TABLE, INDEX]).await
    }
}

impl PostgresApprovalStore {
    /// Creates the table and its index if they do not exist (under an advisory lock, so
    /// instances starting together do not collide).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // "reverify_approvals" as a lock id.
        crate::store::migrate_postgres(&self.pool, 7265766572690052, &[TABLE, INDEX]).await
    }
}
