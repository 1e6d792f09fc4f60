//! The signed-in user's account and factors.
//!
//! - `GET /v1/me`: the user, their factors, and how fresh the session is.
//! - `POST /v1/me/password` `{"new_password": …, "sign_out_other_sessions": true}`.
//! - `DELETE /v1/me`: delete the account.
//! - `POST /v1/me/totp`: start enrolling an authenticator app (secret, `otpauth://` URI,
//!   SVG QR code); `POST /v1/me/totp/confirm` `{"code": …}` confirms it with a first code
//!   and returns the backup codes (shown once); `DELETE /v1/me/totp` removes it.
//! - `POST /v1/me/backup_codes`: a new set of backup codes (the old set dies).
//!
//! Every change here requires a recent verification (`reverification.sensitive_policy`,
//! `strict` by default) and otherwise answers with the standard reverification error.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::Api;
use super::current::CurrentSession;
use super::web::{self, ApiJson, Client};
use crate::audit::Event;
use crate::error::ApiError;
use crate::factors;
use crate::reverification::require_sensitive;
use crate::secrets;
use crate::session::{self, TOKEN_COOKIE};
use crate::state::AppState;
use crate::store::{FactorTimes, Store};
use crate::strategy::Amr;
use crate::totp;
use crate::validate;

pub(crate) fn router() -> Api {
    Api::new()
        .get("/v1/me", me)
        .delete("/v1/me", delete_account)
        .post("/v1/me/password", change_password)
        .post("/v1/me/totp", start_totp)
        .post("/v1/me/totp/confirm", confirm_totp)
        .delete("/v1/me/totp", remove_totp)
        .post("/v1/me/backup_codes", regenerate_backup_codes)
}

