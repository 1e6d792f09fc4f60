//! [`CsrfGuard`]: refuses cross-site, state-changing requests that a browser authenticated
//! with the session cookie.
//!
//! `SameSite=Lax` keeps the cookie off cross-*site* POSTs, but not off requests from
//! another origin of the same site (a sibling subdomain, another port of `localhost`), and
//! it says nothing about older browsers. A forged request needs no body to do harm (a
//! bodiless `POST` is a "simple" request that no CORS preflight stops). So a request that
//! changes state and rides on the cookie must show that it comes from this origin or one
//! the app trusts:
//!
//! 1. `Sec-Fetch-Site: same-origin` (or `none`: the user typed or bookmarked it) — what
//!    every current browser sends; or
//! 2. an `Origin` equal to the request's own (its `Host`) or to an allowed origin — what
//!    browsers send on every cross-origin request, and older ones on POST.
//!
//! A request with neither header is not from a browser (curl, a server, a test client):
//! no browser sends a cross-origin POST without `Origin`, so it cannot be a forgery riding
//! on a victim's cookie, and it is let through. A request with `Sec-Fetch-Site`
//! (`same-site`, `cross-site`) and no `Origin`, or with `Origin: null`, is refused.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method, Request};
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::json_response;

/// The verifier's default cookie.
const DEFAULT_COOKIE_NAME: &str = "__session";

/// The stable code of the refusal.
pub const CROSS_SITE_REQUEST: &str = "cross_site_request";

/// A tower layer that refuses cross-site, state-changing (`POST`, `PUT`, `PATCH`,
/// `DELETE`) requests authenticated by the session-token cookie (`__session`), with 403
/// `{"code": "cross_site_request", ...}`. Requests with `Authorization: Bearer` are not
/// affected (a page on another site cannot make a browser send one), nor are requests
/// without the cookie, nor `GET`, `HEAD` and `OPTIONS`. The rule is in the module documentation of `reverify::axum` (cross-site requests).
///
/// ```no_run
/// use axum::{Router, routing::post};
/// use reverify::axum::{AuthLayer, CsrfGuard};
///
/// # async fn transfer() {}
/// # fn demo(verifier: reverify::Verifier) -> Router {
/// Router::new()
///     .route("/api/transfer", post(transfer))
///     // Same-origin requests pass; so do those from the app's other front end.
///     .layer(CsrfGuard::new().allow_origin("https://admin.example.com"))
///     .layer(AuthLayer::new(verifier))
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct CsrfGuard {
    rules: Arc<Rules>,
}

#[derive(Debug, Clone, Default)]
struct Rules {
    /// Normalized origins allowed besides the request's own.
    allowed: Vec<String>,
    /// The scheme a same-host `Origin` must have; `None`: http or https.
    host_scheme: Option<String>,
    /// `None`: the SDK's `__session`.
    cookie_name: Option<String>,
}

impl CsrfGuard {
    /// A guard that allows same-origin requests only.
    pub fn new() -> Self {
        CsrfGuard::default()
    }

    fn rules(&mut self) -> &mut Rules {
        Arc::make_mut(&mut self.rules)
    }

    /// Also allow requests from `origin` (`https://app.example.com`: scheme, host and
    /// port). A value that is not an origin allows nothing.
    pub fn allow_origin(mut self, origin: impl AsRef<str>) -> Self {
        if let Some(origin) = normalize_origin(origin.as_ref()) {
            self.rules().allowed.push(origin);
        }
        self
    }

