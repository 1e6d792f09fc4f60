//! The development outbox: `GET /v1/dev/outbox` (JSON) and `GET /dev/outbox` (a page).
//! Both answer 404 unless the outbox is on (`email.mode = "dev"`, which `auto` means on a
//! localhost public URL, or `email.danger_dev_outbox`). The page runs no script and
//! allows only its own stylesheet (by hash); neither is ever cached.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;

use super::api::Api;
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) fn router() -> Api {
    Api::new()
        .get("/v1/dev/outbox", outbox_json)
        .get("/dev/outbox", outbox_page)
}

#[derive(Deserialize)]
struct Filter {
    email: Option<String>,
}

async fn messages(
    state: &AppState,
    filter: &Filter,
) -> Result<Vec<crate::store::OutboxMessage>, ApiError> {
    if !state.mailer.has_outbox() {
        return Err(ApiError::NotFound("dev outbox"));
    }
    let email = filter.email.as_deref().map(|e| e.trim().to_lowercase());
    Ok(state.store.outbox(email.as_deref(), 50).await?)
}

async fn outbox_json(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        serde_json::json!({ "messages": messages(&state, &filter).await? }),
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page's only style, allowed by its hash.
const STYLE: &str = "body{font:14px system-ui;margin:2rem}td{border-top:1px solid #ddd;padding:.4rem;vertical-align:top}pre{margin:0;white-space:pre-wrap}";

/// The page's policy: its own stylesheet, nothing else; never framed.
static PAGE_CSP: LazyLock<String> = LazyLock::new(|| {
    let digest = ring::digest::digest(&ring::digest::SHA256, STYLE.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'"
    )
});

async fn outbox_page(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let rows: String = messages(&state, &filter)
        .await?
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><strong>{}</strong></td><td><pre>{}</pre></td></tr>",
                escape(&m.recipient),
                escape(&m.subject),
                escape(m.code.as_deref().unwrap_or("")),
                escape(&m.body)
            )
        })
        .collect();
    let page = Html(format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Reverify dev outbox</title>\
         <style>{STYLE}</style>\
         <h1>Dev outbox</h1><p>Emails the server would have sent (newest first). Development only.</p>\
         <table><tr><th>To</th><th>Subject</th><th>Code</th><th>Body</th></tr>{rows}</table></html>"
    ));
    Ok(([(header::CONTENT_SECURITY_POLICY, PAGE_CSP.as_str())], page).into_response())
}
