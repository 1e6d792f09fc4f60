//! Configuration: one documented struct, read from a TOML file and `REVERIFY_*`
//! environment variables (`REVERIFY_<SECTION>_<KEY>`, e.g. `REVERIFY_DATABASE_URL`), the
//! environment winning. Every key, its default and its meaning are listed in
//! `docs/configuration.md`; a test keeps that page and [`Config::default`] in agreement.
//!
//! Options that weaken security are named so (`insecure_...`, `danger_...`).

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The product the sign-in screens name (`GET /v1/environment`).
    pub app: AppConfig,
    /// HTTP listener and public identity.
    pub server: ServerConfig,
    /// Where state lives.
    pub database: DatabaseConfig,
    /// Session lifetimes and cookies.
    pub sessions: SessionConfig,
    /// Password policy and hashing cost.
    pub passwords: PasswordConfig,
    /// Email delivery of one-time codes.
    pub email: EmailConfig,
    /// The admin API.
    pub admin: AdminConfig,
    /// Signing keys.
    pub keys: KeyConfig,
    /// Reverification: the verification flow and the server's own sensitive endpoints.
    pub reverification: ReverificationConfig,
    /// Temporary lockout after repeated wrong secrets on one account.
    pub lockout: LockoutConfig,
    /// Per-IP rate limits.
    pub ratelimit: RateLimitConfig,
    /// TOTP authenticator apps.
    pub totp: TotpConfig,
    /// WebAuthn passkeys.
    pub passkeys: PasskeyConfig,
    /// The OpenID Connect provider (`docs/oidc.md`).
    pub oidc: OidcConfig,
}

/// `[oidc]`: Reverify as an OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Serve the OpenID provider (discovery, authorization, token endpoints) and keep an
    /// RS256 key for its tokens in the JWKS.
    pub enabled: bool,
    /// Lifetime of ID tokens, in seconds.
    pub id_token_lifetime_secs: i64,
    /// Lifetime of access tokens (RFC 9068 JWTs), in seconds: short, they cannot be
    /// recalled from a resource server that verifies them offline.
    pub access_token_lifetime_secs: i64,
    /// Lifetime of refresh tokens, in seconds (each use rotates it).
    pub refresh_token_lifetime_secs: i64,
    /// Clients registered by the configuration file (`[[oidc.clients]]`), rewritten in
    /// the database at every start; the admin API and the CLI register others.
    pub clients: Vec<OidcClientConfig>,
    /// The provider's hosted pages' theme: custom properties of the browser SDK's elements
    /// (`"--reverify-accent" = "#0f766e"`), served as `/oauth/hosted.css`. Empty: the
    /// elements' defaults.
    pub theme: std::collections::BTreeMap<String, String>,
}

/// The elements' theme variables (`js/src/ui/css.js`), which `oidc.theme` may set.
pub const THEME_PROPERTIES: &[&str] = &[
    "--reverify-accent",
    "--reverify-accent-text",
    "--reverify-bg",
    "--reverify-text",
    "--reverify-muted",
    "--reverify-border",
    "--reverify-error",
    "--reverify-success",
    "--reverify-radius",
    "--reverify-font",
    "--reverify-width",
    "--reverify-shadow",
    "--reverify-card-border",
    "--reverify-card-padding",
    "--reverify-backdrop",
];

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            enabled: false,
            id_token_lifetime_secs: 300,
            access_token_lifetime_secs: 300,
            refresh_token_lifetime_secs: 30 * 86_400,
            clients: Vec::new(),
            theme: std::collections::BTreeMap::new(),
        }
    }
}

impl OidcConfig {
    /// The longest lifetime of the provider's signed tokens (how long a retired key of
    /// theirs stays published).
    pub fn longest_token_lifetime(&self) -> i64 {
        self.id_token_lifetime_secs
            .max(self.access_token_lifetime_secs)
    }
}

