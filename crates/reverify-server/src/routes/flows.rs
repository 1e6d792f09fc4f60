//! What the sign-up and sign-in resources share: starting a flow that sends a code, its
//! public view, and the answers of a sign-in step.

use axum::Json;
use axum::response::{IntoResponse, Response};

use super::web::Client;
use crate::email::Email;
use crate::error::ApiError;
use crate::secrets;
use crate::sign_in::{SignedIn, Step};
use crate::state::AppState;
use crate::store::{Flow, FlowKind};

/// The body of `POST /v1/sign_ups/{id}/attempt` and `POST /v1/sign_ins/{id}/attempt`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeAttempt {
    pub(crate) code: String,
}

/// Creates and stores a flow; `code` is `None` when nothing may be sent (unknown email).
pub(crate) async fn start(
    state: &AppState,
    kind: FlowKind,
    email: &str,
    user_id: Option<String>,
    password_hash: Option<String>,
    code: Option<&str>,
) -> Result<Flow, ApiError> {
    let now = state.now();
    let id = secrets::new_id("flow");
    let flow = Flow {
        code_hash: code.map(|c| secrets::sha256_hex(&[&id, c])),
        id,
        kind: kind.as_str().into(),
        email: email.into(),
        user_id,
        password_hash,
        attempts: 0,
        created_at: now,
        expires_at: now + state.config.email.code_ttl_secs,
        completed_at: None,
        stage: None,
        amr: None,
    };
    state.store.insert_flow(&flow).await?;
    Ok(flow)
}

/// Sends `email` in the background, within the recipient's limit (`email.max_per_recipient`
/// per `email.recipient_window_secs`). Over the limit nothing is sent and the answer does
/// not change (it would tell whether an account exists); the log says so.
pub(crate) async fn send(state: &AppState, email: Email, client: &Client) -> Result<(), ApiError> {
    if state.may_email(&email.to, client).await? {
        state.mailer.send(email, state.now());
    }
    Ok(())
}

/// The flow's public view: same shape whether or not the email has an account.
pub(crate) fn pending_json(flow: &Flow) -> serde_json::Value {
    serde_json::json!({
        "id": flow.id,
        "status": "needs_email_code",
        "email": crate::validate::mask_email(&flow.email),
        "expires_at": flow.expires_at,
    })
}

/// The view of a sign-in waiting for its second factor.
pub(crate) fn second_factor_json(flow: &Flow) -> serde_json::Value {
    serde_json::json!({
        "id": flow.id,
        "status": "needs_second_factor",
        "supported_second_factors": [{ "strategy": "totp" }, { "strategy": "backup_code" }],
        "expires_at": flow.expires_at,
    })
}

/// The answer to a sign-in step.
pub(crate) fn step_response(state: &AppState, step: Step) -> Response {
    match step {
        Step::SignedIn(signed_in) => signed_in_response(state, &signed_in),
        Step::NeedsSecondFactor(flow) => Json(second_factor_json(&flow)).into_response(),
    }
}

/// The answer to a completed sign-in or sign-up.
pub(crate) fn signed_in_response(state: &AppState, s: &SignedIn) -> Response {
    super::current::signed_in_response(
        state,
        &s.session,
        &s.secret,
        &s.user,
        &s.token,
        s.device_secret.as_deref(),
    )
}
