//! The OpenID provider's codes, tokens and pending authorization requests.

use super::{Store, StoreError};

/// An authorization code as stored (the code itself only as its hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcCodeRow {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// Names every token issued from it.
    pub family_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the request, exactly.
    pub redirect_uri: String,
    /// The PKCE S256 challenge, if any.
    pub code_challenge: Option<String>,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The Reverify session.
    pub session_id: String,
    /// The user.
    pub user_id: String,
    /// When the user last authenticated.
    pub auth_time: i64,
    /// The `acr` value.
    pub acr: String,
    /// RFC 8176 `amr` values, space-separated.
    pub amr: String,
    /// Issued at.
    pub created_at: i64,
    /// Unusable from then.
    pub expires_at: i64,
    /// Set by the exchange.
    pub used_at: Option<i64>,
    /// The resource (RFC 8707) the authorization request was restricted to.
    pub resource: Option<String>,
}

/// A refresh or access token as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcTokenRow {
    /// Token id (the access token's `jti`).
    pub id: String,
    /// `refresh` or `access`.
    pub kind: String,
    /// SHA-256 of a refresh token; `None` for access tokens.
    pub token_hash: Option<String>,
    /// The code's family.
    pub family_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The Reverify session.
    pub session_id: String,
    /// Scopes, space-separated.
    pub scope: String,
    /// The original request's nonce.
    pub nonce: Option<String>,
    /// When the user authenticated (never advanced by a refresh).
    pub auth_time: i64,
    /// The `acr` (never advanced by a refresh).
    pub acr: String,
    /// The `amr` (never advanced by a refresh).
    pub amr: String,
    /// Issued at.
    pub created_at: i64,
    /// Expires at.
    pub expires_at: i64,
    /// A refresh token: when it was rotated.
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// A refresh token: the resource its grant is restricted to (RFC 8707). An access
    /// token: its audience (`None`: the client id).
    pub resource: Option<String>,
}

const CODE_COLUMNS: &str = "code_hash, family_id, client_id, redirect_uri, code_challenge, nonce, scope, session_id, user_id, auth_time, acr, amr, created_at, expires_at, used_at, resource";
const TOKEN_COLUMNS: &str = "id, kind, token_hash, family_id, client_id, user_id, session_id, scope, nonce, auth_time, acr, amr, created_at, expires_at, used_at, revoked_at, resource";

/// What reserving a code or a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed<T> {
    /// This caller won it: it is now marked used.
    Won(T),
    /// It was used before (a replay): its family has just been revoked.
    Replayed,
    /// No such (live) code or token.
    Unknown,
}