/// One `[[oidc.clients]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcClientConfig {
    /// The client id (letters, digits, `.`, `_`, `-`; 1 to 128).
    pub client_id: String,
    /// A name for people (consent screen, admin API); empty: the client id.
    #[serde(default)]
    pub name: String,
    /// The secret of a confidential client (at least 32 characters, as strong as an
    /// admin key; stored hashed). Empty: a public client, which must use PKCE.
    #[serde(default)]
    pub client_secret: String,
    /// `client_secret_basic` (default for confidential clients), `client_secret_post`, or
    /// `none` (public clients).
    #[serde(default)]
    pub token_endpoint_auth_method: String,
    /// The exact redirect URIs (compared byte for byte).
    pub redirect_uris: Vec<String>,
    /// The exact URIs RP-initiated logout may return to.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes it may ask for; empty: `openid email offline_access`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A first-party client: no consent screen.
    #[serde(default)]
    pub first_party: bool,
    /// The ID token's algorithm: `RS256` (empty: the default), `EdDSA` or `ES256`.
    #[serde(default)]
    pub id_token_signed_response_alg: String,
    /// The resource indicators (RFC 8707) it may ask access tokens for: absolute URIs
    /// without fragment; an access token asked for one has it as its `aud`.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// `[app]`: what the browser UI shows of the product (`GET /v1/environment`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// The product's name on the sign-in and verification screens (empty: `totp.issuer`,
    /// the name authenticator apps show, so both agree; see [`Config::app_name`]).
    pub name: String,
    /// The product's logo: an `https://` URL or a path on the page's origin (`/logo.svg`);
    /// empty: no logo.
    pub logo_url: String,
}

impl AppConfig {
    /// The logo URL, if one is set: an `https://` URL with a host, or a root-relative
    /// path (`/…`, not `//…`, which is another host); anything else is invalid.
    pub fn logo_url(&self) -> Result<Option<&str>, ConfigError> {
        let url = self.logo_url.as_str();
        if url.is_empty() {
            return Ok(None);
        }
        let printable = url.chars().all(|c| c.is_ascii_graphic());
        let https = url.starts_with("https://")
            && url::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
        let root_relative = url.starts_with('/') && !url.starts_with("//") && !url.contains('\\');
        if printable && (https || root_relative) {
            Ok(Some(url))
        } else {
            Err(ConfigError::Invalid(format!(
                "app.logo_url must be an https:// URL or a path starting with / (such as \
                 /logo.svg), not {url:?}"
            )))
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The public URL of the auth server: the `iss` of its tokens, the base of its JWKS URL.
    pub public_url: String,
    /// Browser origins allowed to call the API cross-origin (CORS, with credentials).
    pub allowed_origins: Vec<String>,
    /// Removed: it took the client IP from the *leftmost* `X-Forwarded-For` entry, which
    /// the client writes. `true` stops the server at start with a message naming
    /// `trusted_proxy_hops` and `trusted_proxies`, which replace it.
    pub trust_proxy_headers: bool,
    /// How many proxies of yours stand in front of the server, each appending the address
    /// it saw to `X-Forwarded-For`: the client IP is the entry this many from the right
    /// (0: ignore the header; use the socket's address). Only when the server cannot be
    /// reached except through those proxies.
    pub trusted_proxy_hops: u32,
    /// Addresses or CIDR ranges of your proxies (`10.0.0.0/8`, `2001:db8::/32`,
    /// `192.0.2.7`). When the socket peer is one of them, `X-Forwarded-For` is read from
    /// the right, skipping these addresses, and the first other address is the client IP.
    /// Exclusive with `trusted_proxy_hops`.
    pub trusted_proxies: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// Which `X-Forwarded-For` entries to believe; refuses the removed `trust_proxy_headers` with what to set instead.
    pub fn trusted_proxies(&self) -> Result<crate::proxy::TrustedProxies, ConfigError> {
        let server = self;
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if server.trust_proxy_headers {
            return invalid(
                "server.trust_proxy_headers is no longer supported: it took the client's \
                 address from the leftmost X-Forwarded-For entry, which the client itself \
                 writes. Remove it and set server.trusted_proxy_hops to the number of your \
                 proxies in front of Reverify (1 for a single nginx or load balancer), or \
                 server.trusted_proxies to their addresses (e.g. [\"10.0.0.0/8\"])"
                    .into(),
            );
        }
        match (server.trusted_proxy_hops, server.trusted_proxies.as_slice()) {
            (0, []) => Ok(crate::proxy::TrustedProxies::None),
            (hops, []) => Ok(crate::proxy::TrustedProxies::Hops(hops)),
            (0, networks) => networks
                .iter()
                .map(|n| crate::proxy::Network::parse(n))
                .collect::<Result<Vec<_>, _>>()
                .map(crate::proxy::TrustedProxies::Networks)
                .or_else(|e| invalid(format!("server.trusted_proxies: {e}"))),
            _ => {
                invalid("set server.trusted_proxy_hops or server.trusted_proxies, not both".into())
            }
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://localhost:8080".into(),
            allowed_origins: Vec::new(),
            trust_proxy_headers: false,
            trusted_proxy_hops: 0,
            trusted_proxies: Vec::new(),
            max_body_bytes: 64 * 1024,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://reverify.sqlite` (created on first start) or `postgres://user@host/db`.
    pub url: String,
    /// Connections in the pool (PostgreSQL; SQLite uses one writer and this many readers).
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://reverify.sqlite".into(),
            max_connections: 8,
        }
    }
}

/// `[sessions]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// A session not used for this long ends (NIST 800-63B-4 AAL2: 1 hour).
    pub idle_timeout_secs: i64,
    /// A session ends this long after sign-in, however active (AAL2: 24 hours).
    pub absolute_lifetime_secs: i64,
    /// Lifetime of session tokens (JWTs).
    pub token_lifetime_secs: i64,
    /// The claim set of session tokens: `reverify`, or `clerk_v2` (the reference's
    /// version-2 session claims besides Reverify's, signed with RS256, so that the
    /// reference's own backend SDKs accept them; see [`TokenFormat`]).
    pub token_format: TokenFormat,
    /// How long an instance may reuse a session row it read, in seconds (0: always read the
    /// database). On PostgreSQL, revocations reach other instances at once by `NOTIFY`;
    /// this is the backstop, and the bound for several processes on one SQLite file.
    pub cache_ttl_secs: i64,
    /// Name of the opaque, HttpOnly session cookie. With `Secure` cookies (the default) it
    /// gets the `__Host-` prefix (`__Host-reverify_session`): browsers then refuse the
    /// cookie from a subdomain or over plain HTTP, so no one can plant a session in it.
    pub cookie_name: String,
    /// Omit the `Secure` flag on cookies, for plain-HTTP development only.
    pub insecure_cookies: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout_secs: 3600,
            absolute_lifetime_secs: 86_400,
            token_lifetime_secs: 60,
            token_format: TokenFormat::Reverify,
            cache_ttl_secs: 300,
            cookie_name: "reverify_session".into(),
            insecure_cookies: false,
        }
    }
}

