//! Codes and tokens: issuing a code, client authentication, PKCE, and the tokens the token
//! endpoint answers (ID token, RFC 9068 access token, rotating refresh token).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use super::authorize::{AuthRequest, Authentication};
use super::clients::{AuthMethod, Client};
use crate::error::ApiError;
use crate::keys::KeyPurpose;
use crate::secrets;
use crate::state::AppState;
use crate::store::{OidcCodeRow, OidcTokenRow, StoreError};

/// How long a code can be exchanged.
pub const CODE_TTL_SECS: i64 = 60;

/// An OAuth error answer (RFC 6749 §5.2): JSON `error` and `error_description`,
/// `Cache-Control: no-store`; 401 with `WWW-Authenticate` for a failed HTTP Basic client
/// authentication.
#[derive(Debug)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error code.
    pub error: &'static str,
    /// For the developer.
    pub description: String,
    /// The `WWW-Authenticate` value, if any.
    pub www_authenticate: Option<String>,
}

impl OAuthError {
    /// A 400 error.
    pub fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            www_authenticate: None,
        }
    }

    /// `invalid_client`: 401, with `WWW-Authenticate: Basic` when Basic was used.
    pub fn invalid_client(basic: bool) -> OAuthError {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "client authentication failed".into(),
            www_authenticate: basic.then(|| "Basic realm=\"reverify\"".to_owned()),
        }
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_grant", description)
    }
}

impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> OAuthError {
        tracing::error!(error = %e, "token endpoint failure");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "the server failed; try again".into(),
            www_authenticate: None,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> OAuthError {
        OAuthError::from(ApiError::from(e))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        headers.insert(
            header::PRAGMA,
            axum::http::HeaderValue::from_static("no-cache"),
        );
        if let Some(v) = self.www_authenticate.and_then(|v| v.parse().ok()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }
}

/// How a client identified itself.
#[derive(Debug, Default)]
pub struct Credentials {
    /// From HTTP Basic.
    pub basic: Option<(String, String)>,
    /// `client_id` in the body.
    pub client_id: Option<String>,
    /// `client_secret` in the body.
    pub client_secret: Option<String>,
}

fn form_decode(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_decode(&plus)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Credentials {
    /// Reads HTTP Basic (RFC 6749 §2.3.1: both parts form-urlencoded) and the body's.
    pub fn read(
        headers: &HeaderMap,
        client_id: Option<String>,
        client_secret: Option<String>,
    ) -> Result<Credentials, OAuthError> {
        let basic = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => {
                let value = value
                    .to_str()
                    .map_err(|_| OAuthError::invalid_client(true))?;
                let (scheme, rest) = value
                    .split_once(' ')
                    .ok_or_else(|| OAuthError::invalid_client(true))?;
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(OAuthError::invalid_client(true));
                }
                let decoded = STANDARD
                    .decode(rest.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| OAuthError::invalid_client(true))?;
                let (id, secret) = decoded
                    .split_once(':')
                    .ok_or_else(|| OAuthError::invalid_client(true))?;
                Some((
                    form_decode(id).ok_or_else(|| OAuthError::invalid_client(true))?,
                    form_decode(secret).ok_or_else(|| OAuthError::invalid_client(true))?,
                ))
            }
        };
        if basic.is_some() && client_secret.is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                "use one client authentication method, not HTTP Basic and client_secret both",
            ));
        }
        Ok(Credentials {
            basic,
            client_id,
            client_secret,
        })
    }
}

/// Authenticates the client as it registered: Basic, post, or none (public). The secret
/// is compared in constant time over its hash.
pub async fn authenticate(state: &AppState, creds: &Credentials) -> Result<Client, OAuthError> {
    let (id, secret, method) = match (&creds.basic, &creds.client_secret) {
        (Some((id, secret)), _) => {
            if creds.client_id.as_ref().is_some_and(|c| c != id) {
                return Err(OAuthError::invalid_client(true));
            }
            (
                id.as_str(),
                Some(secret.as_str()),
                AuthMethod::ClientSecretBasic,
            )
        }
        (None, Some(secret)) => (
            creds
                .client_id
                .as_deref()
                .ok_or_else(|| OAuthError::invalid_client(false))?,
            Some(secret.as_str()),
            AuthMethod::ClientSecretPost,
        ),
        (None, None) => (
            creds
                .client_id
                .as_deref()
                .ok_or_else(|| OAuthError::invalid_client(false))?,
            None,
            AuthMethod::None,
        ),
    };
    let basic = method == AuthMethod::ClientSecretBasic;
    let client = state.store.oidc_client(id).await?.map(Client::from_row);
    let Some(client) = client else {
        // The same work as a known client: no timing tells which ids exist.
        let _ = secret.map(super::clients::hash_secret);
        return Err(OAuthError::invalid_client(basic));
    };
    let ok = client.auth_method() == method
        && match secret {
            Some(s) => client.secret_matches(s),
            None => client.is_public(),
        };
    if ok {
        Ok(client)
    } else {
        tracing::warn!(client_id = %id, method = method.as_str(), "client authentication failed");
        Err(OAuthError::invalid_client(basic))
    }
}

/// Whether `verifier` (RFC 7636: 43 to 128 unreserved characters) hashes to `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    secrets::ct_eq(&URL_SAFE_NO_PAD.encode(digest.as_ref()), challenge)
}

/// How a code or a token is stored.
pub fn hash_token(token: &str) -> String {
    secrets::sha256_hex(&["oidc_token", token])
}

