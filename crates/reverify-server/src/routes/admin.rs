//! The admin API, authenticated by the secret key (`Authorization: Bearer <admin.secret_key>`,
//! the scheme in any case). Off (404) while no key is configured; wrong keys are limited
//! per client IP (see [`crate::admin_key`]).
//!
//! - `GET /v1/admin/users?limit=&offset=`, `POST /v1/admin/users` `{email, password?}`
//! - `GET /v1/admin/users/{id}`, `DELETE /v1/admin/users/{id}`
//! - `GET /v1/admin/users/{id}/sessions`, `DELETE /v1/admin/sessions/{id}`
//! - `GET /v1/admin/audit_events?user_id=&session_id=&kind=&before=&limit=`
//! - `POST /v1/admin/keys/{kid}/revoke`: emergency revocation of a signing key
//! - `GET|POST /v1/admin/oidc/clients`, `GET|PATCH|DELETE /v1/admin/oidc/clients/{client_id}`:
//!   the OpenID provider's clients (a confidential client's secret is answered once, at
//!   creation or `rotate_secret`)

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::json;

use super::api::Api;
use super::web::{ApiJson, Client};
use crate::admin_key;
use crate::audit::Event;
use crate::error::ApiError;
use crate::oidc::clients::{
    self as oidc_clients, Client as OidcClient, ClientInput, ClientPatch, RegisterError,
};
use crate::ratelimit::Bucket;
use crate::session;
use crate::state::AppState;
use crate::store::{StoreError, User};
use crate::validate;

pub(crate) fn router() -> Api {
    Api::new()
        .get("/v1/admin/users", list_users)
        .post("/v1/admin/users", create_user)
        .get("/v1/admin/users/{id}", get_user)
        .delete("/v1/admin/users/{id}", delete_user)
        .get("/v1/admin/users/{id}/sessions", user_sessions)
        .get("/v1/admin/users/{id}/oidc/consents", user_oidc_consents)
        .delete(
            "/v1/admin/users/{id}/oidc/consents/{client_id}",
            revoke_user_oidc_consent,
        )
        .delete("/v1/admin/sessions/{id}", revoke_session)
        .get("/v1/admin/audit_events", audit_events)
        .post("/v1/admin/keys/{kid}/revoke", revoke_key)
        .get("/v1/admin/oidc/clients", list_oidc_clients)
        .post("/v1/admin/oidc/clients", create_oidc_client)
        .get("/v1/admin/oidc/clients/{client_id}", get_oidc_client)
        .patch("/v1/admin/oidc/clients/{client_id}", update_oidc_client)
        .delete("/v1/admin/oidc/clients/{client_id}", delete_oidc_client)
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> ApiError {
        match e {
            RegisterError::Invalid(e) => ApiError::bad_request("invalid_client_metadata", e.0),
            RegisterError::Taken => ApiError::Conflict {
                code: "client_id_taken",
                message: "a client with this id exists".into(),
            },
            RegisterError::FromConfig => ApiError::Conflict {
                code: "client_from_config",
                message: "this client is registered in the configuration file \
                          ([[oidc.clients]]); change it there"
                    .into(),
            },
            RegisterError::NotFound => ApiError::NotFound("client"),
            RegisterError::Store(e) => e.into(),
        }
    }
}

/// The client's JSON, with its secret when one was just made.
fn client_json(client: &OidcClient, secret: Option<String>) -> serde_json::Value {
    let mut body = client.to_json();
    if let Some(secret) = secret {
        body["client_secret"] = json!(secret);
    }
    body
}

async fn list_oidc_clients(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let clients = state.store.oidc_clients().await?;
    Ok(Json(json!({
        "clients": clients.into_iter().map(|c| OidcClient::from_row(c).to_json()).collect::<Vec<_>>()
    })))
}

async fn create_oidc_client(
    _: Admin,
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<ClientInput>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (registered, secret) = oidc_clients::register(&state.store, body, state.now()).await?;
    audit_client(&state, &client, "oidc_client.created", registered.id()).await?;
    Ok(Json(client_json(&registered, secret)))
}

async fn get_oidc_client(
    _: Admin,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let row = state
        .store
        .oidc_client(&client_id)
        .await?
        .ok_or(ApiError::NotFound("client"))?;
    Ok(Json(OidcClient::from_row(row).to_json()))
}

async fn update_oidc_client(
    _: Admin,
    State(state): State<AppState>,
    client: Client,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<ClientPatch>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rotated = body.rotate_secret;
    let (updated, secret) =
        oidc_clients::update(&state.store, &client_id, body, state.now()).await?;
    let kind = if rotated {
        "oidc_client.secret_rotated"
    } else {
        "oidc_client.updated"
    };
    audit_client(&state, &client, kind, updated.id()).await?;
    Ok(Json(client_json(&updated, secret)))
}

