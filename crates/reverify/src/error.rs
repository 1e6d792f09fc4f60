//! Why a session could not be established. Each variant has a stable machine
//! [`code`](Error::code) and an HTTP [`status`](Error::status).
//!
//! The messages are safe to show to clients: they say what is wrong with the token, never
//! anything about keys or internal state. Details (fetch failures, skipped keys) are logged
//! with `tracing`.

/// A session token could not be verified, or no token was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No token in `Authorization: Bearer` nor in the session cookie.
    #[error("no session token was sent")]
    TokenMissing,
    /// Not a compact JWS, bad base64url, bad JSON, or too large.
    #[error("the session token is malformed")]
    TokenMalformed,
    /// `alg` is `none`, an HMAC algorithm, or one this verifier does not accept.
    #[error("the session token's algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// The token's `alg` is not the algorithm its key is pinned to.
    #[error("the session token's algorithm does not match its key")]
    AlgorithmMismatch,
    /// No `kid`, or a `kid` the key set does not contain.
    #[error("the session token was signed with an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the session token's signature is invalid")]
    InvalidSignature,
    /// A required claim is missing or has the wrong type.
    #[error("the session token's claims are invalid")]
    InvalidClaims,
    /// `exp` has passed (beyond the allowed clock skew).
    #[error("the session token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the allowed clock skew).
    #[error("the session token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the session token was issued by another issuer")]
    WrongIssuer,
    /// `azp` is not one of the configured authorized parties.
    #[error("the session token was issued for another origin")]
    UnauthorizedParty,
    /// The header's `typ` says the token is of another kind: an access token (`at+jwt`)
    /// sent as a session token, or anything else sent as an access token.
    #[error("the token is not of the expected type")]
    WrongTokenType,
    /// An access token's `aud` does not contain this resource server's audience.
    #[error("the access token was issued for another audience")]
    WrongAudience,
    /// An access token lacks a scope the resource requires: 403, with the scopes in
    /// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."` (RFC 6750 §3.1).
    #[error("the access token lacks a required scope")]
    InsufficientScope {
        /// The scopes the resource requires, space-separated.
        scope: String,
    },
    /// The key set could not be obtained (fetch failed and nothing is cached).
    #[error("the signing keys are unavailable")]
    KeysUnavailable,
    /// The verifier is misconfigured (for example an invalid static key set).
    #[error("the token verifier is misconfigured: {0}")]
    Config(String),
    /// An axum handler asked for a session but no verifier was installed on the router.
    #[error("no token verifier is installed on this route")]
    VerifierMissing,
}

impl Error {
    /// The stable machine code, e.g. `token_expired`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::TokenMissing => "token_missing",
            Error::TokenMalformed => "token_malformed",
            Error::UnsupportedAlgorithm => "token_algorithm_unsupported",
            Error::AlgorithmMismatch => "token_algorithm_mismatch",
            Error::UnknownKey => "token_key_unknown",
            Error::InvalidSignature => "token_signature_invalid",
            Error::InvalidClaims => "token_claims_invalid",
            Error::Expired => "token_expired",
            Error::NotYetValid => "token_not_yet_valid",
            Error::WrongIssuer => "token_issuer_invalid",
            Error::UnauthorizedParty => "token_azp_invalid",
            Error::WrongTokenType => "token_type_invalid",
            Error::WrongAudience => "token_audience_invalid",
            Error::InsufficientScope { .. } => "insufficient_scope",
            Error::KeysUnavailable => "jwks_unavailable",
            Error::Config(_) => "verifier_config_invalid",
            Error::VerifierMissing => "verifier_missing",
        }
    }

    /// The HTTP status: 401 for anything wrong with the token, 403 for a valid access
    /// token without a required scope, 503 when the keys cannot be fetched, 500 for a
    /// misconfigured server.
    pub fn status(&self) -> u16 {
        match self {
            Error::InsufficientScope { .. } => 403,
            Error::KeysUnavailable => 503,
            Error::Config(_) | Error::VerifierMissing => 500,
            _ => 401,
        }
    }

    /// The JSON error body: `{"code": ..., "message": ...}`.
    pub fn body(&self) -> serde_json::Value {
        let message = match self {
            // Do not echo configuration details to clients.
            Error::Config(_) | Error::VerifierMissing => "internal server error".to_owned(),
            other => other.to_string(),
        };
        serde_json::json!({ "code": self.code(), "message": message })
    }

    /// The RFC 6750 `WWW-Authenticate` value for a 401, if any: `Bearer` when no token was
    /// sent, `Bearer error="invalid_token", error_description="..."` when it was rejected;
    /// for the 403 of a missing scope, `Bearer error="insufficient_scope",
    /// error_description="...", scope="..."`.
    pub fn www_authenticate(&self) -> Option<String> {
        if let Error::InsufficientScope { scope } = self {
            return Some(format!(
                "Bearer error=\"insufficient_scope\", error_description=\"{self}\", scope=\"{}\"",
                crate::challenge::quote(scope)
            ));
        }
        match self.status() {
            401 if *self == Error::TokenMissing => Some("Bearer".to_owned()),
            401 => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{self}\""
            )),
            _ => None,
        }
    }
}
