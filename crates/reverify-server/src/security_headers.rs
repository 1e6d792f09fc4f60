//! Browser hardening on every response: no framing (clickjacking), no content sniffing, a
//! Content-Security-Policy, and no caching of anything not explicitly public.
//!
//! The defaults suit an API: `default-src 'none'` (a JSON or JavaScript response shown as
//! a document may load and run nothing) and `Cache-Control: no-store`, since most answers
//! carry secrets (session tokens, TOTP secrets, backup codes, one-time codes in the dev
//! outbox). A handler that sets its own `Content-Security-Policy` (an HTML page) or
//! `Cache-Control` (the JWKS, `/openapi.json`, the SDK files, which are public) keeps it.
//!
//! An app embedding the auth server can put the same layer on its own routes:
//!
//! ```
//! use axum::{Router, middleware, routing::get};
//!
//! let app: Router = Router::new()
//!     .route("/api/balance", get(|| async { "{}" }))
//!     .layer(middleware::map_response(reverify_server::security_headers::apply));
//! ```

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// The policy of every response that does not set its own: load nothing, be framed by
/// no one.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Adds the headers to `response` (for [`axum::middleware::map_response`]).
pub async fn apply(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // For browsers without CSP `frame-ancestors`.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_CSP));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
