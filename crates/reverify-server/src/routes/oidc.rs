//! The OpenID provider's endpoints (`docs/oidc.md`). All answer 404 while `oidc.enabled`
//! is off.
//!
//! - `GET /.well-known/openid-configuration`: discovery
//! - `GET|POST /oauth/authorize`: the authorization request; `GET
//!   /oauth/authorize/continue?request=ID`: a request that waited for the user, once the
//!   session satisfies it
//! - `POST /oauth/token`: `authorization_code` and `refresh_token` grants
//! - `GET|POST /oauth/userinfo`, `POST /oauth/revoke` (RFC 7009), `POST /oauth/introspect`
//!   (RFC 7662), `GET /oauth/logout` (RP-initiated logout)

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

use super::api::Api;
use super::current::SessionCookie;
use crate::error::ApiError;
use reverify::acr::Acr;

use crate::oidc::authn::{Missing, Standing, Wanted};
use crate::oidc::authorize::{self, AuthRequest, Interaction, RawRequest};
use crate::oidc::clients::Client;
use crate::oidc::token::{self, Credentials, Grant, OAuthError};
use crate::secrets;
use crate::state::AppState;
use crate::store::Redeemed;

/// How long a request may wait for the user.
const PENDING_TTL_SECS: i64 = 600;

/// The page around the elements: their font, their width, the system's light or dark
/// colours, and the elements' theme variables for its own heading, text and button (an
/// operator's `oidc.theme` sets them too). The cards inside are the elements' own.
const PAGE_STYLE: &str = "body{margin:0;padding:2rem 1rem;font:15px/1.5 var(--reverify-font,system-ui,sans-serif);\
background:Canvas;color:CanvasText}main{display:grid;gap:1rem;max-width:var(--reverify-width,28rem);margin:0 auto}\
h1{font-size:1.5rem;line-height:1.25;margin:0}p,ul{margin:0}\
a{color:var(--reverify-accent,light-dark(#4338ca,#a5b4fc))}\
button{font:inherit;font-weight:600;min-height:2.75rem;padding:.5rem 1rem;cursor:pointer;\
border-radius:var(--reverify-radius,10px);border:1px solid var(--reverify-accent,light-dark(#4338ca,#a5b4fc));\
background:none;color:var(--reverify-accent,light-dark(#4338ca,#a5b4fc))}\
:focus-visible{outline:2px solid var(--reverify-accent,light-dark(#4338ca,#a5b4fc));outline-offset:2px}\
[data-status]:empty{display:none}";

/// The policy of the provider's HTML pages: their own scripts and stylesheets, the one
/// style above by its hash, no inline script; never framed.
static PAGE_CSP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, PAGE_STYLE.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!(
        "default-src 'none'; style-src 'self' 'sha256-{hash}'; script-src 'self'; \
         connect-src 'self'; img-src 'self' https:; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'"
    )
});

pub(crate) fn router() -> Api {
    Api::new()
        .get("/.well-known/openid-configuration", discovery)
        .get("/oauth/authorize", authorize_get)
        .post("/oauth/authorize", authorize_post)
        .get("/oauth/authorize/continue", authorize_continue)
        .post("/oauth/authorize/consent", authorize_consent)
        .get("/oauth/hosted.js", hosted_js)
        .get("/oauth/hosted.css", hosted_css)
        .post("/oauth/token", token_endpoint)
        .get("/oauth/userinfo", userinfo)
        .post("/oauth/userinfo", userinfo)
        .post("/oauth/revoke", revoke)
        .post("/oauth/introspect", introspect)
        .get("/oauth/logout", logout)
        .get("/v1/me/oidc/consents", my_consents)
        .delete("/v1/me/oidc/consents/{client_id}", revoke_my_consent)
}

fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.oidc.enabled {
        Ok(())
    } else {
        Err(ApiError::NotFound("route"))
    }
}

/// Public and the same for everyone: cacheable for five minutes.
async fn discovery(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    enabled(&state)?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(crate::oidc::discovery::metadata(&state.issuer)),
    ))
}

/// Form or query parameters; `None` when one is repeated (RFC 6749 §3.1, §3.2).
fn params(raw: &[u8]) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if map.insert(k.into_owned(), v.into_owned()).is_some() {
            return None;
        }
    }
    Some(map)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A minimal page of the provider (errors, the waiting request). No style of its own: the
/// elements' theme, and `color-scheme` so that the page around them follows
/// `prefers-color-scheme` as they do.
fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{}</title><style>{PAGE_STYLE}</style></head><body>{body_html}</body></html>",
        escape(title)
    );
    (
        status,
        [
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP.as_str()),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

fn error_page(message: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in request refused",
        &format!(
            "<main><h1>Sign-in request refused</h1><p>{}</p></main>",
            escape(message)
        ),
    )
}

