//! The integration tests of the `reverify` SDK: one binary, one module per area.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod access_tokens;
mod acr;
mod approval;
mod axum_routes;
mod cache;
mod challenge;
mod decision;
mod idempotency;
mod jwks_fetch;
mod policy;
mod support;
mod tokens;
mod vectors;
