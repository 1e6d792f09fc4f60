//! The development outbox: `GET /v1/dev/outbox` (JSON) and `GET /dev/outbox` (a page).
//! Both answer 404 unless the outbox is on (`email.mode = "dev"` or
//! `email.danger_dev_outbox`).

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Html;
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

async fn outbox_page(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, ApiError> {
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
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Reverify dev outbox</title>\
         <style>body{{font:14px system-ui;margin:2rem}}td{{border-top:1px solid #ddd;padding:.4rem;vertical-align:top}}pre{{margin:0;white-space:pre-wrap}}</style>\
         <h1>Dev outbox</h1><p>Emails the server would have sent (newest first). Development only.</p>\
         <table><tr><th>To</th><th>Subject</th><th>Code</th><th>Body</th></tr>{rows}</table></html>"
    )))
}
