//! Cross-site request forgery: a state-changing request (`POST`, `PUT`, `PATCH`,
//! `DELETE`) that carries cookies must come from the server's own origin or one of
//! `server.allowed_origins`, or it is refused with 403 `cross_site_request`.
//!
//! The rule is the SDK's [`CsrfGuard`] (`Sec-Fetch-Site: same-origin`, or an `Origin` that
//! is allowed; a request with neither header is not from a browser and passes). The
//! server's own origins are the origin of `server.public_url` and, for a server mounted in
//! an app (`/auth` on the app's origin), the request's `Host` with the public URL's scheme.
//!
//! Which requests: every one that carries a `Cookie` header, not only the session cookie,
//! so that the guard does not depend on the cookie's name (or prefix); a request without
//! cookies has no ambient authority to abuse. Requests with `Authorization: Bearer` (the
//! admin API) are exempt: a page on another site cannot make a browser send one. So is
//! `POST /oauth/authorize`, the OpenID authorization request, which a client's site may
//! send as a form (see [`is_authorization_request`]).

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use reverify::axum::CsrfGuard;

use crate::config::Config;
use crate::error::ApiError;

/// The guard built from the configuration (see [`check`]).
pub(crate) fn guard(config: &Config) -> CsrfGuard {
    let public = url::Url::parse(&config.server.public_url).ok();
    let mut guard = CsrfGuard::new()
        .allow_origins(public.as_ref().map(|u| u.origin().ascii_serialization()))
        .allow_origins(&config.server.allowed_origins);
    if let Some(url) = public {
        guard = guard.host_scheme(url.scheme());
    }
    guard
}

/// The middleware: refuses a cookie-carrying, state-changing request from another origin.
pub(crate) async fn check(
    State(guard): State<CsrfGuard>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    let guarded = changes_state(request.method())
        && headers.contains_key(COOKIE)
        && !bearer
        && !is_authorization_request(&request);
    if guarded && !guard.from_allowed_origin(&request) {
        tracing::info!(
            origin = ?headers.get("origin"),
            sec_fetch_site = ?headers.get("sec-fetch-site"),
            "cross-site request refused"
        );
        return ApiError::CrossSiteRequest.into_response();
    }
    next.run(request).await
}

/// `POST /oauth/authorize`: OpenID Connect lets a client's site send the authorization
/// request as a form POST. It changes nothing by itself: it issues a code only to a session
/// that needs no interaction (what a `GET` of the same request does), and everything the
/// user decides on the provider's pages (the consent screen's answer) stays guarded.
fn is_authorization_request(request: &Request) -> bool {
    *request.method() == axum::http::Method::POST && request.uri().path() == "/oauth/authorize"
}

fn changes_state(method: &axum::http::Method) -> bool {
    use axum::http::Method;
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}
