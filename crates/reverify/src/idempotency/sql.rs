//! The SQLite and PostgreSQL stores: one table, `reverify_idempotency`, in the app's database.
//!
//! Per request that reaches the handler: one `INSERT … ON CONFLICT DO UPDATE … WHERE
//! expired RETURNING` (the reservation) and one `UPDATE` (the response) or `DELETE` (a
//! released key). A repeat costs the `INSERT` that does nothing plus one `SELECT`.

use ring::rand::{SecureRandom, SystemRandom};

use super::{
    BoxFuture, IdempotencyStore, Reservation, Reserve, Slot, StoreError, StoredResponse, Times,
};

/// Inserts the key as in flight, or takes over an expired or abandoned row; returns a row
/// only to the winner. One statement: no read-then-write race, no open transaction.
const RESERVE: &str = "INSERT INTO reverify_idempotency \
     (scope, idempotency_key, fingerprint, token, completed, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, 0, $5, $6) \
     ON CONFLICT (scope, idempotency_key) DO UPDATE SET \
     fingerprint = excluded.fingerprint, token = excluded.token, completed = 0, \
     status = NULL, content_type = NULL, body = NULL, \
     created_at = excluded.created_at, expires_at = excluded.expires_at \
     WHERE reverify_idempotency.expires_at <= $5 \
     OR (reverify_idempotency.completed = 0 AND reverify_idempotency.created_at < $7) \
     RETURNING token";

/// The table, the same on both databases but for the body's binary type (a literal, so
/// the statement stays a static string).
macro_rules! table {
    ($blob:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS reverify_idempotency (",
            "scope TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, ",
            "token TEXT NOT NULL, completed INTEGER NOT NULL DEFAULT 0, status INTEGER, ",
            "content_type TEXT, body ",
            $blob,
            ", created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, ",
            "PRIMARY KEY (scope, idempotency_key))"
        )
    };
}

/// The losing side reads what holds the key.
const EXISTING: &str = "SELECT fingerprint, completed, status, content_type, body \
     FROM reverify_idempotency WHERE scope = $1 AND idempotency_key = $2";

const COMPLETE: &str = "UPDATE reverify_idempotency \
     SET completed = 1, status = $4, content_type = $5, body = $6 \
     WHERE scope = $1 AND idempotency_key = $2 AND token = $3 AND completed = 0";

const RELEASE: &str = "DELETE FROM reverify_idempotency \
     WHERE scope = $1 AND idempotency_key = $2 AND token = $3 AND completed = 0";

const PURGE: &str = "DELETE FROM reverify_idempotency WHERE expires_at <= $1";

const INDEX: &str = "CREATE INDEX IF NOT EXISTS reverify_idempotency_expires \
     ON reverify_idempotency (expires_at)";

/// A reserve that loses to a row which disappears before it is read (released) tries again.
const ATTEMPTS: usize = 3;

type Existing = (String, i32, Option<i32>, Option<String>, Option<Vec<u8>>);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::new("no randomness for a reservation token"))?;
    Ok(hex(&bytes))
}

