//! `GET /.well-known/jwks.json`: the public signing keys.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::api::Api;
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Api {
    Api::new().get("/.well-known/jwks.json", jwks)
}

async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let set = state.keys.jwks(state.now()).await?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], Json(set)))
}
