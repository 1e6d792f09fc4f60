//! Reverification of the current session (the flow the frontend modal drives):
//!
//! - `POST /v1/sessions/current/verifications` `{"level": …}`: start; says what is needed
//!   and which factors this user can use for each step.
//! - `GET /v1/sessions/current/verifications/{id}`: where it stands.
//! - `POST /v1/sessions/current/verifications/{id}/prepare` `{"strategy": "email_code" |
//!   "passkey"}`: send a code, or get a passkey challenge.
//! - `POST /v1/sessions/current/verifications/{id}/attempt` `{"strategy": …, …}`:
//!   password, email code, passkey, TOTP or backup code. On `complete`, the session's
//!   verification times are updated and the same answer carries a fresh session token
//!   (and sets the `__session` cookie).
//! - `DELETE /v1/sessions/current/verifications/{id}`: cancel.
//!
//! A verification belongs to the session that started it: any other session gets 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use reverify::Level;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::Api;
use super::current::CurrentSession;
use super::web::{ApiJson, Client};
use crate::audit::Event;
use crate::email::Email;
use crate::error::ApiError;
use crate::secrets;
use crate::session;
use crate::state::AppState;
use crate::store::{Store, User, VerificationRow};
use crate::strategy::Strategy;
use crate::validate;
use crate::verification::{self, Outcome, Status, Submission};

pub(crate) fn router() -> Api {
    Api::new()
        .post("/v1/sessions/current/verifications", start)
        .get("/v1/sessions/current/verifications/{id}", get)
        .delete("/v1/sessions/current/verifications/{id}", cancel)
        .post("/v1/sessions/current/verifications/{id}/prepare", prepare)
        .post("/v1/sessions/current/verifications/{id}/attempt", attempt)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    level: String,
    /// Verify *for this action* (an approval): `{type, summary, fields, digest?}`.
    #[serde(default)]
    action: Option<Value>,
}

/// What the user can verify with.
struct Available {
    password: bool,
    passkeys: bool,
    second_factor: bool,
    backup_codes: bool,
}

async fn available(state: &AppState, user: &User) -> Result<Available, ApiError> {
    let (passkeys, second_factor, backup_codes) = state.store.factor_counts(&user.id).await?;
    Ok(Available {
        password: user.password_hash.is_some(),
        passkeys: passkeys > 0,
        second_factor,
        backup_codes: backup_codes > 0,
    })
}

fn verification_json(v: &VerificationRow, user: &User, a: &Available) -> Value {
    let mut first = Vec::new();
    if a.password {
        first.push(json!({ "strategy": "password" }));
    }
    first.push(json!({
        "strategy": "email_code",
        "safe_identifier": validate::mask_email(&user.email),
    }));
    if a.passkeys {
        first.push(json!({ "strategy": "passkey" }));
    }
    let mut second = Vec::new();
    if a.second_factor {
        second.push(json!({ "strategy": "totp" }));
        if a.backup_codes {
            second.push(json!({ "strategy": "backup_code" }));
        }
        if a.passkeys {
            // Only an assertion with user verification completes this step.
            second.push(json!({ "strategy": "passkey", "requires_user_verification": true }));
        }
    }
    json!({
        "id": v.id,
        "object": "verification",
        "level": v.level,
        "status": v.status,
        "supported_first_factors": first,
        "supported_second_factors": second,
        "first_factor_verified": v.first_factor_at.is_some(),
        "second_factor_verified": v.second_factor_at.is_some(),
        "attempts_left": 0,
        "action": crate::approval::stored(v.action.as_deref()).ok().flatten().map(|a| a.to_json()),
        "created_at": v.created_at,
        "expires_at": v.expires_at,
    })
}

fn with_attempts_left(mut v: Value, row: &VerificationRow, state: &AppState) -> Value {
    v["attempts_left"] = json!((state.config.reverification.max_attempts - row.attempts).max(0));
    v
}

