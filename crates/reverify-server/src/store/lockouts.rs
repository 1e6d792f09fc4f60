//! Windowed attempt counters: lockouts per guessable secret and account, and send limits.
//!
//! An attempt is *reserved* before the secret is checked, in one atomic statement: the
//! counter moves up unless the key is locked, and the reservation that reaches `max` sets
//! the lock. A wrong secret then writes nothing (its reservation already counted it), so a
//! failure can never shorten or clear a lock, and however many requests arrive at once at
//! most `max` secrets are checked per window. A right secret gives its reservation back.

use super::{Store, StoreError, Tx};

/// A counter's rule: at most `max` reservations per `window` seconds; the `max`-th locks
/// the key for `duration` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Reservations allowed in one window.
    pub max: i64,
    /// The window, in seconds, from its first reservation.
    pub window: i64,
    /// How long the `max`-th reservation locks the key.
    pub duration: i64,
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// Go ahead: check the secret. `locked` when this reservation was the last one
    /// allowed and locked the key (if the secret is wrong, the account is now locked).
    Granted {
        /// This reservation set the lock.
        locked: bool,
    },
    /// The key is locked until this time (unix seconds); nothing was reserved.
    Locked {
        /// End of the lock.
        until: i64,
    },
}

const RESERVE: &str = "\
INSERT INTO lockouts (key, failures, window_start, locked_until) \
VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE NULL END) \
ON CONFLICT (key) DO UPDATE SET \
  failures = CASE WHEN lockouts.locked_until IS NOT NULL OR $2 - lockouts.window_start >= $3 THEN 1 ELSE lockouts.failures + 1 END, \
  window_start = CASE WHEN lockouts.locked_until IS NOT NULL OR $2 - lockouts.window_start >= $3 THEN $2 ELSE lockouts.window_start END, \
  locked_until = CASE WHEN (CASE WHEN lockouts.locked_until IS NOT NULL OR $2 - lockouts.window_start >= $3 THEN 1 ELSE lockouts.failures + 1 END) >= $4 \
    THEN $2 + $5 ELSE NULL END \
WHERE lockouts.locked_until IS NULL OR lockouts.locked_until <= $2 \
RETURNING failures, locked_until";

impl Store {
    /// Reserves one attempt on `key` inside `tx` (one statement; the row stays locked
    /// until `tx` ends, so keep `tx` short).
    pub(crate) async fn reserve_tx(
        tx: &mut Tx,
        key: &str,
        now: i64,
        limit: Limit,
    ) -> Result<Reserved, StoreError> {
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(RESERVE)
            .bind(key)
            .bind(now)
            .bind(limit.window)
            .bind(limit.max)
            .bind(limit.duration)
            .fetch_optional(tx.conn())
            .await?;
        match row {
            Some((_, locked_until)) => Ok(Reserved::Granted {
                locked: locked_until.is_some(),
            }),
            None => {
                let until: Option<(Option<i64>,)> =
                    sqlx::query_as("SELECT locked_until FROM lockouts WHERE key = $1")
                        .bind(key)
                        .fetch_optional(tx.conn())
                        .await?;
                Ok(Reserved::Locked {
                    until: until.and_then(|r| r.0).unwrap_or(now + 1),
                })
            }
        }
    }

    /// Reserves one attempt on `key` on its own.
    pub async fn reserve(&self, key: &str, now: i64, limit: Limit) -> Result<Reserved, StoreError> {
        let mut tx = self.write().await?;
        let out = Store::reserve_tx(&mut tx, key, now, limit).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Gives back a reservation whose secret was right (inside the transaction that acts
    /// on it): the count goes down by one, and a lock that this count had set is lifted.
    pub(crate) async fn release_tx(tx: &mut Tx, key: &str, limit: Limit) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE lockouts SET failures = failures - 1, \
             locked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE locked_until END \
             WHERE key = $1 AND failures > 0",
        )
        .bind(key)
        .bind(limit.max)
        .execute(tx.conn())
        .await?;
        Ok(())
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
