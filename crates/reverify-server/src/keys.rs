//! Signing keys, for two uses: session tokens ([`KeyPurpose::Session`]) and, when the
//! OpenID provider is on (`oidc.enabled`), its ID and access tokens: one key per algorithm
//! a client may ask its ID tokens in ([`KeyPurpose::Oidc`] RS256, the algorithm every
//! relying party verifies, which also signs every access token; [`KeyPurpose::OidcEdDSA`]
//! and [`KeyPurpose::OidcES256`] for clients registered with
//! `id_token_signed_response_alg` `EdDSA` or `ES256`). Each purpose has its own signing key
//! and rotates on its own; the JWKS publishes them all (design note 50).
//!
//! Session keys: Ed25519 (`EdDSA`, the default) or 2048-bit RSA (`RS256`, for
//! `sessions.token_format = "clerk_v2"` or `keys.algorithm = "RS256"`): stored in the
//! database (shared by every instance), published in the JWKS before they sign, kept
//! published until their last tokens expired.
//!
//! Changing `keys.algorithm` is a rotation: at start, when the key that signs last has
//! another algorithm, a key of the configured one is rotated in (published at once,
//! signing `keys.publish_ahead_secs` later), once however many instances start together.
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
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};

use crate::config::SigningAlgorithm;
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

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Session tokens (`keys.algorithm`).
    Session,
    /// The OpenID provider's access tokens and RS256 ID tokens.
    Oidc,
    /// The OpenID provider's ID tokens for clients registered with `EdDSA` (Ed25519).
    OidcEdDSA,
    /// The OpenID provider's ID tokens for clients registered with `ES256` (P-256).
    OidcES256,
}

impl KeyPurpose {
    /// The OpenID provider's purposes, one per ID token algorithm (RS256 first).
    pub const OIDC: [KeyPurpose; 3] = [
        KeyPurpose::Oidc,
        KeyPurpose::OidcEdDSA,
        KeyPurpose::OidcES256,
    ];

    /// The stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Session => "session",
            KeyPurpose::Oidc => "oidc",
            KeyPurpose::OidcEdDSA => "oidc_eddsa",
            KeyPurpose::OidcES256 => "oidc_es256",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<KeyPurpose> {
        [KeyPurpose::Session]
            .into_iter()
            .chain(KeyPurpose::OIDC)
            .find(|p| p.as_str() == s)
    }

    /// Whether it is one of the OpenID provider's.
    pub const fn is_oidc(self) -> bool {
        !matches!(self, KeyPurpose::Session)
    }

    /// The provider's purpose for ID tokens in `alg` (`RS256`, `EdDSA`, `ES256`).
    pub fn for_id_token_alg(alg: &str) -> Option<KeyPurpose> {
        KeyPurpose::OIDC
            .into_iter()
            .find(|p| p.oidc_alg() == Some(alg))
    }

    /// The algorithm of an OpenID provider's purpose (`None` for session keys, whose
    /// algorithm is `keys.algorithm`).
    pub const fn oidc_alg(self) -> Option<&'static str> {
        match self {
            KeyPurpose::Session => None,
            KeyPurpose::Oidc => Some("RS256"),
            KeyPurpose::OidcEdDSA => Some("EdDSA"),
            KeyPurpose::OidcES256 => Some("ES256"),
        }
    }
}

/// A private key, ready to sign.
enum PrivateKey {
    Ed25519(SigningKey),
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
}

struct Loaded {
    at: i64,
    keys: Vec<(StoredKey, PrivateKey)>,
}

