//! `POST /v1/sign_ins` (password, or start an emailed-code sign-in) and
//! `POST /v1/sign_ins/{id}/attempt` (the emailed code).
//!
//! No user enumeration: a wrong password and an unknown email get the same answer after
//! the same work (a dummy Argon2 verification), and starting a code sign-in answers the
//! same whether or not a code was sent.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::api::Api;
use super::flows;
use crate::email::Email;
use crate::error::ApiError;
use crate::secrets;
use crate::session::Verified;
use crate::state::AppState;
use crate::store::FlowKind;
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

async fn start(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<StartSignIn>,
) -> Result<Response, ApiError> {
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
            let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
            if !state.passwords.verify(&password, stored).await? {
                return Err(ApiError::InvalidCredentials);
            }
            let Some(user) = user else {
                return Err(ApiError::InvalidCredentials);
            };
            let tx = state.store.write().await?;
            let verified = Verified {
                amr: vec!["pwd"],
                first_factor: true,
                second_factor: false,
            };
            flows::finish_sign_in(&state, tx, &user, &verified, &client).await
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

async fn attempt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: Client,
    ApiJson(body): ApiJson<flows::CodeAttempt>,
) -> Result<Response, ApiError> {
    let code = validate::code(&body.code)?;
    let (mut tx, flow) = flows::begin_checked(&state, &id, FlowKind::SignInCode, code).await?;
    let user_id = flow.user_id.clone().ok_or(ApiError::InvalidCode)?;
    let user = state
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    if !crate::store::Store::complete_flow(&mut tx, &flow.id, state.now()).await? {
        return Err(ApiError::FlowCompleted);
    }
    let verified = Verified {
        amr: vec!["email"],
        first_factor: true,
        second_factor: false,
    };
    flows::finish_sign_in(&state, tx, &user, &verified, &client).await
}
