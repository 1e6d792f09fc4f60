//! Registered OpenID Connect clients (see `crate::oidc::clients`).

use super::{Store, StoreError};

/// A client as stored. Lists are JSON arrays of strings.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcClientRow {
    /// The client id.
    pub client_id: String,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the secret (hex); `None`: a public client.
    pub secret_hash: Option<String>,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub token_endpoint_auth_method: String,
    /// JSON array: the exact redirect URIs.
    pub redirect_uris: String,
    /// JSON array: the exact post-logout redirect URIs.
    pub post_logout_redirect_uris: String,
    /// JSON array: the scopes it may ask for.
    pub allowed_scopes: String,
    /// 1: first-party (no consent screen).
    pub first_party: i64,
    /// `RS256`, `EdDSA` or `ES256`.
    pub id_token_signed_response_alg: String,
    /// JSON array: the resource indicators (RFC 8707) it may ask access tokens for.
    pub resources: String,
    /// `config` or `admin`.
    pub source: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

const COLUMNS: &str = "client_id, name, secret_hash, token_endpoint_auth_method, redirect_uris, post_logout_redirect_uris, allowed_scopes, first_party, id_token_signed_response_alg, source, created_at, updated_at, resources";

const INSERT: &str = "INSERT INTO oidc_clients (client_id, name, secret_hash, token_endpoint_auth_method, redirect_uris, post_logout_redirect_uris, allowed_scopes, first_party, id_token_signed_response_alg, source, created_at, updated_at, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

fn bind_all<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    c: &'q OidcClientRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(&c.client_id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.token_endpoint_auth_method)
        .bind(&c.redirect_uris)
        .bind(&c.post_logout_redirect_uris)
        .bind(&c.allowed_scopes)
        .bind(c.first_party)
        .bind(&c.id_token_signed_response_alg)
        .bind(&c.source)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(&c.resources)
}

impl Store {
    /// Registers a client; [`StoreError::Conflict`] when the id is taken.
    pub async fn insert_oidc_client(&self, c: &OidcClientRow) -> Result<(), StoreError> {
        bind_all(sqlx::query(INSERT), c)
            .execute(self.writer())
            .await
            .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// One client.
    pub async fn oidc_client(&self, client_id: &str) -> Result<Option<OidcClientRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM oidc_clients WHERE client_id = $1"
        ));
        Ok(sqlx::query_as(sql)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Every client, by id.
    pub async fn oidc_clients(&self) -> Result<Vec<OidcClientRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM oidc_clients ORDER BY client_id"
        ));
        Ok(sqlx::query_as(sql).fetch_all(self.pool()).await?)
    }

    /// Replaces the registration of a client of `source` (its secret and creation time
    /// stay unless `new_secret_hash` is given). `false` when there is no such client of
    /// that source.
    pub async fn update_oidc_client(
        &self,
        c: &OidcClientRow,
        new_secret_hash: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oidc_clients SET name = $1, token_endpoint_auth_method = $2, redirect_uris = $3, post_logout_redirect_uris = $4, allowed_scopes = $5, first_party = $6, id_token_signed_response_alg = $7, updated_at = $8, secret_hash = COALESCE($9, secret_hash), resources = $12 WHERE client_id = $10 AND source = $11",
        )
        .bind(&c.name)
        .bind(&c.token_endpoint_auth_method)
        .bind(&c.redirect_uris)
        .bind(&c.post_logout_redirect_uris)
        .bind(&c.allowed_scopes)
        .bind(c.first_party)
        .bind(&c.id_token_signed_response_alg)
        .bind(c.updated_at)
        .bind(new_secret_hash)
        .bind(&c.client_id)
        .bind(&c.source)
        .bind(&c.resources)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a client of `source`; `false` when there is none.
    pub async fn delete_oidc_client(
        &self,
        client_id: &str,
        source: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1 AND source = $2")
            .bind(client_id)
            .bind(source)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Makes the `config` clients exactly `clients`, in one transaction: each is inserted
    /// or rewritten (secret included), and `config` clients no longer listed are deleted.
    /// A listed id that belongs to a client registered otherwise is a
    /// [`StoreError::Conflict`] (nothing changes).
    pub async fn sync_config_oidc_clients(
        &self,
        clients: &[OidcClientRow],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let existing: Vec<(String, String)> =
            sqlx::query_as("SELECT client_id, source FROM oidc_clients")
                .fetch_all(tx.conn())
                .await?;
        for c in clients {
            match existing.iter().find(|(id, _)| *id == c.client_id) {
                Some((_, source)) if source != "config" => {
                    return Err(StoreError::Conflict(format!(
                        "oidc client {} is registered through the admin API or the CLI; \
                         remove it there or rename the one in the configuration",
                        c.client_id
                    )));
                }
                Some(_) => {
                    sqlx::query(
                        "UPDATE oidc_clients SET name = $1, secret_hash = $2, token_endpoint_auth_method = $3, redirect_uris = $4, post_logout_redirect_uris = $5, allowed_scopes = $6, first_party = $7, id_token_signed_response_alg = $8, updated_at = $9, resources = $11 WHERE client_id = $10 AND source = 'config'",
                    )
                    .bind(&c.name)
                    .bind(&c.secret_hash)
                    .bind(&c.token_endpoint_auth_method)
                    .bind(&c.redirect_uris)
                    .bind(&c.post_logout_redirect_uris)
                    .bind(&c.allowed_scopes)
                    .bind(c.first_party)
                    .bind(&c.id_token_signed_response_alg)
                    .bind(c.updated_at)
                    .bind(&c.client_id)
                    .bind(&c.resources)
                    .execute(tx.conn())
                    .await?;
                }
                None => {
                    bind_all(sqlx::query(INSERT), c)
                        .execute(tx.conn())
                        .await
                        .map_err(StoreError::from_insert)?;
                }
            }
        }
        for (id, source) in &existing {
            if source == "config" && !clients.iter().any(|c| c.client_id == *id) {
                sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1 AND source = 'config'")
                    .bind(id)
                    .execute(tx.conn())
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