/// The claim set of session tokens (`sessions.token_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// Reverify's claims (`iss sub sid iat nbf exp jti fva fvt auth_time amr`, `azp`).
    Reverify,
    /// The same plus the reference's version-2 session claims (`v: 2`, `sts: "active"`),
    /// signed with RS256 (the only algorithm the reference's SDKs verify): its Node, Go
    /// and Ruby SDKs verify these tokens with the server's public key and read `fva`.
    ClerkV2,
}

/// A signing algorithm of session tokens (`keys.algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// Ed25519 (the default).
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
}

impl SigningAlgorithm {
    /// The JWS `alg` name, as stored in the keys table.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::EdDSA => "EdDSA",
            SigningAlgorithm::RS256 => "RS256",
        }
    }
}

/// `[passwords]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// Shortest accepted password, in characters (NIST: at least 8).
    pub min_length: usize,
    /// Longest accepted password, in bytes (hashing cost is bounded anyway).
    pub max_length: usize,
    /// Argon2id memory cost in KiB (OWASP: 19 MiB).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; 0 = one per CPU core.
    pub max_concurrent_hashes: usize,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            min_length: 8,
            max_length: 256,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 0,
        }
    }
}

/// How emails leave the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailMode {
    /// `dev` when `server.public_url` is a localhost URL; anywhere else the server refuses
    /// to start (codes must be delivered, or the choice to publish them made explicitly).
    Auto,
    /// Deliver over SMTP.
    Smtp,
    /// Development: do not send; log codes and keep them in the dev outbox, which shows
    /// them to anyone who can reach the server. On a public URL that is not localhost it
    /// also needs `email.danger_dev_outbox = true`.
    Dev,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Implicit TLS (port 465).
    Tls,
    /// STARTTLS, required (port 587).
    Starttls,
    /// Plain text: only for a relay on localhost or in tests.
    InsecurePlaintext,
}