impl Store {
    /// Stores a new code.
    pub async fn insert_oidc_code(&self, c: &OidcCodeRow) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oidc_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(&c.code_hash)
        .bind(&c.family_id)
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(&c.nonce)
        .bind(&c.scope)
        .bind(&c.session_id)
        .bind(&c.user_id)
        .bind(c.auth_time)
        .bind(&c.acr)
        .bind(&c.amr)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.used_at)
        .bind(&c.resource)
        .execute(self.writer())
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Marks the code used, atomically: one statement, so that of concurrent exchanges
    /// exactly one wins. A code used before is a replay: every token of its family is
    /// revoked. An expired code is [`Redeemed::Unknown`] (and not marked).
    /// Only `client_id` can redeem (another client's attempt neither uses nor burns it).
    pub async fn redeem_oidc_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Redeemed<OidcCodeRow>, StoreError> {
        self.redeem_once(
            format!(
                "UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $1 RETURNING {CODE_COLUMNS}"
            ),
            "SELECT family_id, used_at FROM oidc_codes WHERE code_hash = $1 AND client_id = $2",
            code_hash,
            client_id,
            now,
        )
        .await
    }

    /// The one way codes and refresh tokens are redeemed: `claim` (`$1` now, `$2` the hash,
    /// `$3` the client) marks a live one used and returns it, in one statement, so that
    /// of concurrent callers exactly one wins; otherwise `lookup` (`$1` the hash, `$2` the
    /// client) tells a replay, whose family is then revoked, from an unknown one.
    async fn redeem_once<T>(
        &self,
        claim: String,
        lookup: &'static str,
        hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Redeemed<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let won: Option<T> = sqlx::query_as(sqlx::AssertSqlSafe(claim))
            .bind(now)
            .bind(hash)
            .bind(client_id)
            .fetch_optional(self.writer())
            .await?;
        if let Some(row) = won {
            return Ok(Redeemed::Won(row));
        }
        let used: Option<(String, Option<i64>)> = sqlx::query_as(lookup)
            .bind(hash)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        match used {
            Some((family, Some(_))) => {
                self.revoke_oidc_family(&family, now).await?;
                Ok(Redeemed::Replayed)
            }
            _ => Ok(Redeemed::Unknown),
        }
    }

    /// Revokes every token of a family (a replayed code or refresh token, a revoked
    /// refresh token). The family is marked first, so that tokens an exchange stores after
    /// this are stored revoked (see [`Store::insert_oidc_tokens`]).
    pub async fn revoke_oidc_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        sqlx::query(
            "UPDATE oidc_codes SET family_revoked_at = $1 WHERE family_id = $2 AND family_revoked_at IS NULL",
        )
        .bind(now)
        .bind(family_id)
        .execute(self.writer())
        .await?;
        let done = sqlx::query(
            "UPDATE oidc_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family_id)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected())
    }

    /// Stores issued tokens, in one transaction. Tokens of a family revoked meanwhile are
    /// stored revoked (a replay that raced the exchange still revokes what it issued); the
    /// answer says whether they are live.
    pub async fn insert_oidc_tokens(
        &self,
        tokens: &[OidcTokenRow],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        for t in tokens {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO oidc_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            )))
            .bind(&t.id)
            .bind(&t.kind)
            .bind(&t.token_hash)
            .bind(&t.family_id)
            .bind(&t.client_id)
            .bind(&t.user_id)
            .bind(&t.session_id)
            .bind(&t.scope)
            .bind(&t.nonce)
            .bind(t.auth_time)
            .bind(&t.acr)
            .bind(&t.amr)
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(t.used_at)
            .bind(t.revoked_at)
            .bind(&t.resource)
            .execute(tx.conn())
            .await
            .map_err(StoreError::from_insert)?;
        }
        // After the inserts: a replay that marked the family before this statement is seen
        // here; one that marks it later revokes these rows itself.
        let mut live = true;
        if let Some(first) = tokens.first() {
            let revoked = sqlx::query(
                "UPDATE oidc_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM oidc_codes WHERE family_id = $2 AND family_revoked_at IS NOT NULL)",
            )
            .bind(now)
            .bind(&first.family_id)
            .execute(tx.conn())
            .await?;
            live = revoked.rows_affected() == 0;
        }
        tx.commit().await?;
        Ok(live)
    }

    /// Marks a live refresh token rotated, atomically (see [`Store::redeem_oidc_code`]);
    /// a rotated one presented again revokes its family.
    pub async fn redeem_refresh_token(
        &self,
        token_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Redeemed<OidcTokenRow>, StoreError> {
        self.redeem_once(
            format!(
                "UPDATE oidc_tokens SET used_at = $1 WHERE token_hash = $2 AND client_id = $3 AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 RETURNING {TOKEN_COLUMNS}"
            ),
            "SELECT family_id, used_at FROM oidc_tokens WHERE token_hash = $1 AND client_id = $2 AND kind = 'refresh'",
            token_hash,
            client_id,
            now,
        )
        .await
    }

    /// A token by id (an access token's `jti`).
    pub async fn oidc_token(&self, id: &str) -> Result<Option<OidcTokenRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM oidc_tokens WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A refresh or access token by the hash of the token as presented.
    pub async fn oidc_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<OidcTokenRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM oidc_tokens WHERE token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Revokes one token (RFC 7009); a refresh token takes its family with it.
    pub async fn revoke_oidc_token(&self, row: &OidcTokenRow, now: i64) -> Result<(), StoreError> {
        if row.kind == "refresh" {
            self.revoke_oidc_family(&row.family_id, now).await?;
        } else {
            sqlx::query(
                "UPDATE oidc_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&row.id)
            .execute(self.writer())
            .await?;
        }
        Ok(())
    }

    /// Records an authorization request waiting for the user.
    pub async fn insert_oidc_pending(
        &self,
        id: &str,
        client_id: &str,
        request: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO oidc_pending_requests (id, client_id, request, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(client_id)
            .bind(request)
            .bind(now)
            .bind(expires_at)
            .execute(self.writer())
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Forgets a pending request (it was completed).
    pub async fn delete_oidc_pending(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM oidc_pending_requests WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// A live pending request's JSON.
    pub async fn oidc_pending(&self, id: &str, now: i64) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT request FROM oidc_pending_requests WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(r,)| r))
    }
}

/// What one purge pass deleted (see [`Store::purge_oidc`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Codes.
    pub codes: u64,
    /// Access tokens.
    pub access_tokens: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
    /// Waiting authorization requests.
    pub pending: u64,
}

