//! Reverify as an OpenID Connect provider (`docs/oidc.md`).
//!
//! | module | what lives there |
//! |---|---|
//! | [`clients`] | registered relying parties: validation, exact redirect-URI matching, secrets |
//! | [`discovery`] | `/.well-known/openid-configuration` |
//! | [`authorize`] | the authorization request: validation, whether the session satisfies it |
//! | [`authn`] | a session's `acr` and `auth_time`, and what a request still needs verified |
//! | [`token`] | codes, ID tokens, access tokens (RFC 9068), refresh tokens, PKCE, client authentication |
//!
//! The HTTP layer is `routes/oidc.rs` (provider endpoints) and `routes/admin.rs` (the
//! clients' admin API).

pub mod authn;
pub mod authorize;
pub mod clients;
pub mod discovery;
pub mod token;

/// The scopes the provider knows.
pub const SCOPES: [&str; 3] = ["openid", "email", "offline_access"];
