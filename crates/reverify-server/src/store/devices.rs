//! Known devices: browsers that completed a sign-in to an account.

use super::{Store, StoreError, Tx};

impl Store {
    /// Whether the device cookie hashing to `secret_hash` signed in to `user_id` before.
    pub async fn is_known_device(
        &self,
        secret_hash: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM known_devices WHERE secret_hash = $1 AND user_id = $2")
                .bind(secret_hash)
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.is_some())
    }

    /// Records (or refreshes) a known device inside the sign-in's transaction.
    pub(crate) async fn remember_device_tx(
        tx: &mut Tx,
        secret_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO known_devices (secret_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (secret_hash, user_id) DO UPDATE SET last_seen_at = $3",
        )
        .bind(secret_hash)
        .bind(user_id)
        .bind(now)
        .execute(tx.conn())
        .await?;
        Ok(())
    }
}