async fn start(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<Json<Value>, ApiError> {
    state.limit_verification(&client)?;
    let level: Level = body.level.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_level",
            "level must be first_factor, second_factor or multi_factor",
        )
    })?;
    let action = match &body.action {
        None | Some(Value::Null) => None,
        Some(value) => Some(crate::approval::parse(value)?),
    };
    let user = current.user(&state).await?;
    let a = available(&state, &user).await?;
    let now = state.now();
    let row = VerificationRow {
        id: secrets::new_id("ver"),
        session_id: current.session.id.clone(),
        user_id: user.id.clone(),
        level: level.as_str().into(),
        status: verification::next_status(level, a.second_factor, false, false)
            .as_str()
            .into(),
        first_factor_at: None,
        second_factor_at: None,
        amr: String::new(),
        code_hash: None,
        code_expires_at: None,
        passkey_state: None,
        attempts: 0,
        created_at: now,
        expires_at: now + state.config.reverification.verification_ttl_secs,
        ended_at: None,
        action: action
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(ApiError::internal)?,
    };
    state.store.insert_verification(&row).await?;
    state
        .audit(Event {
            kind: "verification.started",
            user_id: Some(&user.id),
            session_id: Some(&current.session.id),
            client: &client,
            detail: json!({ "verification_id": row.id, "level": row.level }),
        })
        .await?;
    if let Some(action) = &action {
        state
            .audit(Event {
                kind: "approval.requested",
                user_id: Some(&user.id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: action.audit_detail(&row.id, json!({ "level": row.level })),
            })
            .await?;
    }
    Ok(Json(with_attempts_left(
        verification_json(&row, &user, &a),
        &row,
        &state,
    )))
}

/// The verification `id` of the current session, still open.
async fn open_verification(
    state: &AppState,
    current: &CurrentSession,
    id: &str,
) -> Result<VerificationRow, ApiError> {
    let row = state
        .store
        .verification(id, &current.session.id)
        .await?
        .ok_or(ApiError::NotFound("verification"))?;
    verification::check_open(&row, state.now(), state.config.reverification.max_attempts)?;
    Ok(row)
}

async fn get(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .store
        .verification(&id, &current.session.id)
        .await?
        .ok_or(ApiError::NotFound("verification"))?;
    let user = current.user(&state).await?;
    let a = available(&state, &user).await?;
    Ok(Json(with_attempts_left(
        verification_json(&row, &user, &a),
        &row,
        &state,
    )))
}

