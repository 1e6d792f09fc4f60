//! The integration tests of the auth server: one binary, one module per area.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

mod accounts;
mod admin;
mod approvals;
mod attacks;
mod browser;
mod clerk_compat;
mod cli;
mod client_state;
mod config;
mod crash;
mod csrf;
mod email;
mod factors;
mod machines;
mod oidc;
mod oidc_authn;
mod oidc_consent;
mod oidc_rp;
mod oidc_rules;
mod openapi;
mod passkeys;
mod proxy;
mod reverification;
mod scale;
mod steps;
mod store;
mod support;