/// A redirect to the client (302, never cached, no referrer).
fn redirect_to(url: &str) -> Response {
    let mut r = Redirect::to(url).into_response();
    *r.status_mut() = StatusCode::FOUND;
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The client's redirect URI with an authorization response's `params`, then `state` (as
/// the request gave it) and `iss` (RFC 9207): every answer sent back to a client.
fn response_url(
    state: &AppState,
    redirect_uri: &str,
    client_state: Option<&str>,
    params: &[(&str, &str)],
) -> String {
    let mut all = params.to_vec();
    if let Some(s) = client_state {
        all.push(("state", s));
    }
    all.push(("iss", state.issuer.as_str()));
    authorize::redirect_url(redirect_uri, &all)
}

fn error_redirect(
    state: &AppState,
    req_uri: &str,
    s: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    redirect_to(&response_url(
        state,
        req_uri,
        s,
        &[("error", error), ("error_description", description)],
    ))
}

/// Records a request that waits for the user (`created_at`: when it was first made) and
/// returns its id.
async fn record_pending(
    state: &AppState,
    client: &Client,
    req: &AuthRequest,
    created_at: i64,
) -> Result<String, ApiError> {
    let now = state.now();
    let id = secrets::new_id("oreq");
    let record = json!({ "request": req, "created_at": created_at });
    state
        .store
        .insert_oidc_pending(
            &id,
            client.id(),
            &record.to_string(),
            now,
            now + PENDING_TTL_SECS,
        )
        .await?;
    Ok(id)
}

async fn authorize_get(
    State(state): State<AppState>,
    cookie: SessionCookie,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    authorization(&state, cookie, query.unwrap_or_default().as_bytes(), false).await
}

async fn authorize_post(
    State(state): State<AppState>,
    cookie: SessionCookie,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok(error_page(
            "The sign-in request must be sent as a form (application/x-www-form-urlencoded).",
        ));
    }
    authorization(&state, cookie, &body, true).await
}

async fn load_client(state: &AppState, id: Option<&str>) -> Result<Option<Client>, ApiError> {
    match id {
        Some(id) => Ok(state.store.oidc_client(id).await?.map(Client::from_row)),
        None => Ok(None),
    }
}

/// `post`: the request came as a form POST, maybe from the client's site: a browser does
/// not send the `SameSite=Lax` session cookie with it, so without a session the request is
/// recorded and the browser sent (303) to its continuation, a same-site `GET` that has it.
async fn authorization(
    state: &AppState,
    cookie: SessionCookie,
    raw: &[u8],
    post: bool,
) -> Result<Response, ApiError> {
    let Some(map) = params(raw) else {
        return Ok(error_page(
            "A parameter of this sign-in request is repeated.",
        ));
    };
    let raw: RawRequest = serde_json::to_value(&map)
        .and_then(serde_json::from_value)
        .unwrap_or_default();
    let client = load_client(state, raw.client_id.as_deref()).await?;
    let redirect_uri = match authorize::redirect_target(&raw, client.as_ref()) {
        Ok(uri) => uri.to_owned(),
        Err(e) => return Ok(error_page(&e.0)),
    };
    let Some(client) = client else {
        return Ok(error_page("unknown client"));
    };
    let req = match authorize::validate(&raw, &client) {
        Ok(req) => req,
        Err(e) => {
            return Ok(error_redirect(
                state,
                &redirect_uri,
                raw.state.as_deref(),
                e.error,
                &e.description,
            ));
        }
    };
    if post && !matches!(cookie, SessionCookie::Active(_)) {
        let id = record_pending(state, &client, &req, state.now()).await?;
        let mut r = Redirect::to(&continue_url(state, &id)).into_response();
        *r.status_mut() = StatusCode::SEE_OTHER;
        return Ok(r);
    }
    decide(state, cookie, &client, &req, None).await
}

/// The server's path prefix (`/auth` for a server mounted in an app; empty at the root).
fn base_path(state: &AppState) -> String {
    url::Url::parse(&state.issuer)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

fn continue_url(state: &AppState, id: &str) -> String {
    format!("{}/oauth/authorize/continue?request={id}", base_path(state))
}

/// How a consent screen's token is stored.
fn consent_hash(token: &str) -> String {
    secrets::sha256_hex(&["oidc_consent", token])
}

/// What a request comes to now.
enum Decision {
    /// Back to the client: a code, or an error.
    Redirect(String),
    /// The user must act first: `missing`, what to verify (for `SignIn`, `Reverify`,
    /// `StepUp`); `ask`, the scopes the consent screen asks for.
    Wait {
        need: Interaction,
        missing: Missing,
        ask: Vec<String>,
    },
}

/// Whether `session` satisfies `req` (then a code is issued), or what the user must do
/// (`prompt=none` and unreachable essential `acr` values answer errors instead). `since`:
/// for a request that waited, when it was made (`prompt=login` is satisfied by a
/// verification after it).
async fn evaluate(
    state: &AppState,
    session: Option<&crate::store::SessionRow>,
    client: &Client,
    req: &AuthRequest,
    since: Option<i64>,
) -> Result<Decision, ApiError> {
    let now = state.now();
    let first_party = client.row.first_party != 0;
    let ask = match session {
        Some(s) if !first_party => {
            let granted = state
                .store
                .oidc_consented_scopes(&s.user_id, client.id())
                .await?;
            authorize::consent_to_ask(req, first_party, &granted)
        }
        _ => Vec::new(),
    };
    let error = |error: &str, description: &str| {
        Decision::Redirect(response_url(
            state,
            &req.redirect_uri,
            req.state.as_deref(),
            &[("error", error), ("error_description", description)],
        ))
    };
    let Some(session) = session else {
        return Ok(if req.prompt_none {
            error("login_required", "the user is not signed in")
        } else {
            Decision::Wait {
                need: Interaction::SignIn,
                missing: Missing::FirstFactor,
                ask,
            }
        });
    };
    let standing = Standing::of(session);
    let mut wanted = Wanted {
        acr: req.acr.as_deref().and_then(|a| a.parse::<Acr>().ok()),
        max_age: req.max_age,
        // prompt=login: a verification after the request was made (none yet when it
        // arrives).
        since: req.prompt_login.then(|| since.unwrap_or(now + 1)),
    };
    if let Some(acr) = wanted.acr
        && standing.meets(wanted, now).is_none()
        && !reachable(state, session, acr).await?
    {
        if req.acr_essential {
            return Ok(error(
                "unmet_authentication_requirements",
                "the user has no factor that meets the essential acr",
            ));
        }
        // A voluntary acr beyond the user's factors: what they can do is what they get
        // (the token's acr says so), rather than a page that can never be completed.
        wanted.acr = None;
    }
    let Some(authn) = standing.meets(wanted, now) else {
        // Never reached (a stronger factor) or only too old (verify again).
        let need = match wanted.acr {
            Some(acr) if !standing.ever_reached(acr) => Interaction::StepUp,
            _ => Interaction::Reverify,
        };
        return Ok(if req.prompt_none {
            error(
                need.prompt_none_error(),
                "the user must interact with the provider",
            )
        } else {
            Decision::Wait {
                need,
                missing: standing.missing(wanted, now),
                ask,
            }
        });
    };
    if !ask.is_empty() {
        return Ok(if req.prompt_none {
            error(
                Interaction::Consent.prompt_none_error(),
                "the user has not allowed this application",
            )
        } else {
            Decision::Wait {
                need: Interaction::Consent,
                missing: Missing::FirstFactor,
                ask,
            }
        });
    }
    let code = token::issue_code(state, req, &session.id, &session.user_id, &authn).await?;
    Ok(Decision::Redirect(response_url(
        state,
        &req.redirect_uri,
        req.state.as_deref(),
        &[("code", &code)],
    )))
}

/// Issues a code when the session satisfies `req`; otherwise answers `prompt=none` with
/// its error, or records the request and serves the page that waits for the user (the
/// consent screen bound to this session by a one-time token).
async fn decide(
    state: &AppState,
    cookie: SessionCookie,
    client: &Client,
    req: &AuthRequest,
    since: Option<i64>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let session = match cookie {
        SessionCookie::Active(current) => Some(current.session),
        SessionCookie::Absent | SessionCookie::Invalid => None,
    };
    match evaluate(state, session.as_ref(), client, req, since).await? {
        Decision::Redirect(url) => Ok(redirect_to(&url)),
        Decision::Wait { need, missing, ask } => {
            let created_at = since.unwrap_or(now);
            let (id, consent) = match (&session, need) {
                (Some(session), Interaction::Consent) => {
                    // The consent screen's request is bound to this session and a token.
                    let id = secrets::new_id("oreq");
                    let record = json!({ "request": req, "created_at": created_at });
                    let token = secrets::new_secret();
                    state
                        .store
                        .insert_oidc_pending_consent(
                            &id,
                            client.id(),
                            &record.to_string(),
                            &consent_hash(&token),
                            &session.id,
                            now,
                            now + PENDING_TTL_SECS,
                        )
                        .await?;
                    let user = state.store.user_by_id(&session.user_id).await?;
                    let granted = state
                        .store
                        .oidc_consented_scopes(&session.user_id, client.id())
                        .await?;
                    let screen = ConsentScreen {
                        token,
                        account: user.map(|u| u.email).unwrap_or_default(),
                        ask,
                        granted,
                    };
                    (id, Some(screen))
                }
                _ => (record_pending(state, client, req, created_at).await?, None),
            };
            Ok(waiting_page(
                state,
                client,
                need,
                missing,
                &id,
                consent.as_ref(),
            ))
        }
    }
}

/// What the consent screen shows, and its one-time token.
struct ConsentScreen {
    token: String,
    account: String,
    ask: Vec<String>,
    granted: Vec<String>,
}

/// Whether the session's user has factors that can reach the request's `acr`: a passkey
/// for `phr`, an authenticator app or backup codes for `2fa` / `mfa`.
async fn reachable(
    state: &AppState,
    session: &crate::store::SessionRow,
    wanted: Acr,
) -> Result<bool, ApiError> {
    let (_, totp, backup_codes) = state.store.factor_counts(&session.user_id).await?;
    // A passkey that cannot verify its user is a first factor only: it never reaches phr.
    let verifying_passkey = state
        .store
        .passkeys_of(&session.user_id)
        .await?
        .iter()
        .any(crate::passkeys::verifies_user);
    let best = if verifying_passkey {
        Acr::PhishingResistant
    } else if totp || backup_codes > 0 {
        Acr::MultiFactor
    } else {
        Acr::FirstFactor
    };
    Ok(best.satisfies(wanted))
}

/// The page a request waits on: the SDK's own elements (`<reverify-sign-in>`, the
/// reverification modal at the level the request needs, or `<reverify-consent>`), loaded
/// from this server's `/sdk/` by `/oauth/hosted.js`; done, the browser goes to the
/// continuation, which re-evaluates the request. Without JavaScript, a Continue link does
/// the same (the consent screen needs JavaScript: its decision is a same-origin `fetch`).
fn waiting_page(
    state: &AppState,
    client: &Client,
    need: Interaction,
    missing: Missing,
    id: &str,
    consent: Option<&ConsentScreen>,
) -> Response {
    let base = base_path(state);
    let continue_url = continue_url(state, id);
    let name = escape(&client.row.name);
    let need_name = match need {
        Interaction::SignIn => "sign_in",
        Interaction::Reverify => "reverify",
        Interaction::StepUp => "step_up",
        Interaction::Consent => "consent",
    };
    // The reverification level: only what is missing or too old (`oidc::authn`). `phr`
    // is the multi-factor level proved by a passkey only: the modal offers nothing else.
    let level = missing.level();
    let strategies = if missing == Missing::Passkey {
        "passkey"
    } else {
        ""
    };
    let mut attrs = String::new();
    // The operator's theme, when there is one (`oidc.theme`).
    let theme = if state.config.oidc.theme.is_empty() {
        String::new()
    } else {
        format!(
            "<link rel=\"stylesheet\" href=\"{}/oauth/hosted.css\">",
            escape(&base)
        )
    };
    let (title, inner) = match (need, consent) {
        (Interaction::SignIn, _) => (
            "Sign in".to_owned(),
            format!(
                "<p>Sign in to continue to {name}.</p><reverify-sign-in no-passkey></reverify-sign-in>"
            ),
        ),
        (Interaction::Reverify | Interaction::StepUp, _) => (
            "Verify it is you".to_owned(),
            format!(
                "<p>{name} asks you to verify it is you{}.</p>\
                 <p><button type=\"button\" data-action=\"verify\">Verify</button></p>",
                match (need, strategies) {
                    (Interaction::StepUp, "passkey") => " with a passkey",
                    (Interaction::StepUp, _) => " with a stronger method",
                    _ => " again",
                }
            ),
        ),
        (Interaction::Consent, Some(c)) => {
            let described = |list: &[&String]| {
                serde_json::to_string(
                    &list
                        .iter()
                        .map(
                            |s| json!({"scope": s, "description": authorize::scope_description(s)}),
                        )
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_default()
            };
            attrs = format!(
                " data-consent-token=\"{}\" data-consent-url=\"{}\"",
                escape(&c.token),
                escape(&format!("{base}/oauth/authorize/consent")),
            );
            let items: String = c
                .ask
                .iter()
                .map(|s| format!("<li>{}</li>", escape(authorize::scope_description(s))))
                .collect();
            let asked: Vec<&String> = c.ask.iter().collect();
            let granted: Vec<&String> = c.granted.iter().filter(|g| !c.ask.contains(g)).collect();
            (
                format!("Allow {}?", client.row.name),
                format!(
                    "<reverify-consent app=\"{name}\" account=\"{}\" scopes=\"{}\" granted=\"{}\">\
                     <p>{name} asks to:</p><ul>{items}</ul></reverify-consent>",
                    escape(&c.account),
                    escape(&described(&asked)),
                    escape(&described(&granted)),
                ),
            )
        }
        (Interaction::Consent, None) => (
            "Sign in".to_owned(),
            format!("<p>Sign in to continue to {name}.</p>"),
        ),
    };
    let body = format!(
        "<main data-need=\"{need_name}\" data-request=\"{}\" data-level=\"{level}\" \
         data-strategies=\"{strategies}\" data-base=\"{}\" data-continue=\"{}\"{attrs}>\
         <h1>{}</h1>{inner}<p data-status role=\"status\"></p>\
         <noscript><p><a href=\"{}\">Continue</a> once done.</p></noscript></main>\
         <script type=\"module\" src=\"{}/oauth/hosted.js\"></script>{theme}",
        escape(id),
        escape(&base),
        escape(&continue_url),
        // The consent element titles itself ("Allow …?"): the page's heading says what
        // this is.
        escape(if need == Interaction::Consent {
            "Access request"
        } else {
            &title
        }),
        escape(&continue_url),
        escape(&base),
    );
    page(StatusCode::OK, &title, &body)
}

/// The hosted page's script (see `oidc/hosted.js`).
async fn hosted_js(State(state): State<AppState>) -> Result<Response, ApiError> {
    enabled(&state)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../oidc/hosted.js"),
    )
        .into_response())
}

/// The hosted pages' theme (`oidc.theme`): the elements' custom properties on `:root`.
async fn hosted_css(State(state): State<AppState>) -> Result<Response, ApiError> {
    enabled(&state)?;
    let declarations: String = state
        .config
        .oidc
        .theme
        .iter()
        .map(|(name, value)| format!("{name}:{value};"))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        format!(":root{{{declarations}}}\n"),
    )
        .into_response())
}

