//! What sign-up and code sign-in share: sending a code, and checking one under attempt
//! limits inside the transaction that completes the flow.

use axum::response::Response;
use sqlx::{Any, Transaction};

use crate::email::Email;
use crate::error::ApiError;
use crate::secrets;
use crate::session::{self, Verified};
use crate::state::AppState;
use crate::store::{Flow, FlowKind, StoreError, User};
use crate::web::Client;

/// The body of `POST /v1/sign_ups/{id}/attempt` and `POST /v1/sign_ins/{id}/attempt`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeAttempt {
    pub(crate) code: String,
}

/// Wrong codes allowed per flow; then it is dead and a new one must be started.
pub(crate) const MAX_ATTEMPTS: i64 = 5;

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

/// Sends `email` in the background.
pub(crate) fn send(state: &AppState, email: Email) {
    state.mailer.send(email, state.now());
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

/// Locks the flow in `tx` and checks `code`; a wrong code is counted (and committed)
/// even though the caller's transaction is rolled back.
async fn check_code(
    state: &AppState,
    tx: &mut Transaction<'static, Any>,
    id: &str,
    kind: FlowKind,
    code: &str,
) -> Result<Flow, ApiError> {
    let now = state.now();
    let flow = state
        .store
        .flow_for_update(tx, id)
        .await?
        .filter(|f| f.kind == kind.as_str())
        .ok_or(ApiError::NotFound("flow"))?;
    if flow.completed_at.is_some() {
        return Err(ApiError::FlowCompleted);
    }
    if now >= flow.expires_at {
        return Err(ApiError::CodeExpired);
    }
    if flow.attempts >= MAX_ATTEMPTS {
        return Err(ApiError::TooManyAttempts {
            retry_after: (flow.expires_at - now).max(1) as u64,
        });
    }
    let expected = flow.code_hash.as_deref().unwrap_or("");
    let given = secrets::sha256_hex(&[&flow.id, code]);
    if flow.code_hash.is_some() && secrets::ct_eq(expected, &given) {
        return Ok(flow);
    }
    Err(ApiError::InvalidCode)
}

/// Opens a write transaction holding the flow, if `code` is right. A wrong code is
/// counted after the transaction is rolled back (SQLite has one writer at a time).
pub(crate) async fn begin_checked(
    state: &AppState,
    id: &str,
    kind: FlowKind,
    code: &str,
) -> Result<(Transaction<'static, Any>, Flow), ApiError> {
    let mut tx = state.store.write().await?;
    match check_code(state, &mut tx, id, kind, code).await {
        Ok(flow) => Ok((tx, flow)),
        Err(e) => {
            tx.rollback().await.map_err(StoreError::from)?;
            if matches!(e, ApiError::InvalidCode) {
                state.store.count_flow_attempt(id).await?;
            }
            Err(e)
        }
    }
}

/// Completes a sign-in inside `tx`: a new session and its audit event (`kind`),
/// committed, and the signed-in answer.
pub(crate) async fn finish_sign_in(
    state: &AppState,
    mut tx: Transaction<'static, Any>,
    user: &User,
    verified: &Verified,
    client: &Client,
    kind: &'static str,
) -> Result<Response, ApiError> {
    let (session, secret) = session::establish(state, &mut tx, user, verified, client).await?;
    state
        .audit_tx(
            &mut tx,
            crate::audit::Event {
                kind,
                user_id: Some(&user.id),
                session_id: Some(&session.id),
                client,
                detail: serde_json::json!({ "amr": verified.amr }),
            },
        )
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(user_id = %user.id, session_id = %session.id, amr = ?verified.amr, "signed in");
    let token = session::mint_token(state, &session, client.origin.as_deref()).await?;
    Ok(session::signed_in_response(
        state, &session, &secret, user, &token,
    ))
}