/// `[email]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `auto`, `smtp` or `dev` (see [`EmailMode`]; [`Config::email_mode`] resolves `auto`).
    pub mode: EmailMode,
    /// Serve the dev outbox (every message, with its one-time code, at `/v1/dev/outbox`)
    /// where it would otherwise be refused: in `smtp` mode, or in `dev` mode on a public
    /// URL that is not localhost. Never in production: it exposes one-time codes.
    pub danger_dev_outbox: bool,
    /// The `From` address.
    pub from: String,
    /// SMTP host.
    pub smtp_host: String,
    /// SMTP port.
    pub smtp_port: u16,
    /// `tls`, `starttls` or `insecure_plaintext`.
    pub smtp_security: SmtpSecurity,
    /// SMTP user name (empty: no authentication).
    pub smtp_username: String,
    /// SMTP password.
    pub smtp_password: String,
    /// How long an emailed code is valid, in seconds.
    pub code_ttl_secs: i64,
    /// Emails sent to one address per `recipient_window_secs`, across instances; more are
    /// not sent (sign-up and sign-in answer the same; a verification answers 429).
    pub max_per_recipient: i64,
    /// The window of `max_per_recipient`, in seconds.
    pub recipient_window_secs: i64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            mode: EmailMode::Auto,
            danger_dev_outbox: false,
            from: "Reverify <no-reply@localhost>".into(),
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: String::new(),
            smtp_password: String::new(),
            code_ttl_secs: 600,
            max_per_recipient: 5,
            recipient_window_secs: 900,
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Secret key for the admin API (`Authorization: Bearer <key>`). Empty: admin API off.
    /// At least 32 printable characters, not a repeated pattern (see
    /// [`crate::admin_key::weakness`]); `reverify admin-key generate` makes one.
    pub secret_key: String,
}

/// `[keys]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyConfig {
    /// A new key is published in the JWKS this long before it starts signing.
    pub publish_ahead_secs: i64,
    /// The algorithm of new signing keys: `EdDSA` or `RS256`; empty: `EdDSA`, or `RS256`
    /// with `sessions.token_format = "clerk_v2"` (which refuses `EdDSA`). Changing it is a
    /// rotation at the next start (see [`Config::signing_algorithm`]).
    pub algorithm: String,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            publish_ahead_secs: 600,
            algorithm: String::new(),
        }
    }
}

/// `[reverification]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReverificationConfig {
    /// The policy that protects the server's own sensitive endpoints (password change,
    /// factor changes, revoking other sessions, deleting the account): a preset name
    /// (`strict_mfa`, `strict`, `moderate`, `lax`) or a JSON object such as
    /// `{"level":"multi_factor","afterMinutes":5}`.
    pub sensitive_policy: String,
    /// How long a started verification can be completed, in seconds.
    pub verification_ttl_secs: i64,
    /// Wrong secrets allowed in one verification or one sign-in; then it is dead.
    pub max_attempts: i64,
    /// How long an approval (a verification completed for an action) can be used, in
    /// seconds. It is single-use, and only the token minted at completion carries it.
    pub approval_ttl_secs: i64,
}

impl Default for ReverificationConfig {
    fn default() -> Self {
        ReverificationConfig {
            sensitive_policy: "strict".into(),
            verification_ttl_secs: 600,
            max_attempts: 5,
            approval_ttl_secs: 120,
        }
    }
}

impl ReverificationConfig {
    /// The parsed `sensitive_policy`: exactly a preset name, or a custom policy's JSON
    /// object; anything else (a quoted name, a JSON string holding a policy) is invalid.
    pub fn policy(&self) -> Result<reverify::Policy, ConfigError> {
        self.sensitive_policy
            .parse::<reverify::Policy>()
            .map_err(|e| ConfigError::Invalid(format!("reverification.sensitive_policy: {e}")))
    }
}