async fn authorize_continue(
    State(state): State<AppState>,
    cookie: SessionCookie,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let map = params(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let Some(id) = map.get("request") else {
        return Ok(error_page("This link is incomplete."));
    };
    let Some(record) = state.store.oidc_pending(id, state.now()).await? else {
        return Ok(error_page(
            "This sign-in request expired. Go back to the application and start again.",
        ));
    };
    let record: serde_json::Value = serde_json::from_str(&record)
        .map_err(|e| ApiError::internal(format!("pending request: {e}")))?;
    let req: AuthRequest = serde_json::from_value(record["request"].clone())
        .map_err(|e| ApiError::internal(format!("pending request: {e}")))?;
    let since = record["created_at"].as_i64();
    let Some(client) = load_client(&state, Some(&req.client_id)).await? else {
        return Ok(error_page("The application is no longer registered."));
    };
    if !client.has_redirect_uri(&req.redirect_uri) {
        return Ok(error_page("The application no longer uses this address."));
    }
    let response = decide(&state, cookie, &client, &req, since).await?;
    // Completed (a redirect with a code or an error): the waiting request is used up.
    if response.status() == StatusCode::FOUND {
        state.store.delete_oidc_pending(id).await?;
    }
    Ok(response)
}

/// The consent screen's decision (a same-origin `fetch` of the hosted page).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentDecision {
    /// The waiting request (`data-request`).
    request: String,
    /// The screen's one-time token (`data-consent-token`).
    consent_token: String,
    /// `allow` or `deny`.
    decision: String,
}

