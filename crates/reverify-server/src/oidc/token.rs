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

/// How long dead codes, tokens and waiting requests are kept before [`purge`] deletes
/// them (a client asking about one shortly after it died still gets the same answer).
pub const RETENTION_SECS: i64 = 3600;

/// The most rows of each kind one purge pass deletes (a short write, whatever piled up).
pub const PURGE_BATCH: i64 = 500;

/// Deletes dead codes, tokens and waiting requests (see
/// [`crate::store::Store::purge_oidc`]), at most [`PURGE_BATCH`] of each kind.
pub async fn purge(
    store: &crate::store::Store,
    now: i64,
) -> Result<crate::store::Purged, StoreError> {
    let purged = store
        .purge_oidc(now, now - RETENTION_SECS, PURGE_BATCH)
        .await?;
    if purged.total() > 0 {
        tracing::debug!(?purged, "purged dead OpenID codes, tokens and requests");
    }
    Ok(purged)
}

/// Runs [`purge`] in the background about once every 64 calls (as passkey ceremonies are
/// purged by their creation): called where rows are added, so that the purge keeps pace
/// with them, without a timer of its own on every instance.
pub fn maybe_purge(state: &AppState, now: i64) {
    if secrets::random_bytes::<1>()[0] >= 4 {
        return;
    }
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = purge(&store, now).await {
            tracing::warn!(error = %e, "purging OpenID codes and tokens failed");
        }
    });
}

/// The `invalid_target` error (RFC 8707 §2).
fn invalid_target(description: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_target", description)
}

/// The audience of the access token a token request gets (RFC 8707, design note 51):
/// the `resource` it names, which must be registered for the client and, if the grant was
/// authorized for one resource, be that one; without `resource`, the grant's resource if
/// it has one, else `None` (the client id).
pub fn resolve_resource(
    client: &Client,
    grant_resource: Option<&str>,
    asked: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let resource = match (asked, grant_resource) {
        (Some(asked), _) => {
            if super::clients::check_resource(asked).is_err() {
                return Err(invalid_target(
                    "resource must be an absolute URI without fragment",
                ));
            }
            if grant_resource.is_some_and(|g| g != asked) {
                return Err(invalid_target("the authorization was for another resource"));
            }
            asked
        }
        (None, Some(granted)) => granted,
        (None, None) => return Ok(None),
    };
    if !client.has_resource(resource) {
        return Err(invalid_target(
            "this resource is not registered for the client",
        ));
    }
    Ok(Some(resource.to_owned()))
}

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

/// Decodes one `application/x-www-form-urlencoded` value (`+` is a space); `None` when a
/// percent escape is broken or the bytes are not UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
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
            resource: req.resource.clone(),
        })
        .await?;
    maybe_purge(state, now);
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
    /// The resource the authorization was restricted to (RFC 8707).
    pub resource: Option<String>,
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
            resource: c.resource,
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
            resource: t.resource,
        }
    }
}

/// Mints the ID token (in the client's `id_token_signed_response_alg`), the access token
/// (RS256, for `audience` or else the client) and (with `offline_access`) a refresh token
/// for `grant`, stores them, and answers the token response.
pub async fn issue_tokens(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    audience: Option<&str>,
) -> Result<Response, OAuthError> {
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
        "aud": audience.unwrap_or(&grant.client_id),
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
    // Registration allows only the algorithms the ring has a key for; a row that says
    // otherwise (edited by hand) fails loudly rather than falling back to another.
    let id_purpose = KeyPurpose::for_id_token_alg(&client.row.id_token_signed_response_alg)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "client {} has an unknown id_token_signed_response_alg",
                client.id()
            ))
        })?;
    let id_token = state
        .keys
        .sign_as(id_purpose, "JWT", &id_claims, now)
        .await?;
    // Access tokens stay RS256 whatever the client's ID token algorithm: their verifier is
    // the resource server, not the client (design note 50).
    let access_token = state
        .keys
        .sign_as(KeyPurpose::Oidc, "at+jwt", &access_claims, now)
        .await?;
    let row = |id: String, kind: &str, hash: String, expires_at: i64, resource: Option<String>| {
        OidcTokenRow {
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
            resource,
        }
    };
    let mut rows = vec![row(
        jti,
        "access",
        hash_token(&access_token),
        now + oidc.access_token_lifetime_secs,
        audience.map(str::to_owned),
    )];
    let refresh_token = scopes.contains(&"offline_access").then(secrets::new_secret);
    if let Some(refresh) = &refresh_token {
        rows.push(row(
            secrets::new_id("rt"),
            "refresh",
            hash_token(refresh),
            now + oidc.refresh_token_lifetime_secs,
            grant.resource.clone(),
        ));
    }
    // This exchange won its code or refresh token, so it answers; a replay that raced it
    // has revoked the family, and these tokens are then stored revoked (dead on arrival
    // for userinfo, introspection and refresh), exactly as if the replay came after.
    if !state.store.insert_oidc_tokens(&rows, now).await? {
        tracing::warn!(client_id = %grant.client_id, "tokens issued to a grant revoked by a concurrent replay");
    }
    maybe_purge(state, now);
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
