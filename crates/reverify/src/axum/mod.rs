//! axum 0.8 integration: extractors, a tower layer, and `IntoResponse` for the errors.
//!
//! ```no_run
//! use axum::{Router, routing::{get, post}};
//! use reverify::axum::{AuthLayer, Reverified, Strict};
//! use reverify::{Session, Verifier};
//!
//! async fn me(session: Session) -> String {
//!     format!("hello {}", session.user_id())
//! }
//!
//! // One line: the handler only runs when `strict` is satisfied; otherwise 403 + the
//! // reverification body and RFC 9470 challenge.
//! async fn transfer(Reverified(session, ..): Reverified<Strict>) -> &'static str {
//!     "transferred"
//! }
//!
//! # fn app() -> Result<Router, reverify::Error> {
//! let verifier = Verifier::builder("https://auth.example.com")
//!     .jwks_url("https://auth.example.com/.well-known/jwks.json")
//!     .build()?;
//! let app = Router::new()
//!     .route("/api/me", get(me))
//!     .route("/api/transfer", post(transfer))
//!     .layer(AuthLayer::new(verifier));
//! # Ok(app) }
//! ```
//!
//! - [`Session`] is an extractor: the verified session, or a 401 with
//!   `{"code": "token_missing" | "token_expired" | ..., "message": ...}`.
//! - [`Reverified<P>`] also requires the policy `P` ([`Strict`], [`StrictMfa`],
//!   [`Moderate`], [`Lax`], or a [`PolicyMarker`] of your own).
//! - For a policy known only at run time: `session.require(&policy)?` in a handler that
//!   returns `Result<_, ReverificationRequired>` (or a [`Rejection`]).
//! - [`RequireReverificationLayer`] protects a whole group of routes.
//! - [`CsrfGuard`] refuses cross-site `POST`/`PUT`/`PATCH`/`DELETE` requests that ride on
//!   the `__session` cookie (403 `cross_site_request`); put it on routes that change
//!   state.
//!
//! The token is read from `Authorization: Bearer` first, then from the `__session`
//! cookie. Extractors find the [`Verifier`] in the request extensions, put there by
//! [`AuthLayer`] (or by `Extension(verifier)`); a session already verified by a layer is
//! reused, never verified twice.

mod csrf;
mod layer;

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub use csrf::{CROSS_SITE_REQUEST, CrossSiteRequest, CsrfGuard, CsrfGuardService};
pub use layer::{AuthLayer, AuthService, RequireReverificationLayer, RequireReverificationService};

use crate::error::Error;
use crate::policy::{self, Policy};
use crate::reverification::ReverificationRequired;
use crate::session::Session;
use crate::verifier::Verifier;

/// A policy known at compile time, for [`Reverified`].
pub trait PolicyMarker: Send + Sync + 'static {
    /// The policy.
    const POLICY: Policy;
}

macro_rules! marker {
    ($(#[$doc:meta])* $name:ident => $policy:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;
        impl PolicyMarker for $name {
            const POLICY: Policy = $policy;
        }
    };
}

marker!(
    /// `strict_mfa`: multi-factor within 10 minutes.
    StrictMfa => policy::STRICT_MFA
);
marker!(
    /// `strict`: second factor within 10 minutes.
    Strict => policy::STRICT
);
marker!(
    /// `moderate`: second factor within 60 minutes.
    Moderate => policy::MODERATE
);
marker!(
    /// `lax`: second factor within 24 hours.
    Lax => policy::LAX
);

/// Extracts the session and requires the policy `P`; the handler does not run otherwise.
#[derive(Debug, Clone)]
pub struct Reverified<P: PolicyMarker>(pub Session, pub PhantomData<P>);

impl<P: PolicyMarker> std::ops::Deref for Reverified<P> {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

/// Why an extractor or layer refused a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// No valid session: 401 (or 503 / 500, see [`Error::status`]).
    #[error(transparent)]
    Auth(#[from] Error),
    /// The session is not fresh enough: 403 (or 401) with the reverification body.
    #[error(transparent)]
    Reverification(#[from] ReverificationRequired),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Auth(e) => e.into_response(),
            Rejection::Reverification(e) => e.into_response(),
        }
    }
}

pub(crate) fn json_response(status: u16, body: String, challenge: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(value) = challenge.and_then(|c| HeaderValue::try_from(c).ok()) {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if self.status() >= 500 {
            tracing::error!(code = self.code(), error = %self, "session verification failed");
        }
        json_response(
            self.status(),
            self.body().to_string(),
            self.www_authenticate(),
        )
    }
}

impl IntoResponse for ReverificationRequired {
    fn into_response(self) -> Response {
        json_response(
            self.status(),
            self.body_string(),
            Some(self.www_authenticate()),
        )
    }
}

/// The session token of a request: `Authorization: Bearer` first, then the cookie.
pub fn token_from_headers<'h>(headers: &'h HeaderMap, cookie_name: &str) -> Option<&'h str> {
    if let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some((scheme, token)) = auth.split_once(' ') {
            let token = token.trim();
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
                return Some(token);
            }
        }
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == cookie_name && !value.is_empty()).then_some(value)
        })
}

/// Verifies the request's token, reusing a session that a layer already verified.
pub(crate) async fn session_from_parts(parts: &mut Parts) -> Result<Session, Error> {
    if let Some(session) = parts.extensions.get::<Session>() {
        return Ok(session.clone());
    }
    let verifier = parts
        .extensions
        .get::<Verifier>()
        .ok_or(Error::VerifierMissing)?
        .clone();
    let token =
        token_from_headers(&parts.headers, verifier.cookie_name()).ok_or(Error::TokenMissing)?;
    let session = verifier.verify(token).await?;
    parts.extensions.insert(session.clone());
    Ok(session)
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        session_from_parts(parts).await
    }
}

impl<S: Send + Sync, P: PolicyMarker> FromRequestParts<S> for Reverified<P> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = session_from_parts(parts).await?;
        session.require(&P::POLICY)?;
        Ok(Reverified(session, PhantomData))
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Session {
    type Rejection = Error;

    /// `Option<Session>`: `None` when no token was sent; an invalid token is still an error.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match session_from_parts(parts).await {
            Ok(session) => Ok(Some(session)),
            Err(Error::TokenMissing) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
