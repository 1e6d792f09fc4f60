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
//! For APIs that take OAuth access tokens (RFC 9068) from Reverify as an OpenID provider:
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use reverify::axum::{AccessTokenLayer, MaxAge, Mfa, SteppedUp};
//! use reverify::AccessTokenVerifier;
//!
//! // One line: runs only for a token whose user authenticated within 5 minutes with a
//! // multi-factor acr; otherwise 401 + `WWW-Authenticate: Bearer
//! // error="insufficient_user_authentication", …, max_age=300, acr_values="…"` (RFC 9470).
//! async fn pay(SteppedUp(token, ..): SteppedUp<(MaxAge<300>, Mfa)>) -> String {
//!     format!("paid for {}", token.user_id())
//! }
//!
//! # fn app() -> Result<Router, reverify::Error> {
//! let api = AccessTokenVerifier::builder("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .jwks_url("https://auth.example.com/.well-known/jwks.json")
//!     .build()?;
//! let app = Router::new()
//!     .route("/payments", post(pay))
//!     .layer(AccessTokenLayer::new(api));
//! # Ok(app) }
//! ```
//!
//! - [`AccessToken`] is an extractor: a verified access token from `Authorization:
//!   Bearer` (never from a cookie), or 401 (403 `insufficient_scope`).
//! - [`SteppedUp<R>`] also requires the step-up requirement `R`: [`MaxAge<N>`], an acr
//!   marker ([`FirstFactor`], [`SecondFactor`], [`Mfa`], [`Phr`]), a pair of them, or a
//!   [`StepUpMarker`] of your own; for one known at run time,
//!   `token.require(&StepUp::max_age(n))?` in the handler.
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
pub use layer::{
    AccessTokenLayer, AccessTokenService, AuthLayer, AuthService, RequireReverificationLayer,
    RequireReverificationService,
};

use crate::access::{AccessToken, AccessTokenVerifier, StepUp, StepUpRequired};
use crate::acr::Acr;
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

/// A step-up requirement known at compile time, for [`SteppedUp`].
pub trait StepUpMarker: Send + Sync + 'static {
    /// The requirement.
    const REQUIREMENT: StepUp;
}

/// At most `SECONDS` since the user's last authentication (`auth_time`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MaxAge<const SECONDS: u64>;

impl<const SECONDS: u64> StepUpMarker for MaxAge<SECONDS> {
    const REQUIREMENT: StepUp = StepUp::max_age(SECONDS);
}

macro_rules! acr_marker {
    ($(#[$doc:meta])* $name:ident => $acr:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;
        impl StepUpMarker for $name {
            const REQUIREMENT: StepUp = StepUp::min_acr($acr);
        }
    };
}

acr_marker!(
    /// `acr` at least `urn:reverify:acr:1fa`.
    FirstFactor => Acr::FirstFactor
);
acr_marker!(
    /// `acr` at least `urn:reverify:acr:2fa`.
    SecondFactor => Acr::SecondFactor
);
acr_marker!(
    /// `acr` at least `urn:reverify:acr:mfa`.
    Mfa => Acr::MultiFactor
);
acr_marker!(
    /// `acr` `phr` (a passkey with user verification).
    Phr => Acr::PhishingResistant
);

impl<A: StepUpMarker, B: StepUpMarker> StepUpMarker for (A, B) {
    const REQUIREMENT: StepUp = A::REQUIREMENT.and(B::REQUIREMENT);
}

/// Extracts the access token and requires `R`; the handler does not run otherwise.
#[derive(Debug, Clone)]
pub struct SteppedUp<R: StepUpMarker>(pub AccessToken, pub PhantomData<R>);

impl<R: StepUpMarker> std::ops::Deref for SteppedUp<R> {
    type Target = AccessToken;
    fn deref(&self) -> &AccessToken {
        &self.0
    }
}

/// Why an access-token extractor refused a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccessRejection {
    /// No valid access token: 401 (403 `insufficient_scope`, 503, 500; see [`Error::status`]).
    #[error(transparent)]
    Auth(#[from] Error),
    /// The token does not meet the step-up requirement: 401 with the RFC 9470 challenge.
    #[error(transparent)]
    StepUp(#[from] StepUpRequired),
}

impl IntoResponse for AccessRejection {
    fn into_response(self) -> Response {
        match self {
            AccessRejection::Auth(e) => e.into_response(),
            AccessRejection::StepUp(e) => e.into_response(),
        }
    }
}

impl IntoResponse for StepUpRequired {
    fn into_response(self) -> Response {
        json_response(
            self.status(),
            self.body_string(),
            Some(self.www_authenticate()),
        )
    }
}

/// The `Authorization: Bearer` token of a request (access tokens never ride on cookies).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Verifies the request's access token, once per request.
pub(crate) async fn access_token_from_parts(parts: &mut Parts) -> Result<AccessToken, Error> {
    if let Some(token) = parts.extensions.get::<AccessToken>() {
        return Ok(token.clone());
    }
    let verifier = parts
        .extensions
        .get::<AccessTokenVerifier>()
        .ok_or(Error::VerifierMissing)?
        .clone();
    let raw = bearer_token(&parts.headers).ok_or(Error::TokenMissing)?;
    let token = verifier.verify(raw).await?;
    parts.extensions.insert(token.clone());
    Ok(token)
}

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        access_token_from_parts(parts).await
    }
}

impl<S: Send + Sync, R: StepUpMarker> FromRequestParts<S> for SteppedUp<R> {
    type Rejection = AccessRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = access_token_from_parts(parts).await?;
        token.require(&R::REQUIREMENT)?;
        Ok(SteppedUp(token, PhantomData))
    }
}