/// `POST /oauth/authorize/consent` `{"request", "consent_token", "decision"}`: the user's
/// answer to the consent screen. It must come from the session the screen was shown to,
/// with the screen's token, once (the waiting request is deleted by the statement that
/// checks them); the cross-site request guard applies. Answers `{"redirect_to": URL}`,
/// where the page then navigates: the client's redirect URI with a code (allowed) or
/// `error=access_denied` (denied), or the continuation when the user must still act.
/// (A form POST answered by a redirect to the client would meet the page's `form-action
/// 'self'`, which Chromium applies to the redirect.)
async fn authorize_consent(
    State(state): State<AppState>,
    current: super::current::CurrentSession,
    web_client: super::web::Client,
    super::web::ApiJson(body): super::web::ApiJson<ConsentDecision>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    enabled(&state)?;
    let allow = match body.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "decision must be allow or deny",
            ));
        }
    };
    let now = state.now();
    let session = &current.session;
    let invalid = || {
        ApiError::bad_request(
            "consent_invalid",
            "this consent screen is unknown, expired, already answered or shown to another \
             session; start again from the application",
        )
    };
    if body.consent_token.len() > 128 || body.request.len() > 128 {
        return Err(invalid());
    }
    let Some(record) = state
        .store
        .claim_oidc_pending_consent(
            &body.request,
            &consent_hash(&body.consent_token),
            &session.id,
            now,
        )
        .await?
    else {
        return Err(invalid());
    };
    let record: serde_json::Value = serde_json::from_str(&record)
        .map_err(|e| ApiError::internal(format!("pending request: {e}")))?;
    let mut req: AuthRequest = serde_json::from_value(record["request"].clone())
        .map_err(|e| ApiError::internal(format!("pending request: {e}")))?;
    let since = record["created_at"].as_i64();
    let client = load_client(&state, Some(&req.client_id))
        .await?
        .filter(|c| c.has_redirect_uri(&req.redirect_uri))
        .ok_or_else(|| {
            ApiError::bad_request(
                "consent_invalid",
                "the application is no longer registered with this address",
            )
        })?;
    let event = |kind: &'static str| crate::audit::Event {
        kind,
        user_id: Some(&session.user_id),
        session_id: Some(&session.id),
        client: &web_client,
        detail: json!({ "client_id": client.id(), "scopes": req.scope }),
    };
    if !allow {
        state.audit(event("oidc_consent.denied")).await?;
        let redirect_to = response_url(
            &state,
            &req.redirect_uri,
            req.state.as_deref(),
            &[
                ("error", "access_denied"),
                ("error_description", "the user denied the request"),
            ],
        );
        return Ok(axum::Json(json!({ "redirect_to": redirect_to })));
    }
    state
        .store
        .grant_oidc_consent(&session.user_id, client.id(), &req.scope, now)
        .await?;
    state.audit(event("oidc_consent.granted")).await?;
    // Asked and answered: prompt=consent is done.
    req.prompt_consent = false;
    let redirect_to = match evaluate(&state, Some(session), &client, &req, since).await? {
        Decision::Redirect(url) => url,
        Decision::Wait { .. } => {
            // Something else changed meanwhile (the session aged past max_age): the
            // continuation asks for it.
            let id = record_pending(&state, &client, &req, since.unwrap_or(now)).await?;
            continue_url(&state, &id)
        }
    };
    Ok(axum::Json(json!({ "redirect_to": redirect_to })))
}

