//! The authorization request (`/oauth/authorize`): its validation, and the decision whether
//! the browser's Reverify session satisfies it.
//!
//! Errors before the client and its redirect URI are known to be genuine are shown on an
//! error page, never redirected (an open redirector otherwise); after, they go back to the
//! client with `error`, `state` and `iss` (RFC 9207).

use std::str::FromStr;

use reverify::acr::Acr;
use serde::{Deserialize, Serialize};

use super::clients::Client;

/// The parameters as sent (query or form). Repeated parameters are refused by the
/// extractor (RFC 6749 §3.1). Fields are the parameters of the same name.
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub max_age: Option<String>,
    pub prompt: Option<String>,
    pub acr_values: Option<String>,
    pub claims: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub display: Option<String>,
    pub resource: Option<String>,
}

/// A validated request (fields: the parameters of the same name, `prompt` split).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub max_age: Option<i64>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    /// The weakest acr that satisfies the request (from `acr_values` or the `claims`
    /// parameter's `id_token.acr`).
    pub acr: Option<String>,
    /// Whether `acr` was requested as essential.
    pub acr_essential: bool,
    /// The resource indicator (RFC 8707) the authorization is for, registered for the
    /// client (absent from requests recorded before it existed).
    #[serde(default)]
    pub resource: Option<String>,
}

/// An error that goes back to the client (`error`, `error_description`).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub error: &'static str,
    pub description: String,
}

fn redirect_error(error: &'static str, description: impl Into<String>) -> RedirectError {
    RedirectError {
        error,
        description: description.into(),
    }
}

/// Why the request cannot even be redirected: shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError(pub String);

/// Finds the client and checks the redirect URI, exactly: until this passes, nothing is
/// redirected.
pub fn redirect_target<'a>(
    raw: &'a RawRequest,
    client: Option<&Client>,
) -> Result<&'a str, PageError> {
    let Some(client) = client else {
        return Err(PageError(
            "This sign-in link names an application that is not registered here.".into(),
        ));
    };
    let Some(uri) = raw.redirect_uri.as_deref() else {
        return Err(PageError(
            "This sign-in link has no redirect_uri: the application is misconfigured.".into(),
        ));
    };
    if !client.has_redirect_uri(uri) {
        return Err(PageError(
            "This sign-in link would send you to an address the application did not register; \
             it was stopped."
                .into(),
        ));
    }
    Ok(uri)
}

