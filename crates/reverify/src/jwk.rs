//! JSON Web Keys (RFC 7517) and the verification keys built from them.
//!
//! Each key is pinned to one algorithm when it is loaded: `OKP`/`Ed25519` → `EdDSA`,
//! `EC`/`P-256` → `ES256`, `RSA` → `RS256` (or the key's own `alg`, which must agree).
//! A token's `alg` header is only ever compared with that pinned algorithm; it never
//! chooses how the signature is checked.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A JSON Web Key: the public members Reverify reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Key id, matched against the token's `kid` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use; keys whose `use` is present and not `sig` are ignored.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Algorithm the key is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Curve (`Ed25519`, `P-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// OKP public key, or EC x coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus (base64url, big-endian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (base64url, big-endian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWK Set, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// The JWK of an Ed25519 public key, for `EdDSA` signatures.
    pub fn ed25519(kid: impl Into<String>, public_key: &[u8; 32]) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            kid: Some(kid.into()),
            use_: Some("sig".into()),
            alg: Some("EdDSA".into()),
            crv: Some("Ed25519".into()),
            x: Some(URL_SAFE_NO_PAD.encode(public_key)),
            ..Jwk::default()
        }
    }

    /// The JWK of an RSA public key, for `RS256` signatures: `modulus` and `exponent`
    /// big-endian (leading zero bytes are dropped, as RFC 7518 requires).
    pub fn rsa(kid: impl Into<String>, modulus: &[u8], exponent: &[u8]) -> Jwk {
        let unsigned = |b: &[u8]| {
            let zeros = b
                .iter()
                .take_while(|x| **x == 0)
                .count()
                .min(b.len().saturating_sub(1));
            URL_SAFE_NO_PAD.encode(&b[zeros..])
        };
        Jwk {
            kty: "RSA".into(),
            kid: Some(kid.into()),
            use_: Some("sig".into()),
            alg: Some("RS256".into()),
            n: Some(unsigned(modulus)),
            e: Some(unsigned(exponent)),
            ..Jwk::default()
        }
    }
}

/// The signature algorithms a verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (keys of 2048 to 8192 bits).
    RS256,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
        }
    }

    pub(crate) fn from_jose(name: &str) -> Option<Algorithm> {
        match name {
            "EdDSA" => Some(Algorithm::EdDSA),
            "ES256" => Some(Algorithm::ES256),
            "RS256" => Some(Algorithm::RS256),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key ready to verify signatures, pinned to one algorithm.
pub(crate) enum VerifyKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    /// Uncompressed SEC1 point `04 || x || y`.
    Es256(Vec<u8>),
    /// Big-endian modulus without leading zeros, and exponent.
    Rs256 {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyKey({})", self.algorithm())
    }
}

impl VerifyKey {
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            VerifyKey::Ed25519(_) => Algorithm::EdDSA,
            VerifyKey::Es256(_) => Algorithm::ES256,
            VerifyKey::Rs256 { .. } => Algorithm::RS256,
        }
    }

    /// Checks `signature` over `message` with this key's pinned algorithm.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as rs;
        match self {
            VerifyKey::Ed25519(key) => {
                let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                    return false;
                };
                use ed25519_dalek::Verifier as _;
                key.verify(message, &sig).is_ok()
            }
            VerifyKey::Es256(point) => {
                rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            VerifyKey::Rs256 { n, e } => rs::RsaPublicKeyComponents { n, e }
                .verify(&rs::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
        }
    }

    /// Builds a verification key from a JWK; `Err` says why the key is unusable.
    pub(crate) fn from_jwk(jwk: &Jwk) -> Result<VerifyKey, String> {
        if let Some(u) = &jwk.use_ {
            if u != "sig" {
                return Err(format!("use is {u:?}, not \"sig\""));
            }
        }
        let b64 = |field: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
            let value = field.as_deref().ok_or_else(|| format!("missing {name}"))?;
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| format!("{name} is not base64url"))
        };
        let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                let x: [u8; 32] = b64(&jwk.x, "x")?
                    .try_into()
                    .map_err(|_| "x is not 32 bytes".to_owned())?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|_| "x is not an Ed25519 point".to_owned())?;
                VerifyKey::Ed25519(key)
            }
            ("EC", Some("P-256")) => {
                let (x, y) = (b64(&jwk.x, "x")?, b64(&jwk.y, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("P-256 coordinates must be 32 bytes".into());
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                VerifyKey::Es256(point)
            }
            ("RSA", _) => {
                let mut n = b64(&jwk.n, "n")?;
                let e = b64(&jwk.e, "e")?;
                let zeros = n.iter().take_while(|b| **b == 0).count();
                n.drain(..zeros);
                if n.len() < 256 {
                    return Err("RSA keys shorter than 2048 bits are not accepted".into());
                }
                VerifyKey::Rs256 { n, e }
            }
            (kty, crv) => return Err(format!("unsupported key type {kty} / {crv:?}")),
        };
        match &jwk.alg {
            Some(alg) if alg != key.algorithm().as_str() => Err(format!(
                "alg {alg:?} does not fit a {} key",
                key.algorithm()
            )),
            _ => Ok(key),
        }
    }
}

/// The usable keys of a JWK set, by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, VerifyKey>,
}

impl KeySet {
    /// Loads every usable key; unusable ones (no `kid`, unsupported type, duplicate `kid`)
    /// are skipped with a warning so that one odd key cannot take the whole set down.
    pub(crate) fn from_jwks(set: &JwkSet) -> KeySet {
        let mut keys = HashMap::with_capacity(set.keys.len());
        for jwk in &set.keys {
            let Some(kid) = jwk.kid.clone() else {
                tracing::warn!(kty = %jwk.kty, "skipping a JWK without kid");
                continue;
            };
            if keys.contains_key(&kid) {
                tracing::warn!(%kid, "skipping a JWK with a duplicate kid");
                continue;
            }
            match VerifyKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, key);
                }
                Err(why) => tracing::warn!(%kid, %why, "skipping an unusable JWK"),
            }
        }
        KeySet { keys }
    }

    /// Like [`KeySet::from_jwks`], but a set given by the developer must be fully usable.
    pub(crate) fn from_jwks_strict(set: &JwkSet) -> Result<KeySet, Error> {
        let loaded = KeySet::from_jwks(set);
        if loaded.keys.len() != set.keys.len() || loaded.keys.is_empty() {
            return Err(Error::Config(
                "the static JWK set is empty or holds unusable keys (see the warnings)".into(),
            ));
        }
        Ok(loaded)
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&VerifyKey> {
        self.keys.get(kid)
    }

    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether every key id of `self` is also in `other`.
    #[cfg_attr(not(feature = "fetch"), allow(dead_code))]
    pub(crate) fn kids_subset_of(&self, other: &KeySet) -> bool {
        self.keys.keys().all(|k| other.keys.contains_key(k))
    }
}
