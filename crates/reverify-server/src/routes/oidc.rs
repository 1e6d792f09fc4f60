//! The OpenID provider's endpoints (`docs/oidc.md`). All answer 404 while `oidc.enabled`
//! is off.
//!
//! - `GET /.well-known/openid-configuration`: discovery

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::api::Api;
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Api {
    Api::new().get("/.well-known/openid-configuration", discovery)
}

fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.oidc.enabled {
        Ok(())
    } else {
        Err(ApiError::NotFound("route"))
    }
}

/// Public and the same for everyone: cacheable for five minutes.
async fn discovery(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    enabled(&state)?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(crate::oidc::discovery::metadata(&state.issuer)),
    ))
}
