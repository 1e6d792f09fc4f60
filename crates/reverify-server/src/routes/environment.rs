//! `GET /v1/environment`: what the browser UI shows before anyone signs in — the product's
//! name and logo (`[app]`) and the password rules (`[passwords]`). Public and the same for
//! everyone, so it may be cached for five minutes.

use axum::Json;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use serde_json::json;

use super::api::Api;
use crate::state::AppState;

pub(crate) fn router() -> Api {
    Api::new().get("/v1/environment", environment)
}

/// `{"app": {"name", "logo_url"}, "password": {"min_length", "max_length"}}`.
async fn environment(State(state): State<AppState>) -> impl IntoResponse {
    let config = &state.config;
    // Validated at start: an invalid logo URL never gets this far.
    let logo_url = config.app.logo_url().ok().flatten();
    (
        [(CACHE_CONTROL, "public, max-age=300")],
        Json(json!({
            "app": {
                "name": config.app_name(),
                "logo_url": logo_url,
            },
            "password": {
                "min_length": config.passwords.min_length,
                "max_length": config.passwords.max_length,
            },
        })),
    )
}
