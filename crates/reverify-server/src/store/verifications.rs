//! Reverifications: a session proving its user again, for one level, for a few minutes.

use super::{Store, StoreError, Tx};

/// A verification as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerificationRow {
    /// `ver_…`
    pub id: String,
    /// The only session it can ever elevate.
    pub session_id: String,
    /// The session's user.
    pub user_id: String,
    /// `first_factor`, `second_factor` or `multi_factor`.
    pub level: String,
    /// `needs_first_factor`, `needs_second_factor`, `complete`, `cancelled`, `failed`.
    pub status: String,
    /// When a first factor was verified in this verification.
    pub first_factor_at: Option<i64>,
    /// When a second factor was verified in this verification.
    pub second_factor_at: Option<i64>,
    /// RFC 8176 methods verified so far, space-separated.
    pub amr: String,
    /// SHA-256 of the emailed code, once prepared.
    pub code_hash: Option<String>,
    /// The emailed code dies at this time.
    pub code_expires_at: Option<i64>,
    /// A pending passkey challenge (server state), once prepared.
    pub passkey_state: Option<String>,
    /// Wrong secrets so far.
    pub attempts: i64,
    /// Start.
    pub created_at: i64,
    /// The verification dies at this time.
    pub expires_at: i64,
    /// Set when it completed, was cancelled or failed.
    pub ended_at: Option<i64>,
    /// The action this verification approves (JSON: type, summary, fields, digest).
    pub action: Option<String>,
}

const COLUMNS: &str = "id, session_id, user_id, level, status, first_factor_at, second_factor_at, amr, code_hash, code_expires_at, passkey_state, attempts, created_at, expires_at, ended_at, action";

impl Store {
    /// Stores a new verification.
    pub async fn insert_verification(&self, v: &VerificationRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO verifications (id, session_id, user_id, level, status, first_factor_at, second_factor_at, amr, code_hash, code_expires_at, passkey_state, attempts, created_at, expires_at, ended_at, action) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&v.id)
        .bind(&v.session_id)
        .bind(&v.user_id)
        .bind(&v.level)
        .bind(&v.status)
        .bind(v.first_factor_at)
        .bind(v.second_factor_at)
        .bind(&v.amr)
        .bind(&v.code_hash)
        .bind(v.code_expires_at)
        .bind(&v.passkey_state)
        .bind(v.attempts)
        .bind(v.created_at)
        .bind(v.expires_at)
        .bind(v.ended_at)
        .bind(&v.action)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The verification `id` of session `session_id` (another session's is "not found").
    pub async fn verification(
        &self,
        id: &str,
        session_id: &str,
    ) -> Result<Option<VerificationRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM verifications WHERE id = $1 AND session_id = $2"
        ));
        Ok(sqlx::query_as(sql)
            .bind(id)
            .bind(session_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The same, locked for the rest of `tx`.
    pub(crate) async fn verification_for_update(
        &self,
        tx: &mut Tx,
        id: &str,
        session_id: &str,
    ) -> Result<Option<VerificationRow>, StoreError> {
        let lock = match self.backend() {
            super::Backend::Postgres => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM verifications WHERE id = $1 AND session_id = $2{lock}"
        ));
        Ok(sqlx::query_as(sql)
            .bind(id)
            .bind(session_id)
            .fetch_optional(tx.conn())
            .await?)
    }

    /// Stores a prepared emailed code on an open verification that still waits for its
    /// first factor (one statement, so a concurrent attempt's progress is never written
    /// over). False if it has ended or moved on.
    pub(crate) async fn set_verification_code(
        &self,
        id: &str,
        code_hash: &str,
        code_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE verifications SET code_hash = $2, code_expires_at = $3 \
             WHERE id = $1 AND ended_at IS NULL AND status = 'needs_first_factor'",
        )
        .bind(id)
        .bind(code_hash)
        .bind(code_expires_at)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a passkey challenge on an open verification (one statement). False if it
    /// has ended.
    pub(crate) async fn set_verification_passkey(
        &self,
        id: &str,
        passkey_state: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE verifications SET passkey_state = $2 WHERE id = $1 AND ended_at IS NULL",
        )
        .bind(id)
        .bind(passkey_state)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes a verification's progress inside `tx` (status, factor times, code, passkey
    /// challenge, end, attempts). Read the row under lock in the same transaction first.
    pub(crate) async fn update_verification(
        tx: &mut Tx,
        v: &VerificationRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE verifications SET status = $1, first_factor_at = $2, second_factor_at = $3, amr = $4, code_hash = $5, \
             code_expires_at = $6, passkey_state = $7, ended_at = $8, attempts = $10 WHERE id = $9",
        )
        .bind(&v.status)
        .bind(v.first_factor_at)
        .bind(v.second_factor_at)
        .bind(&v.amr)
        .bind(&v.code_hash)
        .bind(v.code_expires_at)
        .bind(&v.passkey_state)
        .bind(v.ended_at)
        .bind(&v.id)
        .bind(v.attempts)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// Reserves one attempt of verification `id` of `session_id` inside `tx`, before its
    /// secret is checked: the attempts used, counting this one; `None` when it has
    /// ended, expired at `now`, or used its `max` attempts (concurrent requests cannot all pass a read-then-write check).
    pub(crate) async fn reserve_verification_attempt_tx(
        tx: &mut Tx,
        id: &str,
        session_id: &str,
        now: i64,
        max: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE verifications SET attempts = attempts + 1 \
             WHERE id = $1 AND session_id = $2 AND ended_at IS NULL AND expires_at > $3 AND attempts < $4 \
             RETURNING attempts",
        )
        .bind(id)
        .bind(session_id)
        .bind(now)
        .bind(max)
        .fetch_optional(tx.conn())
        .await?;
        Ok(row.map(|r| r.0))
    }

    /// Gives back an attempt whose secret was right.
    pub(crate) async fn release_verification_attempt_tx(
        tx: &mut Tx,
        id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE verifications SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0",
        )
        .bind(id)
        .execute(tx.conn())
        .await?;
        Ok(())
    }
}
