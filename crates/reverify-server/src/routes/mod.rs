//! The HTTP resources, one file each, merged here.

mod admin;
mod api;
pub(crate) mod current;
mod dev;
mod environment;
mod flows;
mod jwks;
mod me;
mod oidc;
mod passkeys;
mod sdk;
mod sessions;
mod sign_ins;
mod sign_ups;
mod verifications;
pub(crate) mod web;

use axum::Router;
use axum::extract::State;

use crate::error::ApiError;
use crate::state::AppState;

/// Every operation of the auth server, without middleware.
fn api() -> api::Api {
    api::Api::new()
        .get("/healthz", health)
        .get("/openapi.json", openapi)
        .merge(jwks::router())
        .merge(environment::router())
        .merge(sign_ups::router())
        .merge(sign_ins::router())
        .merge(sessions::router())
        .merge(verifications::router())
        .merge(me::router())
        .merge(passkeys::router())
        .merge(dev::router())
        .merge(sdk::router())
        .merge(admin::router())
        .merge(oidc::router())
}

/// Every route of the auth server, without middleware.
pub(crate) fn routes() -> Router<AppState> {
    api().into_parts().0
}

/// `(method, path)` of every operation, for checking the OpenAPI document.
pub fn operations() -> Vec<(&'static str, &'static str)> {
    api().into_parts().1
}

pub use sdk::FILES as SDK_FILES;

/// The OpenAPI document of this API (kept in sync with the routes by a test).
pub const OPENAPI: &str = include_str!("../../openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            // Public and the same for everyone (everything else defaults to `no-store`).
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        OPENAPI,
    )
}

async fn health(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    Ok("ok")
}
