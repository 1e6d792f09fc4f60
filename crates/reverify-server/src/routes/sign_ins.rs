//! `POST /v1/sign_ins` (password, or start an emailed-code sign-in) and
//! `POST /v1/sign_ins/{id}/attempt` (the emailed code, then the second factor). The rules
//! live in [`crate::sign_in`].
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

use super::api::Api;
use super::flows;
use super::web::{ApiJson, Client};
use crate::email::Email;
use crate::error::ApiError;
use crate::secrets;
use crate::sign_in::{self, Stage};
use crate::state::AppState;
use crate::store::FlowKind;
use crate::strategy::Strategy;
use crate::validate;

pub(crate) fn router() -> Api {
    Api::new()
        .post("/v1/sign_ins", start)
        .post("/v1/sign_ins/{id}/attempt", attempt)
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
    state.limit_sign_in(&client)?;
    let strategy = match (body.strategy, &body.password) {
        (Some(Strategy::EmailCode), None) => Strategy::EmailCode,
        (Some(Strategy::Password) | None, Some(_)) => Strategy::Password,
        (Some(Strategy::EmailCode), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "an email_code sign-in takes no password",
            ));
        }
        (Some(Strategy::Password) | None, None) => {
            return Err(ApiError::bad_request(
                "password_required",
                "enter your password",
            ));
        }
        (Some(other), _) => {
            return Err(ApiError::bad_request(
                "strategy_not_allowed",
                format!("a sign-in starts with password or email_code, not {other}"),
            ));
        }
    };
    // A malformed email cannot belong to an account: the same answer as a wrong password
    // would leak nothing, but a clear 400 helps users more.
    let email = validate::email(&body.email)?;
    let user = state.store.user_by_email(&email).await?;
    match strategy {
        Strategy::EmailCode => {
            let flow = match &user {
                Some(u) => {
                    let code = secrets::new_code();
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
                    let email = Email {
                        to: email.clone(),
                        subject: format!("{code} is your sign-in code"),
                        body,
                        code: Some(code),
                    };
                    flows::send(&state, email, &client).await?;
                    flow
                }
                None => {
                    flows::start(&state, FlowKind::SignInCode, &email, None, None, None).await?
                }
            };
            Ok(Json(flows::pending_json(&flow)).into_response())
        }
        _ => {
            let password = body.password.unwrap_or_default();
            let step = sign_in::password(&state, &email, user, &password, &client).await?;
            Ok(flows::step_response(&state, step))
        }
    }
}

/// The body of `POST /v1/sign_ins/{id}/attempt`: the emailed code, or in the second-factor
/// step `{"strategy": "totp" | "backup_code", "code": …}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attempt {
    code: String,
    #[serde(default)]
    strategy: Option<Strategy>,
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
    let stage = Stage::of(&flow);
    // The strategy may be left out: the one the stage expects (TOTP for the second step).
    let strategy = body.strategy.unwrap_or(match stage {
        Stage::NeedsEmailCode => Strategy::EmailCode,
        Stage::NeedsSecondFactor => Strategy::Totp,
    });
    if !sign_in::allows(stage, strategy) {
        return Err(ApiError::bad_request(
            "strategy_not_allowed",
            match stage {
                Stage::NeedsEmailCode => "this sign-in needs the code sent by email",
                Stage::NeedsSecondFactor => {
                    "this sign-in needs a second factor: totp or backup_code"
                }
            },
        ));
    }
    match stage {
        Stage::NeedsSecondFactor => {
            let signed_in =
                sign_in::second_factor(&state, flow, strategy, &body.code, &client).await?;
            Ok(flows::signed_in_response(&state, &signed_in))
        }
        Stage::NeedsEmailCode => {
            let code = validate::code(&body.code)?;
            let step = sign_in::email_code(&state, flow, code, &client).await?;
            Ok(flows::step_response(&state, step))
        }
    }
}
