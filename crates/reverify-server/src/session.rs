//! Sessions: establishing one, finding the current one from its cookie, and minting its
//! session tokens.
//!
//! A session is identified by an opaque 256-bit secret in an HttpOnly cookie; only its
//! SHA-256 is stored. Each session records when the first and the second factor were last
//! verified in it. Tokens carry those times (`fvt`) and the Clerk-compatible ages (`fva`);
//! minting a token never changes them, so refreshing never makes a verification look
//! more recent.

use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::store::{SessionRow, Store, Tx, User};
use crate::strategy::Amr;
use crate::web::{self, Client};
use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The name of the cookie that carries session tokens (as the SDK expects).
pub const TOKEN_COOKIE: &str = "__session";

/// How long a browser stays known (the device cookie, `Config::device_cookie_name`): a year.
const DEVICE_COOKIE_SECS: i64 = 365 * 24 * 3600;

/// `last_active_at` is written at most this often per session.
const TOUCH_GRANULARITY_SECS: i64 = 60;

/// The signed-in session of a request (from the session cookie). Finding it costs one
/// indexed read; it writes only when `last_active_at` is a minute old.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// The session.
    pub session: SessionRow,
}

impl CurrentSession {
    /// The session's user (a second read; most token refreshes do not need it).
    pub async fn user(&self, state: &AppState) -> Result<User, ApiError> {
        state
            .store
            .user_by_id(&self.session.user_id)
            .await?
            .ok_or(ApiError::SignedOut)
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
                let row = state
                    .store
                    .session_by_secret_hash(&secret_hash)
                    .await?
                    .ok_or(ApiError::SignedOut)?;
                let row = std::sync::Arc::new(row);
                state.session_cache.put(row.clone(), now, generation);
                row
            }
        };
        if !session.is_active(now, idle) {
            return Err(ApiError::SignedOut);
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
        Ok(CurrentSession { session })
    }
}

/// Which factors a sign-in verified, and how.
#[derive(Debug, Clone)]
pub struct Verified {
    /// RFC 8176 methods, e.g. `[Amr::Pwd]`.
    pub amr: Vec<Amr>,
    /// The first factor was verified (always, for a sign-in).
    pub first_factor: bool,
    /// The second factor was verified.
    pub second_factor: bool,
    /// The user has a second factor. Only then is a second-factor time recorded: an
    /// unverified one is `0` (stale), and a verified one (a passkey with user
    /// verification) is `now`; without one the session says "none" (`NULL`, tokens `-1`),
    /// whatever the passkey proved, so that a later password verification alone keeps
    /// satisfying `strict` for this user.
    pub second_enrolled: bool,
}

/// Creates a session inside `tx`; returns it and its cookie secret.
pub(crate) async fn establish(
    state: &AppState,
    tx: &mut Tx,
    user: &User,
    verified: &Verified,
    client: &Client,
) -> Result<(SessionRow, String), ApiError> {
    let now = state.now();
    let secret = secrets::new_secret();
    let session = SessionRow {
        id: secrets::new_id("sess"),
        user_id: user.id.clone(),
        secret_hash: secrets::sha256_hex(&[&secret]),
        created_at: now,
        last_active_at: now,
        expires_at: now + state.config.sessions.absolute_lifetime_secs,
        ended_at: None,
        end_reason: None,
        first_factor_at: verified.first_factor.then_some(now),
        second_factor_at: match (verified.second_enrolled, verified.second_factor) {
            (false, _) => None,
            (true, true) => Some(now),
            (true, false) => Some(0),
        },
        amr: Amr::join(&verified.amr),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    Store::insert_session(tx, &session).await?;
    Ok((session, secret))
}

/// The session token claims (see the SDK's `SessionClaims`).
pub fn token_claims(
    state: &AppState,
    session: &SessionRow,
    azp: Option<&str>,
    now: i64,
) -> serde_json::Value {
    let [first, second] = crate::reverification::factor_times(session);
    let minutes = |t: i64| if t < 0 { -1 } else { (now - t).max(0) / 60 };
    let lifetime = state.config.sessions.token_lifetime_secs;
    let mut claims = json!({
        "iss": state.issuer,
        "sub": session.user_id,
        "sid": session.id,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets::new_id("tok"),
        "fva": [minutes(first), minutes(second)],
        "fvt": [first, second],
        "auth_time": session.created_at,
        "amr": session.amr.split_whitespace().collect::<Vec<_>>(),
    });
    if let Some(azp) = azp {
        claims["azp"] = json!(azp);
    }
    claims
}

/// Mints a session token for `session`.
pub async fn mint_token(
    state: &AppState,
    session: &SessionRow,
    azp: Option<&str>,
) -> Result<String, ApiError> {
    let now = state.now();
    state
        .keys
        .sign(&token_claims(state, session, azp, now), now)
        .await
}

/// The public view of a session.
pub fn session_json(state: &AppState, s: &SessionRow) -> serde_json::Value {
    json!({
        "id": s.id,
        "user_id": s.user_id,
        "status": if s.ended_at.is_some() { "ended" } else { "active" },
        "created_at": s.created_at,
        "last_active_at": s.last_active_at,
        "expires_at": s.expires_at.min(s.last_active_at + state.config.sessions.idle_timeout_secs),
        "first_factor_verified_at": s.first_factor_at,
        "second_factor_verified_at": s.second_factor_at,
        "ip": s.ip,
        "user_agent": s.user_agent,
    })
}

/// The public view of a user.
pub fn user_json(u: &User) -> serde_json::Value {
    json!({ "id": u.id, "email": u.email, "created_at": u.created_at, "has_password": u.password_hash.is_some() })
}

/// `body` as JSON, with `token` set as the `__session` cookie.
pub(crate) fn with_token_cookie(
    state: &AppState,
    body: serde_json::Value,
    token: &str,
) -> Response {
    let mut response = axum::Json(body).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        web::set_cookie(
            state,
            TOKEN_COOKIE,
            token,
            state.config.sessions.token_lifetime_secs,
            false,
        ),
    );
    response
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
    headers.append(
        SET_COOKIE,
        web::set_cookie(
            state,
            TOKEN_COOKIE,
            token,
            state.config.sessions.token_lifetime_secs,
            false,
        ),
    );
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
