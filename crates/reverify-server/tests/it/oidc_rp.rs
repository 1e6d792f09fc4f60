//! The OpenID provider driven by a relying party no one here wrote: the `openidconnect`
//! crate (discovery, code + PKCE, ID-token verification with its nonce, `auth_time` and
//! `acr` hooks, refresh, introspection, revocation, step-up through `max_age`,
//! `prompt=login`, `acr_values` and the `claims` parameter), and the RFC 9470 loop: an axum
//! resource server protected by the Rust SDK answers 401 `insufficient_user_authentication`,
//! the client re-authorises with the challenge's values, the user reverifies in the same
//! session, the new access token passes.
//!
//! The "browser" is a cookie jar that signs in through the API and follows
//! `/oauth/authorize`; where the provider's page would open the reverification modal, the
//! test drives the same API the modal does (`/v1/sessions/current/verifications`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthErrorResponseType, CoreAuthPrompt, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AccessToken, AdditionalProviderMetadata, AuthenticationContextClass, AuthenticationFlow,
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, ProviderMetadata, RedirectUrl,
    RequestTokenError, RevocationUrl, Scope, StandardErrorResponse, TokenIntrospectionResponse,
    TokenResponse, TokenUrl,
};
use reverify::ManualClock;
use reverify_server::config::OidcClientConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::oidc::signed_in_browser;
use crate::steps::{
    PASSWORD, attempt, enroll_totp, next_step, sign_in, start_verification, totp_now,
};
use crate::support::{TestDb, TestServer};

const SECRET: &str = "rp-library-secret-0123456789-ABCDEFGHIJ";
const REDIRECT: &str = "https://rp.example.com/callback";
const MFA: &str = "urn:reverify:acr:mfa";
const ONE_FA: &str = "urn:reverify:acr:1fa";

// ---- The relying party ------------------------------------------------------------------

/// The discovery fields `openidconnect` does not model itself (RFC 8414 names).
#[derive(Clone, Debug, Deserialize, Serialize)]
struct MoreEndpoints {
    revocation_endpoint: String,
    introspection_endpoint: String,
}
impl AdditionalProviderMetadata for MoreEndpoints {}

type Metadata = ProviderMetadata<
    MoreEndpoints,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A client with authorization, introspection, revocation and token endpoints set (the
/// userinfo endpoint comes from discovery, so "maybe").
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
    EndpointSet,
    EndpointMaybeSet,
>;

type Exchange = Pin<Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>> + Send>>;
/// `openidconnect`'s async HTTP client: a closure over the reqwest the tests already use.
type Transport = Box<dyn Fn(HttpRequest) -> Exchange + Send + Sync>;

/// The closure `openidconnect` sends its requests through (built without its own reqwest
/// feature). Redirects are not followed, as a relying party must not. RFC 7009 makes
/// `oauth2` refuse a revocation endpoint that is not `https`; the test server speaks plain
/// HTTP on loopback, so the client is given the `https` URL and this transport carries
/// requests to `https://127.0.0.1` over HTTP, as a TLS terminator in front would.
fn transport() -> Transport {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Box::new(move |request: HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if parts.uri.scheme_str() == Some("https") && parts.uri.host() == Some("127.0.0.1") {
                let plain = parts.uri.to_string().replacen("https://", "http://", 1);
                parts.uri = plain.parse().unwrap();
            }
            let request =
                reqwest::Request::try_from(openidconnect::http::Request::from_parts(parts, body))?;
            let response = client.execute(request).await?;
            let mut answer = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let body = response.bytes().await?.to_vec();
            Ok(answer.body(body).unwrap())
        }) as Exchange
    })
}

struct Rp {
    client: Client,
    http: Transport,
    clock: ManualClock,
    issuer: String,
}

