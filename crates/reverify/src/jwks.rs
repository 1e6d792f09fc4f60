//! Where the verifier's keys come from: a static JWK set, or one fetched over HTTP(S).
//!
//! ## How long a fetched set is trusted
//!
//! A fetched set has a *lifetime* `T`, taken from the response's `Cache-Control`:
//! `max-age` minus the response's `Age` (the time it already spent in a shared cache),
//! clamped to `[jwks_refetch_floor, jwks_max_ttl]` (default 30 s and 5 min) so that a
//! misconfigured issuer can neither make us hammer it nor make us trust a set for long.
//! `no-store` or `no-cache` give the floor; a response without `max-age` gets the ceiling.
//!
//! - After three quarters of `T`, the next verification refetches the set (one request
//!   waits for it; the others go on with the current set).
//! - A set is **never used past `T`**: if it could not be refreshed by then (the issuer is
//!   down or unreachable), every verification — cached tokens too — fails with
//!   `jwks_unavailable` (503) until a fetch succeeds. This is what makes `T` a bound on how
//!   long a key that left the JWKS is still accepted, even when an attacker holding that
//!   key can also make the JWKS unreachable.
//! - When a refetch drops a key, the token cache is cleared: tokens signed with that key
//!   are refused at once, even those verified before.
//! - A token whose `kid` is not in the set triggers a refetch (a new key published without
//!   waiting for `T`).
//! - Whatever the cause, at most one fetch per `jwks_refetch_floor`, single-flight, so a
//!   stream of forged tokens with random `kid`s cannot make the verifier hammer the issuer.

use std::sync::Arc;

use crate::error::Error;
use crate::jwk::KeySet;

pub(crate) enum KeySource {
    Static(Arc<KeySet>),
    #[cfg(feature = "fetch")]
    Remote(remote::RemoteKeys),
}

impl KeySource {
    /// Whether the keys can be used at `now` without a fetch first: a verified token can
    /// then be answered from the token cache.
    pub(crate) fn usable_without_fetch(&self, now: i64) -> bool {
        match self {
            KeySource::Static(_) => {
                let _ = now;
                true
            }
            #[cfg(feature = "fetch")]
            KeySource::Remote(remote) => remote.usable_without_fetch(now),
        }
    }

    /// The key set in which `kid` should be looked up, refreshing it first if needed.
    /// `on_keys_removed` runs when a refresh drops a key that was there before.
    pub(crate) async fn keys_for(
        &self,
        kid: &str,
        now: i64,
        on_keys_removed: impl Fn(),
    ) -> Result<Arc<KeySet>, Error> {
        match self {
            KeySource::Static(keys) => {
                let _ = (kid, now, &on_keys_removed);
                Ok(Arc::clone(keys))
            }
            #[cfg(feature = "fetch")]
            KeySource::Remote(remote) => remote.keys_for(kid, now, on_keys_removed).await,
        }
    }
}

/// The lifetime in seconds of a fetched set, from its response's `Cache-Control` and `Age`
/// headers, clamped to `[floor, ceiling]` (and never below one second).
#[cfg_attr(not(feature = "fetch"), allow(dead_code))]
pub(crate) fn lifetime(
    cache_control: Option<&str>,
    age: Option<&str>,
    floor: i64,
    ceiling: i64,
) -> i64 {
    let floor = floor.max(1);
    let ceiling = ceiling.max(floor);
    let mut max_age: Option<i64> = None;
    for directive in cache_control.unwrap_or("").split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return floor;
        }
        if name.eq_ignore_ascii_case("max-age") {
            // RFC 9111: an invalid value means stale; of several, the shortest wins here.
            let seconds = match value {
                Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    v.parse::<i64>().unwrap_or(i64::MAX)
                }
                _ => 0,
            };
            max_age = Some(max_age.map_or(seconds, |m| m.min(seconds)));
        }
    }
    let Some(max_age) = max_age else {
        return ceiling;
    };
    let age = age
        .map(str::trim)
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
        .map_or(0, |a| a.parse::<i64>().unwrap_or(i64::MAX));
    max_age.saturating_sub(age).clamp(floor, ceiling)
}

#[cfg(feature = "fetch")]
pub(crate) mod remote {
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    use std::sync::{Arc, RwLock};
    use std::time::Duration;

    use crate::error::Error;
    use crate::jwk::{JwkSet, KeySet};

    /// Responses larger than this are not read.
    const MAX_JWKS_BYTES: usize = 1024 * 1024;
    const NEVER: i64 = i64::MIN / 2;

    pub(crate) struct RemoteKeys {
        url: String,
        client: reqwest::Client,
        current: RwLock<Arc<KeySet>>,
        /// From here on, the next verification refetches the set.
        refresh_at: AtomicI64,
        /// From here on, the set is not used at all (fail closed).
        expires_at: AtomicI64,
        last_attempt: AtomicI64,
        generation: AtomicU64,
        refresh_lock: tokio::sync::Mutex<()>,
        ceiling: i64,
        floor: i64,
    }

    impl RemoteKeys {
        pub(crate) fn new(
            url: String,
            client: Option<reqwest::Client>,
            ceiling: Duration,
            floor: Duration,
            timeout: Duration,
        ) -> Result<RemoteKeys, Error> {
            let client = match client {
                Some(client) => client,
                None => {
                    if rustls::crypto::CryptoProvider::get_default().is_none() {
                        // Another thread may win the race; either provider is fine.
                        let _ = rustls::crypto::ring::default_provider().install_default();
                    }
                    reqwest::Client::builder()
                        .timeout(timeout)
                        .build()
                        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?
                }
            };
            Ok(RemoteKeys {
                url,
                client,
                current: RwLock::new(Arc::new(KeySet::default())),
                refresh_at: AtomicI64::new(NEVER),
                expires_at: AtomicI64::new(NEVER),
                last_attempt: AtomicI64::new(NEVER),
                generation: AtomicU64::new(0),
                refresh_lock: tokio::sync::Mutex::new(()),
                ceiling: ceiling.as_secs().try_into().unwrap_or(i64::MAX),
                floor: floor.as_secs().try_into().unwrap_or(i64::MAX),
            })
        }