/// `[lockout]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutConfig {
    /// Wrong secrets of one kind (password, email code, TOTP, backup code) on one account
    /// within `window_secs` that lock that kind of secret for `duration_secs`.
    pub max_failures: i64,
    /// The window failures are counted in, in seconds.
    pub window_secs: i64,
    /// How long a lockout lasts, in seconds.
    pub duration_secs: i64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            max_failures: 10,
            window_secs: 900,
            duration_secs: 900,
        }
    }
}

/// `[ratelimit]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sign-in and sign-up requests per client IP per minute (0: unlimited). Bursts up to
    /// this many are allowed.
    pub sign_in_per_minute: u32,
    /// Verification requests (start, prepare, attempt) per client IP per minute (0: unlimited).
    pub verification_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            sign_in_per_minute: 60,
            verification_per_minute: 120,
        }
    }
}

/// `[totp]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TotpConfig {
    /// The issuer name authenticator apps show next to the account.
    pub issuer: String,
}

impl Default for TotpConfig {
    fn default() -> Self {
        TotpConfig {
            issuer: "Reverify".into(),
        }
    }
}

/// `[passkeys]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasskeyConfig {
    /// The WebAuthn relying-party id: a registrable domain (empty: the host of
    /// `server.public_url`).
    pub rp_id: String,
    /// The name authenticators show.
    pub rp_name: String,
    /// Origins allowed to use passkeys (empty: `server.public_url` and
    /// `server.allowed_origins`).
    pub origins: Vec<String>,
}

impl Default for PasskeyConfig {
    fn default() -> Self {
        PasskeyConfig {
            rp_id: String::new(),
            rp_name: "Reverify".into(),
            origins: Vec::new(),
        }
    }
}

/// A configuration problem, with the key it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML or a value is invalid.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Environment variables that are not configuration keys: the config file, logging, the
/// CLI's password input, the test suite's settings (`REVERIFY_TEST_*`) and the demo app's
/// (`REVERIFY_DEMO_*`).
const NOT_KEYS: &[&str] = &[
    "REVERIFY_CONFIG",
    "REVERIFY_LOG",
    "REVERIFY_LOG_FORMAT",
    "REVERIFY_NEW_PASSWORD",
    // Read by the JavaScript server SDK (`@reverify/server/nextjs`): an app and its auth
    // server may share one environment (a `.env` file, a compose service's variables).
    "REVERIFY_ISSUER",
    "REVERIFY_JWKS_URL",
    "REVERIFY_AUTHORIZED_PARTIES",
    "REVERIFY_ALLOWED_ORIGINS",
];

fn is_config_variable(name: &str) -> bool {
    name.starts_with("REVERIFY_")
        && !NOT_KEYS.contains(&name)
        && !name.starts_with("REVERIFY_TEST_")
        && !name.starts_with("REVERIFY_DEMO_")
}