/// Discovers the provider and builds the client from what it published, as an app would.
async fn relying_party(server: &TestServer) -> Rp {
    let http = transport();
    let issuer = IssuerUrl::new(server.base.clone()).unwrap();
    let meta = Metadata::discover_async(issuer, &http)
        .await
        .expect("openidconnect accepts the discovery document and the JWKS");
    let more = meta.additional_metadata().clone();
    let token_url = meta.token_endpoint().cloned().expect("a token endpoint");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("app".into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
    .set_token_uri(TokenUrl::new(token_url.to_string()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(more.introspection_endpoint).unwrap())
    .set_revocation_url(
        RevocationUrl::new(more.revocation_endpoint.replacen("http://", "https://", 1)).unwrap(),
    );
    Rp {
        client,
        http,
        clock: server.clock.clone(),
        issuer: server.base.clone(),
    }
}

/// What the app asks for in one authorization request.
#[derive(Default)]
struct Ask<'a> {
    max_age: Option<u64>,
    prompt_login: bool,
    acr_values: &'a [&'a str],
    claims: Option<Value>,
    scopes: &'a [&'a str],
}

/// An authorization error response (OpenID Connect Core §3.1.2.6), its code parsed into
/// the library's type (an unknown code is `Extension`).
#[derive(Debug, Deserialize)]
struct AuthError {
    error: CoreAuthErrorResponseType,
    error_description: Option<String>,
}

/// One authorization request in flight: the URL and what the app keeps to check the answer.
struct Pending {
    url: url::Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: openidconnect::PkceCodeVerifier,
}

impl Rp {
    fn authorize(&self, ask: &Ask<'_>) -> Pending {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        let scopes: &[&str] = if ask.scopes.is_empty() {
            &["email", "offline_access"]
        } else {
            ask.scopes
        };
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).into()));
        }
        if let Some(age) = ask.max_age {
            request = request.set_max_age(Duration::from_secs(age));
        }
        if ask.prompt_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        for acr in ask.acr_values {
            request =
                request.add_auth_context_value(AuthenticationContextClass::new((*acr).into()));
        }
        if let Some(claims) = &ask.claims {
            // No typed API for the `claims` request parameter in the crate.
            request = request.add_extra_param("claims", claims.to_string());
        }
        let (url, state, nonce) = request.url();
        Pending {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// The redirect back to the app: checks `state` and `iss` (RFC 9207) as an app does
    /// and returns the code, or the error the library parses.
    fn callback(
        &self,
        pending: &Pending,
        params: &HashMap<String, String>,
    ) -> Result<AuthorizationCode, AuthError> {
        assert_eq!(params.get("state"), Some(pending.state.secret()), "state");
        assert_eq!(params.get("iss"), Some(&self.issuer), "iss (RFC 9207)");
        if params.contains_key("error") {
            let as_json: serde_json::Map<String, Value> = params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            return Err(serde_json::from_value(Value::Object(as_json))
                .expect("an RFC 6749 §4.1.2.1 error the library parses"));
        }
        Ok(AuthorizationCode::new(params["code"].clone()))
    }

    async fn exchange(&self, pending: Pending, code: AuthorizationCode) -> CoreTokenResponse {
        self.client
            .exchange_code(code)
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .expect("the token endpoint answers the code")
    }

    /// The library's ID-token verifier on the server's (manual) clock.
    fn verifier(&self) -> openidconnect::IdTokenVerifier<'_, CoreJsonWebKey> {
        let clock = self.clock.clone();
        self.client
            .id_token_verifier()
            .set_time_fn(move || DateTime::<Utc>::from_timestamp(clock.now(), 0).unwrap())
    }

    /// The same, with the `auth_time` hook enforcing `max_age` (OpenID Connect Core
    /// §3.1.3.7 item 13) on the server's clock.
    fn verifier_with_max_age(
        &self,
        max_age: i64,
    ) -> openidconnect::IdTokenVerifier<'_, CoreJsonWebKey> {
        let clock = self.clock.clone();
        self.verifier()
            .set_auth_time_verifier_fn(move |auth_time: Option<DateTime<Utc>>| {
                let at = auth_time.ok_or_else(|| "no auth_time".to_owned())?;
                let age = clock.now() - at.timestamp();
                if age > max_age {
                    Err(format!("authenticated {age} s ago, max_age is {max_age}"))
                } else {
                    Ok(())
                }
            })
    }
}