/// Issues a one-time code for `req` on `session_id` (stored hashed, [`CODE_TTL_SECS`]).
pub async fn issue_code(
    state: &AppState,
    req: &AuthRequest,
    session_id: &str,
    user_id: &str,
    authn: &Authentication,
) -> Result<String, ApiError> {
    let now = state.now();
    let code = secrets::new_secret();
    state
        .store
        .insert_oidc_code(&OidcCodeRow {
            code_hash: hash_token(&code),
            family_id: secrets::new_id("ofam"),
            client_id: req.client_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            scope: req.scope.join(" "),
            session_id: session_id.to_owned(),
            user_id: user_id.to_owned(),
            auth_time: authn.auth_time,
            acr: authn.acr.as_str().to_owned(),
            amr: authn.amr.join(" "),
            created_at: now,
            expires_at: now + CODE_TTL_SECS,
            used_at: None,
        })
        .await?;
    Ok(code)
}

/// What a grant is about: the authentication and the grant's scope, carried unchanged
/// from the code through every refresh (fields: as in [`OidcTokenRow`]).
#[allow(missing_docs)]
#[derive(Debug, Clone)]
pub struct Grant {
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: String,
}

impl From<OidcCodeRow> for Grant {
    fn from(c: OidcCodeRow) -> Grant {
        Grant {
            family_id: c.family_id,
            client_id: c.client_id,
            user_id: c.user_id,
            session_id: c.session_id,
            scope: c.scope,
            nonce: c.nonce,
            auth_time: c.auth_time,
            acr: c.acr,
            amr: c.amr,
        }
    }
}

impl From<OidcTokenRow> for Grant {
    fn from(t: OidcTokenRow) -> Grant {
        Grant {
            family_id: t.family_id,
            client_id: t.client_id,
            user_id: t.user_id,
            session_id: t.session_id,
            scope: t.scope,
            nonce: t.nonce,
            auth_time: t.auth_time,
            acr: t.acr,
            amr: t.amr,
        }
    }
}

/// Mints the ID token, the access token and (with `offline_access`) a refresh token for
/// `grant`, stores them, and answers the token response.
pub async fn issue_tokens(state: &AppState, grant: &Grant) -> Result<Response, OAuthError> {
    let now = state.now();
    let oidc = &state.config.oidc;
    let issuer = &state.issuer;
    let user = state
        .store
        .user_by_id(&grant.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    let amr: Vec<&str> = grant.amr.split_whitespace().collect();
    let scopes: Vec<&str> = grant.scope.split_whitespace().collect();
    let mut id_claims = json!({
        "iss": issuer,
        "sub": grant.user_id,
        "aud": grant.client_id,
        "azp": grant.client_id,
        "exp": now + oidc.id_token_lifetime_secs,
        "iat": now,
        "auth_time": grant.auth_time,
        "acr": grant.acr,
        "amr": amr,
        "sid": grant.session_id,
    });
    if let Some(nonce) = &grant.nonce {
        id_claims["nonce"] = json!(nonce);
    }
    if scopes.contains(&"email") {
        id_claims["email"] = json!(user.email);
        // Reverify confirms the address at sign-up.
        id_claims["email_verified"] = json!(true);
    }
    let jti = secrets::new_id("at");
    let access_claims = json!({
        "iss": issuer,
        "sub": grant.user_id,
        "aud": grant.client_id,
        "client_id": grant.client_id,
        "exp": now + oidc.access_token_lifetime_secs,
        "iat": now,
        "jti": jti,
        "scope": grant.scope,
        "auth_time": grant.auth_time,
        "acr": grant.acr,
        "amr": amr,
        "sid": grant.session_id,
    });
    let id_token = state
        .keys
        .sign_as(KeyPurpose::Oidc, "JWT", &id_claims, now)
        .await?;
    let access_token = state
        .keys
        .sign_as(KeyPurpose::Oidc, "at+jwt", &access_claims, now)
        .await?;
    let row = |id: String, kind: &str, hash: String, expires_at: i64| OidcTokenRow {
        id,
        kind: kind.to_owned(),
        token_hash: Some(hash),
        family_id: grant.family_id.clone(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        session_id: grant.session_id.clone(),
        scope: grant.scope.clone(),
        nonce: grant.nonce.clone(),
        auth_time: grant.auth_time,
        acr: grant.acr.clone(),
        amr: grant.amr.clone(),
        created_at: now,
        expires_at,
        used_at: None,
        revoked_at: None,
    };
    let mut rows = vec![row(
        jti,
        "access",
        hash_token(&access_token),
        now + oidc.access_token_lifetime_secs,
    )];
    let refresh_token = scopes.contains(&"offline_access").then(secrets::new_secret);
    if let Some(refresh) = &refresh_token {
        rows.push(row(
            secrets::new_id("rt"),
            "refresh",
            hash_token(refresh),
            now + oidc.refresh_token_lifetime_secs,
        ));
    }
    // This exchange won its code or refresh token, so it answers; a replay that raced it
    // has revoked the family, and these tokens are then stored revoked (dead on arrival
    // for userinfo, introspection and refresh), exactly as if the replay came after.
    if !state.store.insert_oidc_tokens(&rows, now).await? {
        tracing::warn!(client_id = %grant.client_id, "tokens issued to a grant revoked by a concurrent replay");
    }
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": oidc.access_token_lifetime_secs,
        "id_token": id_token,
        "scope": grant.scope,
    });
    if let Some(refresh) = refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::PRAGMA,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256() {
        // Computed independently: base64url(SHA-256(verifier)).
        let verifier = "dBjftJeZ4CVP-mJ92K9W3yJgHHzHYTmK5X9bo1b0Ymk";
        let challenge = "VOiiDEFT1amT2FN2MBTqoy1_dTL3OWswVuCv3x3keC8";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(challenge, challenge));
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&format!("{verifier}!"), challenge));
    }

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
    }
}
