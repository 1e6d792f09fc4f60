//! Ed25519 signing keys: stored in the database (shared by every instance), published in
//! the JWKS before they sign, kept published until their last tokens expired.
//!
//! Rotation (`reverify keys rotate`): the new key is published at once and starts signing
//! `keys.publish_ahead_secs` later (default 10 minutes), so that verifiers that cache the
//! JWKS see it before its first token; the old key stops signing then, and leaves the JWKS
//! once its last tokens have expired. Each instance reloads the key set every 30 seconds.
//!
//! Revocation (`reverify keys revoke KID`, `POST /v1/admin/keys/{kid}/revoke`,
//! [`crate::AppState::revoke_signing_key`]) is the emergency for a leaked key: it stops signing and
//! leaves the JWKS at once on the instance that revokes it and within `RELOAD_SECS` (30 s)
//! on every other instance; if it was signing, a new key signs at once. The JWKS is served
//! with `max-age` = 300 s − `RELOAD_SECS`, so that a verifier honouring it stops accepting
//! the key at most 300 s after the revocation, whichever instance it fetched from.

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use reverify::{Jwk, JwkSet};

use crate::error::ApiError;
use crate::store::{Store, StoredKey};

/// How often an instance rereads the keys (another instance may have rotated or revoked).
pub const RELOAD_SECS: i64 = 30;

/// The `max-age` of the JWKS response: whatever instance a verifier fetched the set from,
/// the set it holds is at most `RELOAD_SECS + JWKS_MAX_AGE_SECS` = 300 s behind the
/// database, so a revoked key is trusted at most 300 s after its revocation.
pub const JWKS_MAX_AGE_SECS: i64 = 300 - RELOAD_SECS;

/// What [`KeyRing::revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedKey {
    /// The revoked key.
    pub kid: String,
    /// The key generated to sign at once, when the revoked key was signing (or due to).
    pub replaced_by: Option<String>,
}

struct Loaded {
    at: i64,
    keys: Vec<(StoredKey, SigningKey)>,
}

/// The instance's view of the signing keys.
#[derive(Clone)]
pub struct KeyRing {
    store: Store,
    loaded: Arc<RwLock<Loaded>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").finish_non_exhaustive()
    }
}

fn generate(now: i64, signs_from: i64) -> StoredKey {
    let seed = crate::secrets::random_bytes::<32>();
    let key = SigningKey::from_bytes(&seed);
    let public = key.verifying_key().to_bytes();
    let kid = format!("ins_{}", &URL_SAFE_NO_PAD.encode(&public[..12]));
    StoredKey {
        kid,
        alg: "EdDSA".into(),
        private_key: URL_SAFE_NO_PAD.encode(seed),
        public_key: URL_SAFE_NO_PAD.encode(public),
        created_at: now,
        signs_from,
        signs_until: None,
        published_until: None,
    }
}

fn decode(stored: StoredKey) -> Result<(StoredKey, SigningKey), ApiError> {
    let seed: [u8; 32] = URL_SAFE_NO_PAD
        .decode(&stored.private_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::internal(format!("signing key {} is corrupt", stored.kid)))?;
    Ok((stored, SigningKey::from_bytes(&seed)))
}

impl KeyRing {
    /// Loads the keys, creating the first one if the database has none.
    pub async fn open(store: Store, now: i64) -> Result<KeyRing, ApiError> {
        if store.insert_first_key(&generate(now, now)).await? {
            tracing::info!("created the first signing key");
        }
        let ring = KeyRing {
            store,
            loaded: Arc::new(RwLock::new(Loaded {
                at: i64::MIN,
                keys: Vec::new(),
            })),
        };
        ring.reload(now).await?;
        Ok(ring)
    }

    async fn reload(&self, now: i64) -> Result<(), ApiError> {
        let keys = self
            .store
            .published_keys(now)
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Loaded { at: now, keys };
        Ok(())
    }

    async fn fresh(&self, now: i64) -> Result<(), ApiError> {
        let stale = now - self.loaded.read().unwrap_or_else(|e| e.into_inner()).at >= RELOAD_SECS;
        if stale {
            self.reload(now).await?;
        }
        Ok(())
    }

    /// Signs a JWT with the key that signs at `now`.
    pub async fn sign(&self, claims: &serde_json::Value, now: i64) -> Result<String, ApiError> {
        self.fresh(now).await?;
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let (stored, key) = loaded
            .keys
            .iter()
            .rev()
            .find(|(k, _)| k.signs_from <= now && k.signs_until.is_none_or(|until| now < until))
            .ok_or_else(|| ApiError::internal("no signing key is active"))?;
        let header = serde_json::json!({ "alg": "EdDSA", "kid": stored.kid, "typ": "JWT" });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(input.as_bytes());
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }

    /// The JWK set: every published key.
    pub async fn jwks(&self, now: i64) -> Result<JwkSet, ApiError> {
        self.fresh(now).await?;
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        Ok(JwkSet {
            keys: loaded
                .keys
                .iter()
                .map(|(stored, key)| Jwk::ed25519(&stored.kid, key.verifying_key().as_bytes()))
                .collect(),
        })
    }

    /// Revokes `kid` (a leaked key): it stops signing and leaves the JWKS now — on this
    /// instance at once, on the others within [`RELOAD_SECS`]. If it was signing (or due
    /// to), a new key is generated and signs at once, and the other keys stop signing and
    /// leave the JWKS `token_lifetime + 60 s` later. `None` when there is no such key.
    pub async fn revoke(
        &self,
        kid: &str,
        now: i64,
        token_lifetime: i64,
    ) -> Result<Option<RevokedKey>, ApiError> {
        let replacement = generate(now, now);
        let Some(replaced) = self
            .store
            .revoke_key(kid, now, &replacement, now + token_lifetime + 60)
            .await?
        else {
            return Ok(None);
        };
        self.reload(now).await?;
        let replaced_by = replaced.then_some(replacement.kid);
        tracing::warn!(%kid, ?replaced_by, "revoked a signing key");
        Ok(Some(RevokedKey {
            kid: kid.to_owned(),
            replaced_by,
        }))
    }

    /// Rotates: a new key published now, signing from `now + publish_ahead`; the current
    /// key stops signing then and is unpublished `token_lifetime + 60 s` later.
    pub async fn rotate(
        &self,
        now: i64,
        publish_ahead: i64,
        token_lifetime: i64,
    ) -> Result<String, ApiError> {
        let new = generate(now, now + publish_ahead.max(0));
        let kid = new.kid.clone();
        self.store
            .rotate_in_key(&new, new.signs_from + token_lifetime + 60)
            .await?;
        self.reload(now).await?;
        tracing::info!(%kid, signs_from = new.signs_from, "rotated the signing key");
        Ok(kid)
    }
}
