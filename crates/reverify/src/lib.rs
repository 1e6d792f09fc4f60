//! # Reverify backend SDK
//!
//! Verify session tokens offline and require a *recent* verification of the user's
//! credentials (reverification, step-up authentication) before sensitive actions.
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use reverify::{Verifier, STRICT};
//!
//! let verifier = Verifier::builder("https://auth.example.com")
//!     .jwks_url("https://auth.example.com/.well-known/jwks.json")
//!     .build()?;
//! let session = verifier.verify(token).await?;   // 401 material on error
//! session.require(&STRICT)?;                       // 403 + reverification body on error
//! # Ok(()) }
//! ```
//!
//! ## Map of the crate
//!
//! | module | what lives there |
//! |---|---|
//! | [`approval`] | approvals of *this* action: [`approval::Action`] and its digest, `Approved<T>` (feature `approvals`), the SQL stores (feature `sqlx`) |
//! | [`access`] | OAuth access tokens (RFC 9068) for APIs: [`AccessTokenVerifier`] (audience, scopes), [`AccessToken`], the RFC 9470 step-up check [`StepUp`] → [`StepUpRequired`] |
//! | [`policy`] | [`Policy`], [`Level`], [`Preset`], the constants [`STRICT`] …; parsing and validation |
//! | [`claims`] | [`SessionClaims`]: `iss sub sid iat nbf exp jti azp fva fvt auth_time amr acr` |
//! | [`decision`] | `has`: the reference algorithm on `fva`, the same on exact ages from `fvt`; the divergences |
//! | [`Verifier`] | signature (EdDSA, ES256, RS256; algorithm pinned by the key) and claim checks, token cache |
//! | [`jwk`] | JWK / JWK Set types; the key set is static or fetched over HTTP (feature `fetch`) |
//! | [`Session`] | a verified session: `has`, `require`, `seconds_remaining` |
//! | [`ReverificationRequired`] | the 403 body and RFC 9470 `WWW-Authenticate` challenge; [`StepUpChallenge`] parses it |
//! | [`Error`] | why a token was refused, with stable codes and statuses |
//! | [`clock`] | the only place that reads the system clock; [`ManualClock`] for tests |
//! | `axum` (feature `axum`) | extractors `Session`, `Reverified<Strict>`, `AccessToken`, `SteppedUp<MaxAge<300>>`, layers (`AuthLayer`, `AccessTokenLayer`, `RequireReverificationLayer`, `CsrfGuard`), `IntoResponse` |
//! | `idempotency` (feature `idempotency`) | `IdempotencyLayer`: a retried sensitive call runs once; `IdempotencyStore`, SQLite and PostgreSQL stores (feature `sqlx`) |
//! | `testing` (feature `testing`) | `TestIssuer`: mint session tokens with chosen factor ages and access tokens, and matching verifiers |
//!
//! ## Features
//!
//! - `fetch` (default): fetch the JWKS over HTTP(S) with reqwest + rustls (ring provider).
//! - `axum`: the axum 0.8 integration.
//! - `idempotency`: the idempotency layer for axum (exactly once per `Idempotency-Key`).
//! - `approvals`: the `Approved<T>` extractor and the `ApprovalStore` trait (axum).
//! - `sqlx`: the SQLite and PostgreSQL stores of approvals and idempotency keys on the
//!   app's sqlx pool (`idempotency-sqlx` is its former name).
//! - `testing`: token minting for your tests.

pub mod access;
pub mod acr;
pub mod approval;
pub mod claims;
pub mod clock;
pub mod decision;
pub mod jwk;
pub mod policy;

mod cache;
mod challenge;
mod error;
mod jwks;
mod jwt;
mod reverification;
mod session;
#[cfg(any(feature = "approvals", feature = "idempotency"))]
mod store;
mod verifier;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "idempotency")]
pub mod idempotency;
#[cfg(feature = "testing")]
pub mod testing;

pub use access::{AccessToken, AccessTokenVerifier, StepUp, StepUpRequired};
pub use challenge::{Challenge, INSUFFICIENT_USER_AUTHENTICATION, StepUpChallenge};
pub use claims::{FactorAge, FactorClaim, SessionClaims};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::Error;
pub use jwk::{Algorithm, Jwk, JwkSet};
pub use policy::{LAX, Level, MODERATE, Policy, PolicyError, Preset, STRICT, STRICT_MFA};
pub use reverification::{REVERIFICATION_ERROR_CODE, ReverificationRequired, ReverificationStatus};
pub use session::Session;
pub use verifier::{Verifier, VerifierBuilder};
