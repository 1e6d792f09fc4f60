//! The pages' files, embedded in the binary: `cargo run -p reverify-demo` serves both pages
//! on a fresh machine, with no npm step. The React page's bundle
//! (`web/react/dist/app.js`, minified, React in production mode) is committed, built by
//! `npm run build:demo` in `js/`; `node scripts/build-demo.mjs --check` (run by
//! `scripts/test`) fails when it is out of date with its sources.
//!
//! Each file is served with its content type and `Cache-Control: no-cache` with an
//! `ETag`: the browser keeps a copy and revalidates it on every load (a `304` while the
//! file is unchanged), so a rebuilt demo is never served stale.

use std::hash::{Hash, Hasher};
use std::path::Path;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The plain page's module.
pub const APP_JS: &str = include_str!("../web/app.js");
/// What both pages share (formatting, the transfer API's errors by field).
pub const BANK_JS: &str = include_str!("../web/bank.js");
/// The pages' stylesheet (light and dark).
pub const DEMO_CSS: &str = include_str!("../web/demo.css");
/// The pages' icon.
pub const FAVICON_SVG: &str = include_str!("../web/favicon.svg");
/// The React page's bundle, as committed.
pub const REACT_BUNDLE: &str = include_str!("../web/react/dist/app.js");

/// JavaScript modules.
pub const JS: &str = "text/javascript; charset=utf-8";
/// Stylesheets.
pub const CSS: &str = "text/css; charset=utf-8";
/// SVG images.
pub const SVG: &str = "image/svg+xml";

/// A strong validator of `body` (a hash of its bytes, quoted).
pub fn etag(body: &[u8]) -> String {
    // SipHash with fixed keys: stable for a given binary, which is all a validator needs.
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// `body` as `content_type`, revalidated on every use: `304` when the request's
/// `If-None-Match` names the current version.
pub fn serve(request: &HeaderMap, content_type: &'static str, body: impl Into<String>) -> Response {
    let body = body.into();
    let tag = etag(body.as_bytes());
    let cache = [
        (header::CACHE_CONTROL, "no-cache".to_owned()),
        (header::ETAG, tag.clone()),
    ];
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            let v = v.trim();
            v == "*" || v.trim_start_matches("W/") == tag
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mut response = (cache, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The React page's bundle: the file at `path` when given (development: a bundle rebuilt
/// without rebuilding the binary), else the embedded one. `Err` with the reason when
/// that file cannot be read.
pub async fn react_bundle(path: Option<&Path>) -> Result<String, String> {
    match path {
        None => Ok(REACT_BUNDLE.to_owned()),
        Some(path) => tokio::fs::read_to_string(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display())),
    }
}

/// A readable page for what is really missing (never a blank page with a failed script).
pub fn missing_page(title: &str, detail: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{title}</title>\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/demo.css\"></head><body><main>\
         <h1>Reverify demo bank</h1><section class=\"page-error\"><h2>{title}</h2>\
         <p>{detail}</p><p><a href=\"/\">The page without React</a> works without it.</p>\
         </section></main></body></html>",
        title = escape(title),
        detail = escape(detail),
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_SECURITY_POLICY, crate::PAGE_CSP)],
        Html(page),
    )
        .into_response()
}

/// `text` for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
