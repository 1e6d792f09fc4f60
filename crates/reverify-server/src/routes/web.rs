//! HTTP plumbing shared by the resources: a JSON extractor with our error codes, client
//! information, and cookies.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

pub(crate) use crate::client::Client;
use crate::error::ApiError;
use crate::state::AppState;

/// `Json<T>` whose rejections are [`ApiError`]s (400 `invalid_json` / `invalid_body`,
/// 413, 415) instead of axum's plain-text ones.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = state.proxies.client_ip(peer, &parts.headers);
        let user_agent =
            header_str(&parts.headers, "user-agent").map(|ua| ua.chars().take(512).collect());
        let origin = header_str(&parts.headers, "origin")
            .filter(|o| state.config.server.allowed_origins.iter().any(|a| a == o))
            .map(str::to_owned);
        // Kept as sent: only sign-ins hash it (`Client::device_hash`), not every request.
        let device = cookie(&parts.headers, state.config.device_cookie_name())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned);
        Ok(Client {
            ip: ip.map(|ip| ip.to_string()),
            user_agent,
            origin,
            device,
        })
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The value of cookie `name`.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n == name && !v.is_empty()).then_some(v)
        })
}

/// A `Set-Cookie` value. `http_only` for the session cookie; the token cookie stays
/// readable so that frontends can forward it as a bearer token cross-origin.
pub(crate) fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: i64,
    http_only: bool,
) -> HeaderValue {
    let secure = if state.config.sessions.insecure_cookies {
        ""
    } else {
        "; Secure"
    };
    let http_only = if http_only { "; HttpOnly" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax{http_only}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}
