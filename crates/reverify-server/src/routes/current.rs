//! The signed-in session of a request (from its cookie), and the answers that set or clear
//! the session's cookies.

use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::web;
use crate::error::ApiError;
use crate::secrets;
use crate::session::{TOKEN_COOKIE, session_json, user_json};
use crate::state::AppState;
use crate::store::{SessionRow, User};

/// How long a browser stays known (the device cookie, `Config::device_cookie_name`): a year.
const DEVICE_COOKIE_SECS: i64 = 365 * 24 * 3600;

/// `last_active_at` is written at most this often per session.
const TOUCH_GRANULARITY_SECS: i64 = 60;

/// The signed-in session of a request (from the session cookie). Finding it costs one
/// indexed read; it writes only when `last_active_at` is a minute old.
#[derive(Debug, Clone)]
pub(crate) struct CurrentSession {
    /// The session.
    pub(crate) session: SessionRow,
}

impl CurrentSession {
    /// The session's user (a second read; most token refreshes do not need it).
    pub(crate) async fn user(&self, state: &AppState) -> Result<User, ApiError> {
        state
            .store
            .user_by_id(&self.session.user_id)
            .await?
            .ok_or(ApiError::SignedOut)
    }
}

/// What a request's session cookie says, for the routes that answer signed-out requests
/// too (`GET /v1/client`): no cookie, a cookie whose session is not active any more
/// (unknown, ended, idle or past its lifetime), or the signed-in session.
#[derive(Debug, Clone)]
pub(crate) enum SessionCookie {
    /// No session cookie.
    Absent,
    /// A session cookie, but no active session behind it: the answer clears the cookies.
    Invalid,
    /// The signed-in session.
    Active(Box<CurrentSession>),
}

impl FromRequestParts<AppState> for SessionCookie {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = web::cookie(&parts.headers, &state.session_cookie) else {
            return Ok(SessionCookie::Absent);
        };
        Ok(match active_session(state, secret).await? {
            Some(session) => SessionCookie::Active(Box::new(CurrentSession { session })),
            None => SessionCookie::Invalid,
        })
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret =
            web::cookie(&parts.headers, &state.session_cookie).ok_or(ApiError::SignedOut)?;
        let session = active_session(state, secret)
            .await?
            .ok_or(ApiError::SignedOut)?;
        Ok(CurrentSession { session })
    }
}

/// The active session whose cookie secret is `secret`, if any (`None`: unknown, ended,
/// idle or past its lifetime). Touches `last_active_at` when it is a minute old.
async fn active_session(state: &AppState, secret: &str) -> Result<Option<SessionRow>, ApiError> {
    let now = state.now();
    let secret_hash = secrets::sha256_hex(&[secret]);
    let idle = state.config.sessions.idle_timeout_secs;
    let generation = state.session_cache.generation();
    // A cached row that looks ended or idle is read again before refusing: another
    // instance may have used the session since.
    let cached = state
        .session_cache
        .get(&secret_hash, now)
        .filter(|row| row.is_active(now, idle));
    let session = match cached {
        Some(row) => row,
        None => {
            let Some(row) = state.store.session_by_secret_hash(&secret_hash).await? else {
                return Ok(None);
            };
            let row = std::sync::Arc::new(row);
            state.session_cache.put(row.clone(), now, generation);
            row
        }
    };
    if !session.is_active(now, idle) {
        return Ok(None);
    }
    let mut session = (*session).clone();
    if now - session.last_active_at >= TOUCH_GRANULARITY_SECS {
        state
            .store
            .touch_session(&session.id, now, TOUCH_GRANULARITY_SECS)
            .await?;
        session.last_active_at = now;
        state
            .session_cache
            .put(std::sync::Arc::new(session.clone()), now, generation);
    }
    Ok(Some(session))
}

/// `body` as JSON, with `token` set as the `__session` cookie.
pub(crate) fn with_token_cookie(
    state: &AppState,
    body: serde_json::Value,
    token: &str,
) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, token_cookie(state, token));
    response
}

/// The `__session` cookie carrying `token` for its lifetime.
fn token_cookie(state: &AppState, token: &str) -> axum::http::HeaderValue {
    web::set_cookie(
        state,
        TOKEN_COOKIE,
        token,
        state.config.sessions.token_lifetime_secs,
        false,
    )
}

/// `body` as JSON, with the session cookie and the token cookie cleared.
pub(crate) fn with_cookies_cleared(state: &AppState, body: serde_json::Value) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        web::set_cookie(state, &state.session_cookie, "", 0, true),
    );
    headers.append(
        SET_COOKIE,
        web::set_cookie(state, TOKEN_COOKIE, "", 0, false),
    );
    response
}

/// The answer to a completed sign-in or sign-up: session, user and a first token, with the
/// session cookie and the token cookie set.
pub(crate) fn signed_in_response(
    state: &AppState,
    session: &SessionRow,
    secret: &str,
    user: &User,
    token: &str,
    device_secret: Option<&str>,
) -> Response {
    let body = json!({
        "status": "complete",
        "session": session_json(state, session),
        "user": user_json(user),
        "token": token,
    });
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    let lifetime = state.config.sessions.absolute_lifetime_secs;
    headers.append(
        SET_COOKIE,
        web::set_cookie(state, &state.session_cookie, secret, lifetime, true),
    );
    headers.append(SET_COOKIE, token_cookie(state, token));
    if let Some(device) = device_secret {
        headers.append(
            SET_COOKIE,
            web::set_cookie(
                state,
                state.config.device_cookie_name(),
                device,
                DEVICE_COOKIE_SECS,
                true,
            ),
        );
    }
    response
}
