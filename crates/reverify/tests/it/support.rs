//! Keys of every supported algorithm, and a signer for arbitrary headers and payloads.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reverify::testing::TestIssuer;
use reverify::{Jwk, JwkSet, Verifier};
use ring::rand::SystemRandom;
use ring::signature::{self as rs, EcdsaKeyPair, KeyPair, RsaKeyPair};

pub const RSA_KID: &str = "rsa-1";
pub const EC_KID: &str = "ec-1";

/// An Ed25519 issuer plus an ES256 and an RS256 key under the same issuer name.
pub struct Keys {
    pub ed: TestIssuer,
    pub ec: EcdsaKeyPair,
    pub rsa: RsaKeyPair,
}

impl Keys {
    pub fn new() -> Keys {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec =
            EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap();
        let rsa = RsaKeyPair::from_pkcs8(include_bytes!("fixtures/rsa2048.pk8.der")).unwrap();
        Keys {
            ed: TestIssuer::new(),
            ec,
            rsa,
        }
    }

    pub fn ec_jwk(&self) -> Jwk {
        let point = self.ec.public_key().as_ref();
        Jwk {
            kty: "EC".into(),
            kid: Some(EC_KID.into()),
            crv: Some("P-256".into()),
            alg: Some("ES256".into()),
            x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
            y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
            ..Jwk::default()
        }
    }

    pub fn rsa_jwk(&self) -> Jwk {
        let components = rs::RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public());
        Jwk {
            kty: "RSA".into(),
            kid: Some(RSA_KID.into()),
            use_: Some("sig".into()),
            n: Some(URL_SAFE_NO_PAD.encode(&components.n)),
            e: Some(URL_SAFE_NO_PAD.encode(&components.e)),
            ..Jwk::default()
        }
    }

    pub fn jwks(&self) -> JwkSet {
        let mut set = self.ed.jwks();
        set.keys.push(self.ec_jwk());
        set.keys.push(self.rsa_jwk());
        set
    }

    pub fn verifier(&self) -> Verifier {
        self.ed
            .verifier_builder()
            .jwks(self.jwks())
            .build()
            .unwrap()
    }

    pub fn sign_es256(&self, header: &serde_json::Value, payload: &serde_json::Value) -> String {
        self.sign_es256_input(&signing_input(header, payload))
    }

    pub fn sign_es256_input(&self, input: &str) -> String {
        let sig = self
            .ec
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    pub fn sign_rs256(&self, header: &serde_json::Value, payload: &serde_json::Value) -> String {
        let input = signing_input(header, payload);
        let mut sig = vec![0; self.rsa.public().modulus_len()];
        self.rsa
            .sign(
                &rs::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

pub fn signing_input(header: &serde_json::Value, payload: &serde_json::Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Default claims of a valid token from `issuer` at its clock's time.
pub fn claims(issuer: &TestIssuer) -> serde_json::Value {
    serde_json::to_value(issuer.token().claims()).unwrap()
}
