//! `POST /v1/sign_ins` (password, or start an emailed-code sign-in) and
//! `POST /v1/sign_ins/{id}/attempt` (the emailed code, then the second factor).
//!
//! No user enumeration: a wrong password and an unknown email get the same answer after
//! the same work (a dummy Argon2 verification), and starting a code sign-in answers the
//! same whether or not a code was sent.
//!
//! A user with a second factor gets `status: needs_second_factor` and a sign-in id after
//! the first factor; the session is created only when a TOTP or backup code is accepted
//! at `POST /v1/sign_ins/{id}/attempt`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::api::Api;
use super::flows;
use crate::audit::Event;
use crate::email::Email;
use crate::error::ApiError;
use crate::factors::{self, SecondFactor};
use crate::lockout::Secret;
use crate::secrets;
use crate::session::Verified;
use crate::state::AppState;
use crate::store::{Flow, FlowKind, Store, StoreError, User};
use crate::validate;
use crate::web::{ApiJson, Client};

pub(crate) fn router() -> Api {
    Api::new()
        .post("/v1/sign_ins", start)
        .post("/v1/sign_ins/{id}/attempt", attempt)
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Strategy {
    Password,
    EmailCode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartSignIn {
    email: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    strategy: Option<Strategy>,
}

const NEEDS_SECOND_FACTOR: &str = "needs_second_factor";

async fn start(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<StartSignIn>,
) -> Result<Response, ApiError> {
    state.limit_sign_in(&client)?;
    let strategy = match (&body.strategy, &body.password) {
        (Some(Strategy::EmailCode), None) => Strategy::EmailCode,
        (Some(Strategy::Password) | None, Some(_)) => Strategy::Password,
        (Some(Strategy::EmailCode), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "an email_code sign-in takes no password",
            ));
        }
        (_, None) => {
            return Err(ApiError::bad_request(
                "password_required",
                "enter your password",
            ));
        }
    };
    // A malformed email cannot belong to an account: the same answer as a wrong password
    // would leak nothing, but a clear 400 helps users more.
    let email = validate::email(&body.email)?;
    let user = state.store.user_by_email(&email).await?;
    match strategy {
        Strategy::Password => {
            let password = body.password.unwrap_or_default();
            if !factors::check_password(&state, &email, user.as_ref(), &password, &client).await? {
                state
                    .audit(Event {
                        kind: "sign_in.failed",
                        user_id: user.as_ref().map(|u| u.id.as_str()),
                        session_id: None,
                        client: &client,
                        detail: json!({ "factor": "password", "email": email }),
                    })
                    .await?;
                return Err(ApiError::InvalidCredentials);
            }
            let Some(user) = user else {
                return Err(ApiError::InvalidCredentials);
            };
            if state.store.has_second_factor(&user.id).await? {
                let flow = second_factor_flow(&state, &email, &user, &client, "pwd").await?;
                return Ok(Json(second_factor_json(&flow)).into_response());
            }
            let tx = state.store.write().await?;
            let verified = Verified {
                amr: vec!["pwd"],
                first_factor: true,
                second_factor: false,
                second_enrolled: false,
            };
            flows::finish_sign_in(&state, tx, &user, &verified, &client, "sign_in.succeeded").await
        }
        Strategy::EmailCode => {
            let code = secrets::new_code();
            let flow = match &user {
                Some(u) => {
                    let flow = flows::start(
                        &state,
                        FlowKind::SignInCode,
                        &email,
                        Some(u.id.clone()),
                        None,
                        Some(&code),
                    )
                    .await?;
                    let body = format!(
                        "Your Reverify sign-in code is {code}.\n\nIt expires in {} minutes. If you did not try to sign in, ignore this email.",
                        state.config.email.code_ttl_secs / 60
                    );
                    flows::send(
                        &state,
                        Email {
                            to: email.clone(),
                            subject: format!("{code} is your sign-in code"),
                            body,
                            code: Some(code),
                        },
                    );
                    flow
                }
                None => {
                    flows::start(&state, FlowKind::SignInCode, &email, None, None, None).await?
                }
            };
            Ok(Json(flows::pending_json(&flow)).into_response())
        }
    }
}

