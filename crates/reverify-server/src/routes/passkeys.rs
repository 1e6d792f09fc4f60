//! Passkeys: managing the signed-in user's, and signing in with one.
//!
//! - `POST /v1/me/passkeys/registrations`: start adding a passkey; `{id, publicKey}`, the
//!   options for `navigator.credentials.create()`.
//! - `POST /v1/me/passkeys/registrations/{id}` `{"credential": …, "name": …}`: finish it.
//! - `GET /v1/me/passkeys`, `PATCH /v1/me/passkeys/{id}` `{"name": …}`,
//!   `DELETE /v1/me/passkeys/{id}`.
//! - `POST /v1/sign_ins/passkey`: start a passkey sign-in; `{id, publicKey}`, the options
//!   for `navigator.credentials.get()` (any passkey of this site: no email needed).
//! - `POST /v1/sign_ins/passkey/{id}` `{"credential": …}`: finish it; signed in.
//!
//! Adding and removing a passkey require a recent verification
//! (`reverification.sensitive_policy`); renaming does not. A sign-in whose passkey
//! verified the user (PIN, biometrics) is multi-factor (`amr` `hwk user mfa`); without
//! that it is a first factor (`hwk`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::Api;
use super::current::CurrentSession;
use super::flows;
use super::web::{ApiJson, Client};
use crate::audit::Event;
use crate::error::ApiError;
use crate::passkeys::{self, REGISTRATION, SIGN_IN};
use crate::reverification::require_sensitive;
use crate::state::AppState;
use crate::store::{Store, StoreError};

pub(crate) fn router() -> Api {
    Api::new()
        .get("/v1/me/passkeys", list)
        .patch("/v1/me/passkeys/{id}", rename)
        .delete("/v1/me/passkeys/{id}", remove)
        .post("/v1/me/passkeys/registrations", start_registration)
        .post("/v1/me/passkeys/registrations/{id}", finish_registration)
        .post("/v1/sign_ins/passkey", start_sign_in)
        .post("/v1/sign_ins/passkey/{id}", finish_sign_in)
}

/// The name of a passkey whose owner gave none.
const DEFAULT_NAME: &str = "Passkey";

/// Longest passkey name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// Trims and checks a passkey name: 1 to 64 characters, no control characters.
fn valid_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!(
                "a passkey name has 1 to {MAX_NAME_CHARS} characters and no control characters"
            ),
        ));
    }
    Ok(name.to_owned())
}

/// `{id, publicKey, expires_at}` for a started ceremony.
fn ceremony_json(id: &str, options: &Value, expires_at: i64) -> Value {
    json!({
        "id": id,
        "publicKey": options["publicKey"],
        "expires_at": expires_at,
    })
}

async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    let passkeys = state.store.passkeys_of(&current.session.user_id).await?;
    Ok(Json(json!({
        "passkeys": passkeys.iter().map(passkeys::passkey_json).collect::<Vec<_>>(),
    })))
}