        fn current(&self) -> Arc<KeySet> {
            Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
        }

        fn may_fetch(&self, now: i64) -> bool {
            now.saturating_sub(self.last_attempt.load(Ordering::Acquire)) >= self.floor
        }

        fn expired(&self, now: i64) -> bool {
            now >= self.expires_at.load(Ordering::Acquire)
        }

        /// True when no fetch is due at `now`: the set is within its first three quarters,
        /// or a fetch was just tried and the set has not expired.
        pub(crate) fn usable_without_fetch(&self, now: i64) -> bool {
            now < self.refresh_at.load(Ordering::Acquire)
                || (!self.expired(now) && !self.may_fetch(now))
        }

        pub(crate) async fn keys_for(
            &self,
            kid: &str,
            now: i64,
            on_keys_removed: impl Fn(),
        ) -> Result<Arc<KeySet>, Error> {
            self.ensure_fresh(now, &on_keys_removed).await?;
            let keys = self.current();
            if keys.get(kid).is_some() {
                return Ok(keys);
            }
            // Unknown kid: perhaps a key published since the last fetch.
            if self.may_fetch(now) {
                let seen = self.generation.load(Ordering::Acquire);
                self.refresh(seen, now, &on_keys_removed).await;
            } else {
                // A fetch may be in flight right now: wait for it rather than fail.
                drop(self.refresh_lock.lock().await);
            }
            let keys = self.current();
            if keys.is_empty() || self.expired(now) {
                Err(Error::KeysUnavailable)
            } else if keys.get(kid).is_some() {
                Ok(keys)
            } else {
                Err(Error::UnknownKey)
            }
        }

        /// Refreshes the set when it is due; fails when it has expired and could not be
        /// refreshed.
        async fn ensure_fresh(&self, now: i64, on_keys_removed: &impl Fn()) -> Result<(), Error> {
            if now < self.refresh_at.load(Ordering::Acquire) {
                return Ok(());
            }
            let seen = self.generation.load(Ordering::Acquire);
            if !self.expired(now) {
                // Refresh ahead: one request fetches, the others use the set meanwhile.
                if self.may_fetch(now) {
                    if let Ok(guard) = self.refresh_lock.try_lock() {
                        self.refresh_locked(guard, seen, now, on_keys_removed).await;
                    }
                }
                return Ok(());
            }
            if self.may_fetch(now) {
                self.refresh(seen, now, on_keys_removed).await;
            } else {
                // A fetch may be in flight (the first requests after start-up).
                drop(self.refresh_lock.lock().await);
            }
            if self.expired(now) {
                Err(Error::KeysUnavailable)
            } else {
                Ok(())
            }
        }

        /// Fetches the set once, even when many requests ask at the same time. `seen` is
        /// the generation the caller decided on: if another fetch completed since, skip.
        async fn refresh(&self, seen: u64, now: i64, on_keys_removed: &impl Fn()) {
            let guard = self.refresh_lock.lock().await;
            self.refresh_locked(guard, seen, now, on_keys_removed).await;
        }

        async fn refresh_locked(
            &self,
            _guard: tokio::sync::MutexGuard<'_, ()>,
            seen: u64,
            now: i64,
            on_keys_removed: &impl Fn(),
        ) {
            if self.generation.load(Ordering::Acquire) != seen {
                return; // another request refreshed while we waited
            }
            self.last_attempt.store(now, Ordering::Release);
            match self.fetch().await {
                Ok((fresh, lifetime)) => {
                    let fresh = Arc::new(fresh);
                    let old = std::mem::replace(
                        &mut *self.current.write().unwrap_or_else(|e| e.into_inner()),
                        Arc::clone(&fresh),
                    );
                    // `now` is when the fetch started: the set is as old as that, or newer.
                    self.expires_at
                        .store(now.saturating_add(lifetime), Ordering::Release);
                    self.refresh_at.store(
                        now.saturating_add(lifetime - lifetime / 4),
                        Ordering::Release,
                    );
                    if !old.kids_subset_of(&fresh) {
                        on_keys_removed();
                    }
                }
                Err(why) => tracing::warn!(url = %self.url, %why, "JWKS fetch failed"),
            }
            self.generation.fetch_add(1, Ordering::AcqRel);
        }

        async fn fetch(&self) -> Result<(KeySet, i64), String> {
            let mut response = self
                .client
                .get(&self.url)
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("status {}", response.status()));
            }
            let header = |name: reqwest::header::HeaderName| {
                let values: Vec<&str> = response
                    .headers()
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            };
            let lifetime = super::lifetime(
                header(reqwest::header::CACHE_CONTROL).as_deref(),
                header(reqwest::header::AGE).as_deref(),
                self.floor,
                self.ceiling,
            );
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
                if body.len() + chunk.len() > MAX_JWKS_BYTES {
                    return Err("response larger than 1 MiB".into());
                }
                body.extend_from_slice(&chunk);
            }
            let set: JwkSet = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            let keys = KeySet::from_jwks(&set);
            if keys.is_empty() {
                return Err("no usable key in the set".into());
            }
            Ok((keys, lifetime))
        }
    }
}