/// A sign-in waiting for the second factor, after a first factor (`first`: its amr).
pub(crate) async fn second_factor_flow(
    state: &AppState,
    email: &str,
    user: &User,
    client: &Client,
    first: &str,
) -> Result<Flow, ApiError> {
    let now = state.now();
    let flow = Flow {
        id: secrets::new_id("flow"),
        kind: FlowKind::SignInSecondFactor.as_str().into(),
        email: email.into(),
        user_id: Some(user.id.clone()),
        password_hash: None,
        code_hash: None,
        attempts: 0,
        created_at: now,
        expires_at: now + state.config.reverification.verification_ttl_secs,
        completed_at: None,
        stage: Some(NEEDS_SECOND_FACTOR.into()),
        amr: Some(first.into()),
    };
    state.store.insert_flow(&flow).await?;
    state
        .audit(Event {
            kind: "sign_in.second_factor_required",
            user_id: Some(&user.id),
            session_id: None,
            client,
            detail: json!({ "first_factor": first, "sign_in_id": flow.id }),
        })
        .await?;
    Ok(flow)
}

pub(crate) fn second_factor_json(flow: &Flow) -> serde_json::Value {
    json!({
        "id": flow.id,
        "status": NEEDS_SECOND_FACTOR,
        "supported_second_factors": [{ "strategy": "totp" }, { "strategy": "backup_code" }],
        "expires_at": flow.expires_at,
    })
}

/// The body of `POST /v1/sign_ins/{id}/attempt`: the emailed code, or in the second-factor
/// step `{"strategy": "totp" | "backup_code", "code": …}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attempt {
    code: String,
    #[serde(default)]
    strategy: Option<AttemptStrategy>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum AttemptStrategy {
    EmailCode,
    Totp,
    BackupCode,
}

async fn attempt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: Client,
    ApiJson(body): ApiJson<Attempt>,
) -> Result<Response, ApiError> {
    state.limit_sign_in(&client)?;
    let flow = state
        .store
        .flow_by_id(&id)
        .await?
        .filter(|f| f.kind != FlowKind::SignUp.as_str())
        .ok_or(ApiError::NotFound("flow"))?;
    if flow.stage.as_deref() == Some(NEEDS_SECOND_FACTOR) {
        let factor = match body.strategy {
            None | Some(AttemptStrategy::Totp) => SecondFactor::Totp,
            Some(AttemptStrategy::BackupCode) => SecondFactor::BackupCode,
            Some(AttemptStrategy::EmailCode) => {
                return Err(ApiError::bad_request(
                    "strategy_not_allowed",
                    "this sign-in needs a second factor: totp or backup_code",
                ));
            }
        };
        return second_factor_attempt(&state, flow, factor, &body.code, &client).await;
    }
    if !matches!(body.strategy, None | Some(AttemptStrategy::EmailCode)) {
        return Err(ApiError::bad_request(
            "strategy_not_allowed",
            "this sign-in needs the code sent by email",
        ));
    }
    let code = validate::code(&body.code)?;
    let key = Secret::EmailCode.key(&flow.email);
    state.check_lock(&key).await?;
    let (mut tx, flow) = match flows::begin_checked(&state, &id, FlowKind::SignInCode, code).await {
        Ok(ok) => ok,
        Err(ApiError::InvalidCode) => {
            state
                .count_failure(Secret::EmailCode, &key, flow.user_id.as_deref(), &client)
                .await?;
            return Err(ApiError::InvalidCode);
        }
        Err(e) => return Err(e),
    };
    let user_id = flow.user_id.clone().ok_or(ApiError::InvalidCode)?;
    let user = state
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    if state.store.has_second_factor(&user.id).await? {
        let expires_at = state.now() + state.config.reverification.verification_ttl_secs;
        Store::advance_flow(&mut tx, &flow.id, NEEDS_SECOND_FACTOR, "email", expires_at).await?;
        tx.commit().await.map_err(StoreError::from)?;
        state.clear_failures(&key).await?;
        let flow = state
            .store
            .flow_by_id(&flow.id)
            .await?
            .ok_or(ApiError::NotFound("flow"))?;
        return Ok(Json(second_factor_json(&flow)).into_response());
    }
    if !Store::complete_flow(&mut tx, &flow.id, state.now()).await? {
        return Err(ApiError::FlowCompleted);
    }
    let verified = Verified {
        amr: vec!["email"],
        first_factor: true,
        second_factor: false,
        second_enrolled: false,
    };
    let response =
        flows::finish_sign_in(&state, tx, &user, &verified, &client, "sign_in.succeeded").await?;
    state.clear_failures(&key).await?;
    Ok(response)
}

