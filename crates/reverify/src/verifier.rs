//! Offline verification of session tokens against a JWK set.

use std::sync::Arc;
use std::time::Duration;

use crate::access::{AccessTokenClaims, AccessTokenVerifier};
use crate::cache::TokenCache;
use crate::claims::SessionClaims;
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::jwk::{JwkSet, KeySet};
use crate::jwks::KeySource;
use crate::jwt::Compact;
use crate::reverification::ReverificationStatus;
use crate::session::{Session, Verified};

/// Verifies session tokens: signature against the issuer's keys (the algorithm pinned by
/// the key), then `iss`, `exp`, `nbf`, `iat` and `azp`. Cheap to clone (an `Arc`).
///
/// ```
/// # async fn demo(token: &str) -> Result<(), reverify::Error> {
/// use reverify::{Verifier, STRICT};
///
/// let verifier = Verifier::builder("https://auth.example.com")
///     .jwks_url("https://auth.example.com/.well-known/jwks.json")
///     .build()?;
/// let session = verifier.verify(token).await?;
/// if !session.has(&STRICT) {
///     // answer with session.require(&STRICT).unwrap_err(): 403 + the reverification body
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    issuer: String,
    authorized_parties: Vec<String>,
    leeway: i64,
    keys: KeySource,
    cache: Option<TokenCache<Verified<SessionClaims>>>,
    access_cache: Option<TokenCache<Verified<AccessTokenClaims>>>,
    clock: Arc<dyn Clock>,
    status: ReverificationStatus,
    cookie_name: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("authorized_parties", &self.inner.authorized_parties)
            .field("leeway", &self.inner.leeway)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts configuring a verifier for tokens whose `iss` is exactly `issuer`.
    pub fn builder(issuer: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.into(),
            source: None,
            leeway: Duration::from_secs(5),
            authorized_parties: Vec::new(),
            cache_capacity: 10_000,
            clock: Arc::new(SystemClock),
            status: ReverificationStatus::Forbidden,
            cookie_name: "__session".into(),
            jwks_max_ttl: Duration::from_secs(300),
            jwks_refetch_floor: Duration::from_secs(30),
            http_timeout: Duration::from_secs(5),
            #[cfg(feature = "fetch")]
            http_client: None,
        }
    }

    /// Verifies `token` at the clock's current time.
    pub async fn verify(&self, token: &str) -> Result<Session, Error> {
        self.verify_at(token, self.inner.clock.now()).await
    }

    /// Verifies `token` as of `now` (unix seconds).
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<Session, Error> {
        let verified = self.verify_kind::<SessionKind>(token, now).await?;
        Ok(Session::new(verified, now, self.inner.status))
    }

    /// The path every token takes: the cache, then the signature (the algorithm pinned by
    /// the key), the header's `typ` and the claims of kind `K`. Session and access tokens
    /// share the keys and the rules, each kind with its own cache.
    pub(crate) async fn verify_kind<K: Kind>(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<Verified<K::Claims>>, Error> {
        let inner = &*self.inner;
        if token.is_empty() {
            return Err(Error::TokenMissing);
        }
        let cache = K::cache(inner);
        // A cached token is answered only while its keys need no refresh: when a refresh
        // is due, the token takes the full path, so that a key that has left the JWKS (or a
        // key set that can no longer be refreshed) stops it.
        if let Some(cache) = cache {
            if inner.keys.usable_without_fetch(now) {
                if let Some(verified) = cache.get(token, now) {
                    return Ok(verified);
                }
            }
        }
        let compact = Compact::parse(token)?;
        let generation = cache.map_or(0, TokenCache::generation);
        let keys = inner
            .keys
            .keys_for(&compact.kid, now, || {
                if let Some(cache) = &inner.cache {
                    cache.clear();
                }
                if let Some(cache) = &inner.access_cache {
                    cache.clear();
                }
            })
            .await?;
        let key = keys.get(&compact.kid).ok_or(Error::UnknownKey)?;
        if key.algorithm() != compact.alg {
            return Err(Error::AlgorithmMismatch);
        }
        if !key.verify(compact.signing_input.as_bytes(), compact.signature()) {
            return Err(Error::InvalidSignature);
        }
        // After the signature: an unsigned header says nothing worth answering.
        if compact.access_token_type != K::ACCESS_TOKEN {
            return Err(Error::WrongTokenType);
        }
        let payload = compact.payload()?;
        let claims: K::Claims = serde_json::from_slice(&payload).map_err(|e| {
            if e.is_data() {
                Error::InvalidClaims
            } else {
                Error::TokenMalformed
            }
        })?;
        if K::foreign(&payload) {
            return Err(Error::WrongTokenType);
        }
        K::check(&claims, inner, now)?;
        let dies_at = K::exp(&claims).saturating_add(inner.leeway);
        let verified = Arc::new(Verified {
            claims,
            payload: payload.into_boxed_slice(),
        });
        if let Some(cache) = cache {
            cache.insert(token, Arc::clone(&verified), dies_at, now, generation);
        }
        Ok(verified)
    }

    /// The leeway in seconds.
    pub(crate) fn leeway_seconds(&self) -> i64 {
        self.inner.leeway
    }

    /// The clock this verifier reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The status reverification errors produced through this verifier carry.
    pub fn reverification_status(&self) -> ReverificationStatus {
        self.inner.status
    }

    /// The name of the cookie that carries the session token (default `__session`).
    pub fn cookie_name(&self) -> &str {
        &self.inner.cookie_name
    }

    /// How many verified tokens the cache holds right now (for metrics); access tokens
    /// verified through [`Verifier::access_tokens`] are counted apart, by
    /// [`AccessTokenVerifier::cached_tokens`].
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, TokenCache::len)
    }

    /// How many verified access tokens the cache holds right now.
    pub(crate) fn cached_access_tokens(&self) -> usize {
        self.inner.access_cache.as_ref().map_or(0, TokenCache::len)
    }

    /// An [`AccessTokenVerifier`] for `audience` that shares this verifier's keys (one
    /// JWKS fetch and one key pinning for both), issuer, leeway and clock. Its tokens have
    /// a cache of their own, as large as this verifier's.
    ///
    /// ```
    /// # fn demo(verifier: reverify::Verifier) {
    /// let api = verifier.access_tokens("https://api.example.com");
    /// # }
    /// ```
    pub fn access_tokens(&self, audience: impl Into<String>) -> AccessTokenVerifier {
        AccessTokenVerifier::sharing(self.clone(), audience.into())
    }

    /// The issuer tokens must name.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }
}

