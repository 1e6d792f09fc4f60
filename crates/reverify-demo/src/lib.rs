//! The demo app of the announcement: a bank page whose Transfer button calls
//! `POST /api/transfer`, protected by `strict`, with the Reverify auth server embedded
//! under `/auth` (same origin, so cookies just work).
//!
//! - `/`: the page (plain ES modules, no build step), using the browser SDK the auth
//!   server serves at `/auth/sdk/`.
//! - `/react`: the same page written with React and `useReverification`; its bundle is
//!   committed and embedded in the binary ([`assets`]), so no npm step is needed.
//! - `/app.js`, `/bank.js`, `/demo.css`, `/favicon.svg`, `/react/app.js`: the pages' files
//!   (embedded; revalidated with an `ETag`).
//! - `GET /api/balance`, `GET /api/transfers` (the latest, newest first): any signed-in
//!   session.
//! - `POST /api/transfer` `{"to": "...", "amount_cents": 100}`: runs only with the user's
//!   approval of *this* transfer ("Send €1.00 to …": amount, currency, payee), used once
//!   ([`reverify::approval`]); with `Idempotency-Key`, a repeat gets the first answer and
//!   never moves money again ([`reverify::idempotency`]). With approvals switched off
//!   (`REVERIFY_DEMO_APPROVALS=0`, for benchmarks and comparisons) the transfer policy
//!   alone guards it (`strict` unless `REVERIFY_DEMO_POLICY` says otherwise).
//! - `GET /api/ping`: unprotected (the benchmark's baseline).
//!
//! Every response carries the auth server's security headers (no framing, no sniffing,
//! `no-store`); the pages get [`PAGE_CSP`]: scripts from this origin only, so the
//! verification modal cannot be framed by another site (clickjacking) nor run injected
//! script.
//!
//! The ledger ([`ledger`]) lives in the same SQLite file as the auth server, and a transfer
//! is answered only once committed; it is also the app's approval and idempotency store,
//! so every write of the app goes through its one group-committing writer. The app's routes verify session tokens offline with
//! the SDK, accept only tokens minted for the demo's own origin (`azp`), and refuse
//! cross-site requests riding on the `__session` cookie ([`CsrfGuard`]).

use std::path::PathBuf;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reverify::approval::{APPROVE, Action, Approvals};
use reverify::axum::{AuthLayer, CsrfGuard};
use reverify::idempotency::IdempotencyLayer;
use reverify::{Clock, Policy, Session, Verifier};
use reverify_server::config::Config;
use serde::Deserialize;
use serde_json::json;

pub mod assets;
pub mod ledger;

pub use ledger::Ledger;

/// An error while starting the demo.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The demo's own settings (from the environment in `main`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The origin the page is served from, `http://localhost:3000`: the only authorized
    /// party (`azp`) of the session tokens the app accepts.
    pub origin: String,
    /// Where the app fetches the embedded auth server's keys.
    pub jwks_url: String,
    /// The transfer's policy when approvals are off.
    pub policy: Policy,
    /// Every transfer needs the user's approval of it (default `true`).
    pub approvals: bool,
    /// Every account opens with this balance.
    pub opening_cents: i64,
    /// The ledger's SQLite file; `None`: the auth server's database file.
    pub ledger: Option<PathBuf>,
    /// A React bundle to serve instead of the embedded one (development: rebuilt by
    /// `npm run build:demo` without rebuilding the binary).
    pub react_bundle: Option<PathBuf>,
}

impl Settings {
    /// The defaults for a demo served at `origin` (`http://localhost:3000`).
    pub fn new(origin: impl Into<String>) -> Settings {
        let origin = origin.into();
        Settings {
            jwks_url: format!("{origin}/auth/.well-known/jwks.json"),
            origin,
            policy: reverify::STRICT,
            approvals: true,
            opening_cents: 100_000,
            ledger: None,
            react_bundle: None,
        }
    }
}

/// The product name the demo's sign-in screens show (`app.name`).
pub const DEMO_APP_NAME: &str = "Reverify demo bank";

