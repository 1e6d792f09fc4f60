//! Sessions: opaque cookie secrets stored hashed, lifetimes, factor verification times.

use super::{Store, StoreError, Tx};

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// `sess_…`
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// SHA-256 of the cookie secret (hex).
    pub secret_hash: String,
    /// Sign-in time.
    pub created_at: i64,
    /// Last use (updated coarsely, not on every request).
    pub last_active_at: i64,
    /// Absolute end.
    pub expires_at: i64,
    /// Set when signed out or revoked.
    pub ended_at: Option<i64>,
    /// `sign_out`, `revoked`, `user_deleted`, …
    pub end_reason: Option<String>,
    /// Last first-factor verification in this session.
    pub first_factor_at: Option<i64>,
    /// Last second-factor verification in this session.
    pub second_factor_at: Option<i64>,
    /// RFC 8176 methods used in this session, space-separated.
    pub amr: String,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
}

/// What a new session starts with.
pub type NewSession = SessionRow;

const COLUMNS: &str = "id, user_id, secret_hash, created_at, last_active_at, expires_at, ended_at, end_reason, first_factor_at, second_factor_at, amr, ip, user_agent";

impl SessionRow {
    /// Whether the session can be used at `now`.
    pub fn is_active(&self, now: i64, idle_timeout: i64) -> bool {
        self.ended_at.is_none() && now < self.expires_at && now < self.last_active_at + idle_timeout
    }
}

impl Store {
    /// Inserts a session inside a transaction.
    pub(crate) async fn insert_session(tx: &mut Tx, s: &NewSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, secret_hash, created_at, last_active_at, expires_at, ended_at, end_reason, first_factor_at, second_factor_at, amr, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(&s.secret_hash)
        .bind(s.created_at)
        .bind(s.last_active_at)
        .bind(s.expires_at)
        .bind(s.ended_at)
        .bind(&s.end_reason)
        .bind(s.first_factor_at)
        .bind(s.second_factor_at)
        .bind(&s.amr)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Creates a session on its own.
    pub async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        Store::insert_session(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session whose cookie secret hashes to `secret_hash`.
    pub async fn session_by_secret_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<SessionRow>, StoreError> {
        if let Some(reader) = &self.reader {
            return reader.session_by_secret_hash(secret_hash);
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE secret_hash = $1"
        ));
        Ok(sqlx::query_as(sql)
            .bind(secret_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The session with this id.
    pub async fn session_by_id(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM sessions WHERE id = $1"));
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A user's sessions that have not ended, newest first.
    pub async fn open_sessions_of(&self, user_id: &str) -> Result<Vec<SessionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at DESC, id"
        ));
        Ok(sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Records use of a session, but only if the stored time is older than `now - granularity`:
    /// refreshing does not write on every call.
    pub async fn touch_session(
        &self,
        id: &str,
        now: i64,
        granularity: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE id = $2 AND last_active_at < $3 AND ended_at IS NULL")
            .bind(now)
            .bind(id)
            .bind(now - granularity)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends a session; false if it was already ended or does not exist.
    pub async fn end_session(&self, id: &str, now: i64, reason: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Tells other instances that sessions changed (PostgreSQL `NOTIFY`; nothing on
    /// SQLite, where instances do not share a database).
    pub async fn announce_session_change(&self, payload: &str) -> Result<(), StoreError> {
        if self.backend() == super::Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::session_cache::CHANNEL)
                .bind(payload)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Records a factor verification in a session (reverification, second-factor step).
    /// Times only move forward.
    pub async fn record_factors(
        &self,
        id: &str,
        first_factor_at: Option<i64>,
        second_factor_at: Option<i64>,
        amr: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET \
               first_factor_at = CASE WHEN $1 IS NULL THEN first_factor_at WHEN first_factor_at IS NULL OR first_factor_at < $1 THEN $1 ELSE first_factor_at END, \
               second_factor_at = CASE WHEN $2 IS NULL THEN second_factor_at WHEN second_factor_at IS NULL OR second_factor_at < $2 THEN $2 ELSE second_factor_at END, \
               amr = $3 \
             WHERE id = $4 AND ended_at IS NULL",
        )
        .bind(first_factor_at)
        .bind(second_factor_at)
        .bind(amr)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
