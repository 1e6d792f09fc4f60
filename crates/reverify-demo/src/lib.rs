//! The demo app of the announcement: a bank page whose Transfer button calls
//! `POST /api/transfer`, protected by `strict`, with the Reverify auth server embedded
//! under `/auth` (same origin, so cookies just work).
//!
//! - `/`: the page (plain ES modules, no build step), using the browser SDK the auth
//!   server serves at `/auth/sdk/`.
//! - `/react`: the same page written with React and `useReverification` (built by
//!   `npm run build:demo` in `js/`).
//! - `GET /api/balance`: any signed-in session.
//! - `POST /api/transfer` `{"to": "...", "amount_cents": 100}`: a session that satisfies the
//!   transfer policy (`strict` unless `REVERIFY_DEMO_POLICY` says otherwise).
//! - `GET /api/ping`: unprotected (the benchmark's baseline).
//!
//! Every response carries the auth server's security headers (no framing, no sniffing,
//! `no-store`); the pages get [`PAGE_CSP`]: scripts from this origin only, so the
//! verification modal cannot be framed by another site (clickjacking) nor run injected
//! script.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reverify::axum::AuthLayer;
use reverify::{Policy, Session, Verifier};
use serde::Deserialize;
use serde_json::json;

/// Balances, in cents, in memory (a demo, not a ledger).
#[derive(Debug, Clone)]
pub struct Bank {
    balances: Arc<Mutex<HashMap<String, i64>>>,
    opening_cents: i64,
    transfers: Arc<std::sync::atomic::AtomicU64>,
}

impl Bank {
    /// A bank that opens every account with `opening_cents`.
    pub fn new(opening_cents: i64) -> Bank {
        Bank {
            balances: Arc::default(),
            opening_cents,
            transfers: Arc::default(),
        }
    }

    fn balance(&self, user: &str) -> i64 {
        let mut b = self.balances.lock().unwrap_or_else(|e| e.into_inner());
        *b.entry(user.to_owned()).or_insert(self.opening_cents)
    }

    fn debit(&self, user: &str, cents: i64) -> Result<i64, i64> {
        let mut b = self.balances.lock().unwrap_or_else(|e| e.into_inner());
        let balance = b.entry(user.to_owned()).or_insert(self.opening_cents);
        if *balance < cents {
            return Err(*balance);
        }
        *balance -= cents;
        self.transfers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(*balance)
    }

    /// How many transfers were made (tests check "exactly once").
    pub fn transfers(&self) -> u64 {
        self.transfers.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct Demo {
    bank: Bank,
    policy: Policy,
    react_bundle: Option<PathBuf>,
}

/// The demo's routes with the auth server mounted under `/auth`.
pub fn app(
    auth: reverify_server::AppState,
    verifier: Verifier,
    policy: Policy,
    bank: Bank,
    react_bundle: Option<PathBuf>,
) -> Router {
    let demo = Demo {
        bank,
        policy,
        react_bundle,
    };
    let api = Router::new()
        .route("/api/balance", get(balance))
        .route("/api/transfer", post(transfer))
        .layer(AuthLayer::new(verifier));
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML) }))
        .route("/app.js", get(|| async { js(APP_JS) }))
        .route("/react", get(|| async { page(REACT_HTML) }))
        .route("/react/app.js", get(serve_react_bundle))
        .route("/api/ping", get(|| async { Json(json!({ "ok": true })) }))
        .merge(api)
        .layer(middleware::map_response(
            reverify_server::security_headers::apply,
        ))
        .with_state(demo)
        .nest("/auth", reverify_server::router(auth))
}

/// The policy of the demo's pages. Scripts: this origin's files only (the page's module,
/// the SDK under `/auth/sdk/`, the React bundle), no inline script. Styles: inline too —
/// the pages and the SDK's elements each add one `<style>` element, and a style cannot
/// run script. Images: `data:` for the TOTP QR code. Requests: this origin only. Never
/// framed.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

fn page(html: &'static str) -> Response {
    ([(header::CONTENT_SECURITY_POLICY, PAGE_CSP)], Html(html)).into_response()
}

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const REACT_HTML: &str = include_str!("../web/react.html");

fn js(body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn serve_react_bundle(State(demo): State<Demo>) -> Response {
    let bundle = match &demo.react_bundle {
        Some(path) => tokio::fs::read_to_string(path).await.ok(),
        None => None,
    };
    match bundle {
        Some(body) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            body,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            "document.body.textContent = 'The React page is not built: run `npm ci && npm run build:demo` in js/.';",
        )
            .into_response(),
    }
}

async fn balance(State(demo): State<Demo>, session: Session) -> Json<serde_json::Value> {
    Json(json!({
        "user_id": session.user_id(),
        "balance_cents": demo.bank.balance(session.user_id()),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Transfer {
    to: String,
    amount_cents: i64,
}

fn bad(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

async fn transfer(
    State(demo): State<Demo>,
    session: Session,
    body: Result<Json<Transfer>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, Response> {
    // The one line: a stale session gets the standard reverification error.
    session
        .require(&demo.policy)
        .map_err(IntoResponse::into_response)?;
    let Json(t) = body.map_err(|e| bad(StatusCode::BAD_REQUEST, "invalid_body", &e.body_text()))?;
    if t.amount_cents <= 0 || t.amount_cents > 1_000_000_000 {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "invalid_amount",
            "the amount must be a positive number of cents",
        ));
    }
    let to = t.to.trim();
    if to.is_empty() || to.len() > 100 {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "invalid_recipient",
            "name who receives the money (at most 100 characters)",
        ));
    }
    match demo.bank.debit(session.user_id(), t.amount_cents) {
        Ok(balance) => Ok(Json(json!({
            "ok": true,
            "to": to,
            "amount_cents": t.amount_cents,
            "balance_cents": balance,
        }))),
        Err(_) => Err(bad(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_funds",
            "the balance is too low for this transfer",
        )),
    }
}