async fn cancel(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut tx = state.store.write().await?;
    let mut row = state
        .store
        .verification_for_update(&mut tx, &id, &current.session.id)
        .await?
        .ok_or(ApiError::NotFound("verification"))?;
    if row.ended_at.is_none() {
        row.status = Status::Cancelled.as_str().into();
        row.ended_at = Some(state.now());
        row.passkey_state = None;
        Store::update_verification(&mut tx, &row).await?;
        state
            .audit_tx(
                &mut tx,
                Event {
                    kind: "verification.cancelled",
                    user_id: Some(&row.user_id),
                    session_id: Some(&row.session_id),
                    client: &client,
                    detail: json!({ "verification_id": row.id, "level": row.level }),
                },
            )
            .await?;
        if let Some(action) = crate::approval::stored(row.action.as_deref())? {
            state
                .audit_tx(
                    &mut tx,
                    Event {
                        kind: "approval.refused",
                        user_id: Some(&row.user_id),
                        session_id: Some(&row.session_id),
                        client: &client,
                        detail: action.audit_detail(&row.id, json!({ "reason": "cancelled" })),
                    },
                )
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Json(
        json!({ "id": row.id, "object": "verification", "status": row.status }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PrepareStrategy {
    EmailCode,
    Passkey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrepareBody {
    strategy: PrepareStrategy,
}

async fn prepare(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PrepareBody>,
) -> Result<Json<Value>, ApiError> {
    state.limit_verification(&client)?;
    let mut row = open_verification(&state, &current, &id).await?;
    let user = current.user(&state).await?;
    let a = available(&state, &user).await?;
    let now = state.now();
    let mut extra = None;
    match body.strategy {
        PrepareStrategy::EmailCode => {
            if row.status != Status::NeedsFirstFactor.as_str() {
                return Err(not_now(Strategy::EmailCode, &row.status));
            }
            if !state.may_email(&user.email, &client).await? {
                return Err(ApiError::RateLimited {
                    retry_after: state.config.email.recipient_window_secs as u64,
                });
            }
            let code = secrets::new_code();
            row.code_hash = Some(secrets::sha256_hex(&[&row.id, &code]));
            row.code_expires_at =
                Some((now + state.config.email.code_ttl_secs).min(row.expires_at));
            let hash = row.code_hash.as_deref().unwrap_or_default();
            let expires = row.code_expires_at.unwrap_or(now);
            if !state
                .store
                .set_verification_code(&row.id, hash, expires)
                .await?
            {
                return Err(moved_on());
            }
            state.mailer.send(
                Email {
                    to: user.email.clone(),
                    subject: format!("{code} is your verification code"),
                    body: format!(
                        "Your Reverify verification code is {code}.\n\nSomeone signed in as you asked to confirm it is you. \
                         It expires in {} minutes. If this was not you, change your password.",
                        state.config.email.code_ttl_secs / 60
                    ),
                    code: Some(code),
                },
                now,
            );
        }
        PrepareStrategy::Passkey => {
            if !a.passkeys {
                return Err(ApiError::bad_request(
                    "strategy_not_allowed",
                    "this account has no passkey",
                ));
            }
            // For an action, the challenge carries its digest: the signature covers it.
            let bound = match crate::approval::stored(row.action.as_deref())? {
                Some(action) => Some(crate::approval::passkey_challenge(
                    &secrets::random_bytes::<16>(),
                    &action,
                )?),
                None => None,
            };
            let (options, server_state) =
                crate::passkeys::start_assertion(&state, Some(&user.id), bound).await?;
            if !state
                .store
                .set_verification_passkey(&row.id, &server_state)
                .await?
            {
                return Err(moved_on());
            }
            row.passkey_state = Some(server_state);
            extra = Some(options);
        }
    }
    let mut out = with_attempts_left(verification_json(&row, &user, &a), &row, &state);
    if let Some(options) = extra {
        out["passkey"] = options;
    }
    Ok(Json(out))
}

/// A concurrent request ended the verification (or moved it past its first step) while
/// this one prepared a factor.
fn moved_on() -> ApiError {
    ApiError::Conflict {
        code: "verification_ended",
        message: "this verification has changed; read it again or start a new one".into(),
    }
}

fn not_now(strategy: Strategy, status: &str) -> ApiError {
    ApiError::bad_request(
        "strategy_not_allowed",
        format!("{strategy} cannot be used now: the verification {status}"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttemptBody {
    strategy: Strategy,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    credential: Option<Value>,
}

async fn attempt(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AttemptBody>,
) -> Result<Response, ApiError> {
    state.limit_verification(&client)?;
    let user = current.user(&state).await?;
    let submission = Submission {
        strategy: body.strategy,
        password: body.password,
        code: body.code,
        credential: body.credential,
    };
    let outcome =
        verification::attempt(&state, &current.session, &user, &id, submission, &client).await?;
    let a = available(&state, &user).await?;
    let (row, session_row, grant) = match outcome {
        Outcome::Progress(row) => {
            return Ok(Json(with_attempts_left(
                verification_json(&row, &user, &a),
                &row,
                &state,
            ))
            .into_response());
        }
        Outcome::Complete(done) => *done,
    };
    // The fresh token: the retried request must not carry one minted before this. A
    // verification for an action puts its approval in this token, and in no other.
    let action = crate::approval::stored(row.action.as_deref())?;
    let approval = match (&action, &grant) {
        (Some(action), Some(grant)) => {
            let level: Level = row.level.parse().map_err(ApiError::internal)?;
            Some(crate::approval::claim(grant, action, level))
        }
        _ => None,
    };
    let token =
        session::mint_token_with(&state, &session_row, client.origin.as_deref(), approval).await?;
    let lifetime = state.config.sessions.token_lifetime_secs;
    let mut out = with_attempts_left(verification_json(&row, &user, &a), &row, &state);
    let body = json!({
        "verification": out.take(),
        "session": session::session_json(&state, &session_row),
        "reverification": crate::reverification::presets_json(&state, &session_row),
        "token": token,
        "jwt": token,
        "expires_in": lifetime,
    });
    let mut body = body;
    if let (Some(action), Some(grant)) = (&action, &grant) {
        body["approval"] = crate::approval::grant_json(grant, action);
    }
    Ok(super::current::with_token_cookie(&state, body, &token))
}