/// The demo's defaults for the auth server at `origin` (`http://localhost:3000`), each
/// applied unless `is_set` says its `REVERIFY_*` variable was given: the database
/// `sqlite://reverify-demo.sqlite`, mounted at `/auth` on the page's origin, plain-HTTP
/// cookies, passkeys on the page's origin (on that localhost URL, `email.mode = "auto"`
/// shows email codes in the dev outbox), the page's
/// origin allowed (so the tokens minted for it carry it as `azp`), and the product name
/// `Reverify demo bank` on the sign-in screens (no logo).
pub fn demo_defaults(config: &mut Config, origin: &str, is_set: impl Fn(&str) -> bool) {
    if !is_set("REVERIFY_APP_NAME") {
        config.app.name = DEMO_APP_NAME.into();
    }
    if !is_set("REVERIFY_DATABASE_URL") {
        config.database.url = "sqlite://reverify-demo.sqlite".into();
    }
    if !is_set("REVERIFY_SERVER_PUBLIC_URL") {
        config.server.public_url = format!("{origin}/auth");
    }
    if !is_set("REVERIFY_SERVER_ALLOWED_ORIGINS") {
        config.server.allowed_origins = vec![origin.to_owned()];
    }
    if !is_set("REVERIFY_SESSIONS_INSECURE_COOKIES") {
        config.sessions.insecure_cookies = true; // plain-HTTP localhost
    }
    if !is_set("REVERIFY_PASSKEYS_ORIGINS") {
        config.passkeys.origins = vec![origin.to_owned()];
    }
}

/// Builds the demo: the auth server on `config` (its database migrated), the ledger (in
/// the same SQLite file unless `settings.ledger` says otherwise), and the router.
pub async fn build(config: Config, settings: Settings) -> Result<Router, BoxError> {
    let ledger_path = settings
        .ledger
        .clone()
        .or_else(|| ledger::sqlite_path(&config.database.url))
        .ok_or("the demo's ledger needs an SQLite file: set REVERIFY_DEMO_LEDGER when the auth server is not on SQLite")?;
    config.validate()?;
    let issuer = config.issuer();
    let auth = reverify_server::AppState::new(config).await?;
    // The ledger is also the app's approval and idempotency store: their writes join the
    // transfers' group commits on the ledger's one writer.
    let ledger = Ledger::open(&ledger_path, settings.opening_cents)?;
    // The app verifies session tokens offline, with the keys the embedded server publishes,
    // and only those minted for this page (or without `azp`: see the SDK's docs).
    let verifier = Verifier::builder(issuer)
        .jwks_url(settings.jwks_url.clone())
        .authorized_parties([settings.origin.clone()])
        .build()?;
    let approvals = settings.approvals.then(|| Approvals::new(ledger.clone()));
    let idempotency = IdempotencyLayer::new(ledger.clone());
    Ok(app(
        auth,
        verifier,
        Guard {
            policy: settings.policy,
            approvals,
        },
        ledger,
        idempotency,
        settings.react_bundle,
    ))
}

/// What guards a transfer: an approval of it, or (approvals off) the freshness policy.
#[derive(Clone)]
pub struct Guard {
    /// The freshness policy (used when `approvals` is `None`).
    pub policy: Policy,
    /// The approval store: every transfer needs an approval of it.
    pub approvals: Option<Approvals>,
}

#[derive(Clone)]
struct Demo {
    ledger: Ledger,
    guard: Guard,
    react_bundle: Option<PathBuf>,
    /// The verifier's clock: transfers are dated on the clock that judges freshness.
    clock: std::sync::Arc<dyn Clock>,
}

/// The demo's routes with the auth server mounted under `/auth`.
pub fn app(
    auth: reverify_server::AppState,
    verifier: Verifier,
    guard: Guard,
    ledger: Ledger,
    idempotency: IdempotencyLayer,
    react_bundle: Option<PathBuf>,
) -> Router {
    let demo = Demo {
        ledger,
        guard,
        react_bundle,
        clock: verifier.clock().clone(),
    };
    let api = Router::new()
        .route("/api/balance", get(balance))
        .route("/api/transfers", get(history))
        .route("/api/transfer", post(transfer).route_layer(idempotency))
        // The page is on this origin: a transfer riding on the `__session` cookie from
        // any other one is refused.
        .layer(CsrfGuard::new())
        .layer(AuthLayer::new(verifier));
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML) }))
        .route("/react", get(react_page))
        .route(
            "/app.js",
            get(|h: HeaderMap| async move { assets::serve(&h, assets::JS, assets::APP_JS) }),
        )
        .route(
            "/bank.js",
            get(|h: HeaderMap| async move { assets::serve(&h, assets::JS, assets::BANK_JS) }),
        )
        .route(
            "/demo.css",
            get(|h: HeaderMap| async move { assets::serve(&h, assets::CSS, assets::DEMO_CSS) }),
        )
        .route(
            "/favicon.svg",
            get(|h: HeaderMap| async move { assets::serve(&h, assets::SVG, assets::FAVICON_SVG) }),
        )
        .route("/react/app.js", get(react_script))
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
const REACT_HTML: &str = include_str!("../web/react.html");