/// The consents of `user_id`, by client (also for the admin API).
pub(super) async fn consents_json(
    state: &AppState,
    user_id: &str,
) -> Result<serde_json::Value, ApiError> {
    let rows = state.store.oidc_consents_of(user_id).await?;
    let mut out: Vec<serde_json::Value> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(last) if last["client_id"] == row.client_id.as_str() => {
                if let Some(list) = last["scopes"].as_array_mut() {
                    list.push(json!(row.scope));
                }
                if last["granted_at"].as_i64() > Some(row.created_at) {
                    last["granted_at"] = json!(row.created_at);
                }
                if last["updated_at"].as_i64() < Some(row.created_at) {
                    last["updated_at"] = json!(row.created_at);
                }
            }
            _ => {
                let name = state
                    .store
                    .oidc_client(&row.client_id)
                    .await?
                    .map(|c| c.name);
                out.push(json!({
                    "client_id": row.client_id,
                    "client_name": name,
                    "scopes": [row.scope],
                    "granted_at": row.created_at,
                    "updated_at": row.created_at,
                }));
            }
        }
    }
    Ok(json!({ "consents": out }))
}

/// Withdraws a consent and revokes what it let the client get (also for the admin API):
/// 404 `not_found` when there was none.
pub(super) async fn revoke_consent(
    state: &AppState,
    user_id: &str,
    client_id: &str,
    session_id: Option<&str>,
    web_client: &super::web::Client,
    by: &str,
) -> Result<(), ApiError> {
    if !state
        .store
        .revoke_oidc_consent(user_id, client_id, state.now())
        .await?
    {
        return Err(ApiError::NotFound("consent"));
    }
    state
        .audit(crate::audit::Event {
            kind: "oidc_consent.revoked",
            user_id: Some(user_id),
            session_id,
            client: web_client,
            detail: json!({ "client_id": client_id, "by": by }),
        })
        .await
}

