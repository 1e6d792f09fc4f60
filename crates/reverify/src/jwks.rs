//! Where the verifier's keys come from: a static JWK set, or one fetched over HTTP(S).
//!
//! A fetched set is cached for `jwks_ttl` (default 1 hour). A token whose `kid` is not in
//! the cached set triggers a refetch, but never more often than `jwks_refetch_floor`
//! (default 30 s), so that a stream of forged tokens with random `kid`s cannot make the
//! verifier hammer the issuer. Fetches are single-flight. When a refetch fails, the last
//! good set keeps being used.

use std::sync::Arc;

use crate::error::Error;
use crate::jwk::KeySet;

pub(crate) enum KeySource {
    Static(Arc<KeySet>),
    #[cfg(feature = "fetch")]
    Remote(remote::RemoteKeys),
}

impl KeySource {
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
        fetched_at: AtomicI64,
        last_attempt: AtomicI64,
        generation: AtomicU64,
        refresh_lock: tokio::sync::Mutex<()>,
        ttl: i64,
        floor: i64,
    }

    impl RemoteKeys {
        pub(crate) fn new(
            url: String,
            client: Option<reqwest::Client>,
            ttl: Duration,
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
                fetched_at: AtomicI64::new(NEVER),
                last_attempt: AtomicI64::new(NEVER),
                generation: AtomicU64::new(0),
                refresh_lock: tokio::sync::Mutex::new(()),
                ttl: ttl.as_secs() as i64,
                floor: floor.as_secs() as i64,
            })
        }

        fn current(&self) -> Arc<KeySet> {
            Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
        }

        pub(crate) async fn keys_for(
            &self,
            kid: &str,
            now: i64,
            on_keys_removed: impl Fn(),
        ) -> Result<Arc<KeySet>, Error> {
            let keys = self.current();
            if keys.get(kid).is_some() {
                if now - self.fetched_at.load(Ordering::Acquire) >= self.ttl {
                    // Expired set: refresh, and on failure keep using what we have.
                    self.refresh(now, &on_keys_removed).await;
                    return Ok(self.current());
                }
                return Ok(keys);
            }
            if now - self.last_attempt.load(Ordering::Acquire) < self.floor {
                // A fetch may be in flight right now (the first requests after start-up
                // all arrive here): wait for it rather than fail.
                drop(self.refresh_lock.lock().await);
                let keys = self.current();
                if keys.get(kid).is_some() {
                    return Ok(keys);
                }
                return Err(if keys.is_empty() {
                    Error::KeysUnavailable
                } else {
                    Error::UnknownKey
                });
            }
            self.refresh(now, &on_keys_removed).await;
            let keys = self.current();
            if keys.is_empty() {
                Err(Error::KeysUnavailable)
            } else {
                Ok(keys)
            }
        }

        /// Fetches the set once, even when many requests ask at the same time.
        async fn refresh(&self, now: i64, on_keys_removed: &impl Fn()) {
            let seen = self.generation.load(Ordering::Acquire);
            let _guard = self.refresh_lock.lock().await;
            if self.generation.load(Ordering::Acquire) != seen {
                return; // another request refreshed while we waited
            }
            self.last_attempt.store(now, Ordering::Release);
            match self.fetch().await {
                Ok(fresh) => {
                    let fresh = Arc::new(fresh);
                    let old = std::mem::replace(
                        &mut *self.current.write().unwrap_or_else(|e| e.into_inner()),
                        Arc::clone(&fresh),
                    );
                    self.fetched_at.store(now, Ordering::Release);
                    if !old.kids_subset_of(&fresh) {
                        on_keys_removed();
                    }
                }
                Err(why) => tracing::warn!(url = %self.url, %why, "JWKS fetch failed"),
            }
            self.generation.fetch_add(1, Ordering::AcqRel);
        }

        async fn fetch(&self) -> Result<KeySet, String> {
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
            Ok(keys)
        }
    }
}