impl Purged {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.codes + self.access_tokens + self.refresh_tokens + self.pending
    }
}

impl Store {
    /// Deletes at most `batch` rows of each kind that nothing can use any more, each kind
    /// by one statement (so instances purging at once only ever delete dead rows; on
    /// PostgreSQL they skip the rows another one is deleting):
    /// - waiting authorization requests expired before `before`;
    /// - access tokens expired before `before`;
    /// - refresh tokens expired or revoked before `before` whose family has no live
    ///   refresh token any more: a rotated token is kept while its grant lives, so that
    ///   presenting it again is still seen as a reuse and revokes the grant;
    /// - codes expired before `before` none of whose tokens are left (a used code is kept
    ///   while its grant lives: its replay revokes the grant, and it carries the family's
    ///   revocation mark).
    ///
    /// `now` tells live refresh tokens; `before` is `now` minus a retention margin.
    pub async fn purge_oidc(
        &self,
        now: i64,
        before: i64,
        batch: i64,
    ) -> Result<Purged, StoreError> {
        let skip_locked = match self.backend() {
            super::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            super::Backend::Sqlite => "",
        };
        let run = |sql: String| async move {
            let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(before)
                .bind(batch)
                .bind(now)
                .execute(self.writer())
                .await?;
            Ok::<u64, StoreError>(done.rows_affected())
        };
        // `$3` (now) is bound to every statement; those that do not need it compare it
        // trivially so that each binds the same three parameters.
        let pending = run(format!(
            "DELETE FROM oidc_pending_requests WHERE id IN (SELECT id FROM oidc_pending_requests WHERE expires_at < $1 AND $3 >= $1 LIMIT $2{skip_locked})"
        ))
        .await?;
        let access_tokens = run(format!(
            "DELETE FROM oidc_tokens WHERE id IN (SELECT id FROM oidc_tokens WHERE kind = 'access' AND expires_at < $1 AND $3 >= $1 LIMIT $2{skip_locked})"
        ))
        .await?;
        let refresh_tokens = run(format!(
            "DELETE FROM oidc_tokens WHERE id IN (SELECT t.id FROM oidc_tokens t WHERE t.kind = 'refresh' \
             AND (t.expires_at < $1 OR t.revoked_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM oidc_tokens l WHERE l.family_id = t.family_id AND l.kind = 'refresh' \
                 AND l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > $3) \
             LIMIT $2{skip_locked})"
        ))
        .await?;
        let codes = run(format!(
            "DELETE FROM oidc_codes WHERE code_hash IN (SELECT c.code_hash FROM oidc_codes c WHERE c.expires_at < $1 AND $3 >= $1 \
             AND NOT EXISTS (SELECT 1 FROM oidc_tokens t WHERE t.family_id = c.family_id) LIMIT $2{skip_locked})"
        ))
        .await?;
        Ok(Purged {
            codes,
            access_tokens,
            refresh_tokens,
            pending,
        })
    }
}