async fn delete_oidc_client(
    _: Admin,
    State(state): State<AppState>,
    client: Client,
    Path(client_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    oidc_clients::remove(&state.store, &client_id).await?;
    audit_client(&state, &client, "oidc_client.deleted", &client_id).await?;
    Ok(Json(json!({ "client_id": client_id, "deleted": true })))
}

async fn audit_client(
    state: &AppState,
    client: &Client,
    kind: &'static str,
    client_id: &str,
) -> Result<(), ApiError> {
    state
        .audit(Event {
            kind,
            user_id: None,
            session_id: None,
            client,
            detail: json!({ "client_id": client_id, "by": "admin" }),
        })
        .await
}

async fn revoke_key(
    _: Admin,
    State(state): State<AppState>,
    client: Client,
    Path(kid): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let revoked = state.revoke_signing_key_for(&kid, "admin", &client).await?;
    Ok(Json(json!({
        "kid": revoked.kid,
        "revoked": true,
        "replaced_by": revoked.replaced_by,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    user_id: Option<String>,
    session_id: Option<String>,
    kind: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn audit_events(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 1000",
        ));
    }
    let filter = crate::store::AuditFilter {
        user_id: q.user_id,
        session_id: q.session_id,
        kind: q.kind,
        before: q.before,
        limit,
    };
    let events = state.store.audit_events(&filter).await?;
    let next_before = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.created_at))
        .flatten();
    Ok(Json(json!({
        "events": events.iter().map(crate::audit::event_json).collect::<Vec<_>>(),
        "next_before": next_before,
    })))
}

/// Proof that the request carries the admin secret key. A client IP that sent
/// [`admin_key::FAILURES_PER_MINUTE`] wrong keys gets 429 `rate_limited` (with
/// `Retry-After`) before its key is even compared, the right one included.
struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = &state.config.admin.secret_key;
        if key.is_empty() {
            return Err(ApiError::NotFound("route"));
        }
        let client = Client::from_request_parts(parts, state).await?;
        let given = admin_key::bearer(&parts.headers).unwrap_or("");
        let valid = state.limiter.guard(
            Bucket::AdminKey,
            client.ip.as_deref(),
            admin_key::FAILURES_PER_MINUTE,
            state.now(),
            || admin_key::matches(given, key),
        )?;
        if valid {
            Ok(Admin)
        } else {
            tracing::warn!(ip = ?client.ip, "wrong admin key");
            Err(ApiError::AdminUnauthorized)
        }
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    100
}

async fn list_users(
    _: Admin,
    State(state): State<AppState>,
    Query(page): Query<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !(1..=1000).contains(&page.limit) || page.offset < 0 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit is 1 to 1000 and offset at least 0",
        ));
    }
    let users = state.store.list_users(page.limit, page.offset).await?;
    Ok(Json(
        json!({ "users": users.iter().map(session::user_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    #[serde(default)]
    password: Option<String>,
}

async fn create_user(
    _: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let email = validate::email(&body.email)?;
    let password_hash = match &body.password {
        Some(p) => {
            validate::new_password(p, &state.config.passwords)?;
            Some(state.passwords.hash(p).await?)
        }
        None => None,
    };
    let user = User::new(email, password_hash, state.now());
    state.store.create_user(&user).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::Conflict {
            code: "email_taken",
            message: "a user with this email address exists".into(),
        },
        other => other.into(),
    })?;
    tracing::info!(user_id = %user.id, "admin created a user");
    Ok(Json(session::user_json(&user)))
}

async fn get_user(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = state
        .store
        .user_by_id(&id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(session::user_json(&user)))
}

async fn delete_user(
    _: Admin,
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.delete_user(&id).await? {
        return Err(ApiError::NotFound("user"));
    }
    state
        .audit(Event {
            kind: "account.deleted",
            user_id: Some(&id),
            session_id: None,
            client: &client,
            detail: json!({ "by": "admin" }),
        })
        .await?;
    Ok(Json(json!({ "id": id, "deleted": true })))
}

async fn user_sessions(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .store
        .user_by_id(&id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let sessions = state.store.open_sessions_of(&id).await?;
    Ok(Json(
        json!({ "sessions": sessions.iter().map(|s| session::session_json(&state, s)).collect::<Vec<_>>() }),
    ))
}

async fn user_oidc_consents(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.config.oidc.enabled {
        return Err(ApiError::NotFound("route"));
    }
    state
        .store
        .user_by_id(&id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(super::oidc::consents_json(&state, &id).await?))
}

async fn revoke_user_oidc_consent(
    _: Admin,
    State(state): State<AppState>,
    client: Client,
    Path((id, client_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.config.oidc.enabled {
        return Err(ApiError::NotFound("route"));
    }
    super::oidc::revoke_consent(&state, &id, &client_id, None, &client, "admin").await?;
    Ok(Json(
        json!({ "revoked": true, "user_id": id, "client_id": client_id }),
    ))
}

async fn revoke_session(
    _: Admin,
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let session = state
        .store
        .session_by_id(&id)
        .await?
        .ok_or(ApiError::NotFound("session"))?;
    if state.end_session(&id, "revoked_by_admin").await? {
        state
            .audit(Event {
                kind: "session.revoked",
                user_id: Some(&session.user_id),
                session_id: Some(&id),
                client: &client,
                detail: json!({ "by": "admin" }),
            })
            .await?;
    }
    Ok(Json(json!({ "id": id, "status": "ended" })))
}