/// The `acr` hook: at least `urn:reverify:acr:mfa` (the provider's ordered values).
fn require_mfa(acr: Option<&AuthenticationContextClass>) -> Result<(), String> {
    match acr.map(|a| a.as_str()) {
        Some(MFA) | Some("phr") => Ok(()),
        other => Err(format!("acr {other:?} is weaker than {MFA}")),
    }
}

fn payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

// ---- The provider, the browser and the user ---------------------------------------------

fn app_client() -> OidcClientConfig {
    let mut app = crate::oidc::config_client("app", SECRET);
    app.name = "An app using openidconnect".into();
    app.redirect_uris = vec![REDIRECT.into()];
    app.first_party = true;
    app
}

async fn provider(db: TestDb) -> TestServer {
    let url = db.url.clone();
    TestServer::start_with(db, |c| {
        c.database.url = url;
        c.oidc.enabled = true;
        c.oidc.clients = vec![app_client()];
    })
    .await
}

/// Enrolls an authenticator app for `email` in another session (a phone), so that the
/// browser's session keeps a first factor only (`acr` 1fa) until it steps up.
async fn authenticator_elsewhere(server: &TestServer, email: &str) -> String {
    let (phone, status, body) = sign_in(server, email, PASSWORD).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("complete")),
        "{body}"
    );
    enroll_totp(server, &phone).await.0
}

/// Where the browser lands after following an authorization URL.
enum Landing {
    /// Back at the app with these query parameters.
    App(HashMap<String, String>),
    /// The provider's page waits for the user: what it needs, at which level, and where
    /// the browser goes once done.
    Page {
        need: String,
        level: String,
        continue_url: String,
    },
}

fn attr(html: &str, name: &str) -> String {
    html.split(&format!("{name}=\""))
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
        .unwrap_or_default()
}

async fn visit(server: &TestServer, b: &reqwest::Client, url: &str) -> Landing {
    let url = if url.starts_with('/') {
        server.url(url)
    } else {
        url.to_owned()
    };
    let r = b.get(url).send().await.unwrap();
    match r.status().as_u16() {
        302 | 303 => {
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with(REDIRECT), "{location}");
            let at = url::Url::parse(&location).unwrap();
            Landing::App(at.query_pairs().into_owned().collect())
        }
        200 => {
            let html = r.text().await.unwrap();
            Landing::Page {
                need: attr(&html, "data-need"),
                level: attr(&html, "data-level"),
                continue_url: attr(&html, "data-continue"),
            }
        }
        other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
    }
}

fn back_at_app(landing: Landing) -> HashMap<String, String> {
    match landing {
        Landing::App(params) => params,
        Landing::Page { need, .. } => panic!("the provider's page waits ({need})"),
    }
}

/// The user completes a verification in the current session, as the modal does: the
/// password for `first_factor`, the authenticator app for `second_factor` /
/// `multi_factor` (which, for a session that has a first factor, asks the second).
async fn reverify(server: &TestServer, b: &reqwest::Client, level: &str, totp: Option<&str>) {
    let v = start_verification(server, b, level).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let mut status_now = v["status"].as_str().unwrap_or_default().to_owned();
    for _ in 0..3 {
        let body = match status_now.as_str() {
            "needs_second_factor" => {
                next_step(server);
                json!({"strategy": "totp", "code": totp_now(server, totp.expect("a TOTP secret"))})
            }
            "complete" => return,
            _ => json!({"strategy": "password", "password": PASSWORD}),
        };
        let (status, done) = attempt(server, b, &id, body).await;
        assert_eq!(status, 200, "{done}");
        // A step's answer has `status`; the last one the completed `verification`.
        let state = done["verification"]["status"]
            .as_str()
            .or(done["status"].as_str());
        status_now = state.unwrap_or_default().to_owned();
        if status_now == "complete" {
            return;
        }
    }
    panic!("the verification did not complete: {status_now}");
}