/// `GET /v1/me/oidc/consents`: the applications the user allowed, and what.
async fn my_consents(
    State(state): State<AppState>,
    current: super::current::CurrentSession,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    enabled(&state)?;
    Ok(axum::Json(
        consents_json(&state, &current.session.user_id).await?,
    ))
}

/// `DELETE /v1/me/oidc/consents/{client_id}`: withdraws it; the client's tokens and codes
/// for the user are revoked, and its next request asks again. No reverification: it only
/// takes access away.
async fn revoke_my_consent(
    State(state): State<AppState>,
    current: super::current::CurrentSession,
    web_client: super::web::Client,
    axum::extract::Path(client_id): axum::extract::Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    enabled(&state)?;
    revoke_consent(
        &state,
        &current.session.user_id,
        &client_id,
        Some(&current.session.id),
        &web_client,
        "user",
    )
    .await?;
    Ok(axum::Json(
        json!({ "revoked": true, "client_id": client_id }),
    ))
}

/// Reads a form body for the token, revocation and introspection endpoints.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    params(body).ok_or_else(|| OAuthError::new("invalid_request", "a parameter is repeated"))
}

async fn authenticated_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let creds = Credentials::read(
        headers,
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )?;
    token::authenticate(state, &creds).await
}

async fn token_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    Ok(match token_grant(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    })
}