/// A kind of token the verifier knows: its claims, its cache, its checks.
pub(crate) trait Kind {
    type Claims: serde::de::DeserializeOwned;
    /// Whether its header's `typ` must be `at+jwt` (and must not be, for the other kind).
    const ACCESS_TOKEN: bool;
    fn cache(inner: &Inner) -> Option<&TokenCache<Verified<Self::Claims>>>;
    fn check(claims: &Self::Claims, inner: &Inner, now: i64) -> Result<(), Error>;
    fn exp(claims: &Self::Claims) -> i64;
    /// Whether a payload whose claims parsed is nevertheless another kind of token.
    fn foreign(_payload: &[u8]) -> bool {
        false
    }
}

/// Reads only whether a JSON object has a non-null `aud`.
#[derive(serde::Deserialize)]
struct AudienceProbe {
    #[serde(default)]
    aud: Option<serde::de::IgnoredAny>,
}

/// `iss`, `sub`, `exp`, `nbf` and `iat`: the same for every kind of token.
fn check_registered(
    inner: &Inner,
    iss: &str,
    sub: &str,
    exp: i64,
    nbf: Option<i64>,
    iat: i64,
    now: i64,
) -> Result<(), Error> {
    if iss != inner.issuer {
        return Err(Error::WrongIssuer);
    }
    if sub.is_empty() {
        return Err(Error::InvalidClaims);
    }
    if now >= exp.saturating_add(inner.leeway) {
        return Err(Error::Expired);
    }
    let not_before = nbf.unwrap_or(i64::MIN).max(iat);
    if now.saturating_add(inner.leeway) < not_before {
        return Err(Error::NotYetValid);
    }
    Ok(())
}