/// Follows `pending` in the browser; where the page waits for a reverification, the user
/// does it (checking the page asked for `expect_level`), then the browser continues.
async fn authorize_with_reverification(
    server: &TestServer,
    b: &reqwest::Client,
    pending: &Pending,
    expect_need: &str,
    expect_level: &str,
    totp: Option<&str>,
) -> HashMap<String, String> {
    let Landing::Page {
        need,
        level,
        continue_url,
    } = visit(server, b, pending.url.as_str()).await
    else {
        panic!("expected the provider's page to wait for {expect_need}");
    };
    assert_eq!((need.as_str(), level.as_str()), (expect_need, expect_level));
    // Not before the user did it.
    assert!(matches!(
        visit(server, b, &continue_url).await,
        Landing::Page { .. }
    ));
    server.clock.advance(Duration::from_secs(5));
    reverify(server, b, &level, totp).await;
    back_at_app(visit(server, b, &continue_url).await)
}

// ---- The tests --------------------------------------------------------------------------

/// Discovery, code + PKCE, ID-token verification (signature, iss, aud, exp, nonce, the
/// `auth_time` and `acr` hooks), userinfo, refresh with rotation, introspection and
/// revocation, all through `openidconnect`'s own requests and checks.
#[tokio::test]
async fn openidconnect_signs_in_refreshes_introspects_and_revokes() {
    for db in TestDb::all().await {
        let server = provider(db).await;
        let rp = relying_party(&server).await;
        let b = signed_in_browser(&server, "rp-olga@example.com").await;

        let pending = rp.authorize(&Ask::default());
        let query: HashMap<String, String> = pending.url.query_pairs().into_owned().collect();
        assert_eq!(query["code_challenge_method"], "S256");
        let params = back_at_app(visit(&server, &b, pending.url.as_str()).await);
        let code = rp.callback(&pending, &params).unwrap();
        let nonce = pending.nonce.clone();
        let tokens = rp.exchange(pending, code).await;
        let id_token = tokens.id_token().expect("an ID token");
        let verifier = rp
            .verifier_with_max_age(60)
            .set_auth_context_verifier_fn(|acr| match acr.map(|a| a.as_str()) {
                Some(ONE_FA) => Ok(()),
                other => Err(format!("{other:?}")),
            });
        let claims = id_token
            .claims(&verifier, &nonce)
            .expect("the library verifies the ID token");
        assert_eq!(claims.issuer().as_str(), server.base);
        assert_eq!(claims.audiences().len(), 1);
        assert_eq!(claims.audiences()[0].as_str(), "app");
        assert_eq!(
            claims.email().map(|e| e.as_str()),
            Some("rp-olga@example.com")
        );
        let sub = claims.subject().clone();
        let auth_time = claims.auth_time().unwrap().timestamp();
        assert!(server.clock.now() - auth_time <= 1, "just signed in");
        // A wrong nonce is refused by the library.
        assert!(matches!(
            id_token.claims(&rp.verifier(), &Nonce::new("other".into())),
            Err(ClaimsVerificationError::InvalidNonce(_))
        ));
        assert_eq!(tokens.token_type().as_ref(), "bearer");
        let scopes: Vec<String> = tokens
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(scopes.contains(&"offline_access".to_owned()), "{scopes:?}");

        // Userinfo, with the subject checked by the library.
        let info: openidconnect::core::CoreUserInfoClaims = rp
            .client
            .user_info(tokens.access_token().clone(), Some(sub.clone()))
            .unwrap()
            .request_async(&rp.http)
            .await
            .expect("userinfo");
        assert_eq!(info.subject(), &sub);

        // Introspection (RFC 7662) of the access token: active, with its claims.
        let seen = rp
            .client
            .introspect(tokens.access_token())
            .request_async(&rp.http)
            .await
            .expect("introspection");
        assert!(seen.active());
        assert_eq!(seen.client_id().map(|c| c.as_str()), Some("app"));
        assert_eq!(seen.sub(), Some(sub.as_str()));

        // Refresh: rotated; the ID token of a refresh keeps the authentication's facts.
        server.clock.advance(Duration::from_secs(30));
        let first_refresh = tokens.refresh_token().expect("offline_access").clone();
        let refreshed = rp
            .client
            .exchange_refresh_token(&first_refresh)
            .request_async(&rp.http)
            .await
            .expect("refresh");
        let second_refresh = refreshed.refresh_token().expect("rotated").clone();
        assert_ne!(second_refresh.secret(), first_refresh.secret());
        if let Some(id) = refreshed.id_token() {
            let claims = id
                .claims(&rp.verifier(), |_: Option<&Nonce>| Ok(()))
                .unwrap();
            assert_eq!(claims.auth_time().unwrap().timestamp(), auth_time);
            assert_eq!(claims.subject(), &sub);
        }

        // Revocation (RFC 7009) of the new access token: introspection then says inactive.
        rp.client
            .revoke_token(CoreRevocableToken::from(refreshed.access_token().clone()))
            .unwrap()
            .request_async(&rp.http)
            .await
            .expect("revocation");
        let seen = rp
            .client
            .introspect(refreshed.access_token())
            .request_async(&rp.http)
            .await
            .unwrap();
        assert!(!seen.active(), "revoked");

        // The rotated-out refresh token fails invalid_grant, which the library parses...
        let replay = rp
            .client
            .exchange_refresh_token(&first_refresh)
            .request_async(&rp.http)
            .await
            .unwrap_err();
        assert_eq!(oauth_error(&replay), "invalid_grant");
        // ... and its replay revoked the grant: the current one fails too.
        let after = rp
            .client
            .exchange_refresh_token(&second_refresh)
            .request_async(&rp.http)
            .await
            .unwrap_err();
        assert_eq!(oauth_error(&after), "invalid_grant");

        // A second sign-in; its refresh token revoked through the library, then refused.
        let pending = rp.authorize(&Ask::default());
        let params = back_at_app(visit(&server, &b, pending.url.as_str()).await);
        let code = rp.callback(&pending, &params).unwrap();
        let tokens = rp.exchange(pending, code).await;
        let refresh = tokens.refresh_token().unwrap().clone();
        rp.client
            .revoke_token(CoreRevocableToken::from(refresh.clone()))
            .unwrap()
            .request_async(&rp.http)
            .await
            .expect("revocation of a refresh token");
        let refused = rp
            .client
            .exchange_refresh_token(&refresh)
            .request_async(&rp.http)
            .await
            .unwrap_err();
        assert_eq!(oauth_error(&refused), "invalid_grant");
        server.stop().await;
    }
}

