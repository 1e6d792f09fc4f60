//! The HTTP resources, one file each, merged here.

mod admin;
mod dev;
mod flows;
mod jwks;
mod sessions;
mod sign_ins;
mod sign_ups;

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

/// Every route of the auth server, without middleware.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .merge(jwks::router())
        .merge(sign_ups::router())
        .merge(sign_ins::router())
        .merge(sessions::router())
        .merge(dev::router())
        .merge(admin::router())
}

async fn health(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    Ok("ok")
}
