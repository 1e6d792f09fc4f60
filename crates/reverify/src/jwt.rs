//! The compact JWS form: `base64url(header) . base64url(payload) . base64url(signature)`.
//!
//! Only what session tokens need: no JWE, no unencoded payloads, no `crit` extensions
//! (a token that names any is rejected, as RFC 7515 §4.1.11 requires of a verifier that
//! understands none).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::error::Error;
use crate::jwk::Algorithm;

/// Tokens longer than this are rejected before any decoding.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The largest signature we accept: RSA-8192.
const MAX_SIGNATURE_LEN: usize = 1024;

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
    /// Kept only as "is it an access token's type": the one distinction any check needs.
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
}

/// Whether `typ` names an RFC 9068 access token: `at+jwt` or `application/at+jwt`, compared
/// case-insensitively (media types are; RFC 9068 §4).
pub(crate) fn is_access_token_type(typ: &str) -> bool {
    let typ = typ
        .get(..12)
        .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    typ.eq_ignore_ascii_case("at+jwt")
}

/// A token split into its parts, its header checked and its signature decoded.
pub(crate) struct Compact<'t> {
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'t str,
    pub(crate) payload_b64: &'t str,
    pub(crate) alg: Algorithm,
    pub(crate) kid: String,
    /// The header's `typ` is `at+jwt` (an RFC 9068 access token).
    pub(crate) access_token_type: bool,
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
}

impl<'t> Compact<'t> {
    pub(crate) fn parse(token: &'t str) -> Result<Compact<'t>, Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::TokenMalformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::TokenMalformed);
        };
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];

        let header_json = decode(header_b64)?;
        let header: Header<'_> =
            serde_json::from_slice(&header_json).map_err(|_| Error::TokenMalformed)?;
        if header.crit.is_some() {
            return Err(Error::TokenMalformed);
        }
        // `none`, HMAC and anything else we do not verify are refused here, before any
        // key is looked up.
        let alg = Algorithm::from_jose(&header.alg).ok_or(Error::UnsupportedAlgorithm)?;
        let kid = header.kid.ok_or(Error::UnknownKey)?.into_owned();
        let access_token_type = header.typ.as_deref().is_some_and(is_access_token_type);

        let mut signature = [0u8; MAX_SIGNATURE_LEN];
        if signature_b64.len() > MAX_SIGNATURE_LEN * 4 / 3 + 4 {
            return Err(Error::TokenMalformed);
        }
        let signature_len = URL_SAFE_NO_PAD
            .decode_slice(signature_b64, &mut signature)
            .map_err(|_| Error::TokenMalformed)?;
        Ok(Compact {
            signing_input,
            payload_b64,
            alg,
            kid,
            access_token_type,
            signature,
            signature_len,
        })
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature[..self.signature_len]
    }

    pub(crate) fn payload(&self) -> Result<Vec<u8>, Error> {
        decode(self.payload_b64)
    }
}

fn decode(part: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::TokenMalformed)
}