async fn me(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    let user = current.user(&state).await?;
    let totp = state.store.totp_of(&user.id).await?;
    let passkeys = state.store.passkeys_of(&user.id).await?;
    Ok(Json(json!({
        "user": session::user_json(&user),
        "factors": {
            "password": user.password_hash.is_some(),
            "totp": totp.as_ref().map(|t| json!({
                "status": if t.confirmed_at.is_some() { "confirmed" } else { "pending" },
                "created_at": t.created_at,
                "confirmed_at": t.confirmed_at,
            })),
            "backup_codes_remaining": state.store.backup_codes_left(&user.id).await?,
            "passkeys": passkeys.len(),
        },
        "session": session::session_json(&state, &current.session),
        "reverification": crate::reverification::presets_json(&state, &current.session),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    new_password: String,
    #[serde(default = "yes")]
    sign_out_other_sessions: bool,
}

fn yes() -> bool {
    true
}

async fn change_password(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<Json<Value>, ApiError> {
    require_sensitive(&state, &current.session)?;
    validate::new_password(&body.new_password, &state.config.passwords)?;
    let hash = state.passwords.hash(&body.new_password).await?;
    let user_id = &current.session.user_id;
    let now = state.now();
    let mut tx = state.store.write_sessions().await?;
    if !Store::set_password(&mut tx, user_id, &hash, now).await? {
        return Err(ApiError::SignedOut);
    }
    let ended = if body.sign_out_other_sessions {
        Store::end_other_sessions(
            &mut tx,
            user_id,
            &current.session.id,
            now,
            "password_changed",
        )
        .await?
    } else {
        0
    };
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "password.changed",
                user_id: Some(user_id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({ "other_sessions_ended": ended }),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Json(
        json!({ "status": "changed", "other_sessions_ended": ended }),
    ))
}

async fn delete_account(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
) -> Result<Response, ApiError> {
    require_sensitive(&state, &current.session)?;
    let user = current.user(&state).await?;
    state.delete_user(&user.id).await?;
    state
        .audit(Event {
            kind: "account.deleted",
            user_id: Some(&user.id),
            session_id: Some(&current.session.id),
            client: &client,
            detail: json!({ "by": "user" }),
        })
        .await?;
    let mut response = Json(json!({ "id": user.id, "status": "deleted" })).into_response();
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        web::set_cookie(&state, &state.session_cookie, "", 0, true),
    );
    headers.append(
        SET_COOKIE,
        web::set_cookie(&state, TOKEN_COOKIE, "", 0, false),
    );
    Ok(response)
}

async fn start_totp(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    require_sensitive(&state, &current.session)?;
    let user = current.user(&state).await?;
    let secret = totp::new_secret();
    if !state
        .store
        .put_pending_totp(&user.id, &secret, state.now())
        .await?
    {
        return Err(ApiError::Conflict {
            code: "totp_already_enrolled",
            message: "an authenticator app is already set up; remove it first".into(),
        });
    }
    let uri = totp::otpauth_uri(&state.config.totp.issuer, &user.email, &secret);
    Ok(Json(json!({
        "status": "pending",
        "secret": secret,
        "uri": uri,
        "qr_svg": totp::qr_svg(&uri),
        "digits": totp::DIGITS,
        "period": totp::STEP_SECS,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmTotp {
    code: String,
}

async fn confirm_totp(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    ApiJson(body): ApiJson<ConfirmTotp>,
) -> Result<Response, ApiError> {
    require_sensitive(&state, &current.session)?;
    let code = validate::code(&body.code)?;
    let user_id = current.session.user_id.clone();
    let factor = state
        .store
        .totp_of(&user_id)
        .await?
        .ok_or(ApiError::NotFound("pending authenticator"))?;
    if factor.confirmed_at.is_some() {
        return Err(ApiError::Conflict {
            code: "totp_already_enrolled",
            message: "this authenticator app is already confirmed".into(),
        });
    }
    let now = state.now();
    let Some(step) = totp::matching_step(&factor.secret, code, now) else {
        return Err(ApiError::InvalidCode);
    };
    let mut tx = state.store.write_sessions().await?;
    if !Store::use_totp_step(&mut tx, &user_id, step, Some(now)).await? {
        return Err(ApiError::InvalidCode);
    }
    let codes = new_backup_codes(&mut tx, &user_id, now).await?;
    // Every session of the user now has a second factor it has not verified, except this
    // one: the code just typed proves possession, as a TOTP verification would.
    Store::set_second_factor_enrolled(&mut tx, &user_id, true).await?;
    let amr = Amr::merge(&Amr::parse_list(&current.session.amr), &[Amr::Otp], true);
    let times = FactorTimes {
        second: Some(now),
        ..FactorTimes::default()
    };
    Store::record_factors_tx(&mut tx, &current.session.id, times, &amr).await?;
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "factor.totp_enrolled",
                user_id: Some(&user_id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({ "backup_codes": codes.len() }),
            },
        )
        .await?;
    tx.commit().await?;
    fresh_token_response(
        &state,
        &current.session.id,
        &client,
        json!({ "status": "confirmed", "backup_codes": codes }),
    )
    .await
}

async fn remove_totp(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
) -> Result<Response, ApiError> {
    require_sensitive(&state, &current.session)?;
    let user_id = current.session.user_id.clone();
    let mut tx = state.store.write_sessions().await?;
    if !Store::delete_totp(&mut tx, &user_id).await? {
        return Err(ApiError::NotFound("authenticator"));
    }
    Store::set_second_factor_enrolled(&mut tx, &user_id, false).await?;
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "factor.totp_removed",
                user_id: Some(&user_id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({}),
            },
        )
        .await?;
    tx.commit().await?;
    fresh_token_response(
        &state,
        &current.session.id,
        &client,
        json!({ "status": "removed" }),
    )
    .await
}

async fn regenerate_backup_codes(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
) -> Result<Json<Value>, ApiError> {
    require_sensitive(&state, &current.session)?;
    let user_id = current.session.user_id.clone();
    if !state.store.has_second_factor(&user_id).await? {
        return Err(ApiError::Conflict {
            code: "no_second_factor",
            message: "set up an authenticator app first; backup codes come with it".into(),
        });
    }
    let mut tx = state.store.write().await?;
    let codes = new_backup_codes(&mut tx, &user_id, state.now()).await?;
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "factor.backup_codes_regenerated",
                user_id: Some(&user_id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({ "count": codes.len() }),
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Json(json!({ "backup_codes": codes })))
}

/// Replaces the user's backup codes; returns the new ones in clear (shown once).
async fn new_backup_codes(
    tx: &mut crate::store::Tx,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let codes = totp::new_backup_codes();
    let hashes: Vec<(String, String)> = codes
        .iter()
        .map(|c| (secrets::new_id("bc"), factors::backup_code_hash(user_id, c)))
        .collect();
    Store::replace_backup_codes(tx, user_id, &hashes, now).await?;
    Ok(codes)
}

/// `body` plus a fresh token for the session (whose factors just changed), with the
/// `__session` cookie set.
async fn fresh_token_response(
    state: &AppState,
    session_id: &str,
    client: &Client,
    mut body: Value,
) -> Result<Response, ApiError> {
    let row = state
        .store
        .session_by_id(session_id)
        .await?
        .ok_or(ApiError::SignedOut)?;
    let token = session::mint_token(state, &row, client.origin.as_deref()).await?;
    body["token"] = json!(token);
    Ok(super::current::with_token_cookie(state, body, &token))
}
