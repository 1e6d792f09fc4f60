//! Users.

use super::{Store, StoreError, Tx};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// `user_…`
    pub id: String,
    /// Lowercased email address.
    pub email: String,
    /// Argon2id PHC string; `None` for accounts without a password.
    pub password_hash: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

const COLUMNS: &str = "id, email, password_hash, created_at, updated_at";

impl User {
    /// A new user with a fresh id.
    pub fn new(email: String, password_hash: Option<String>, now: i64) -> User {
        User {
            id: crate::secrets::new_id("user"),
            email,
            password_hash,
            created_at: now,
            updated_at: now,
        }
    }
}

impl Store {
    /// Creates a user inside a transaction; `Conflict` if the email is taken.
    pub(crate) async fn insert_user(tx: &mut Tx, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Creates a user on its own (admin API, CLI).
    pub async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        Store::insert_user(&mut tx, user).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user with this (lowercased) email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE email = $1"));
        Ok(sqlx::query_as(sql)
            .bind(email)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = $1"));
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Users ordered by creation, `limit` from `offset`.
    pub async fn list_users(&self, limit: i64, offset: i64) -> Result<Vec<User>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"
        ));
        Ok(sqlx::query_as(sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?)
    }

    /// Deletes a user with their sessions (evicted and announced to every instance, see
    /// `SessionWrite`) and factors; false if there was none.
    pub async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_sessions().await?;
        // Explicit, so that it does not depend on SQLite's foreign_keys pragma.
        for table in [
            "verifications",
            "totp_factors",
            "backup_codes",
            "passkeys",
            "webauthn_ceremonies",
            "oidc_consents",
        ] {
            let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1"));
            sqlx::query(sql).bind(id).execute(tx.conn()).await?;
        }
        Store::delete_sessions_of(&mut tx, id).await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets a user's password hash inside `tx`.
    pub(crate) async fn set_password(
        tx: &mut Tx,
        id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(id)
                .execute(tx.conn())
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
