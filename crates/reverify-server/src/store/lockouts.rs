//! Windowed attempt counters: lockouts per guessable secret and lane, and send limits.
//!
//! An attempt is *reserved* before its secret is checked, in one atomic statement: the
//! lane grants it only while `failures + pending < max` (pending: reserved, not yet
//! decided), so however many requests arrive at once, on however many instances, at most
//! `max` secrets are checked per window. Then the check decides: a wrong secret moves its
//! reservation to `failures` ([`Store::fail`]), and the failure that reaches `max` locks
//! the lane for `duration` — a failure can only set or extend a lock, never shorten or
//! clear it; a right secret gives its reservation back ([`Store::release_tx`]). A request
//! refused only because others are in flight is told to retry at once
//! ([`Reserved::Busy`]), so honest bursts (a service signing in from many workers) are
//! never locked out.

use super::{Store, StoreError, Tx};

/// A counter's rule: at most `max` reservations per `window` seconds; the `max`-th
/// failure locks the key for `duration` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Checks allowed in one window.
    pub max: i64,
    /// The window, in seconds, from its first reservation.
    pub window: i64,
    /// How long the `max`-th failure locks the key.
    pub duration: i64,
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// Go ahead: check the secret, then `Store::fail` or `Store::release_tx`.
    Granted,
    /// The key is locked until this time (unix seconds); nothing was reserved.
    Locked {
        /// End of the lock.
        until: i64,
    },
    /// The window's remaining checks are all in flight; nothing was reserved. Retry in a
    /// moment: they may succeed.
    Busy,
}

/// A window ends (or a lock expired): the counts start again. Only evaluated where the
/// `WHERE` below already excludes a lock in force.
const ROLLOVER: &str = "(lockouts.locked_until IS NOT NULL OR $2 - lockouts.window_start >= $3)";

impl Store {
    /// Reserves one check on `key` inside `tx` (one statement).
    pub(crate) async fn reserve_tx(
        tx: &mut Tx,
        key: &str,
        now: i64,
        limit: Limit,
    ) -> Result<Reserved, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO lockouts (key, failures, window_start, locked_until, pending) \
             VALUES ($1, 0, $2, NULL, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN {ROLLOVER} THEN 0 ELSE lockouts.failures END, \
               window_start = CASE WHEN {ROLLOVER} THEN $2 ELSE lockouts.window_start END, \
               pending = CASE WHEN {ROLLOVER} THEN 1 ELSE lockouts.pending + 1 END, \
               locked_until = NULL \
             WHERE (lockouts.locked_until IS NULL OR lockouts.locked_until <= $2) \
               AND ({ROLLOVER} OR lockouts.failures + lockouts.pending < $4) \
             RETURNING failures"
        ));
        let row: Option<(i64,)> = sqlx::query_as(sql)
            .bind(key)
            .bind(now)
            .bind(limit.window)
            .bind(limit.max)
            .fetch_optional(tx.conn())
            .await?;
        if row.is_some() {
            return Ok(Reserved::Granted);
        }
        let until: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT locked_until FROM lockouts WHERE key = $1")
                .bind(key)
                .fetch_optional(tx.conn())
                .await?;
        Ok(match until.and_then(|r| r.0).filter(|&u| u > now) {
            Some(until) => Reserved::Locked { until },
            None => Reserved::Busy,
        })
    }

    /// Reserves one check on `key` on its own.
    pub async fn reserve(&self, key: &str, now: i64, limit: Limit) -> Result<Reserved, StoreError> {
        let mut tx = self.write().await?;
        let out = Store::reserve_tx(&mut tx, key, now, limit).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// A reserved check failed: it counts as a failure, and the failure that reaches
    /// `max` locks the key until `now + duration` (a lock is only ever set or extended
    /// here). Returns the lock's end when this failure set it.
    pub async fn fail(&self, key: &str, now: i64, limit: Limit) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "UPDATE lockouts SET \
               pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END, \
               failures = failures + 1, \
               locked_until = CASE WHEN failures + 1 >= $2 \
                 THEN (CASE WHEN locked_until IS NOT NULL AND locked_until > $3 THEN locked_until ELSE $3 END) \
                 ELSE locked_until END \
             WHERE key = $1 \
             RETURNING failures, locked_until",
        )
        .bind(key)
        .bind(limit.max)
        .bind(now + limit.duration)
        .fetch_optional(self.writer())
        .await?;
        Ok(row.and_then(|(failures, until)| (failures == limit.max).then_some(until).flatten()))
    }

    /// Gives back a reservation whose secret was right, inside the transaction that acts
    /// on it.
    pub(crate) async fn release_tx(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lockouts SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END \
             WHERE key = $1",
        )
        .bind(key)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// [`Store::release_tx`], for tests.
    #[doc(hidden)]
    pub async fn release_for_tests(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
        Store::release_tx(tx, key).await
    }

    /// Counts one event on `key` (an email sent): granted while fewer than `max` were
    /// counted in the window; the `max`-th locks the key for `duration`.
    pub async fn count(&self, key: &str, now: i64, limit: Limit) -> Result<bool, StoreError> {
        match self.reserve(key, now, limit).await? {
            Reserved::Granted => {
                self.fail(key, now, limit).await?;
                Ok(true)
            }
            Reserved::Locked { .. } | Reserved::Busy => Ok(false),
        }
    }

    /// When `key` is locked until, if it is locked at `now` (a read; decisions use
    /// [`Store::reserve`]).
    pub async fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT locked_until FROM lockouts WHERE key = $1")
                .bind(key)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.and_then(|r| r.0).filter(|&until| until > now))
    }

    /// Forgets `key` (an administrator unlocking an account; tests).
    pub async fn clear_lock(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE key = $1")
            .bind(key)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