/// The instance's view of the signing keys.
#[derive(Clone)]
pub struct KeyRing {
    store: Store,
    algorithm: SigningAlgorithm,
    /// With the OpenID provider on: the longest lifetime of its tokens.
    oidc: Option<i64>,
    loaded: Arc<RwLock<Loaded>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The RSA modulus size (the reference's SDKs read a PEM public key of exactly this size).
pub const RSA_BITS: usize = 2048;

fn generate(
    purpose: KeyPurpose,
    algorithm: &str,
    now: i64,
    signs_from: i64,
) -> Result<StoredKey, ApiError> {
    let (private_key, public_key) = match algorithm {
        "EdDSA" => {
            let seed = crate::secrets::random_bytes::<32>();
            let key = SigningKey::from_bytes(&seed);
            (seed.to_vec(), key.verifying_key().to_bytes().to_vec())
        }
        "RS256" => generate_rsa()?,
        "ES256" => generate_p256()?,
        other => {
            return Err(ApiError::internal(format!(
                "no key generation for {other:?}"
            )));
        }
    };
    // The kid is derived from the public key (for RSA, from the end of the DER: the
    // modulus, not the fixed SubjectPublicKeyInfo prefix).
    let tail = &public_key[public_key.len().saturating_sub(32)..];
    let kid = format!("ins_{}", &URL_SAFE_NO_PAD.encode(&tail[..12]));
    Ok(StoredKey {
        kid,
        alg: algorithm.into(),
        private_key: URL_SAFE_NO_PAD.encode(private_key),
        public_key: URL_SAFE_NO_PAD.encode(public_key),
        created_at: now,
        signs_from,
        signs_until: None,
        published_until: None,
        purpose: purpose.as_str().into(),
    })
}

/// A new 2048-bit RSA key (e = 65537): its PKCS#8 and SubjectPublicKeyInfo DER.
fn generate_rsa() -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    use rand::SeedableRng;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let failed = |e: &dyn std::fmt::Display| ApiError::internal(format!("RSA key generation: {e}"));
    let mut rng = rand::rngs::StdRng::from_seed(crate::secrets::random_bytes::<32>());
    let key = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS).map_err(|e| failed(&e))?;
    let private = key.to_pkcs8_der().map_err(|e| failed(&e))?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| failed(&e))?;
    Ok((private.as_bytes().to_vec(), public.as_bytes().to_vec()))
}

/// A new P-256 key: its PKCS#8 DER and its uncompressed public point (65 bytes).
fn generate_p256() -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    let rng = ring::rand::SystemRandom::new();
    let failed = || ApiError::internal("P-256 key generation failed");
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| failed())?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| failed())?;
    Ok((
        pkcs8.as_ref().to_vec(),
        ring::signature::KeyPair::public_key(&key).as_ref().to_vec(),
    ))
}

fn decode(stored: StoredKey) -> Result<(StoredKey, PrivateKey), ApiError> {
    let corrupt = || ApiError::internal(format!("signing key {} is corrupt", stored.kid));
    let bytes = URL_SAFE_NO_PAD
        .decode(&stored.private_key)
        .map_err(|_| corrupt())?;
    let key = match stored.alg.as_str() {
        "EdDSA" => {
            let seed: [u8; 32] = bytes.try_into().map_err(|_| corrupt())?;
            PrivateKey::Ed25519(SigningKey::from_bytes(&seed))
        }
        "RS256" => PrivateKey::Rsa(RsaKeyPair::from_pkcs8(&bytes).map_err(|_| corrupt())?),
        "ES256" => PrivateKey::P256(
            EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &bytes,
                &ring::rand::SystemRandom::new(),
            )
            .map_err(|_| corrupt())?,
        ),
        other => {
            return Err(ApiError::internal(format!(
                "signing key {} has an unknown algorithm {other:?}",
                stored.kid
            )));
        }
    };
    Ok((stored, key))
}

/// The PEM (SubjectPublicKeyInfo) of a stored RS256 key: what the reference's SDKs take
/// as their networkless public key. `None` for other algorithms.
pub fn public_pem(stored: &StoredKey) -> Option<String> {
    if stored.alg != "RS256" {
        return None;
    }
    let der = URL_SAFE_NO_PAD.decode(&stored.public_key).ok()?;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).ok()?);
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    Some(pem)
}

fn jwk_of(stored: &StoredKey, key: &PrivateKey) -> Jwk {
    match key {
        PrivateKey::Ed25519(key) => Jwk::ed25519(&stored.kid, key.verifying_key().as_bytes()),
        PrivateKey::Rsa(key) => {
            let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public());
            Jwk::rsa(&stored.kid, &public.n, &public.e)
        }
        PrivateKey::P256(key) => {
            // The uncompressed point: 0x04, then x and y (32 bytes each).
            let point = ring::signature::KeyPair::public_key(key).as_ref();
            Jwk {
                kty: "EC".into(),
                kid: Some(stored.kid.clone()),
                use_: Some("sig".into()),
                alg: Some("ES256".into()),
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
                ..Jwk::default()
            }
        }
    }
}