/// The RFC 6749 `error` of a token-endpoint failure, as the library parsed it.
fn oauth_error<E: std::error::Error + 'static>(
    e: &RequestTokenError<E, StandardErrorResponse<openidconnect::core::CoreErrorResponseType>>,
) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => r.error().as_ref().to_owned(),
        other => panic!("not an OAuth error response: {other:?}"),
    }
}

/// `max_age`, `prompt=login`, `acr_values` and an essential `acr` in `claims`, each through
/// the library: the provider's page waits, the user reverifies in the same session, and
/// the library's `auth_time` / `acr` hooks accept the new ID token (and refuse the old).
#[tokio::test]
async fn openidconnect_steps_up_in_the_same_session() {
    let server = provider(TestDb::sqlite().await).await;
    let rp = relying_party(&server).await;
    let b = signed_in_browser(&server, "rp-step@example.com").await;
    let totp = authenticator_elsewhere(&server, "rp-step@example.com").await;

    let pending = rp.authorize(&Ask::default());
    let params = back_at_app(visit(&server, &b, pending.url.as_str()).await);
    let code = rp.callback(&pending, &params).unwrap();
    let nonce = pending.nonce.clone();
    let first = rp.exchange(pending, code).await;
    let first_id = first.id_token().unwrap().clone();
    let signed_in_at = first_id
        .claims(&rp.verifier(), &nonce)
        .unwrap()
        .auth_time()
        .unwrap()
        .timestamp();
    let sid = payload(&first_id.to_string())["sid"].clone();
    assert!(sid.is_string());
    // The authenticator app enrolled on the phone is no second factor of this session: the
    // token says 1fa, which the library's acr hook refuses for mfa.
    assert_eq!(payload(&first_id.to_string())["acr"], ONE_FA);
    assert!(matches!(
        first_id.claims(
            &rp.verifier().set_auth_context_verifier_fn(require_mfa),
            &nonce
        ),
        Err(ClaimsVerificationError::InvalidAuthContext(_))
    ));

    // max_age: two minutes later (the ID token not expired yet: the hook is what refuses
    // it), the session is too old for max_age=60.
    server.clock.advance(Duration::from_secs(120));
    assert!(matches!(
        first_id.claims(&rp.verifier_with_max_age(60), &nonce),
        Err(ClaimsVerificationError::InvalidAuthTime(_))
    ));
    let pending = rp.authorize(&Ask {
        max_age: Some(60),
        ..Ask::default()
    });
    let params =
        authorize_with_reverification(&server, &b, &pending, "reverify", "first_factor", None)
            .await;
    let code = rp.callback(&pending, &params).unwrap();
    let nonce = pending.nonce.clone();
    let tokens = rp.exchange(pending, code).await;
    let id = tokens.id_token().unwrap();
    let claims = id
        .claims(&rp.verifier_with_max_age(60), &nonce)
        .expect("fresh enough for the library's auth_time hook");
    let reverified_at = claims.auth_time().unwrap().timestamp();
    assert!(reverified_at > signed_in_at);
    assert_eq!(payload(&id.to_string())["sid"], sid, "the same session");

    // prompt=login: a new verification even though the session is fresh.
    server.clock.advance(Duration::from_secs(10));
    let pending = rp.authorize(&Ask {
        prompt_login: true,
        ..Ask::default()
    });
    let params =
        authorize_with_reverification(&server, &b, &pending, "reverify", "first_factor", None)
            .await;
    let code = rp.callback(&pending, &params).unwrap();
    let nonce = pending.nonce.clone();
    let tokens = rp.exchange(pending, code).await;
    let id = tokens.id_token().unwrap();
    let claims = id.claims(&rp.verifier(), &nonce).unwrap();
    assert!(claims.auth_time().unwrap().timestamp() > reverified_at);
    assert_eq!(payload(&id.to_string())["sid"], sid);
    // The session has a first factor only so far: the library's acr hook says no.
    assert!(matches!(
        id.claims(
            &rp.verifier().set_auth_context_verifier_fn(require_mfa),
            &nonce
        ),
        Err(ClaimsVerificationError::InvalidAuthContext(_))
    ));

    // acr_values=mfa: the page asks for the missing second factor only (TOTP), in the same
    // session.
    let pending = rp.authorize(&Ask {
        acr_values: &[MFA],
        ..Ask::default()
    });
    let params = authorize_with_reverification(
        &server,
        &b,
        &pending,
        "step_up",
        "second_factor",
        Some(&totp),
    )
    .await;
    let code = rp.callback(&pending, &params).unwrap();
    let nonce = pending.nonce.clone();
    let tokens = rp.exchange(pending, code).await;
    let id = tokens.id_token().unwrap();
    let claims = id
        .claims(
            &rp.verifier().set_auth_context_verifier_fn(require_mfa),
            &nonce,
        )
        .expect("the library's acr hook accepts mfa");
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), MFA);
    assert_eq!(payload(&id.to_string())["sid"], sid);
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert!(amr.contains(&"otp".to_owned()), "{amr:?}");

    // The claims parameter, essential mfa: the session has it now, a code at once.
    let essential_mfa = json!({"id_token": {"acr": {"essential": true, "values": [MFA]}}});
    let pending = rp.authorize(&Ask {
        claims: Some(essential_mfa),
        ..Ask::default()
    });
    let params = back_at_app(visit(&server, &b, pending.url.as_str()).await);
    let code = rp.callback(&pending, &params).unwrap();
    let nonce = pending.nonce.clone();
    let tokens = rp.exchange(pending, code).await;
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(
            &rp.verifier().set_auth_context_verifier_fn(require_mfa),
            &nonce,
        )
        .unwrap();
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), MFA);

    // Essential phr, and this user has no passkey: unmet_authentication_requirements (an
    // extension error code the library's type carries as such).
    let essential_phr = json!({"id_token": {"acr": {"essential": true, "values": ["phr"]}}});
    let pending = rp.authorize(&Ask {
        claims: Some(essential_phr),
        ..Ask::default()
    });
    let params = back_at_app(visit(&server, &b, pending.url.as_str()).await);
    let error = rp.callback(&pending, &params).unwrap_err();
    assert_eq!(
        error.error,
        CoreAuthErrorResponseType::Extension("unmet_authentication_requirements".into())
    );
    assert!(error.error_description.is_some());
    server.stop().await;
}