async fn second_factor_attempt(
    state: &AppState,
    flow: Flow,
    factor: SecondFactor,
    code: &str,
    client: &Client,
) -> Result<Response, ApiError> {
    factors::validate_code(factor, code)?;
    let now = state.now();
    let user_id = flow.user_id.clone().ok_or(ApiError::NotFound("flow"))?;
    if flow.completed_at.is_some() {
        return Err(ApiError::FlowCompleted);
    }
    if now >= flow.expires_at {
        return Err(ApiError::Gone {
            code: "sign_in_expired",
            message: "this sign-in has expired; start again".into(),
        });
    }
    if flow.attempts >= state.config.reverification.max_attempts {
        return Err(ApiError::TooManyAttempts {
            retry_after: (flow.expires_at - now).max(1) as u64,
        });
    }
    factors::check_second_factor_lock(state, &user_id, factor).await?;
    let user = state
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(ApiError::NotFound("flow"))?;
    let mut tx = state.store.write().await?;
    let accepted = factors::consume_second_factor(state, &mut tx, &user_id, factor, code).await?;
    if !accepted {
        tx.rollback().await.map_err(StoreError::from)?;
        state.store.count_flow_attempt(&flow.id).await?;
        factors::second_factor_failed(state, &user_id, factor, client).await?;
        state
            .audit(Event {
                kind: "sign_in.failed",
                user_id: Some(&user_id),
                session_id: None,
                client,
                detail: json!({ "factor": factor.as_str() }),
            })
            .await?;
        return Err(ApiError::InvalidCode);
    }
    if !Store::complete_flow(&mut tx, &flow.id, now).await? {
        return Err(ApiError::FlowCompleted);
    }
    let first: Vec<&str> = flow
        .amr
        .as_deref()
        .unwrap_or("pwd")
        .split_whitespace()
        .collect();
    let mut amr: Vec<&'static str> = first
        .iter()
        .filter_map(|m| match *m {
            "pwd" => Some("pwd"),
            "email" => Some("email"),
            "hwk" => Some("hwk"),
            _ => None,
        })
        .collect();
    amr.extend(["otp", "mfa"]);
    let verified = Verified {
        amr,
        first_factor: true,
        second_factor: true,
        second_enrolled: true,
    };
    let detail_factor = factor.as_str();
    let response =
        flows::finish_sign_in(state, tx, &user, &verified, client, "sign_in.succeeded").await?;
    factors::second_factor_succeeded(state, &user_id, factor).await?;
    if factor == SecondFactor::BackupCode {
        state
            .audit(Event {
                kind: "factor.backup_code_used",
                user_id: Some(&user_id),
                session_id: None,
                client,
                detail: json!({ "during": "sign_in", "factor": detail_factor }),
            })
            .await?;
    }
    Ok(response)
}