impl KeyRing {
    /// Loads the keys, creating the first one (of `algorithm`) if the database has none.
    /// When the key that signs last has another algorithm, a key of `algorithm` is rotated
    /// in: published now, signing `publish_ahead` seconds later (see [`KeyRing::rotate`]).
    /// With `oidc` (the longest lifetime of the OpenID provider's tokens, when it is on),
    /// the OpenID provider's first key of each algorithm (RS256, EdDSA, ES256) is created
    /// too where there is none (it signs at once: no token of its can be cached anywhere
    /// yet).
    pub async fn open(
        store: Store,
        now: i64,
        algorithm: SigningAlgorithm,
        publish_ahead: i64,
        token_lifetime: i64,
        oidc: Option<i64>,
    ) -> Result<KeyRing, ApiError> {
        let ring = KeyRing {
            store,
            algorithm,
            oidc,
            loaded: Arc::new(RwLock::new(Loaded {
                at: i64::MIN,
                keys: Vec::new(),
            })),
        };
        let all = ring.store.published_keys(now).await?;
        let session = KeyPurpose::Session.as_str();
        let published: Vec<_> = all.iter().filter(|k| k.purpose == session).collect();
        if published.is_empty() {
            if ring
                .store
                .insert_first_key(&generate(
                    KeyPurpose::Session,
                    algorithm.as_str(),
                    now,
                    now,
                )?)
                .await?
            {
                tracing::info!(alg = algorithm.as_str(), "created the first signing key");
            }
        } else if published
            .iter()
            .filter(|k| k.signs_until.is_none())
            .max_by_key(|k| k.signs_from)
            .is_none_or(|k| k.alg != algorithm.as_str())
        {
            let new = generate(
                KeyPurpose::Session,
                algorithm.as_str(),
                now,
                now + publish_ahead.max(0),
            )?;
            let retire = new.signs_from + token_lifetime + 60;
            if ring.store.rotate_in_key_unless_alg(&new, retire).await? {
                tracing::info!(kid = %new.kid, alg = algorithm.as_str(), signs_from = new.signs_from,
                    "keys.algorithm changed: rotated in a new signing key");
            }
        }
        for purpose in KeyPurpose::OIDC {
            if oidc.is_none()
                || all
                    .iter()
                    .any(|k| k.purpose == purpose.as_str() && k.signs_until.is_none())
            {
                continue;
            }
            let first = generate(purpose, ring.algorithm_of(purpose), now, now)?;
            if ring.store.insert_first_key(&first).await? {
                tracing::info!(kid = %first.kid, alg = %first.alg,
                    "created the OpenID provider's first signing key of this algorithm");
            }
        }
        ring.reload(now).await?;
        Ok(ring)
    }