// ---- The RFC 9470 loop ------------------------------------------------------------------

mod resource {
    //! An API protected by the Rust SDK's access-token verification, as an app's own
    //! resource server would be.
    use axum::Router;
    use axum::routing::get;
    use reverify::AccessToken;
    use reverify::axum::{AccessTokenLayer, MaxAge, Mfa, SteppedUp};

    /// Any valid access token for the app.
    async fn profile(token: AccessToken) -> String {
        format!("profile of {}", token.user_id())
    }

    /// Authenticated within the last minute.
    async fn payments(SteppedUp(token, ..): SteppedUp<MaxAge<60>>) -> String {
        format!("payments of {}", token.user_id())
    }

    /// A multi-factor authentication, within the last ten minutes.
    async fn vault(SteppedUp(token, ..): SteppedUp<(MaxAge<600>, Mfa)>) -> String {
        format!("vault of {}", token.user_id())
    }

    /// The `email` scope.
    async fn mail(token: AccessToken) -> Result<String, reverify::Error> {
        token.require_scopes(&["email"])?;
        Ok(format!("mail of {}", token.user_id()))
    }

    pub fn app(verifier: reverify::AccessTokenVerifier) -> Router {
        Router::new()
            .route("/profile", get(profile))
            .route("/payments", get(payments))
            .route("/vault", get(vault))
            .route("/mail", get(mail))
            .layer(AccessTokenLayer::new(verifier))
    }
}

