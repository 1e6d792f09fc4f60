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
use crate::audit::Event;
use crate::email::Email;
use crate::error::ApiError;
use crate::factors::{self, SecondFactor};
use crate::lockout::Secret;
use crate::secrets;
use crate::session::{self, CurrentSession};
use crate::state::AppState;
use crate::store::{Store, StoreError, User, VerificationRow};
use crate::validate;
use crate::web::{ApiJson, Client};

pub(crate) fn router() -> Api {
    Api::new()
        .post("/v1/sessions/current/verifications", start)
        .get("/v1/sessions/current/verifications/{id}", get)
        .delete("/v1/sessions/current/verifications/{id}", cancel)
        .post("/v1/sessions/current/verifications/{id}/prepare", prepare)
        .post("/v1/sessions/current/verifications/{id}/attempt", attempt)
}

const NEEDS_FIRST: &str = "needs_first_factor";
const NEEDS_SECOND: &str = "needs_second_factor";
const COMPLETE: &str = "complete";
const CANCELLED: &str = "cancelled";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    level: String,
}

/// What the user can verify with.
struct Available {
    password: bool,
    passkeys: bool,
    second_factor: bool,
    backup_codes: bool,
}

async fn available(state: &AppState, user: &User) -> Result<Available, ApiError> {
    Ok(Available {
        password: user.password_hash.is_some(),
        passkeys: !state.store.passkeys_of(&user.id).await?.is_empty(),
        second_factor: state.store.has_second_factor(&user.id).await?,
        backup_codes: state.store.backup_codes_left(&user.id).await? > 0,
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
        "created_at": v.created_at,
        "expires_at": v.expires_at,
    })
}

fn with_attempts_left(mut v: Value, row: &VerificationRow, state: &AppState) -> Value {
    v["attempts_left"] = json!((state.config.reverification.max_attempts - row.attempts).max(0));
    v
}

/// The status after the factors verified so far.
fn next_status(level: Level, has_second: bool, first: bool, second: bool) -> &'static str {
    match level {
        Level::FirstFactor if first || second => COMPLETE,
        Level::FirstFactor => NEEDS_FIRST,
        Level::SecondFactor if has_second => {
            if second {
                COMPLETE
            } else {
                NEEDS_SECOND
            }
        }
        // No second factor: falls back to a first-factor verification (as the reference).
        Level::SecondFactor if first => COMPLETE,
        Level::SecondFactor => NEEDS_FIRST,
        Level::MultiFactor => match (first, second, has_second) {
            (true, true, _) | (true, false, false) => COMPLETE,
            (true, false, true) => NEEDS_SECOND,
            _ => NEEDS_FIRST,
        },
    }
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
    let user = current.user(&state).await?;
    let a = available(&state, &user).await?;
    let now = state.now();
    let row = VerificationRow {
        id: secrets::new_id("ver"),
        session_id: current.session.id.clone(),
        user_id: user.id.clone(),
        level: level.as_str().into(),
        status: next_status(level, a.second_factor, false, false).into(),
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
    ensure_open(state, &row)?;
    Ok(row)
}

fn ensure_open(state: &AppState, row: &VerificationRow) -> Result<(), ApiError> {
    let now = state.now();
    if row.ended_at.is_some() {
        return Err(ApiError::Conflict {
            code: "verification_ended",
            message: format!("this verification is {}; start a new one", row.status),
        });
    }
    if now >= row.expires_at {
        return Err(ApiError::Gone {
            code: "verification_expired",
            message: "this verification has expired; start a new one".into(),
        });
    }
    if row.attempts >= state.config.reverification.max_attempts {
        return Err(ApiError::TooManyAttempts {
            retry_after: (row.expires_at - now).max(1) as u64,
        });
    }
    Ok(())
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
        row.status = CANCELLED.into();
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
    }
    tx.commit().await.map_err(StoreError::from)?;
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
            if row.status != NEEDS_FIRST {
                return Err(not_now("email_code", &row.status));
            }
            let code = secrets::new_code();
            row.code_hash = Some(secrets::sha256_hex(&[&row.id, &code]));
            row.code_expires_at =
                Some((now + state.config.email.code_ttl_secs).min(row.expires_at));
            let mut tx = state.store.write().await?;
            Store::update_verification(&mut tx, &row).await?;
            tx.commit().await.map_err(StoreError::from)?;
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
            let (options, server_state) =
                crate::passkeys::start_assertion(&state, Some(&user.id)).await?;
            row.passkey_state = Some(server_state);
            let mut tx = state.store.write().await?;
            Store::update_verification(&mut tx, &row).await?;
            tx.commit().await.map_err(StoreError::from)?;
            extra = Some(options);
        }
    }
    let mut out = with_attempts_left(verification_json(&row, &user, &a), &row, &state);
    if let Some(options) = extra {
        out["passkey"] = options;
    }
    Ok(Json(out))
}

