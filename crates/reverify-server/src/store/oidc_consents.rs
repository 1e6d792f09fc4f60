//! What users allowed third-party OpenID clients, and the consent screen's one-time
//! binding to a waiting request.

use super::{Store, StoreError};

/// One scope a user allowed a client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConsentRow {
    /// The client.
    pub client_id: String,
    /// The scope.
    pub scope: String,
    /// When it was allowed.
    pub created_at: i64,
}

impl Store {
    /// Records a request waiting on the consent screen shown to `session_id`; the screen's
    /// decision must bring the token whose SHA-256 is `consent_hash`.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_oidc_pending_consent(
        &self,
        id: &str,
        client_id: &str,
        request: &str,
        consent_hash: &str,
        session_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_pending_requests (id, client_id, request, created_at, expires_at, consent_hash, session_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(client_id)
        .bind(request)
        .bind(now)
        .bind(expires_at)
        .bind(consent_hash)
        .bind(session_id)
        .execute(self.writer())
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Takes the decision of a consent screen, once: the waiting request's JSON when `id`
    /// is live, was shown to `session_id` and `consent_hash` is its token's; the row is
    /// deleted by the same statement, so that of concurrent decisions exactly one gets it.
    /// A wrong token or session changes nothing.
    pub async fn claim_oidc_pending_consent(
        &self,
        id: &str,
        consent_hash: &str,
        session_id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "DELETE FROM oidc_pending_requests WHERE id = $1 AND consent_hash = $2 AND session_id = $3 AND expires_at > $4 RETURNING request",
        )
        .bind(id)
        .bind(consent_hash)
        .bind(session_id)
        .bind(now)
        .fetch_optional(self.writer())
        .await?;
        Ok(row.map(|(r,)| r))
    }

    /// Records that `user_id` allowed `client_id` these scopes (added to those allowed
    /// before; concurrent grants each add theirs).
    pub async fn grant_oidc_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for scope in scopes {
            sqlx::query(
                "INSERT INTO oidc_consents (user_id, client_id, scope, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id, scope) DO NOTHING",
            )
            .bind(user_id)
            .bind(client_id)
            .bind(scope)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The scopes `user_id` allowed `client_id`.
    pub async fn oidc_consented_scopes(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT scope FROM oidc_consents WHERE user_id = $1 AND client_id = $2 ORDER BY scope",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Every scope `user_id` allowed, by client then scope.
    pub async fn oidc_consents_of(&self, user_id: &str) -> Result<Vec<ConsentRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT client_id, scope, created_at FROM oidc_consents WHERE user_id = $1 ORDER BY client_id, scope",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Withdraws what `user_id` allowed `client_id`, in one transaction with the grants it
    /// made: the user's codes for the client (tokens an exchange stores later are stored
    /// revoked, see [`Store::insert_oidc_tokens`]) and live tokens. Answers whether there
    /// was a consent.
    pub async fn revoke_oidc_consent(
        &self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "UPDATE oidc_codes SET family_revoked_at = $1 WHERE user_id = $2 AND client_id = $3 AND family_revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(client_id)
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "UPDATE oidc_tokens SET revoked_at = $1 WHERE user_id = $2 AND client_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(client_id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets every consent given to a client (it was deleted).
    pub async fn delete_oidc_consents_of_client(&self, client_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM oidc_consents WHERE client_id = $1")
            .bind(client_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