/// Serves the resource server on 127.0.0.1:0; returns its base URL.
async fn serve_resource(server: &TestServer) -> String {
    let verifier = reverify::Verifier::builder(server.base.clone())
        .jwks_url(server.url("/.well-known/jwks.json"))
        .clock(server.clock.clone())
        .build()
        .unwrap()
        .access_tokens("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, resource::app(verifier))
            .await
            .unwrap();
    });
    base
}

/// Calls the API: status, `WWW-Authenticate`, body.
async fn call(api: &str, path: &str, token: &AccessToken) -> (u16, Option<String>, Value) {
    let r = crate::support::http_client(false)
        .get(format!("{api}{path}"))
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = crate::support::status_json(r).await;
    (status, challenge, body)
}

/// The client's side of RFC 9470: parse the challenge, ask the provider for exactly that.
fn ask_for(challenge: &reverify::StepUpChallenge) -> (Option<u64>, Vec<String>) {
    (challenge.max_age, challenge.acr_values.clone())
}

#[tokio::test]
async fn the_rfc_9470_loop_with_openidconnect_and_the_rust_sdk() {
    let server = provider(TestDb::sqlite().await).await;
    let api = serve_resource(&server).await;
    let rp = relying_party(&server).await;
    let b = signed_in_browser(&server, "rp-9470@example.com").await;
    let totp = authenticator_elsewhere(&server, "rp-9470@example.com").await;

    let pending = rp.authorize(&Ask::default());
    let params = back_at_app(visit(&server, &b, pending.url.as_str()).await);
    let code = rp.callback(&pending, &params).unwrap();
    let tokens = rp.exchange(pending, code).await;
    let access = tokens.access_token().clone();
    let sid = payload(&tokens.id_token().unwrap().to_string())["sid"].clone();
    let (status, _, body) = call(&api, "/payments", &access).await;
    assert_eq!(status, 200, "fresh: {body}");

    // Two minutes later (the access token still valid): too old for /payments.
    server.clock.advance(Duration::from_secs(120));
    let (status, _, _) = call(&api, "/profile", &access).await;
    assert_eq!(status, 200);
    let (status, header, body) = call(&api, "/payments", &access).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "insufficient_user_authentication");
    let header = header.expect("a WWW-Authenticate challenge");
    assert!(
        header.starts_with("Bearer ")
            && header.contains("error=\"insufficient_user_authentication\"")
            && header.contains("max_age=60"),
        "{header}"
    );
    let challenge = reverify::StepUpChallenge::from_www_authenticate(&header).unwrap();
    let (max_age, acr_values) = ask_for(&challenge);
    assert_eq!(max_age, Some(60));
    let acr_refs: Vec<&str> = acr_values.iter().map(String::as_str).collect();
    let pending = rp.authorize(&Ask {
        max_age,
        acr_values: &acr_refs,
        ..Ask::default()
    });
    let params =
        authorize_with_reverification(&server, &b, &pending, "reverify", "first_factor", None)
            .await;
    let code = rp.callback(&pending, &params).unwrap();
    let tokens = rp.exchange(pending, code).await;
    assert_eq!(
        payload(&tokens.id_token().unwrap().to_string())["sid"],
        sid,
        "reverified in place"
    );
    let stepped_up = tokens.access_token().clone();
    let (status, _, body) = call(&api, "/payments", &stepped_up).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.as_str().unwrap().starts_with("payments of "), "{body}");

    // The acr case: /vault needs mfa, the session has a password only.
    let (status, header, body) = call(&api, "/vault", &stepped_up).await;
    assert_eq!(status, 401, "{body}");
    let header = header.unwrap();
    assert!(header.contains(&format!("acr_values=\"{MFA}")), "{header}");
    let challenge = reverify::StepUpChallenge::from_www_authenticate(&header).unwrap();
    let (max_age, acr_values) = ask_for(&challenge);
    // The required class and every stronger one (design note 46).
    assert_eq!(max_age, Some(600));
    assert_eq!(
        acr_values.first().map(String::as_str),
        Some(MFA),
        "{acr_values:?}"
    );
    let acr_refs: Vec<&str> = acr_values.iter().map(String::as_str).collect();
    let pending = rp.authorize(&Ask {
        max_age,
        acr_values: &acr_refs,
        ..Ask::default()
    });
    let params = authorize_with_reverification(
        &server,
        &b,
        &pending,
        "step_up",
        "second_factor",
        Some(&totp),
    )
    .await;
    let code = rp.callback(&pending, &params).unwrap();
    let tokens = rp.exchange(pending, code).await;
    assert_eq!(payload(&tokens.id_token().unwrap().to_string())["sid"], sid);
    let (status, _, body) = call(&api, "/vault", tokens.access_token()).await;
    assert_eq!(status, 200, "{body}");

    // Scope: a token without `email` gets 403 insufficient_scope from /mail.
    let pending = rp.authorize(&Ask {
        scopes: &["offline_access"],
        ..Ask::default()
    });
    let params = back_at_app(visit(&server, &b, pending.url.as_str()).await);
    let code = rp.callback(&pending, &params).unwrap();
    let narrow = rp.exchange(pending, code).await;
    let (status, header, body) = call(&api, "/mail", narrow.access_token()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(
        header.unwrap().contains("error=\"insufficient_scope\""),
        "RFC 6750 §3.1"
    );
    let (status, _, _) = call(&api, "/mail", tokens.access_token()).await;
    assert_eq!(status, 200);
    // Not a token at all, and an ID token as a bearer: 401.
    let (status, _, _) = call(&api, "/profile", &AccessToken::new("x".into())).await;
    assert_eq!(status, 401);
    let id_as_access = AccessToken::new(tokens.id_token().unwrap().to_string());
    let (status, _, body) = call(&api, "/profile", &id_as_access).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_type_invalid"))
    );
    server.stop().await;
}