/// Session tokens: no `typ` or any but `at+jwt`; `azp` among the authorized parties.
pub(crate) struct SessionKind;

impl Kind for SessionKind {
    type Claims = SessionClaims;
    const ACCESS_TOKEN: bool = false;

    fn cache(inner: &Inner) -> Option<&TokenCache<Verified<SessionClaims>>> {
        inner.cache.as_ref()
    }

    fn check(claims: &SessionClaims, inner: &Inner, now: i64) -> Result<(), Error> {
        check_registered(
            inner,
            &claims.iss,
            &claims.sub,
            claims.exp,
            claims.nbf,
            claims.iat,
            now,
        )?;
        if let Some(azp) = &claims.azp {
            if !inner.authorized_parties.is_empty() && !inner.authorized_parties.contains(azp) {
                return Err(Error::UnauthorizedParty);
            }
        }
        Ok(())
    }

    fn exp(claims: &SessionClaims) -> i64 {
        claims.exp
    }

    /// A session token has no audience: a token with an `aud` is an OpenID Connect ID token
    /// (issued to a client, which could otherwise replay it to the app as the user's
    /// session) or an access token, whatever its `typ`.
    fn foreign(payload: &[u8]) -> bool {
        // (The claims parsed, so an object that the probe cannot read has `aud` twice.)
        payload.trim_ascii_start().first() == Some(&b'{')
            && !matches!(
                serde_json::from_slice::<AudienceProbe>(payload),
                Ok(AudienceProbe { aud: None })
            )
    }
}

/// RFC 9068 access tokens: `typ` `at+jwt`, and `client_id` and `jti` present. The
/// audience and scopes are checked by the [`AccessTokenVerifier`], on every request
/// (a cached token too), so one cache serves verifiers of several audiences.
pub(crate) struct AccessKind;

impl Kind for AccessKind {
    type Claims = AccessTokenClaims;
    const ACCESS_TOKEN: bool = true;

    fn cache(inner: &Inner) -> Option<&TokenCache<Verified<AccessTokenClaims>>> {
        inner.access_cache.as_ref()
    }

    fn check(claims: &AccessTokenClaims, inner: &Inner, now: i64) -> Result<(), Error> {
        check_registered(
            inner,
            &claims.iss,
            &claims.sub,
            claims.exp,
            claims.nbf,
            claims.iat,
            now,
        )?;
        if claims.client_id.is_empty() || claims.jti.is_empty() || claims.aud.is_empty() {
            return Err(Error::InvalidClaims);
        }
        Ok(())
    }

    fn exp(claims: &AccessTokenClaims) -> i64 {
        claims.exp
    }
}

enum SourceSpec {
    Static(JwkSet),
    #[cfg(feature = "fetch")]
    Url(String),
}

/// Configures a [`Verifier`]; see [`Verifier::builder`].
#[must_use]
pub struct VerifierBuilder {
    issuer: String,
    source: Option<SourceSpec>,
    leeway: Duration,
    authorized_parties: Vec<String>,
    cache_capacity: usize,
    clock: Arc<dyn Clock>,
    status: ReverificationStatus,
    cookie_name: String,
    jwks_max_ttl: Duration,
    jwks_refetch_floor: Duration,
    http_timeout: Duration,
    #[cfg(feature = "fetch")]
    http_client: Option<reqwest::Client>,
}

impl VerifierBuilder {
    /// Verify against this fixed key set (every key in it must be usable).
    pub fn jwks(mut self, set: JwkSet) -> Self {
        self.source = Some(SourceSpec::Static(set));
        self
    }