fn outcome(existing: Existing, fingerprint: &str) -> Reserve {
    let (stored_print, completed, status, content_type, body) = existing;
    if stored_print != fingerprint {
        Reserve::Mismatch
    } else if completed == 0 {
        Reserve::InFlight
    } else {
        Reserve::Done(StoredResponse {
            status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
            content_type,
            body: body.unwrap_or_default(),
        })
    }
}

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

            /// Deletes expired keys (an expired key is also replaced by its next use); run it
            /// now and then to keep the table small. Returns how many rows went.
            pub async fn purge_expired(&self) -> Result<u64, StoreError> {
                let now = crate::clock::system_millis();
                let done = sqlx::query(PURGE)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::new)?;
                Ok(done.rows_affected())
            }

            async fn reserve_once(
                &self,
                slot: Slot<'_>,
                fingerprint: &str,
                times: Times,
            ) -> Result<Option<Reserve>, StoreError> {
                let token = new_token()?;
                let won: Option<(String,)> = sqlx::query_as(RESERVE)
                    .bind(slot.scope)
                    .bind(slot.key)
                    .bind(fingerprint)
                    .bind(&token)
                    .bind(times.now)
                    .bind(times.expires_at)
                    .bind(times.abandoned_before)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::new)?;
                if won.is_some() {
                    return Ok(Some(Reserve::Reserved(Reservation::new(token))));
                }
                let existing: Option<Existing> = sqlx::query_as(EXISTING)
                    .bind(slot.scope)
                    .bind(slot.key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::new)?;
                Ok(existing.map(|row| outcome(row, fingerprint)))
            }
        }

        impl IdempotencyStore for $name {
            fn reserve<'a>(
                &'a self,
                slot: Slot<'a>,
                fingerprint: [u8; 32],
                times: Times,
            ) -> BoxFuture<'a, Result<Reserve, StoreError>> {
                Box::pin(async move {
                    let print = hex(&fingerprint);
                    for _ in 0..ATTEMPTS {
                        if let Some(outcome) = self.reserve_once(slot, &print, times).await? {
                            return Ok(outcome);
                        }
                    }
                    // Keys that keep being released under us: someone is running it.
                    Ok(Reserve::InFlight)
                })
            }

            fn complete<'a>(
                &'a self,
                slot: Slot<'a>,
                reservation: &'a Reservation,
                response: &'a StoredResponse,
            ) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(async move {
                    sqlx::query(COMPLETE)
                        .bind(slot.scope)
                        .bind(slot.key)
                        .bind(reservation.token())
                        .bind(i32::from(response.status))
                        .bind(response.content_type.as_deref())
                        .bind(response.body.as_slice())
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::new)?;
                    Ok(())
                })
            }

            fn release<'a>(
                &'a self,
                slot: Slot<'a>,
                reservation: &'a Reservation,
            ) -> BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(async move {
                    sqlx::query(RELEASE)
                        .bind(slot.scope)
                        .bind(slot.key)
                        .bind(reservation.token())
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::new)?;
                    Ok(())
                })
            }
        }
    };
}

sql_store!(
    /// The idempotency store in the app's SQLite database (table `reverify_idempotency`).
    ///
    /// Give the pool a busy timeout (sqlx's default is 5 s) and, with several processes on
    /// one file, WAL mode: every reservation is a write.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use reverify::idempotency::{IdempotencyLayer, SqliteIdempotencyStore};
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db").await?;
    /// let store = SqliteIdempotencyStore::new(pool);
    /// store.migrate().await?;
    /// let layer = IdempotencyLayer::new(store);
    /// # Ok(()) }
    /// ```
    SqliteIdempotencyStore,
    sqlx::SqlitePool
);

sql_store!(
    /// The idempotency store in the app's PostgreSQL database (table `reverify_idempotency`);
    /// safe with any number of app instances on the same database.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use reverify::idempotency::{IdempotencyLayer, PostgresIdempotencyStore};
    /// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
    /// let store = PostgresIdempotencyStore::new(pool);
    /// store.migrate().await?;
    /// let layer = IdempotencyLayer::new(store);
    /// # Ok(()) }
    /// ```
    PostgresIdempotencyStore,
    sqlx::PgPool
);

impl SqliteIdempotencyStore {
    /// Creates the table and its index if they do not exist.
    ///
    /// ```no_run
    /// # async fn demo(store: reverify::idempotency::SqliteIdempotencyStore) -> Result<(), reverify::idempotency::StoreError> {
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::store::migrate_sqlite(&self.pool, &[table!("BLOB"), INDEX]).await
    }
}

impl PostgresIdempotencyStore {
    /// Creates the table and its index if they do not exist (under an advisory lock, so
    /// instances starting together do not collide).
    ///
    /// ```no_run
    /// # async fn demo(store: reverify::idempotency::PostgresIdempotencyStore) -> Result<(), reverify::idempotency::StoreError> {
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // "reverify_idempotency" as a lock id.
        crate::store::migrate_postgres(&self.pool, 7265766572690051, &[table!("BYTEA"), INDEX])
            .await
    }
}
