//! Shared state: configuration, store, keys, hashing, mail, and the clock.

use std::sync::Arc;

use reverify::{Clock, SystemClock};

use crate::config::Config;
use crate::email::Mailer;
use crate::error::{ApiError, StartError};
use crate::keys::KeyRing;
use crate::password::Passwords;
use crate::store::SessionCache;
use crate::store::Store;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// Signing keys.
    pub keys: KeyRing,
    /// Password hashing.
    pub passwords: Passwords,
    /// Email delivery.
    pub mailer: Mailer,
    /// The only clock the server reads.
    pub clock: Arc<dyn Clock>,
    /// `iss` of session tokens.
    pub issuer: String,
    /// Recently read sessions (`sessions.cache_ttl_secs`): the store's, which evicts what
    /// its session changes touch.
    pub(crate) session_cache: Arc<SessionCache>,
    /// The policy of the server's own sensitive endpoints.
    pub sensitive_policy: reverify::Policy,
    /// Per-IP rate limits.
    pub(crate) limiter: crate::ratelimit::RateLimiter,
    /// The WebAuthn relying party (`[passkeys]`).
    pub(crate) relying_party: crate::relying_party::RelyingParty,
    /// Whose `X-Forwarded-For` entries to believe (`server.trusted_proxy_*`).
    pub(crate) proxies: crate::proxy::TrustedProxies,
    /// The session cookie's name as sent (`__Host-` prefixed with `Secure` cookies).
    pub session_cookie: String,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the database (migrating it), loads keys, builds the services.
    pub async fn new(config: Config) -> Result<AppState, StartError> {
        AppState::with_clock(config, Arc::new(SystemClock)).await
    }

    /// The same with an injected clock (tests move time instead of sleeping).
    pub async fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
        config.validate()?;
        let url = &config.database.url;
        let store = Store::open(url, config.database.max_connections)
            .await
            .map_err(|e| StartError::database(url, e))?;
        AppState::with_store(config, store, clock).await
    }

    /// Builds the state on an already opened store.
    pub async fn with_store(
        config: Config,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, StartError> {
        config.validate()?;
        let sensitive_policy = config.reverification.policy()?;
        let relying_party = config.relying_party()?;
        let proxies = config.server.trusted_proxies()?;
        let session_cookie = config.session_cookie_name();
        let algorithm = config.signing_algorithm()?;
        let keys = KeyRing::open(
            store.clone(),
            clock.now(),
            algorithm,
            config.keys.publish_ahead_secs,
            config.sessions.token_lifetime_secs,
            config
                .oidc
                .enabled
                .then(|| config.oidc.longest_token_lifetime()),
        )
        .await
        .map_err(|e| StartError::Keys(StartError::detail(e)))?;
        crate::oidc::clients::sync_config(&config, &store, clock.now())
            .await
            .map_err(|e| StartError::OidcClients(e.to_string()))?;
        let passwords = Passwords::new(&config.passwords)
            .map_err(|e| StartError::Passwords(StartError::detail(e)))?;
        let mailer =
            Mailer::new(&config, &store).map_err(|e| StartError::Email(StartError::detail(e)))?;
        let issuer = config.issuer();
        store.enable_session_cache(config.sessions.cache_ttl_secs);
        let session_cache = Arc::clone(store.session_cache());
        Ok(AppState(Arc::new(Inner {
            config,
            store,
            keys,
            passwords,
            mailer,
            clock,
            issuer,
            session_cache,
            sensitive_policy,
            limiter: crate::ratelimit::RateLimiter::default(),
            relying_party,
            proxies,
            session_cookie,
        })))
    }

    /// Ends a session (sign-out, revocation). Like every change to a session, this
    /// instance forgets it at once and the others are told (see [`Store::end_session`]).
    pub async fn end_session(&self, id: &str, reason: &str) -> Result<bool, ApiError> {
        Ok(self.store.end_session(id, self.now(), reason).await?)
    }

    /// Deletes a user with their sessions (forgotten by every instance, see
    /// [`Store::delete_user`]).
    pub async fn delete_user(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self.store.delete_user(id).await?)
    }

    /// Per-IP rate limit for sign-ins and sign-ups.
    pub(crate) fn limit_sign_in(&self, client: &crate::client::Client) -> Result<(), ApiError> {
        self.limiter.check(
            crate::ratelimit::Bucket::SignIn,
            client.ip.as_deref(),
            self.config.ratelimit.sign_in_per_minute,
            self.now(),
        )
    }

    /// Per-IP rate limit for verification requests.
    pub(crate) fn limit_verification(
        &self,
        client: &crate::client::Client,
    ) -> Result<(), ApiError> {
        self.limiter.check(
            crate::ratelimit::Bucket::Verification,
            client.ip.as_deref(),
            self.config.ratelimit.verification_per_minute,
            self.now(),
        )
    }

    /// Whether one more email may go to `to` now (`email.max_per_recipient` per
    /// `email.recipient_window_secs`, counted in the database so it holds across
    /// instances). Over the limit, logs and answers false.
    pub(crate) async fn may_email(
        &self,
        to: &str,
        client: &crate::client::Client,
    ) -> Result<bool, ApiError> {
        let e = &self.config.email;
        let limit = crate::store::Limit {
            max: e.max_per_recipient,
            window: e.recipient_window_secs,
            duration: e.recipient_window_secs,
        };
        let key = format!("email_to:{}", to.to_lowercase());
        if self.store.count(&key, self.now(), limit).await? {
            Ok(true)
        } else {
            tracing::warn!(ip = ?client.ip, "email not sent: too many emails to this address");
            Ok(false)
        }
    }

    /// Now, in unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