/// A PKCE S256 challenge: base64url of 32 bytes (43 characters).
fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates the rest, once the redirect URI is trusted.
pub fn validate(raw: &RawRequest, client: &Client) -> Result<AuthRequest, RedirectError> {
    if raw.request.is_some() {
        return Err(redirect_error(
            "request_not_supported",
            "the request parameter is not supported",
        ));
    }
    if raw.request_uri.is_some() {
        return Err(redirect_error(
            "request_uri_not_supported",
            "the request_uri parameter is not supported",
        ));
    }
    match raw.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(redirect_error(
                "invalid_request",
                "response_type is required",
            ));
        }
        Some(_) => {
            return Err(redirect_error(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if raw.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(redirect_error(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let scope: Vec<String> = raw
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return Err(redirect_error(
            "invalid_scope",
            "the scope must include openid",
        ));
    }
    if let Some(s) = scope.iter().find(|s| !client.scopes.contains(s)) {
        return Err(redirect_error(
            "invalid_scope",
            format!("the scope {s:?} is not allowed for this client"),
        ));
    }
    let code_challenge = match (
        raw.code_challenge.as_deref(),
        raw.code_challenge_method.as_deref(),
    ) {
        (None, None) if client.is_public() => {
            return Err(redirect_error(
                "invalid_request",
                "PKCE is required for this client: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(redirect_error(
                "invalid_request",
                "code_challenge is missing",
            ));
        }
        (Some(_), None | Some("plain")) => {
            return Err(redirect_error(
                "invalid_request",
                "only code_challenge_method=S256 is supported",
            ));
        }
        (Some(c), Some("S256")) if valid_challenge(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => {
            return Err(redirect_error(
                "invalid_request",
                "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(redirect_error(
                "invalid_request",
                "only code_challenge_method=S256 is supported",
            ));
        }
    };
    let max_age = match raw.max_age.as_deref() {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(redirect_error(
                    "invalid_request",
                    "max_age must be a non-negative integer",
                ));
            }
        },
    };
    let (mut prompt_none, mut prompt_login, mut prompt_consent) = (false, false, false);
    for p in raw
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        match p {
            "none" => prompt_none = true,
            "login" => prompt_login = true,
            "consent" => prompt_consent = true,
            "select_account" => {}
            other => {
                return Err(redirect_error(
                    "invalid_request",
                    format!("unknown prompt value {other:?}"),
                ));
            }
        }
    }
    if prompt_none && (prompt_login || prompt_consent) {
        return Err(redirect_error(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    // acr_values: voluntary; the weakest known value is what must be met. Unknown values
    // are ignored.
    let mut acr: Option<Acr> = raw
        .acr_values
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter_map(|v| Acr::from_str(v).ok())
        .min();
    let mut acr_essential = false;
    if let Some(claims) = raw.claims.as_deref() {
        let parsed: serde_json::Value = serde_json::from_str(claims).map_err(|_| {
            redirect_error(
                "invalid_request",
                "the claims parameter is not a JSON object",
            )
        })?;
        if !parsed.is_object() {
            return Err(redirect_error(
                "invalid_request",
                "the claims parameter is not a JSON object",
            ));
        }
        let requested = &parsed["id_token"]["acr"];
        if requested.is_object() {
            let mut values: Vec<&str> = Vec::new();
            if let Some(v) = requested["value"].as_str() {
                values.push(v);
            }
            if let Some(list) = requested["values"].as_array() {
                values.extend(list.iter().filter_map(|v| v.as_str()));
            }
            let known: Vec<Acr> = values
                .iter()
                .filter_map(|v| Acr::from_str(v).ok())
                .collect();
            let essential = requested["essential"].as_bool() == Some(true);
            if essential && !values.is_empty() && known.is_empty() {
                return Err(redirect_error(
                    "unmet_authentication_requirements",
                    "none of the essential acr values is supported here",
                ));
            }
            if let Some(min) = known.into_iter().min() {
                acr = Some(acr.map_or(min, |a| a.max(min)));
                acr_essential = essential;
            }
        }
    }
    let bounded = |v: &Option<String>, what: &str| match v {
        Some(s) if s.len() > 512 => Err(redirect_error(
            "invalid_request",
            format!("{what} is longer than 512 bytes"),
        )),
        _ => Ok(()),
    };
    bounded(&raw.state, "state")?;
    bounded(&raw.nonce, "nonce")?;
    if let Some(resource) = &raw.resource {
        if super::clients::check_resource(resource).is_err() {
            return Err(redirect_error(
                "invalid_target",
                "resource must be an absolute URI without fragment",
            ));
        }
        if !client.has_resource(resource) {
            return Err(redirect_error(
                "invalid_target",
                "this resource is not registered for the client",
            ));
        }
    }
    Ok(AuthRequest {
        client_id: client.id().to_owned(),
        redirect_uri: raw.redirect_uri.clone().unwrap_or_default(),
        scope,
        state: raw.state.clone(),
        nonce: raw.nonce.clone(),
        code_challenge,
        max_age,
        prompt_none,
        prompt_login,
        prompt_consent,
        acr: acr.map(|a| a.as_str().to_owned()),
        acr_essential,
        resource: raw.resource.clone(),
    })
}

pub use super::authn::Authentication;

/// What the user must do before a code can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interaction {
    /// Sign in (no session).
    SignIn,
    /// Verify again in the current session (`max_age`, `prompt=login`).
    Reverify,
    /// A stronger verification (`acr_values`, essential `acr`).
    StepUp,
    /// Consent to a third-party client.
    Consent,
}

impl Interaction {
    /// The error a `prompt=none` request gets instead.
    pub fn prompt_none_error(self) -> &'static str {
        match self {
            Interaction::SignIn | Interaction::Reverify => "login_required",
            Interaction::StepUp => "interaction_required",
            Interaction::Consent => "consent_required",
        }
    }
}

/// The scopes the consent screen must ask for (empty: no screen). A first-party client
/// needs no consent (`prompt=consent` included: there is nothing to ask); a third-party
/// one is asked for the scopes the user has not allowed it yet, or for all of them with
/// `prompt=consent`.
pub fn consent_to_ask(req: &AuthRequest, first_party: bool, granted: &[String]) -> Vec<String> {
    if first_party {
        return Vec::new();
    }
    if req.prompt_consent {
        return req.scope.clone();
    }
    req.scope
        .iter()
        .filter(|s| !granted.contains(s))
        .cloned()
        .collect()
}

/// What a scope gives the client, in the consent screen's words.
pub fn scope_description(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (your account identifier)",
        "email" => "See your email address",
        "offline_access" => "Stay signed in: access your account while you are away",
        _ => "An access this server does not describe",
    }
}

/// `redirect_uri` with `params` appended to its query (its own query kept).
pub fn redirect_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}
