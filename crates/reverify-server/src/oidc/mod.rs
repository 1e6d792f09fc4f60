//! Reverify as an OpenID Connect provider (`docs/oidc.md`).
//!
//! | module | what lives there |
//! |---|---|
//! | [`clients`] | registered relying parties: validation, exact redirect-URI matching, secrets |
//! | [`discovery`] | `/.well-known/openid-configuration` |
//!
//! The HTTP layer is `routes/oidc.rs` (provider endpoints) and `routes/admin.rs` (the
//! clients' admin API).

pub mod clients;
pub mod discovery;

/// The scopes the provider knows.
pub const SCOPES: [&str; 3] = ["openid", "email", "offline_access"];
