//! Second factors: one TOTP authenticator per user, and backup codes.

use super::{Store, StoreError, Tx};

/// A TOTP authenticator as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TotpFactor {
    /// Owner.
    pub user_id: String,
    /// The shared secret, base32 (needed to compute codes, so it cannot be hashed).
    pub secret: String,
    /// Set by the first valid code; until then the authenticator is pending.
    pub confirmed_at: Option<i64>,
    /// The last time step a code was accepted for: no code of this step or an earlier
    /// one is accepted again.
    pub last_used_step: i64,
    /// Creation time.
    pub created_at: i64,
}

impl Store {
    /// The user's TOTP authenticator, confirmed or pending.
    pub async fn totp_of(&self, user_id: &str) -> Result<Option<TotpFactor>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT user_id, secret, confirmed_at, last_used_step, created_at FROM totp_factors WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Whether the user has a confirmed second factor.
    pub async fn has_second_factor(&self, user_id: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Stores a pending authenticator, replacing a pending one (never a confirmed one).
    /// False if a confirmed one exists.
    pub async fn put_pending_totp(
        &self,
        user_id: &str,
        secret: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, confirmed_at, last_used_step, created_at) VALUES ($1, $2, NULL, 0, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = $3, last_used_step = 0 WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(secret)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Accepts a TOTP time step once: moves `last_used_step` forward (and confirms a
    /// pending authenticator when `confirm`). False if the step was already used, so two
    /// concurrent requests with one code cannot both pass.
    pub(crate) async fn use_totp_step(
        tx: &mut Tx,
        user_id: &str,
        step: i64,
        confirm_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE totp_factors SET last_used_step = $1, confirmed_at = COALESCE(confirmed_at, $2) \
             WHERE user_id = $3 AND last_used_step < $1",
        )
        .bind(step)
        .bind(confirm_at)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes the user's authenticator and backup codes. True if there was one.
    pub(crate) async fn delete_totp(tx: &mut Tx, user_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .execute(tx.conn())
            .await?;
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the user's backup codes with these hashes.
    pub(crate) async fn replace_backup_codes(
        tx: &mut Tx,
        user_id: &str,
        hashes: &[(String, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(tx.conn())
            .await?;
        for (id, hash) in hashes {
            sqlx::query(
                "INSERT INTO backup_codes (id, user_id, code_hash, used_at, created_at) VALUES ($1, $2, $3, NULL, $4)",
            )
            .bind(id)
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Ok(())
    }

    /// What the user can verify with, in one query: their passkeys, whether they have a
    /// confirmed authenticator app, and their unused backup codes.
    pub async fn factor_counts(&self, user_id: &str) -> Result<(i64, bool, i64), StoreError> {
        let row: (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM passkeys WHERE user_id = $1), \
                    (SELECT COUNT(*) FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL), \
                    (SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL)",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok((row.0, row.1 > 0, row.2))
    }

    /// How many unused backup codes the user has.
    pub async fn backup_codes_left(&self, user_id: &str) -> Result<i64, StoreError> {
        let row: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.0)
    }

    /// Uses the unused backup code with this hash, once. False if there is none.
    pub(crate) async fn use_backup_code(
        tx: &mut Tx,
        user_id: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(tx.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