fn not_now(strategy: &str, status: &str) -> ApiError {
    ApiError::bad_request(
        "strategy_not_allowed",
        format!("{strategy} cannot be used now: the verification {status}"),
    )
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum AttemptStrategy {
    Password,
    EmailCode,
    Passkey,
    Totp,
    BackupCode,
}

impl AttemptStrategy {
    fn as_str(self) -> &'static str {
        match self {
            AttemptStrategy::Password => "password",
            AttemptStrategy::EmailCode => "email_code",
            AttemptStrategy::Passkey => "passkey",
            AttemptStrategy::Totp => "totp",
            AttemptStrategy::BackupCode => "backup_code",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttemptBody {
    strategy: AttemptStrategy,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    credential: Option<Value>,
}

/// What an attempt proved.
struct Proof {
    first: bool,
    second: bool,
    amr: Vec<&'static str>,
}

async fn attempt(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AttemptBody>,
) -> Result<Response, ApiError> {
    state.limit_verification(&client)?;
    let row = open_verification(&state, &current, &id).await?;
    let user = current.user(&state).await?;
    let strategy = body.strategy;
    let first_step = matches!(
        strategy,
        AttemptStrategy::Password | AttemptStrategy::EmailCode
    );
    let second_step = matches!(
        strategy,
        AttemptStrategy::Totp | AttemptStrategy::BackupCode
    );
    if (first_step && row.status != NEEDS_FIRST) || (second_step && row.status != NEEDS_SECOND) {
        return Err(not_now(strategy.as_str(), &row.status));
    }
    let missing = |field: &'static str| {
        ApiError::bad_request(
            "invalid_body",
            format!("{} needs `{field}`", strategy.as_str()),
        )
    };
    let now = state.now();
    // Check the secret. Each branch either proves something or has counted the failure.
    let (proof, mut tx) = match strategy {
        AttemptStrategy::Password => {
            let password = body
                .password
                .as_deref()
                .ok_or_else(|| missing("password"))?;
            if !factors::check_password(&state, &user.email, Some(&user), password, &client).await?
            {
                return failed(&state, &row, &client, strategy, ApiError::IncorrectPassword).await;
            }
            let proof = Proof {
                first: true,
                second: false,
                amr: vec!["pwd"],
            };
            (proof, state.store.write().await?)
        }
        AttemptStrategy::EmailCode => {
            let code = validate::code(body.code.as_deref().ok_or_else(|| missing("code"))?)?;
            let key = Secret::EmailCode.key(&user.email);
            state.check_lock(&key).await?;
            let (Some(hash), Some(expires)) = (&row.code_hash, row.code_expires_at) else {
                return Err(ApiError::bad_request(
                    "not_prepared",
                    "ask for a code first (prepare with strategy email_code)",
                ));
            };
            if now >= expires {
                return Err(ApiError::CodeExpired);
            }
            if !secrets::ct_eq(hash, &secrets::sha256_hex(&[&row.id, code])) {
                state
                    .count_failure(Secret::EmailCode, &key, Some(&user.id), &client)
                    .await?;
                return failed(&state, &row, &client, strategy, ApiError::InvalidCode).await;
            }
            state.clear_failures(&key).await?;
            let proof = Proof {
                first: true,
                second: false,
                amr: vec!["email"],
            };
            (proof, state.store.write().await?)
        }
        AttemptStrategy::Passkey => {
            let credential = body
                .credential
                .as_ref()
                .ok_or_else(|| missing("credential"))?;
            let Some(server_state) = row.passkey_state.as_deref() else {
                return Err(ApiError::bad_request(
                    "not_prepared",
                    "ask for a challenge first (prepare with strategy passkey)",
                ));
            };
            let assertion =
                match crate::passkeys::finish_assertion(&state, server_state, credential).await {
                    Ok(a) if a.user_id == user.id => a,
                    Ok(_) | Err(ApiError::PasskeyRejected) => {
                        return failed(&state, &row, &client, strategy, ApiError::PasskeyRejected)
                            .await;
                    }
                    Err(e) => return Err(e),
                };
            if row.status == NEEDS_SECOND && !assertion.user_verified {
                return failed(
                    &state,
                    &row,
                    &client,
                    strategy,
                    ApiError::UserVerificationRequired,
                )
                .await;
            }
            let proof = if assertion.user_verified {
                Proof {
                    first: true,
                    second: true,
                    amr: vec!["hwk", "user"],
                }
            } else {
                Proof {
                    first: true,
                    second: false,
                    amr: vec!["hwk"],
                }
            };
            (proof, state.store.write().await?)
        }
        AttemptStrategy::Totp | AttemptStrategy::BackupCode => {
            let factor = if strategy == AttemptStrategy::Totp {
                SecondFactor::Totp
            } else {
                SecondFactor::BackupCode
            };
            let code = body.code.as_deref().ok_or_else(|| missing("code"))?;
            factors::validate_code(factor, code)?;
            factors::check_second_factor_lock(&state, &user.id, factor).await?;
            let mut tx = state.store.write().await?;
            if !factors::consume_second_factor(&state, &mut tx, &user.id, factor, code).await? {
                tx.rollback().await.map_err(StoreError::from)?;
                factors::second_factor_failed(&state, &user.id, factor, &client).await?;
                return failed(&state, &row, &client, strategy, ApiError::InvalidCode).await;
            }
            let proof = Proof {
                first: false,
                second: true,
                amr: vec!["otp"],
            };
            (proof, tx)
        }
    };
    // Apply the proof under the row lock: a concurrent attempt cannot complete it twice.
    let mut row = state
        .store
        .verification_for_update(&mut tx, &id, &current.session.id)
        .await?
        .ok_or(ApiError::NotFound("verification"))?;
    ensure_open(&state, &row)?;
    if proof.first {
        row.first_factor_at = Some(now);
    }
    if proof.second {
        row.second_factor_at = Some(now);
    }
    row.amr = factors::merge_amr(&row.amr, &proof.amr, false);
    row.passkey_state = None;
    if strategy == AttemptStrategy::EmailCode {
        row.code_hash = None;
        row.code_expires_at = None;
    }
    let level: Level = row.level.parse().map_err(ApiError::internal)?;
    let has_second = state.store.has_second_factor(&user.id).await?;
    row.status = next_status(
        level,
        has_second,
        row.first_factor_at.is_some(),
        row.second_factor_at.is_some(),
    )
    .into();
    let a = available(&state, &user).await?;
    if row.status != COMPLETE {
        Store::update_verification(&mut tx, &row).await?;
        tx.commit().await.map_err(StoreError::from)?;
        after_success(&state, &user, strategy, &client).await?;
        return Ok(Json(with_attempts_left(
            verification_json(&row, &user, &a),
            &row,
            &state,
        ))
        .into_response());
    }
    row.ended_at = Some(now);
    Store::update_verification(&mut tx, &row).await?;
    let methods: Vec<&str> = row.amr.split_whitespace().collect();
    let multi = row.second_factor_at.is_some()
        && (row.first_factor_at.is_some()
            || current.session.first_factor_at.is_some_and(|t| t > 0));
    let amr = factors::merge_amr(&current.session.amr, &methods, multi);
    let mut tx = state.store.changing_sessions(tx);
    if !Store::record_factors_tx(
        &mut tx,
        &current.session.id,
        row.first_factor_at,
        row.second_factor_at,
        &amr,
    )
    .await?
    {
        return Err(ApiError::SignedOut);
    }
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "verification.succeeded",
                user_id: Some(&user.id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({
                    "verification_id": row.id,
                    "level": row.level,
                    "factor": strategy.as_str(),
                    "amr": methods,
                }),
            },
        )
        .await?;
    tx.commit().await?;
    after_success(&state, &user, strategy, &client).await?;
    // The fresh token: the retried request must not carry one minted before this.
    let session_row = state
        .store
        .session_by_id(&current.session.id)
        .await?
        .ok_or(ApiError::SignedOut)?;
    let token = session::mint_token(&state, &session_row, client.origin.as_deref()).await?;
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
    Ok(session::with_token_cookie(&state, body, &token))
}

/// Bookkeeping after an accepted factor (outside the transaction).
async fn after_success(
    state: &AppState,
    user: &User,
    strategy: AttemptStrategy,
    client: &Client,
) -> Result<(), ApiError> {
    match strategy {
        AttemptStrategy::Totp => {
            factors::second_factor_succeeded(state, &user.id, SecondFactor::Totp).await
        }
        AttemptStrategy::BackupCode => {
            factors::second_factor_succeeded(state, &user.id, SecondFactor::BackupCode).await?;
            state
                .audit(Event {
                    kind: "factor.backup_code_used",
                    user_id: Some(&user.id),
                    session_id: None,
                    client,
                    detail: json!({
                        "during": "verification",
                        "remaining": state.store.backup_codes_left(&user.id).await?,
                    }),
                })
                .await
        }
        _ => Ok(()),
    }
}

/// A wrong secret: counted on the verification (which dies after
/// `reverification.max_attempts`), audited, and answered with `error`.
async fn failed(
    state: &AppState,
    row: &VerificationRow,
    client: &Client,
    strategy: AttemptStrategy,
    error: ApiError,
) -> Result<Response, ApiError> {
    let attempts = state.store.count_verification_attempt(&row.id).await?;
    state
        .audit(Event {
            kind: "verification.failed",
            user_id: Some(&row.user_id),
            session_id: Some(&row.session_id),
            client,
            detail: json!({
                "verification_id": row.id,
                "level": row.level,
                "factor": strategy.as_str(),
                "attempts": attempts,
            }),
        })
        .await?;
    Err(error)
}
