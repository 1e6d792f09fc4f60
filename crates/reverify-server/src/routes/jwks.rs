//! `GET /.well-known/jwks.json`: the public signing keys; the same at `GET /v1/jwks`, the
//! path where the reference's Node SDK fetches them from its API URL (so that, pointed at
//! Reverify with `sessions.token_format = "clerk_v2"`, it follows rotations).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::api::Api;
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Api {
    Api::new()
        .get("/.well-known/jwks.json", jwks)
        .get("/v1/jwks", jwks)
}

/// `max-age` is 300 s less the instances' key reload interval: a key revoked on any
/// instance is trusted by a verifier that honours it at most 300 s later (see `keys`).
async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let set = state.keys.jwks(state.now()).await?;
    let cache_control = format!("public, max-age={}", crate::keys::JWKS_MAX_AGE_SECS);
    Ok(([(header::CACHE_CONTROL, cache_control)], Json(set)))
}
