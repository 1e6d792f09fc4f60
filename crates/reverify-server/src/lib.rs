//! # Reverify auth server
//!
//! Accounts, sessions, short-lived session tokens and their JWKS, on embedded SQLite or on
//! PostgreSQL; as an axum router to mount in your app ([`router`]) or as the `reverify`
//! binary ([`run`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use reverify_server::{AppState, config::Config, router};
//!
//! let state = AppState::new(Config::default()).await?;   // sqlite://reverify.sqlite
//! let app = axum::Router::new().nest("/auth", router(state));
//! # Ok(()) }
//! ```
//!
//! ## Map of the crate
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | the documented configuration struct; TOML + `REVERIFY_*` environment |
//! | [`store`] | storage on SQLite and PostgreSQL through one portable code path; migrations |
//! | [`state`] | [`AppState`]: store, keys, password hasher, mailer, clock |
//! | [`keys`] | signing keys (session tokens; the OpenID provider's, one per ID token algorithm: RS256, EdDSA, ES256) in the database, JWKS, rotation |
//! | [`oidc`] | the OpenID Connect provider: clients, discovery |
//! | [`session`] | establishing sessions, minting session tokens |
//! | [`password`] | Argon2id off the executor, bounded |
//! | [`strategy`] | the vocabulary of factors: `Strategy` and RFC 8176 `Amr` |
//! | [`verification`] | the reverification state machine: statuses, transitions, one attempt |
//! | [`sign_in`] | the multi-step sign-in (and sign-up confirmation) state machine |
//! | `attempts` | the one place that reserves an attempt at a guessable secret: lanes, lockout |
//! | [`email`] | SMTP delivery and the dev outbox |
//! | [`proxy`] | the client IP behind your proxies (`X-Forwarded-For`, read from the right) |
//! | [`security_headers`] | CSP, no framing, no sniffing, `no-store` on every response |
//! | [`admin_key`] | the admin key: strength, generation, checking |
//! | `routes/` | one file per HTTP resource; `web` (JSON and client extractors, cookies) and `current` (the request's session, cookie answers): the only HTTP layer |
//! | `client` | who is calling (IP, user agent, origin, device), as plain data |
//! | `administration` | operations spanning services: revoking a signing key |
//! | `relying_party` | the WebAuthn relying party built from `[passkeys]` |
//! | `csrf` | state-changing requests with cookies must come from the server's or an allowed origin |
//! | [`error`] | [`ApiError`]: one enum, stable codes, one `IntoResponse`; [`error::StartError`] |

pub mod admin_key;
mod administration;
mod approval;
mod attempts;
pub mod audit;
mod client;
pub mod config;
mod csrf;
pub mod email;
pub mod error;
mod factors;
pub mod keys;
pub mod oidc;
mod passkeys;
pub mod password;
pub mod proxy;
mod ratelimit;
mod relying_party;
pub mod reverification;
pub mod security_headers;
pub mod session;
pub mod sign_in;
pub mod state;
pub mod store;
pub mod strategy;
pub mod totp;
pub mod validate;
pub mod verification;

mod routes;
mod secrets;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, StartError};
#[doc(hidden)]
pub use routes::operations;
pub use routes::{OPENAPI, SDK_FILES};
pub use state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy)]
struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&secrets::new_id("req"))
            .ok()
            .map(RequestId::new)
    }
}

/// The auth server's routes with their middleware: request ids, tracing, body limit,
/// CORS for `server.allowed_origins`, the cross-site request guard, security headers,
/// JSON 404/405.
pub fn router(state: AppState) -> Router {
    if state.mailer.has_outbox() {
        tracing::warn!(
            outbox = %state.config.dev_outbox_url(),
            "the dev outbox is on: emails are not sent, every one-time code is shown at {} \
             to anyone who can reach this server (development only)",
            state.config.dev_outbox_url()
        );
    }
    let config = &state.config.server;
    let origins: Vec<HeaderValue> = config
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .max_age(Duration::from_secs(600));
    let max_body = config.max_body_bytes;
    routes::routes()
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::bad_request("method_not_allowed", "this method is not allowed here")
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            csrf::guard(&state.config),
            csrf::check,
        ))
        .layer(cors)
        .layer(axum::middleware::map_response(security_headers::apply))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeId))
        .with_state(state)
}

/// Serves the auth server until Ctrl-C or SIGTERM.
pub async fn run(config: config::Config) -> Result<(), StartError> {
    let listen = config.server.listen;
    let state = AppState::new(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(%addr, issuer = %state.issuer, "reverify listening");
    serve(listener, state).await.map_err(StartError::Serve)
}

/// Serves on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