    /// Also allow requests from each of `origins`.
    pub fn allow_origins<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        origins.into_iter().fold(self, CsrfGuard::allow_origin)
    }

    /// The scheme (`https`) an `Origin` on the request's own host must have. By default
    /// both `http` and `https` count as the request's own: behind a TLS-terminating proxy
    /// the app cannot tell which one the browser used.
    pub fn host_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.rules().host_scheme = Some(scheme.into().to_ascii_lowercase());
        self
    }

    /// The cookie that carries the session token, if not `__session` (set it as on the
    /// [`Verifier`](crate::Verifier)).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.rules().cookie_name = Some(name.into());
        self
    }

    /// The whole rule: `Err` for a state-changing request authenticated by the cookie that
    /// does not come from this origin or an allowed one.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), CrossSiteRequest> {
        if !changes_state(request.method()) || !self.cookie_authenticated(request.headers()) {
            return Ok(());
        }
        if self.from_allowed_origin(request) {
            Ok(())
        } else {
            Err(CrossSiteRequest)
        }
    }

    /// The origin half of the rule alone (`Sec-Fetch-Site`, `Origin`), whatever the
    /// method and credentials: whether the request comes from this origin, an allowed
    /// one, or from no browser at all.
    pub fn from_allowed_origin<B>(&self, request: &Request<B>) -> bool {
        let headers = request.headers();
        let site = header(headers, "sec-fetch-site");
        if matches!(site, Some("same-origin" | "none")) {
            return true;
        }
        let Some(origin) = header(headers, ORIGIN.as_str()) else {
            // No browser sends Sec-Fetch-Site without Origin on a cross-origin request;
            // neither header: not a browser.
            return site.is_none();
        };
        let Some(origin) = normalize_origin(origin) else {
            return false; // `null` (sandboxed frames, some redirects) or garbage
        };
        if self.rules.allowed.contains(&origin) {
            return true;
        }
        let host = header(headers, HOST.as_str())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        let Some(host) = host else {
            return false;
        };
        let schemes: &[&str] = match &self.rules.host_scheme {
            Some(scheme) => &[scheme.as_str()],
            None => &["https", "http"],
        };
        schemes
            .iter()
            .any(|scheme| normalize_origin(&format!("{scheme}://{host}")).as_ref() == Some(&origin))
    }

    /// True when the request's session token would come from the cookie: no bearer token,
    /// and the cookie is there.
    fn cookie_authenticated(&self, headers: &HeaderMap) -> bool {
        let bearer = header(headers, AUTHORIZATION.as_str())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
            });
        if bearer {
            return false;
        }
        let name = self
            .rules
            .cookie_name
            .as_deref()
            .unwrap_or(DEFAULT_COOKIE_NAME);
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(n, v)| n == name && !v.is_empty())
    }
}

/// `POST`, `PUT`, `PATCH`, `DELETE` and any other method that is not `GET`, `HEAD`,
/// `OPTIONS` or `TRACE`.
fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `scheme://host[:port]` in a canonical form (lowercase, no default port), or `None` for
/// anything else (`null`, a path, credentials).
pub(crate) fn normalize_origin(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_suffix('/').unwrap_or(raw);
    let (scheme, authority) = raw.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        || authority.is_empty()
        || authority.contains(['/', '?', '#', '@', ' '])
    {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    // The port follows the last `:` outside an IPv6 literal's brackets.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority.as_str(), None),
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => return None,
        Some("80") if scheme == "http" => None,
        Some("443") if scheme == "https" => None,
        other => other,
    };
    Some(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The refusal of [`CsrfGuard`]: 403 `{"code": "cross_site_request", "message": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this request came from another site; it is refused to protect your session")]
pub struct CrossSiteRequest;

impl IntoResponse for CrossSiteRequest {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": CROSS_SITE_REQUEST, "message": self.to_string() });
        json_response(403, body.to_string(), None)
    }
}

impl<S> Layer<S> for CsrfGuard {
    type Service = CsrfGuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfGuardService {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service of [`CsrfGuard`].
#[derive(Debug, Clone)]
pub struct CsrfGuardService<S> {
    inner: S,
    guard: CsrfGuard,
}

impl<S, B> Service<Request<B>> for CsrfGuardService<S>
where
    S: Service<Request<B>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.guard.check(&request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(refused) => Box::pin(std::future::ready(Ok(refused.into_response()))),
        }
    }
}
