//! The signed-in user's sessions and session tokens.
//!
//! - `GET /v1/sessions/current`: the current session and user, and for each preset whether
//!   the session satisfies it and for how many more seconds.
//! - `GET /v1/client`: "am I signed in?", never an error: the same body as
//!   `GET /v1/sessions/current` when signed in, `{session: null, user: null,
//!   reverification: null}` when not (and the cookies cleared when the session cookie
//!   presented is not valid any more).
//! - `POST /v1/sessions/current/tokens`: a fresh session token (also set as the
//!   `__session` cookie). Reads the session, never writes it on each call.
//! - `DELETE /v1/sessions/current`: sign out (ends the session, clears both cookies).
//! - `GET /v1/sessions`: the user's open sessions.
//! - `DELETE /v1/sessions/{id}`: revoke one of the user's own sessions (another session than
//!   the current one needs a recent verification: `reverification.sensitive_policy`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::api::Api;
use super::current::{CurrentSession, SessionCookie};
use super::web::Client;
use crate::audit::Event;
use crate::error::ApiError;
use crate::session;
use crate::state::AppState;

pub(crate) fn router() -> Api {
    Api::new()
        .get("/v1/client", client_state)
        .get("/v1/sessions/current", current)
        .delete("/v1/sessions/current", sign_out)
        .post("/v1/sessions/current/tokens", token)
        .get("/v1/sessions", list)
        .delete("/v1/sessions/{id}", revoke)
}

async fn current(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(signed_in_body(&state, &current).await?))
}

/// `{session, user, reverification}` of the signed-in session.
async fn signed_in_body(
    state: &AppState,
    current: &CurrentSession,
) -> Result<serde_json::Value, ApiError> {
    let user = current.user(state).await?;
    Ok(json!({
        "session": session::session_json(state, &current.session),
        "user": session::user_json(&user),
        "reverification": crate::reverification::presets_json(state, &current.session),
    }))
}

/// `GET /v1/client`: 200 whether or not the request is signed in, so that a signed-out
/// page asking is not an error (design note 26).
async fn client_state(
    State(state): State<AppState>,
    cookie: SessionCookie,
) -> Result<Response, ApiError> {
    let signed_out = json!({ "session": null, "user": null, "reverification": null });
    let current = match cookie {
        SessionCookie::Absent => return Ok(Json(signed_out).into_response()),
        SessionCookie::Invalid => {
            return Ok(super::current::with_cookies_cleared(&state, signed_out));
        }
        SessionCookie::Active(current) => current,
    };
    match signed_in_body(&state, &current).await {
        Ok(body) => Ok(Json(body).into_response()),
        // The user was deleted since the session was read: as signed out as an ended session.
        Err(ApiError::SignedOut) => Ok(super::current::with_cookies_cleared(&state, signed_out)),
        Err(e) => Err(e),
    }
}

async fn token(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
) -> Result<Response, ApiError> {
    let token = session::mint_token(&state, &current.session, client.origin.as_deref()).await?;
    let lifetime = state.config.sessions.token_lifetime_secs;
    Ok(super::current::with_token_cookie(
        &state,
        json!({ "jwt": token, "expires_in": lifetime }),
        &token,
    ))
}

async fn sign_out(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
) -> Result<Response, ApiError> {
    state.end_session(&current.session.id, "sign_out").await?;
    state
        .audit(Event {
            kind: "sign_out",
            user_id: Some(&current.session.user_id),
            session_id: Some(&current.session.id),
            client: &client,
            detail: json!({}),
        })
        .await?;
    Ok(super::current::with_cookies_cleared(
        &state,
        json!({ "status": "signed_out" }),
    ))
}

async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = state.now();
    let idle = state.config.sessions.idle_timeout_secs;
    let sessions: Vec<_> = state
        .store
        .open_sessions_of(&current.session.user_id)
        .await?
        .iter()
        .filter(|s| s.is_active(now, idle))
        .map(|s| {
            let mut v = session::session_json(&state, s);
            v["current"] = json!(s.id == current.session.id);
            v
        })
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

async fn revoke(
    State(state): State<AppState>,
    current: CurrentSession,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // Ending your own current session is signing out; ending another needs a recent
    // verification.
    if id != current.session.id {
        crate::reverification::require_sensitive(&state, &current.session)?;
    }
    let target = state
        .store
        .session_by_id(&id)
        .await?
        .filter(|s| s.user_id == current.session.user_id)
        .ok_or(ApiError::NotFound("session"))?;
    let ended = state.end_session(&target.id, "revoked").await?;
    if ended {
        state
            .audit(Event {
                kind: "session.revoked",
                user_id: Some(&current.session.user_id),
                session_id: Some(&current.session.id),
                client: &client,
                detail: json!({ "revoked_session_id": target.id }),
            })
            .await?;
    }
    Ok(Json(json!({ "id": target.id, "status": "ended" })))
}
