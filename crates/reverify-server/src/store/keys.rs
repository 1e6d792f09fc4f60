//! Signing keys. All instances share them through the database.

use super::{Store, StoreError};

/// A signing key as stored: `EdDSA` (the 32-byte Ed25519 seed and the raw public key) or
/// `RS256` (the PKCS#8 private key and the SubjectPublicKeyInfo, DER), base64url.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredKey {
    /// Key id, in the JWKS and token headers.
    pub kid: String,
    /// `EdDSA` or `RS256`.
    pub alg: String,
    /// The Ed25519 seed or the RSA PKCS#8 DER, base64url (not encrypted at rest: protect
    /// the database).
    pub private_key: String,
    /// The raw Ed25519 public key or the RSA SubjectPublicKeyInfo DER, base64url.
    pub public_key: String,
    /// Creation time.
    pub created_at: i64,
    /// Signs from this time (published earlier).
    pub signs_from: i64,
    /// Stops signing at this time (set when a newer key takes over).
    pub signs_until: Option<i64>,
    /// Leaves the JWKS at this time (after its last tokens expired).
    pub published_until: Option<i64>,
    /// What it signs: `session` (session tokens) or `oidc` (the OpenID provider's ID and
    /// access tokens). Each purpose has its own signing key and rotates on its own.
    pub purpose: String,
}

const COLUMNS: &str = "kid, alg, private_key, public_key, created_at, signs_from, signs_until, published_until, purpose";

impl Store {
    /// Every key still published at `now`, oldest first.
    pub async fn published_keys(&self, now: i64) -> Result<Vec<StoredKey>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE published_until IS NULL OR published_until > $1 ORDER BY signs_from, kid"
        ));
        Ok(sqlx::query_as(sql).bind(now).fetch_all(self.pool()).await?)
    }

    /// Adds `new` and, in the same transaction, ends the signing period of every key that
    /// signs past `new.signs_from` (they stay published until `retire_published_at`).
    pub async fn rotate_in_key(
        &self,
        new: &StoredKey,
        retire_published_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        rotate_in(&mut tx, new, retire_published_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rotates `new` in (as [`Store::rotate_in_key`]) unless the key that signs last
    /// already has `new.alg`; answers whether it did. Instances that start together with a
    /// changed `keys.algorithm` rotate once: the check and the rotation are one
    /// transaction, serialised by the write lock (SQLite) or the row locks its first
    /// statement takes on the signing keys (PostgreSQL).
    pub async fn rotate_in_key_unless_alg(
        &self,
        new: &StoredKey,
        retire_published_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE signing_keys SET kid = kid WHERE signs_until IS NULL AND purpose = $1")
            .bind(&new.purpose)
            .execute(tx.conn())
            .await?;
        let last: Option<(String,)> = sqlx::query_as(
            "SELECT alg FROM signing_keys WHERE signs_until IS NULL AND purpose = $1 ORDER BY signs_from DESC, kid DESC LIMIT 1",
        )
        .bind(&new.purpose)
        .fetch_optional(tx.conn())
        .await?;
        if last.is_some_and(|(alg,)| alg == new.alg) {
            return Ok(false);
        }
        rotate_in(&mut tx, new, retire_published_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes `kid` at `now`, in one transaction: it stops signing and leaves the JWKS at
    /// once. If it signs at `now` or was due to sign later, `replacement` is added, signing
    /// from `now` (no publish-ahead: an emergency), and every other key that would sign past
    /// `now` stops, staying published until `retire_published_at` (their tokens are
    /// genuine). Only keys of `kid`'s purpose are touched; `replacement` must have it.
    /// `None` when there is no such key; otherwise whether `replacement` was added.
    pub async fn revoke_key(
        &self,
        kid: &str,
        now: i64,
        replacement: &StoredKey,
        retire_published_at: i64,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.write().await?;
        let found: Option<(Option<i64>, Option<i64>, String)> = sqlx::query_as(
            "SELECT signs_until, published_until, purpose FROM signing_keys WHERE kid = $1",
        )
        .bind(kid)
        .fetch_optional(tx.conn())
        .await?;
        let Some((signs_until, published_until, purpose)) = found else {
            return Ok(None);
        };
        // Only ever shortened: revoking twice, or a key already retired, changes nothing more.
        let cut = |at: Option<i64>| Some(at.map_or(now, |at| at.min(now)));
        sqlx::query(
            "UPDATE signing_keys SET signs_until = $1, published_until = $2 WHERE kid = $3",
        )
        .bind(cut(signs_until))
        .bind(cut(published_until))
        .bind(kid)
        .execute(tx.conn())
        .await?;
        let replace = signs_until.is_none_or(|until| until > now);
        if replace {
            sqlx::query("UPDATE signing_keys SET signs_until = $1, published_until = $2 WHERE (signs_until IS NULL OR signs_until > $1) AND kid <> $3 AND purpose = $4")
                .bind(now)
                .bind(retire_published_at)
                .bind(kid)
                .bind(&purpose)
                .execute(tx.conn())
                .await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_key, public_key, created_at, signs_from, signs_until, published_until, purpose) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7)",
            )
            .bind(&replacement.kid)
            .bind(&replacement.alg)
            .bind(&replacement.private_key)
            .bind(&replacement.public_key)
            .bind(replacement.created_at)
            .bind(now)
            .bind(&purpose)
            .execute(tx.conn())
            .await
            .map_err(StoreError::from_insert)?;
        }
        tx.commit().await?;
        Ok(Some(replace))
    }

    /// The purpose of key `kid`, if there is such a key.
    pub async fn key_purpose(&self, kid: &str) -> Result<Option<String>, StoreError> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT purpose FROM signing_keys WHERE kid = $1")
                .bind(kid)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.map(|(p,)| p))
    }

    /// Inserts the very first key of `key.purpose` unless one exists (safe when instances
    /// start together).
    pub async fn insert_first_key(&self, key: &StoredKey) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        // PostgreSQL: serialise starting instances on a row every database has.
        sqlx::query("UPDATE schema_migrations SET name = name WHERE version = 1")
            .execute(tx.conn())
            .await?;
        let existing: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM signing_keys WHERE purpose = $1")
                .bind(&key.purpose)
                .fetch_one(tx.conn())
                .await?;
        if existing.0 > 0 {
            return Ok(false);
        }
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key, public_key, created_at, signs_from, signs_until, published_until, purpose) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key)
        .bind(&key.public_key)
        .bind(key.created_at)
        .bind(key.signs_from)
        .bind(&key.purpose)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Adds `new` inside `tx`, ending the signing period of every key of its purpose that
/// signs past `new.signs_from` (published until `retire_published_at`).
async fn rotate_in(
    tx: &mut super::Tx,
    new: &StoredKey,
    retire_published_at: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE signing_keys SET signs_until = $1, published_until = $2 WHERE (signs_until IS NULL OR signs_until > $1) AND purpose = $3")
        .bind(new.signs_from)
        .bind(retire_published_at)
        .bind(&new.purpose)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, private_key, public_key, created_at, signs_from, signs_until, published_until, purpose) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&new.kid)
    .bind(&new.alg)
    .bind(&new.private_key)
    .bind(&new.public_key)
    .bind(new.created_at)
    .bind(new.signs_from)
    .bind(new.signs_until)
    .bind(new.published_until)
    .bind(&new.purpose)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}
