//! `POST /v1/sign_ups` and `POST /v1/sign_ups/{id}/attempt`: email + password, confirmed
//! by a code sent to the email.
//!
//! The account is only created when the code is confirmed, in the same transaction as its
//! first session: there is never a half-created account. The answer to the first step is
//! the same whether or not the email already has an account (its owner gets an email
//! saying so, without a code), so sign-up cannot be used to enumerate accounts. Wrong
//! codes count per flow and in the email's emailed-code lane ([`crate::attempts`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::api::Api;
use super::flows;
use super::web::{ApiJson, Client};
use crate::email::Email;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::store::FlowKind;
use crate::validate;

pub(crate) fn router() -> Api {
    Api::new()
        .post("/v1/sign_ups", start)
        .post("/v1/sign_ups/{id}/attempt", attempt)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartSignUp {
    email: String,
    password: String,
}

async fn start(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<StartSignUp>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.limit_sign_in(&client)?;
    let email = validate::email(&body.email)?;
    validate::new_password(&body.password, &state.config.passwords)?;
    // Hash in every case, so that both answers take the same time.
    let password_hash = state.passwords.hash(&body.password).await?;
    let existing = state.store.user_by_email(&email).await?;
    let code = secrets::new_code();
    let (flow, message) = match existing {
        None => {
            let flow = flows::start(
                &state,
                FlowKind::SignUp,
                &email,
                None,
                Some(password_hash),
                Some(&code),
            )
            .await?;
            let body = format!(
                "Your Reverify verification code is {code}.\n\nIt expires in {} minutes. If you did not try to sign up, ignore this email.",
                state.config.email.code_ttl_secs / 60
            );
            (
                flow,
                Email {
                    to: email.clone(),
                    subject: format!("{code} is your verification code"),
                    body,
                    code: Some(code),
                },
            )
        }
        Some(_) => {
            let flow = flows::start(&state, FlowKind::SignUp, &email, None, None, None).await?;
            let body = "Someone tried to create an account with this email address, but you already have one. \
                        Sign in instead; if this was not you, you can ignore this email."
                .to_owned();
            (
                flow,
                Email {
                    to: email.clone(),
                    subject: "You already have an account".into(),
                    body,
                    code: None,
                },
            )
        }
    };
    flows::send(&state, message, &client).await?;
    Ok(Json(flows::pending_json(&flow)))
}

async fn attempt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: Client,
    ApiJson(body): ApiJson<flows::CodeAttempt>,
) -> Result<Response, ApiError> {
    state.limit_sign_in(&client)?;
    let code = validate::code(&body.code)?;
    let flow = state
        .store
        .flow_by_id(&id)
        .await?
        .filter(|f| f.kind == FlowKind::SignUp.as_str())
        .ok_or(ApiError::NotFound("flow"))?;
    let signed_in = crate::sign_in::confirm_sign_up(&state, flow, code, &client).await?;
    Ok(flows::signed_in_response(&state, &signed_in))
}
