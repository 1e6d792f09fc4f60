//! Passkeys (WebAuthn credentials) and pending WebAuthn ceremonies.

use super::{Store, StoreError, Tx};

/// A passkey as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PasskeyRow {
    /// `pk_…`
    pub id: String,
    /// Owner: an assertion with this credential can only ever sign in this user.
    pub user_id: String,
    /// The WebAuthn credential id, base64url.
    pub credential_id: String,
    /// A name the user chose ("MacBook Touch ID").
    pub name: String,
    /// The serialised credential (public key, algorithm, signature counter).
    pub credential: String,
    /// Registration time.
    pub created_at: i64,
    /// Last successful assertion.
    pub last_used_at: Option<i64>,
}

/// A pending WebAuthn ceremony as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CeremonyRow {
    /// `wac_…`
    pub id: String,
    /// `registration` or `sign_in`.
    pub kind: String,
    /// The user, for registrations.
    pub user_id: Option<String>,
    /// The serialised server-side ceremony state (challenge, allowed credentials).
    pub state: String,
    /// Start time.
    pub created_at: i64,
    /// The challenge dies at this time.
    pub expires_at: i64,
    /// Set once finished: a challenge is answered once.
    pub completed_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, credential_id, name, credential, created_at, last_used_at";

impl Store {
    /// The user's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ));
        Ok(sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// One of the user's passkeys.
    pub async fn passkey(&self, user_id: &str, id: &str) -> Result<Option<PasskeyRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM passkeys WHERE id = $1 AND user_id = $2"
        ));
        Ok(sqlx::query_as(sql)
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The passkey with this WebAuthn credential id.
    pub async fn passkey_by_credential_id(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1"
        ));
        Ok(sqlx::query_as(sql)
            .bind(credential_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Stores a new passkey inside `tx`. `Conflict` if the credential is already registered.
    pub(crate) async fn insert_passkey(tx: &mut Tx, p: &PasskeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.user_id)
        .bind(&p.credential_id)
        .bind(&p.name)
        .bind(&p.credential)
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Records a successful assertion: the updated credential (counter) and the time.
    pub(crate) async fn passkey_used(
        tx: &mut Tx,
        id: &str,
        credential: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3")
            .bind(credential)
            .bind(now)
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    /// Renames one of the user's passkeys; false if it is not theirs or does not exist.
    pub async fn rename_passkey(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes one of the user's passkeys inside `tx`; false if it is not theirs.
    pub(crate) async fn delete_passkey(
        tx: &mut Tx,
        user_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a pending ceremony.
    pub async fn insert_ceremony(&self, c: &CeremonyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id, kind, user_id, state, created_at, expires_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.kind)
        .bind(&c.user_id)
        .bind(&c.state)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.completed_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// A ceremony, pending or not.
    pub async fn ceremony(&self, id: &str) -> Result<Option<CeremonyRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, kind, user_id, state, created_at, expires_at, completed_at FROM webauthn_ceremonies WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Deletes ceremonies that expired before `before`; returns how many.
    pub async fn purge_ceremonies(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
            .bind(before)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// Takes a pending ceremony once, inside `tx`: marks it completed and returns it, or
    /// `None` if it does not exist, is of another kind, or was already taken.
    pub(crate) async fn take_ceremony(
        tx: &mut Tx,
        id: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<CeremonyRow>, StoreError> {
        let row: Option<CeremonyRow> = sqlx::query_as(
            "UPDATE webauthn_ceremonies SET completed_at = $1 WHERE id = $2 AND kind = $3 AND completed_at IS NULL \
             RETURNING id, kind, user_id, state, created_at, expires_at, completed_at",
        )
        .bind(now)
        .bind(id)
        .bind(kind)
        .fetch_optional(tx.conn())
        .await?;
        Ok(row)
    }
}