async fn token_grant(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    // RFC 8707 allows several; one access token has one audience here (design note 51).
    if url::form_urlencoded::parse(body)
        .filter(|(k, _)| k == "resource")
        .count()
        > 1
    {
        return Err(OAuthError::new(
            "invalid_target",
            "name one resource per token request",
        ));
    }
    let form = form(headers, body)?;
    let client = authenticated_client(state, headers, &form).await?;
    let now = state.now();
    let asked_resource = form.get("resource").map(String::as_str);
    // Refused before the code or refresh token is used up: an unregistered resource
    // (and, below, another resource than a refresh token's grant) costs the client
    // nothing, and its retry with the same refresh token is no reuse.
    token::resolve_resource(&client, None, asked_resource)?;
    let grant: Grant = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form
                .get("code")
                .ok_or_else(|| OAuthError::new("invalid_request", "code is missing"))?;
            let row = match state
                .store
                .redeem_oidc_code(&token::hash_token(code), client.id(), now)
                .await?
            {
                Redeemed::Won(row) => row,
                Redeemed::Replayed => {
                    tracing::warn!(client_id = %client.id(), "authorization code replayed: its tokens are revoked");
                    return Err(OAuthError::invalid_grant(
                        "the code was already used; every token issued from it is revoked",
                    ));
                }
                Redeemed::Unknown => {
                    return Err(OAuthError::invalid_grant("the code is invalid or expired"));
                }
            };
            if form.get("redirect_uri") != Some(&row.redirect_uri) {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri does not match the authorization request's",
                ));
            }
            match (&row.code_challenge, form.get("code_verifier")) {
                (Some(challenge), Some(verifier)) if token::pkce_matches(verifier, challenge) => {}
                (Some(_), _) => {
                    return Err(OAuthError::invalid_grant(
                        "the PKCE code_verifier does not match",
                    ));
                }
                (None, Some(_)) => {
                    return Err(OAuthError::invalid_grant(
                        "a code_verifier was sent for a request without code_challenge",
                    ));
                }
                (None, None) => {}
            }
            Grant::from(row)
        }
        Some("refresh_token") => {
            let refresh = form
                .get("refresh_token")
                .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is missing"))?;
            if let Some(found) = state
                .store
                .oidc_token_by_hash(&token::hash_token(refresh))
                .await?
                .filter(|t| t.kind == "refresh" && t.client_id == client.id())
            {
                token::resolve_resource(&client, found.resource.as_deref(), asked_resource)?;
            }
            let row = match state
                .store
                .redeem_refresh_token(&token::hash_token(refresh), client.id(), now)
                .await?
            {
                Redeemed::Won(row) => row,
                Redeemed::Replayed => {
                    tracing::warn!(client_id = %client.id(), "refresh token reused: its family is revoked");
                    return Err(OAuthError::invalid_grant(
                        "the refresh token was already used; every token of its grant is revoked",
                    ));
                }
                Redeemed::Unknown => {
                    return Err(OAuthError::invalid_grant(
                        "the refresh token is invalid, expired or revoked",
                    ));
                }
            };
            let mut grant = Grant::from(row);
            if let Some(scope) = form.get("scope") {
                let granted: Vec<&str> = grant.scope.split_whitespace().collect();
                let asked: Vec<&str> = scope.split_whitespace().collect();
                if asked.is_empty() || asked.iter().any(|s| !granted.contains(s)) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        "a refresh can only narrow the granted scope",
                    ));
                }
                if !asked.contains(&"offline_access") {
                    // Keep the refresh token going: narrowing applies to the access token.
                }
                grant.scope = asked.join(" ");
            }
            grant
        }
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ));
        }
        None => return Err(OAuthError::new("invalid_request", "grant_type is missing")),
    };
    // The grant lives as long as the Reverify session it came from.
    let session = state.store.session_by_id(&grant.session_id).await?;
    if !session.is_some_and(|s| s.ended_at.is_none() && now < s.expires_at) {
        state
            .store
            .revoke_oidc_family(&grant.family_id, now)
            .await?;
        return Err(OAuthError::invalid_grant("the user's session has ended"));
    }
    let audience = token::resolve_resource(&client, grant.resource.as_deref(), asked_resource)?;
    token::issue_tokens(state, &client, &grant, audience.as_deref()).await
}

/// The live token row for a presented token (access or refresh), if any.
async fn live_token(
    state: &AppState,
    presented: &str,
) -> Result<Option<crate::store::OidcTokenRow>, ApiError> {
    let now = state.now();
    let row = state
        .store
        .oidc_token_by_hash(&token::hash_token(presented))
        .await?;
    Ok(row.filter(|t| t.revoked_at.is_none() && t.used_at.is_none() && now < t.expires_at))
}