/// The React page, or a readable page saying why its bundle is missing (only possible
/// when `REVERIFY_DEMO_REACT_BUNDLE` names a file that cannot be read).
async fn react_page(State(demo): State<Demo>) -> Response {
    match assets::react_bundle(demo.react_bundle.as_deref()).await {
        Ok(_) => page(REACT_HTML),
        Err(why) => assets::missing_page(
            "The React page's bundle cannot be read",
            &format!(
                "REVERIFY_DEMO_REACT_BUNDLE names {why}. Build it with `npm run build:demo` in js/, \
                 or unset the variable to use the bundle built into the demo."
            ),
        ),
    }
}

async fn react_script(State(demo): State<Demo>, request: HeaderMap) -> Response {
    match assets::react_bundle(demo.react_bundle.as_deref()).await {
        Ok(body) => assets::serve(&request, assets::JS, body),
        Err(why) => (
            StatusCode::NOT_FOUND,
            format!("the React bundle cannot be read: {why}"),
        )
            .into_response(),
    }
}

fn unavailable(e: &ledger::LedgerError) -> Response {
    tracing::error!(error = %e, "ledger unavailable");
    bad(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the bank is unavailable; nothing was transferred",
    )
}

async fn balance(
    State(demo): State<Demo>,
    session: Session,
) -> Result<Json<serde_json::Value>, Response> {
    let balance = demo
        .ledger
        .balance(session.user_id())
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(json!({
        "user_id": session.user_id(),
        "balance_cents": balance,
    })))
}

async fn history(
    State(demo): State<Demo>,
    session: Session,
) -> Result<Json<serde_json::Value>, Response> {
    let transfers = demo
        .ledger
        .history(session.user_id(), 20)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(json!({ "transfers": transfers })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to: String,
    amount_cents: i64,
}

/// `€1,234.56` (amounts are whole cents, never floats).
pub fn euros(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("€{grouped}.{:02}", cents % 100)
}

fn bad(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

async fn transfer(
    State(demo): State<Demo>,
    session: Session,
    body: Result<Json<TransferBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, Response> {
    let Json(t) = body.map_err(|e| bad(StatusCode::BAD_REQUEST, "invalid_body", &e.body_text()))?;
    if t.amount_cents <= 0 || t.amount_cents > 1_000_000_000 {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "invalid_amount",
            "the amount must be a positive number of cents",
        ));
    }
    let to = t.to.trim();
    if to.is_empty() || to.chars().count() > 100 || to.chars().any(char::is_control) {
        return Err(bad(
            StatusCode::BAD_REQUEST,
            "invalid_recipient",
            "name who receives the money (at most 100 characters)",
        ));
    }
    // The approval of exactly this transfer, used once; what the user is shown is built
    // here, from the request. (Approvals off: the one line of freshness.)
    match &demo.guard.approvals {
        Some(approvals) => {
            let action = Action::new(
                "transfer",
                format!("Send {} to {to}", euros(t.amount_cents)),
            )
            .field("amount_cents", t.amount_cents)
            .field("currency", "EUR")
            .field("to", to);
            approvals
                .approve(&session, &action, &APPROVE)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        None => session
            .require(&demo.guard.policy)
            .map_err(IntoResponse::into_response)?,
    }
    // Answered only once the transfer is committed.
    match demo
        .ledger
        .transfer(session.user_id(), to, t.amount_cents, demo.clock.now())
        .await
    {
        Ok(done) => Ok(Json(json!({
            "ok": true,
            "id": done.id,
            "to": done.to,
            "amount_cents": done.amount_cents,
            "balance_cents": done.balance_cents,
        }))),
        Err(ledger::LedgerError::InsufficientFunds) => Err(bad(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_funds",
            "the balance is too low for this transfer",
        )),
        Err(e) => Err(unavailable(&e)),
    }
}
