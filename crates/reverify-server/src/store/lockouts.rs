//! Failure counters per guessable secret and account, for temporary lockouts.

use super::{Store, StoreError};

impl Store {
    /// When `key` is locked until, if it is locked at `now`.
    pub async fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT locked_until FROM lockouts WHERE key = $1")
                .bind(key)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.and_then(|r| r.0).filter(|&until| until > now))
    }

    /// Counts a failure on `key`: failures older than `window` are forgotten; the
    /// `max`-th failure in the window locks the key until `now + duration`. Returns the
    /// lock's end when this failure locked it.
    pub async fn count_failure(
        &self,
        key: &str,
        now: i64,
        window: i64,
        max: i64,
        duration: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.write().await?;
        let lock = match self.backend() {
            super::Backend::Postgres => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT failures, window_start, locked_until FROM lockouts WHERE key = $1{lock}"
        ));
        let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(sql)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let (failures, window_start) = match row {
            Some((f, start, until)) if now - start < window || until.is_some_and(|u| u > now) => {
                (f + 1, start)
            }
            _ => (1, now),
        };
        let locked_until = (failures >= max).then_some(now + duration);
        // A lock, once set, restarts the count: the next window starts when it ends.
        let (stored_failures, stored_start) = match locked_until {
            Some(until) => (0, until),
            None => (failures, window_start),
        };
        sqlx::query(
            "INSERT INTO lockouts (key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET failures = $2, window_start = $3, locked_until = $4",
        )
        .bind(key)
        .bind(stored_failures)
        .bind(stored_start)
        .bind(locked_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(locked_until)
    }

    /// Forgets the failures on `key` (after a success).
    pub async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