async fn start_registration(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    require_sensitive(&state, &current.session)?;
    let user = current.user(&state).await?;
    let existing = state.store.passkeys_of(&user.id).await?;
    let (options, server_state) = passkeys::start_registration(&state, &user, &existing)?;
    let ceremony =
        passkeys::new_ceremony(&state, REGISTRATION, Some(&user.id), server_state).await?;
    Ok(Json(ceremony_json(
        &ceremony.id,
        &options,
        ceremony.expires_at,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishRegistration {
    credential: Value,
    #[serde(default)]
    name: Option<String>,
}

async fn finish_registration(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FinishRegistration>,
) -> Result<Json<Value>, ApiError> {
    require_sensitive(&state, &current.session)?;
    let user_id = current.session.user_id.clone();
    let name = valid_name(body.name.as_deref().unwrap_or(DEFAULT_NAME))?;
    let credential = passkeys::parse_registration(&body.credential)?;
    let pending =
        passkeys::pending_ceremony(&state, &id, REGISTRATION, Some(user_id.as_str())).await?;
    // Checked before the write transaction (the check is computation and one read).
    let outcome = async {
        let verified = passkeys::finish_registration(&state, &pending.state, &credential)?;
        let row = passkeys::passkey_row(&user_id, &name, &verified, state.now())?;
        if state
            .store
            .passkey_by_credential_id(&row.credential_id)
            .await?
            .is_some()
        {
            return Err(already_registered());
        }
        Ok(row)
    }
    .await;
    let mut tx = state.store.write().await?;
    passkeys::take_ceremony(&state, &mut tx, &pending).await?;
    let row = match outcome {
        Ok(row) => row,
        Err(e) => {
            // One answer per challenge: a refused one uses it up too.
            tx.commit().await?;
            return Err(e);
        }
    };
    match Store::insert_passkey(&mut tx, &row).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(already_registered()),
        Err(e) => return Err(e.into()),
    }
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "factor.passkey_added",
                user_id: Some(&user_id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({ "passkey_id": row.id, "name": row.name }),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Json(passkeys::passkey_json(&row)))
}

fn already_registered() -> ApiError {
    ApiError::Conflict {
        code: "passkey_already_registered",
        message: "this passkey is already registered".into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rename {
    name: String,
}

async fn rename(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Rename>,
) -> Result<Json<Value>, ApiError> {
    let user_id = &current.session.user_id;
    let name = valid_name(&body.name)?;
    if !state.store.rename_passkey(user_id, &id, &name).await? {
        return Err(ApiError::NotFound("passkey"));
    }
    state
        .audit(Event {
            kind: "factor.passkey_renamed",
            user_id: Some(user_id),
            session_id: Some(&current.session.id),
            client: &client,
            detail: json!({ "passkey_id": id, "name": name }),
        })
        .await?;
    let row = state
        .store
        .passkey(user_id, &id)
        .await?
        .ok_or(ApiError::NotFound("passkey"))?;
    Ok(Json(passkeys::passkey_json(&row)))
}

async fn remove(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_sensitive(&state, &current.session)?;
    let user_id = &current.session.user_id;
    let mut tx = state.store.write().await?;
    if !Store::delete_passkey(&mut tx, user_id, &id).await? {
        return Err(ApiError::NotFound("passkey"));
    }
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "factor.passkey_removed",
                user_id: Some(user_id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({ "passkey_id": id }),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Json(
        json!({ "id": id, "object": "passkey", "status": "deleted" }),
    ))
}

async fn start_sign_in(
    State(state): State<AppState>,
    client: Client,
) -> Result<Json<Value>, ApiError> {
    state.limit_sign_in(&client)?;
    let (options, server_state) = passkeys::start_assertion(&state, None, None).await?;
    let ceremony = passkeys::new_ceremony(&state, SIGN_IN, None, server_state).await?;
    Ok(Json(ceremony_json(
        &ceremony.id,
        &options,
        ceremony.expires_at,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishSignIn {
    credential: Value,
}

async fn finish_sign_in(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FinishSignIn>,
) -> Result<Response, ApiError> {
    state.limit_sign_in(&client)?;
    let answer = passkeys::parse_assertion(&body.credential)?;
    let pending = passkeys::pending_ceremony(&state, &id, SIGN_IN, None).await?;
    // The challenge is used up before the answer is checked: one answer per challenge.
    let mut tx = state.store.write().await?;
    let ceremony = passkeys::take_ceremony(&state, &mut tx, &pending).await?;
    tx.commit().await?;
    let assertion =
        match passkeys::finish_assertion(&state, &ceremony.state, &body.credential).await {
            Ok(a) => a,
            Err(e @ (ApiError::PasskeyRejected | ApiError::UserVerificationRequired)) => {
                // The account the credential claims, if any, sees the attempt.
                let claimed = state
                    .store
                    .passkey_by_credential_id(&passkeys::credential_id(&answer.raw_id))
                    .await?
                    .map(|p| p.user_id);
                state
                .audit(Event {
                    kind: "sign_in.failed",
                    user_id: claimed.as_deref(),
                    session_id: None,
                    client: &client,
                    detail: json!({ "factor": "passkey", "sign_in_id": id, "reason": e.code() }),
                })
                .await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
    let user = state
        .store
        .user_by_id(&assertion.user_id)
        .await?
        .ok_or(ApiError::PasskeyRejected)?;
    let uv = assertion.user_verified;
    tracing::debug!(passkey_id = %assertion.passkey_id, user_verified = uv, "passkey sign-in");
    let step = crate::sign_in::passkey(&state, &user, uv, &client).await?;
    Ok(flows::step_response(&state, step))
}