fn bearer_error(error: &str, description: &str) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if let Ok(v) = format!("Bearer error=\"{error}\", error_description=\"{description}\"").parse()
    {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    enabled(&state)?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let Some(presented) = presented else {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return Ok(r);
    };
    // An access token for another resource server (RFC 8707) is not for userinfo.
    let Some(t) = live_token(&state, &presented)
        .await?
        .filter(|t| t.kind == "access" && t.resource.is_none())
    else {
        return Ok(bearer_error(
            "invalid_token",
            "the access token is invalid, expired or revoked",
        ));
    };
    let scopes: Vec<&str> = t.scope.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        return Ok(bearer_error(
            "insufficient_scope",
            "the openid scope is needed",
        ));
    }
    let Some(user) = state.store.user_by_id(&t.user_id).await? else {
        return Ok(bearer_error("invalid_token", "the user no longer exists"));
    };
    let mut body = json!({ "sub": t.user_id });
    if scopes.contains(&"email") {
        body["email"] = json!(user.email);
        body["email_verified"] = json!(true);
    }
    Ok(axum::Json(body).into_response())
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let run = async {
        let form = form(&headers, &body)?;
        let client = authenticated_client(&state, &headers, &form).await?;
        let presented = form
            .get("token")
            .ok_or_else(|| OAuthError::new("invalid_request", "token is missing"))?;
        let row = state
            .store
            .oidc_token_by_hash(&token::hash_token(presented))
            .await?;
        // RFC 7009 §2.2: unknown tokens, and other clients' tokens, answer 200 too.
        if let Some(row) = row.filter(|r| r.client_id == client.id()) {
            state.store.revoke_oidc_token(&row, state.now()).await?;
        }
        Ok::<_, OAuthError>(StatusCode::OK.into_response())
    };
    Ok(run.await.unwrap_or_else(IntoResponse::into_response))
}

async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let run = async {
        let form = form(&headers, &body)?;
        let client = authenticated_client(&state, &headers, &form).await?;
        if client.is_public() {
            return Err(OAuthError::invalid_client(false));
        }
        let presented = form
            .get("token")
            .ok_or_else(|| OAuthError::new("invalid_request", "token is missing"))?;
        let row = live_token(&state, presented)
            .await?
            .filter(|t| t.client_id == client.id());
        let body = match row {
            None => json!({ "active": false }),
            Some(t) => json!({
                "active": true,
                "token_type": if t.kind == "access" { "Bearer" } else { "refresh_token" },
                "scope": t.scope,
                "client_id": t.client_id,
                "sub": t.user_id,
                "aud": match (&t.kind[..], &t.resource) {
                    ("access", Some(resource)) => resource,
                    _ => &t.client_id,
                },
                "iss": state.issuer,
                "exp": t.expires_at,
                "iat": t.created_at,
                "auth_time": t.auth_time,
                "acr": t.acr,
                "amr": t.amr.split_whitespace().collect::<Vec<_>>(),
                "sid": t.session_id,
            }),
        };
        Ok::<_, OAuthError>(axum::Json(body).into_response())
    };
    Ok(run.await.unwrap_or_else(IntoResponse::into_response))
}

/// RP-initiated logout: with a valid `id_token_hint` of ours, the session it names ends
/// (when it is this browser's), and the browser goes to `post_logout_redirect_uri` if it
/// is exactly one the client registered, with `state`.
async fn logout(
    State(state): State<AppState>,
    cookie: SessionCookie,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let Some(map) = params(query.unwrap_or_default().as_bytes()) else {
        return Ok(error_page(
            "A parameter of this sign-out request is repeated.",
        ));
    };
    let now = state.now();
    let claims = match map.get("id_token_hint") {
        Some(hint) => state
            .keys
            .verify_own(hint, crate::keys::KeyPurpose::Oidc, now)
            .await?
            .filter(|c| c["iss"].as_str() == Some(state.issuer.as_str())),
        None => None,
    };
    let Some(claims) = claims else {
        return Ok(error_page(
            "This sign-out request does not say which sign-in it ends (id_token_hint); \
             sign out from the application instead.",
        ));
    };
    let client_id = claims["aud"].as_str().unwrap_or_default();
    if map.get("client_id").is_some_and(|c| c != client_id) {
        return Ok(error_page(
            "This sign-out request names two different applications.",
        ));
    }
    let client = load_client(&state, Some(client_id)).await?;
    let target = match (map.get("post_logout_redirect_uri"), &client) {
        (Some(uri), Some(c)) if c.has_post_logout_redirect_uri(uri) => Some(uri.clone()),
        (Some(_), _) => {
            return Ok(error_page(
                "This sign-out request would send you to an address the application did not register; it was stopped.",
            ));
        }
        (None, _) => None,
    };
    let mut ended = false;
    if let SessionCookie::Active(current) = &cookie
        && claims["sid"].as_str() == Some(current.session.id.as_str())
    {
        ended = state
            .end_session(&current.session.id, "oidc_logout")
            .await?;
    }
    let mut response = match target {
        Some(uri) => {
            let mut params = Vec::new();
            if let Some(s) = map.get("state") {
                params.push(("state", s.as_str()));
            }
            redirect_to(&authorize::redirect_url(&uri, &params))
        }
        None => page(
            StatusCode::OK,
            "Signed out",
            "<main><h1>Signed out</h1><p>You are signed out.</p></main>",
        ),
    };
    if ended {
        let cleared = super::current::with_cookies_cleared(&state, json!({}));
        for v in cleared.headers().get_all(header::SET_COOKIE) {
            response.headers_mut().append(header::SET_COOKIE, v.clone());
        }
    }
    Ok(response)
}