    /// Fetch the key set from this URL (cached; refetched on an unknown `kid`).
    #[cfg(feature = "fetch")]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(SourceSpec::Url(url.into()));
        self
    }

    /// Use this HTTP client for JWKS fetches (proxies, custom roots, …).
    #[cfg(feature = "fetch")]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The longest a fetched key set is used (default 5 minutes). The issuer's
    /// `Cache-Control: max-age` (less the response's `Age`) may shorten it, down to
    /// [`jwks_refetch_floor`](Self::jwks_refetch_floor); without `max-age` it is this.
    ///
    /// This is the bound on how long a key that has left the JWKS can still verify a
    /// token: a set is never used past its lifetime, even when it cannot be refreshed
    /// (verification then fails with `jwks_unavailable`). The guide (`docs/sdk.md`,
    /// "Key rotation and revocation") gives the whole bound.
    pub fn jwks_max_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_max_ttl = ttl;
        self
    }

    /// Old name of [`jwks_max_ttl`](Self::jwks_max_ttl), which it now sets.
    #[deprecated(note = "use `jwks_max_ttl`: the issuer's Cache-Control may shorten it")]
    pub fn jwks_ttl(self, ttl: Duration) -> Self {
        self.jwks_max_ttl(ttl)
    }

    /// The least time between two JWKS fetches, whatever causes them (unknown `kid`s,
    /// refreshes, retries after a failure), and the shortest lifetime a fetched set gets
    /// (`Cache-Control: no-store` or a tiny `max-age`). Default 30 s.
    pub fn jwks_refetch_floor(mut self, floor: Duration) -> Self {
        self.jwks_refetch_floor = floor;
        self
    }

    /// Timeout of one JWKS fetch (default 5 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Allowed clock skew for `exp`, `nbf` and `iat` (default 5 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Accept only tokens whose `azp` (when present) is one of these origins.
    pub fn authorized_parties<I, S>(mut self, parties: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.authorized_parties = parties.into_iter().map(Into::into).collect();
        self
    }

    /// How many verified tokens to remember (default 10,000; 0 disables the cache).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Read time from this clock (tests pass a [`crate::ManualClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Answer reverification failures with 403 (default, as the reference) or 401 (strict
    /// RFC 9470 for bearer APIs).
    pub fn reverification_status(mut self, status: ReverificationStatus) -> Self {
        self.status = status;
        self
    }

    /// The cookie that carries the token (default `__session`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// Builds the verifier. Fails when no key source was given or a static set is unusable.
    pub fn build(self) -> Result<Verifier, Error> {
        if self.issuer.is_empty() {
            return Err(Error::Config("the issuer must not be empty".into()));
        }
        if self.jwks_max_ttl < self.jwks_refetch_floor {
            return Err(Error::Config(
                "jwks_max_ttl must not be shorter than jwks_refetch_floor".into(),
            ));
        }
        let keys = match self.source {
            None => {
                return Err(Error::Config(
                    "no key set: call jwks() or jwks_url()".into(),
                ));
            }
            Some(SourceSpec::Static(set)) => {
                KeySource::Static(Arc::new(KeySet::from_jwks_strict(&set)?))
            }
            #[cfg(feature = "fetch")]
            Some(SourceSpec::Url(url)) => KeySource::Remote(crate::jwks::remote::RemoteKeys::new(
                url,
                self.http_client,
                self.jwks_max_ttl,
                self.jwks_refetch_floor,
                self.http_timeout,
            )?),
        };
        #[cfg(not(feature = "fetch"))]
        let _ = (
            self.jwks_max_ttl,
            self.jwks_refetch_floor,
            self.http_timeout,
        );
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                authorized_parties: self.authorized_parties,
                leeway: self.leeway.as_secs() as i64,
                keys,
                cache: (self.cache_capacity > 0).then(|| TokenCache::new(self.cache_capacity)),
                access_cache: (self.cache_capacity > 0)
                    .then(|| TokenCache::new(self.cache_capacity)),
                clock: self.clock,
                status: self.status,
                cookie_name: self.cookie_name,
            }),
        })
    }
}