    /// The algorithm of the keys this instance generates.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// Every key published at `now`, oldest first (public parts only matter: see
    /// [`public_pem`]).
    pub async fn published(&self, now: i64) -> Result<Vec<StoredKey>, ApiError> {
        self.fresh(now).await?;
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        Ok(loaded.keys.iter().map(|(k, _)| k.clone()).collect())
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

    /// Signs a session token with the session key that signs at `now`.
    pub async fn sign(&self, claims: &serde_json::Value, now: i64) -> Result<String, ApiError> {
        self.sign_as(KeyPurpose::Session, "JWT", claims, now).await
    }

    /// Signs a JWT with the key of `purpose` that signs at `now`, with header `typ`
    /// (`JWT`; `at+jwt` for RFC 9068 access tokens).
    pub async fn sign_as(
        &self,
        purpose: KeyPurpose,
        typ: &str,
        claims: &serde_json::Value,
        now: i64,
    ) -> Result<String, ApiError> {
        self.fresh(now).await?;
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let (stored, key) = active(&loaded, now, purpose)?;
        let header = serde_json::json!({ "alg": stored.alg, "kid": stored.kid, "typ": typ });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match key {
            PrivateKey::Ed25519(key) => key.sign(input.as_bytes()).to_bytes().to_vec(),
            PrivateKey::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    input.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| ApiError::internal("RSA signing failed"))?;
                signature
            }
            // JWS wants r || s (RFC 7518 §3.4), which is ring's FIXED form, not ASN.1.
            PrivateKey::P256(key) => key
                .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
                .map_err(|_| ApiError::internal("ECDSA signing failed"))?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The claims of a JWT this server signed with a published key of `purpose`, if its
    /// signature verifies (its times are not checked: an `id_token_hint` may have expired).
    /// Any of the OpenID provider's purposes stands for all of them: an ID token may be
    /// signed in any of its algorithms.
    pub async fn verify_own(
        &self,
        jwt: &str,
        purpose: KeyPurpose,
        now: i64,
    ) -> Result<Option<serde_json::Value>, ApiError> {
        self.fresh(now).await?;
        let Some((input, signature)) = jwt.rsplit_once('.') else {
            return Ok(None);
        };
        let Some((header, payload)) = input.split_once('.') else {
            return Ok(None);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        };
        let (Some(header), Some(claims), Ok(signature)) = (
            decode(header),
            decode(payload),
            URL_SAFE_NO_PAD.decode(signature),
        ) else {
            return Ok(None);
        };
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let Some((stored, key)) = loaded.keys.iter().find(|(k, _)| {
            KeyPurpose::parse(&k.purpose)
                .is_some_and(|p| p == purpose || (p.is_oidc() && purpose.is_oidc()))
                && header["kid"].as_str() == Some(k.kid.as_str())
        }) else {
            return Ok(None);
        };
        if header["alg"].as_str() != Some(stored.alg.as_str()) {
            return Ok(None);
        }
        let valid = match key {
            PrivateKey::Rsa(key) => {
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public());
                ring::signature::RsaPublicKeyComponents {
                    n: &public.n,
                    e: &public.e,
                }
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    input.as_bytes(),
                    &signature,
                )
                .is_ok()
            }
            PrivateKey::Ed25519(key) => {
                ed25519_dalek::Signature::from_slice(&signature).is_ok_and(|sig| {
                    ed25519_dalek::Verifier::verify(&key.verifying_key(), input.as_bytes(), &sig)
                        .is_ok()
                })
            }
            PrivateKey::P256(key) => ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                ring::signature::KeyPair::public_key(key).as_ref(),
            )
            .verify(input.as_bytes(), &signature)
            .is_ok(),
        };
        Ok(valid.then_some(claims))
    }

    /// The JWK set: every published key.
    pub async fn jwks(&self, now: i64) -> Result<JwkSet, ApiError> {
        self.fresh(now).await?;
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        Ok(JwkSet {
            keys: loaded
                .keys
                .iter()
                .map(|(stored, key)| jwk_of(stored, key))
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
        let purpose = match self.store.key_purpose(kid).await? {
            Some(p) => KeyPurpose::parse(&p).unwrap_or(KeyPurpose::Session),
            None => return Ok(None),
        };
        let replacement = generate(purpose, self.algorithm_of(purpose), now, now)?;
        // The other keys of its purpose stay published for their tokens' lifetime.
        let token_lifetime = if purpose.is_oidc() {
            self.oidc.unwrap_or(token_lifetime).max(token_lifetime)
        } else {
            token_lifetime
        };
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

    /// The algorithm of new keys of `purpose`.
    fn algorithm_of(&self, purpose: KeyPurpose) -> &'static str {
        purpose.oidc_alg().unwrap_or(self.algorithm.as_str())
    }

    /// Whether this ring keeps a key for the OpenID provider (`oidc.enabled`).
    pub fn has_oidc(&self) -> bool {
        self.oidc.is_some()
    }

    /// Rotates the session key: see [`KeyRing::rotate_purpose`].
    pub async fn rotate(
        &self,
        now: i64,
        publish_ahead: i64,
        token_lifetime: i64,
    ) -> Result<String, ApiError> {
        self.rotate_purpose(KeyPurpose::Session, now, publish_ahead, token_lifetime)
            .await
    }

    /// Rotates the key of `purpose`: a new key (of the configured algorithm for session
    /// keys, the purpose's own for the OpenID provider's) published now, signing from
    /// `now + publish_ahead`; the current key of that purpose stops signing then and is
    /// unpublished `token_lifetime + 60 s` later (the longest lifetime of its tokens).
    pub async fn rotate_purpose(
        &self,
        purpose: KeyPurpose,
        now: i64,
        publish_ahead: i64,
        token_lifetime: i64,
    ) -> Result<String, ApiError> {
        let new = generate(
            purpose,
            self.algorithm_of(purpose),
            now,
            now + publish_ahead.max(0),
        )?;
        let kid = new.kid.clone();
        self.store
            .rotate_in_key(&new, new.signs_from + token_lifetime + 60)
            .await?;
        self.reload(now).await?;
        tracing::info!(%kid, purpose = purpose.as_str(), signs_from = new.signs_from, "rotated the signing key");
        Ok(kid)
    }
}

/// The key of `purpose` that signs at `now`: the newest whose signing period holds `now`.
fn active(
    loaded: &Loaded,
    now: i64,
    purpose: KeyPurpose,
) -> Result<&(StoredKey, PrivateKey), ApiError> {
    loaded
        .keys
        .iter()
        .rev()
        .find(|(k, _)| {
            k.purpose == purpose.as_str()
                && k.signs_from <= now
                && k.signs_until.is_none_or(|until| now < until)
        })
        .ok_or_else(|| ApiError::internal("no signing key is active"))
}