impl Config {
    /// Builds the relying party: `rp_id` defaults to the host of `server.public_url`, the
    /// origins to `server.public_url` and `server.allowed_origins`.
    pub(crate) fn relying_party(&self) -> Result<crate::relying_party::RelyingParty, ConfigError> {
        let config = self;
        let invalid = |m: String| ConfigError::Invalid(m);
        let rp_id = if config.passkeys.rp_id.trim().is_empty() {
            url::Url::parse(&config.server.public_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .ok_or_else(|| {
                    invalid("server.public_url has no host to use as passkeys.rp_id".into())
                })?
        } else {
            config.passkeys.rp_id.trim().to_ascii_lowercase()
        };
        if rp_id.contains(['/', ':', ' ', '@']) {
            return Err(invalid(format!(
                "passkeys.rp_id must be a domain such as example.com, not {rp_id:?}"
            )));
        }
        let (key, raw): (&str, Vec<&str>) = if config.passkeys.origins.is_empty() {
            let mut all = vec![config.server.public_url.as_str()];
            all.extend(config.server.allowed_origins.iter().map(String::as_str));
            ("server.public_url / server.allowed_origins", all)
        } else {
            (
                "passkeys.origins",
                config.passkeys.origins.iter().map(String::as_str).collect(),
            )
        };
        let mut origins = Vec::with_capacity(raw.len());
        for origin in raw {
            let url = url::Url::parse(origin.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| invalid(format!("{key}: {origin:?} is not an http(s) origin")))?;
            // Only scheme, host and port take part in the comparison.
            let url = url::Url::parse(&url.origin().ascii_serialization())
                .map_err(|e| invalid(format!("{key}: {origin:?}: {e}")))?;
            if !origins.contains(&url) {
                origins.push(url);
            }
        }
        let name = match config.passkeys.rp_name.trim() {
            "" => "Reverify",
            name => name,
        };
        Ok(crate::relying_party::RelyingParty::new(
            name, &rp_id, origins,
        ))
    }

    /// Reads `path` (if given) and overlays `REVERIFY_*` variables from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        // The defaults tell each key's type, so that `REVERIFY_EMAIL_SMTP_PASSWORD=123456`
        // stays a string and a typo in a variable name is an error, not a silent no-op.
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for (name, value) in env {
            if !is_config_variable(&name) {
                continue;
            }
            let lower = name["REVERIFY_".len()..].to_ascii_lowercase();
            let unknown = || ConfigError::Invalid(format!("unknown configuration variable {name}"));
            let (section, key) = lower.split_once('_').ok_or_else(unknown)?;
            let default = defaults
                .get(section)
                .and_then(|s| s.as_table())
                .and_then(|s| s.get(key))
                .ok_or_else(unknown)?;
            let typed = env_value(default, &value)
                .ok_or_else(|| ConfigError::Invalid(format!("{name}: cannot read {value:?}")))?;
            let entry = table
                .entry(section.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(section_table) = entry else {
                return Err(ConfigError::Invalid(format!("[{section}] is not a table")));
            };
            section_table.insert(key.to_owned(), typed);
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("postgres"))
        {
            return bad("database.url must start with sqlite: or postgres://");
        }
        if self.sessions.token_lifetime_secs < 5 || self.sessions.token_lifetime_secs > 3600 {
            return bad("sessions.token_lifetime_secs must be between 5 and 3600");
        }
        if !(0..=3600).contains(&self.sessions.cache_ttl_secs) {
            return bad("sessions.cache_ttl_secs must be between 0 and 3600");
        }
        if self.sessions.idle_timeout_secs <= 0 || self.sessions.absolute_lifetime_secs <= 0 {
            return bad("session lifetimes must be positive");
        }
        if self.passwords.min_length < 8 {
            return bad("passwords.min_length must be at least 8");
        }
        if self.email.code_ttl_secs < 60 {
            return bad("email.code_ttl_secs must be at least 60");
        }
        if self.email.max_per_recipient < 1 || self.email.recipient_window_secs < 1 {
            return bad(
                "email.max_per_recipient and email.recipient_window_secs must be at least 1",
            );
        }
        if !self.server.public_url.starts_with("http://")
            && !self.server.public_url.starts_with("https://")
        {
            return bad("server.public_url must be an http(s) URL");
        }
        self.reverification.policy()?;
        self.signing_algorithm()?;
        if !(60..=86_400).contains(&self.reverification.verification_ttl_secs) {
            return bad("reverification.verification_ttl_secs must be between 60 and 86400");
        }
        if !(10..=900).contains(&self.reverification.approval_ttl_secs) {
            return bad("reverification.approval_ttl_secs must be between 10 and 900");
        }
        if self.reverification.max_attempts < 1 || self.lockout.max_failures < 1 {
            return bad("reverification.max_attempts and lockout.max_failures must be at least 1");
        }
        if self.lockout.window_secs < 1 || self.lockout.duration_secs < 1 {
            return bad("lockout.window_secs and lockout.duration_secs must be positive");
        }
        self.relying_party()?;
        self.validate_oidc()?;
        self.app.logo_url()?;
        self.server.trusted_proxies()?;
        self.validate_email()?;
        self.validate_cookie_name()?;
        if !self.admin.secret_key.is_empty()
            && let Some(why) = crate::admin_key::weakness(&self.admin.secret_key)
        {
            return Err(ConfigError::Invalid(format!(
                "admin.secret_key is too weak: {why}. Generate one with `reverify admin-key \
                 generate` (or `openssl rand -hex 32`), or leave it empty to turn the admin \
                 API off"
            )));
        }
        Ok(())
    }

    fn validate_oidc(&self) -> Result<(), ConfigError> {
        let o = &self.oidc;
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(30..=3600).contains(&o.id_token_lifetime_secs)
            || !(30..=3600).contains(&o.access_token_lifetime_secs)
        {
            return bad(
                "oidc.id_token_lifetime_secs and oidc.access_token_lifetime_secs must be \
                 between 30 and 3600"
                    .into(),
            );
        }
        if !(60..=365 * 86_400).contains(&o.refresh_token_lifetime_secs) {
            return bad("oidc.refresh_token_lifetime_secs must be between 60 and 31536000".into());
        }
        let mut seen = std::collections::HashSet::new();
        for c in &o.clients {
            crate::oidc::clients::ClientSpec::from_config(c).map_err(|e| {
                ConfigError::Invalid(format!("oidc.clients {:?}: {e}", c.client_id))
            })?;
            if !seen.insert(c.client_id.as_str()) {
                return bad(format!("oidc.clients: {:?} is listed twice", c.client_id));
            }
        }
        for (name, value) in &o.theme {
            if !THEME_PROPERTIES.contains(&name.as_str()) {
                return bad(format!(
                    "oidc.theme: {name:?} is not one of the elements' theme variables ({})",
                    THEME_PROPERTIES.join(", ")
                ));
            }
            // A value only: nothing that could end the declaration or the stylesheet.
            let plain = !value.trim().is_empty()
                && value.len() <= 200
                && !value
                    .chars()
                    .any(|c| c.is_control() || matches!(c, ';' | '{' | '}' | '<' | '>' | '\\'));
            if !plain {
                return bad(format!(
                    "oidc.theme: the value of {name} must be a CSS value of at most 200 \
                     characters, without ; {{ }} < > or backslashes"
                ));
            }
        }
        Ok(())
    }

    /// Whether `server.public_url` points at this machine (`localhost`, `*.localhost`,
    /// `127.0.0.0/8`, `[::1]`): only there may one-time codes be published without an
    /// explicit `danger_` setting.
    pub fn public_url_is_local(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.server.public_url) else {
            return false;
        };
        match url.host() {
            Some(url::Host::Domain(host)) => {
                let host = host.trim_end_matches('.').to_ascii_lowercase();
                host == "localhost" || host.ends_with(".localhost")
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// `email.mode` with `auto` resolved: `dev` on a localhost public URL, `smtp` elsewhere
    /// (where [`Config::validate`] requires `smtp` to be set explicitly).
    pub fn email_mode(&self) -> EmailMode {
        match self.email.mode {
            EmailMode::Auto if self.public_url_is_local() => EmailMode::Dev,
            EmailMode::Auto => EmailMode::Smtp,
            mode => mode,
        }
    }

    /// Whether the dev outbox is served (`dev` mode, or `email.danger_dev_outbox`).
    pub fn dev_outbox(&self) -> bool {
        self.email_mode() == EmailMode::Dev || self.email.danger_dev_outbox
    }

    /// Where the dev outbox page is, for the start-up warning.
    pub fn dev_outbox_url(&self) -> String {
        format!("{}/dev/outbox", self.issuer())
    }

    /// A server others can reach must deliver its codes, or say explicitly that it
    /// publishes them.
    fn validate_email(&self) -> Result<(), ConfigError> {
        if self.public_url_is_local() {
            return Ok(());
        }
        let url = &self.server.public_url;
        match self.email.mode {
            EmailMode::Auto => Err(ConfigError::Invalid(format!(
                "no email delivery is configured, and server.public_url ({url}) is not a \
                 localhost URL, where one-time codes may stay in the dev outbox. Set \
                 email.mode = \"smtp\" with email.smtp_host (REVERIFY_EMAIL_MODE=smtp, \
                 REVERIFY_EMAIL_SMTP_HOST=…). Only for a test server whose codes anyone may \
                 read: email.mode = \"dev\" and email.danger_dev_outbox = true"
            ))),
            EmailMode::Dev if !self.email.danger_dev_outbox => Err(ConfigError::Invalid(format!(
                "email.mode = \"dev\" publishes every one-time code at {}, and \
                 server.public_url ({url}) is not a localhost URL. Set email.mode = \"smtp\", \
                 or, for a test server whose codes anyone may read, also set \
                 email.danger_dev_outbox = true",
                self.dev_outbox_url()
            ))),
            _ => Ok(()),
        }
    }

    /// The session cookie's name must be a cookie token, and a `__Host-`/`__Secure-` name
    /// needs `Secure` cookies (browsers drop such a cookie without it).
    fn validate_cookie_name(&self) -> Result<(), ConfigError> {
        let name = &self.sessions.cookie_name;
        let token = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(ConfigError::Invalid(
                "sessions.cookie_name must be letters, digits and -_.!#$%&'*+^`|~".into(),
            ));
        }
        if self.sessions.insecure_cookies
            && (name.starts_with("__Host-") || name.starts_with("__Secure-"))
        {
            return Err(ConfigError::Invalid(
                "sessions.cookie_name: a __Host- or __Secure- cookie needs Secure cookies; \
                 drop the prefix or sessions.insecure_cookies"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The session cookie's name as sent: `__Host-` + `sessions.cookie_name` with `Secure`
    /// cookies (they are always `Path=/` without `Domain`, as the prefix requires), the
    /// plain name with `sessions.insecure_cookies` (the prefix needs `Secure`).
    pub fn session_cookie_name(&self) -> String {
        let name = &self.sessions.cookie_name;
        if self.sessions.insecure_cookies
            || name.starts_with("__Host-")
            || name.starts_with("__Secure-")
        {
            name.clone()
        } else {
            format!("__Host-{name}")
        }
    }

    /// The device cookie's name: a random secret set at a browser's first sign-in, so that
    /// its later sign-in attempts count in a lockout lane of their own. `__Host-` prefixed
    /// with `Secure` cookies, like the session cookie.
    pub fn device_cookie_name(&self) -> &'static str {
        if self.sessions.insecure_cookies {
            "reverify_device"
        } else {
            "__Host-reverify_device"
        }
    }

    /// The product's name the browser UI shows: `app.name`, or `totp.issuer` when it is
    /// empty (then `Reverify`, when both are).
    pub fn app_name(&self) -> &str {
        [self.app.name.trim(), self.totp.issuer.trim()]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or("Reverify")
    }

    /// The algorithm new signing keys get: `keys.algorithm`, or when it is empty the one
    /// `sessions.token_format` needs (`EdDSA` for `reverify`, `RS256` for `clerk_v2`). The
    /// reference's SDKs verify RS256 only, so `clerk_v2` with `EdDSA` is refused.
    pub fn signing_algorithm(&self) -> Result<SigningAlgorithm, ConfigError> {
        let format = self.sessions.token_format;
        let algorithm = match self.keys.algorithm.as_str() {
            "" if format == TokenFormat::ClerkV2 => SigningAlgorithm::RS256,
            "" | "EdDSA" => SigningAlgorithm::EdDSA,
            "RS256" => SigningAlgorithm::RS256,
            other => {
                return Err(ConfigError::Invalid(format!(
                    "keys.algorithm must be \"EdDSA\" or \"RS256\" (or empty: chosen by \
                     sessions.token_format), not {other:?}"
                )));
            }
        };
        if format == TokenFormat::ClerkV2 && algorithm != SigningAlgorithm::RS256 {
            return Err(ConfigError::Invalid(
                "sessions.token_format = \"clerk_v2\" needs RS256 keys (the reference's SDKs \
                 verify nothing else): set keys.algorithm = \"RS256\" or leave it empty"
                    .into(),
            ));
        }
        Ok(algorithm)
    }

    /// The issuer (`iss`) of session tokens: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.server.public_url.trim_end_matches('/').to_owned()
    }
}

/// Reads an environment value as the type of the key's default.
fn env_value(default: &toml::Value, raw: &str) -> Option<toml::Value> {
    Some(match default {
        toml::Value::String(_) => toml::Value::String(raw.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().ok()?),
        toml::Value::Float(_) => toml::Value::Float(raw.trim().parse().ok()?),
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return None,
        }),
        // Lists: comma-separated.
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        _ => return None,
    })
}
