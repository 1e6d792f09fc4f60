//! OAuth 2.0 access tokens (RFC 9068 JWTs) for resource servers, and the RFC 9470 step-up
//! check on them.
//!
//! Reverify as an OpenID provider issues JWT access tokens: header `typ: at+jwt`, claims
//! `iss sub aud exp iat jti client_id scope auth_time acr amr` (`sid` optional). An
//! [`AccessTokenVerifier`] checks them with the same rules and the same speed as session
//! tokens (the same key handling and algorithm pinning, the same token cache design, the
//! same size, shape, algorithm and leeway checks), and also:
//!
//! - the header's `typ` is `at+jwt` or `application/at+jwt` (any case, RFC 9068 §4): a
//!   session token or an ID token never passes as an access token, and an access token
//!   never passes as a session token (`token_type_invalid`);
//! - `aud` (a string or an array) contains the configured audience (`token_audience_invalid`);
//! - `client_id` and `jti` are present (`token_claims_invalid`);
//! - the configured scopes are all in `scope` (`insufficient_scope`, 403).
//!
//! ```
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use reverify::access::{AccessTokenVerifier, StepUp};
//! use reverify::acr::Acr;
//!
//! let api = AccessTokenVerifier::builder("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .jwks_url("https://auth.example.com/.well-known/jwks.json")
//!     .required_scopes(["payments"])
//!     .build()?;
//! let token = api.verify(token).await?;            // 401 / 403 material on error
//! token.require(&StepUp::max_age(300).acr(Acr::MultiFactor))?; // 401 + RFC 9470 challenge
//! # Ok(()) }
//! ```
//!
//! A backend that verifies session tokens too shares the keys:
//! [`Verifier::access_tokens`]`("https://api.example.com")`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::acr::Acr;
use crate::challenge::StepUpChallenge;
use crate::clock::Clock;
use crate::error::Error;
use crate::jwk::JwkSet;
use crate::session::Verified;
use crate::verifier::{AccessKind, Verifier, VerifierBuilder};

/// The claims of a verified access token (RFC 9068 §2.2, with OpenID's `auth_time`,
/// `acr`, `amr`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user id.
    pub sub: String,
    /// Audiences: the resource servers the token is for (a string or an array on the wire).
    #[serde(deserialize_with = "audience")]
    pub aud: Vec<String>,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id.
    pub jti: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated (empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Session id, when the issuer sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the user last actively authenticated (unix seconds). `None` when absent or not
    /// an integer: then no `max_age` requirement is met.
    #[serde(
        default,
        deserialize_with = "crate::claims::lenient::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_time: Option<i64>,
    /// Authentication context class reference. `None` when absent or not a string.
    #[serde(
        default,
        deserialize_with = "crate::claims::lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub acr: Option<String>,
    /// Authentication methods references (RFC 8176); empty when absent or malformed.
    #[serde(
        default,
        deserialize_with = "crate::claims::lenient::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub amr: Vec<String>,
}

/// `aud`: a string or a non-empty array of strings.
fn audience<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(one) => vec![one],
        Aud::Many(many) => many,
    })
}

impl AccessTokenClaims {
    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// A verified access token, and the instant it was checked at (every step-up check of
/// one request uses that instant).
#[derive(Debug, Clone)]
pub struct AccessToken {
    verified: Arc<Verified<AccessTokenClaims>>,
    now: i64,
    leeway: i64,
}

impl AccessToken {
    /// The verified claims.
    pub fn claims(&self) -> &AccessTokenClaims {
        &self.verified.claims
    }

    /// Deserializes the token's payload into a type of your own, for custom claims.
    pub fn custom_claims<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.verified.payload)
    }

    /// The user id (`sub`).
    pub fn user_id(&self) -> &str {
        &self.claims().sub
    }

    /// The OAuth client (`client_id`).
    pub fn client_id(&self) -> &str {
        &self.claims().client_id
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims().scopes().any(|s| s == scope)
    }

    /// `Ok` when every one of `scopes` was granted, otherwise `insufficient_scope` (403)
    /// naming all of them.
    pub fn require_scopes(&self, scopes: &[&str]) -> Result<(), Error> {
        if scopes.iter().all(|s| self.has_scope(s)) {
            Ok(())
        } else {
            Err(Error::InsufficientScope {
                scope: scopes.join(" "),
            })
        }
    }

    /// The `acr`, if it is one of Reverify's values; an unknown value reads as `None` and
    /// meets no `acr` requirement.
    pub fn acr(&self) -> Option<Acr> {
        self.claims().acr.as_deref()?.parse().ok()
    }

    /// Seconds since the user last authenticated (`auth_time`), at [`checked_at`](Self::checked_at).
    pub fn auth_age(&self) -> Option<i64> {
        self.claims().auth_time.map(|t| self.now.saturating_sub(t))
    }

    /// The instant (unix seconds) the token was verified and requirements are checked at.
    pub fn checked_at(&self) -> i64 {
        self.now
    }

    /// Whether the token meets `requirement`.
    ///
    /// - `max_age`: `auth_time` is present and at most `max_age` seconds ago (to the
    ///   second: an age of exactly `max_age` passes, one more fails). An `auth_time` in
    ///   the future beyond the leeway meets nothing.
    /// - `acr`: the token's `acr` is a Reverify value at least as strong; an unknown or
    ///   missing `acr` meets no `acr` requirement.
    pub fn meets(&self, requirement: &StepUp) -> bool {
        if let Some(max_age) = requirement.max_age {
            match self.auth_age() {
                Some(age) if age >= -self.leeway && age <= max_age as i64 => {}
                _ => return false,
            }
        }
        if let Some(wanted) = requirement.acr {
            match self.acr() {
                Some(acr) if acr.satisfies(wanted) => {}
                _ => return false,
            }
        }
        true
    }

    /// `Ok` when the token meets `requirement`, otherwise the RFC 9470 error to answer
    /// with (401, `WWW-Authenticate: Bearer error="insufficient_user_authentication", …`).
    pub fn require(&self, requirement: &StepUp) -> Result<(), StepUpRequired> {
        if self.meets(requirement) {
            Ok(())
        } else {
            Err(StepUpRequired::new(*requirement))
        }
    }
}

/// What a resource asks of the user's authentication (RFC 9470): at most `max_age`
/// seconds since it, and/or at least an [`Acr`].
///
/// ```
/// use reverify::access::StepUp;
/// use reverify::acr::Acr;
/// const PAYMENTS: StepUp = StepUp::max_age(300).acr(Acr::MultiFactor);
/// assert_eq!(PAYMENTS.max_age_seconds(), Some(300));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepUp {
    max_age: Option<u64>,
    acr: Option<Acr>,
}

impl StepUp {
    /// No requirement (everything meets it).
    pub const NONE: StepUp = StepUp {
        max_age: None,
        acr: None,
    };

    /// An authentication at most `seconds` ago.
    pub const fn max_age(seconds: u64) -> StepUp {
        StepUp {
            max_age: Some(seconds),
            acr: None,
        }
    }

    /// An authentication of at least `acr`.
    pub const fn min_acr(acr: Acr) -> StepUp {
        StepUp {
            max_age: None,
            acr: Some(acr),
        }
    }

    /// This requirement, and also at least `acr`.
    pub const fn acr(mut self, acr: Acr) -> StepUp {
        self.acr = Some(acr);
        self
    }

    /// Both requirements: the shorter `max_age` and the stronger `acr`.
    pub const fn and(self, other: StepUp) -> StepUp {
        let max_age = match (self.max_age, other.max_age) {
            (Some(a), Some(b)) => Some(if a < b { a } else { b }),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        let acr = match (self.acr, other.acr) {
            (Some(a), Some(b)) => Some(if (a as u8) < (b as u8) { b } else { a }),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        StepUp { max_age, acr }
    }

    /// The `max_age` in seconds, if any.
    pub const fn max_age_seconds(&self) -> Option<u64> {
        self.max_age
    }

    /// The least `acr`, if any.
    pub const fn min_acr_value(&self) -> Option<Acr> {
        self.acr
    }

    /// The RFC 9470 challenge: `max_age`, and as `acr_values` the required value then the
    /// stronger ones (every value a client may ask for to meet it).
    pub fn challenge(&self) -> StepUpChallenge {
        let acr_values = self.acr.map_or_else(Vec::new, |wanted| {
            Acr::ALL
                .into_iter()
                .filter(|a| a.satisfies(wanted))
                .map(|a| a.as_str().to_owned())
                .collect()
        });
        StepUpChallenge {
            max_age: self.max_age,
            acr_values,
            error_description: Some(self.describe()),
        }
    }

    /// "Authentication at urn:reverify:acr:mfa or stronger within the last 300 seconds is
    /// required".
    pub fn describe(&self) -> String {
        let mut s = String::from("Authentication");
        if let Some(acr) = self.acr {
            s.push_str(&format!(" at {acr} or stronger"));
        }
        if let Some(age) = self.max_age {
            s.push_str(&format!(" within the last {age} seconds"));
        }
        s.push_str(" is required");
        s
    }
}

/// The RFC 9470 error code, as [`StepUpRequired::code`].
pub const INSUFFICIENT_USER_AUTHENTICATION: &str =
    crate::challenge::INSUFFICIENT_USER_AUTHENTICATION;

/// An access token does not meet a [`StepUp`] requirement: answer 401 with
/// [`body`](Self::body) and [`www_authenticate`](Self::www_authenticate); the client
/// re-authorises with the challenge's `max_age` / `acr_values` (RFC 9470 §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .requirement.describe())]
pub struct StepUpRequired {
    requirement: StepUp,
}

impl StepUpRequired {
    /// The error for `requirement`.
    pub fn new(requirement: StepUp) -> Self {
        StepUpRequired { requirement }
    }

    /// The requirement that was not met.
    pub fn requirement(&self) -> &StepUp {
        &self.requirement
    }

    /// `insufficient_user_authentication`.
    pub fn code(&self) -> &'static str {
        INSUFFICIENT_USER_AUTHENTICATION
    }

    /// 401 (RFC 9470 §3).
    pub fn status(&self) -> u16 {
        401
    }

    /// `{"code": "insufficient_user_authentication", "message": …, "max_age": N,
    /// "acr_values": "…"}` (the last two only when required).
    pub fn body(&self) -> serde_json::Value {
        let challenge = self.requirement.challenge();
        let mut body = serde_json::json!({
            "code": INSUFFICIENT_USER_AUTHENTICATION,
            "message": self.requirement.describe(),
        });
        if let Some(age) = challenge.max_age {
            body["max_age"] = age.into();
        }
        if !challenge.acr_values.is_empty() {
            body["acr_values"] = challenge.acr_values.join(" ").into();
        }
        body
    }

    /// The body as sent, keys always in this order: `code`, `message`, `max_age`,
    /// `acr_values`.
    pub fn body_string(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'static str,
            message: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_age: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            acr_values: Option<&'a str>,
        }
        let challenge = self.requirement.challenge();
        let acr_values = challenge.acr_values.join(" ");
        serde_json::to_string(&Body {
            code: INSUFFICIENT_USER_AUTHENTICATION,
            message: self.requirement.describe(),
            max_age: challenge.max_age,
            acr_values: (!acr_values.is_empty()).then_some(acr_values.as_str()),
        })
        .unwrap_or_default()
    }

    /// `Bearer error="insufficient_user_authentication", error_description="…",
    /// max_age=N, acr_values="…"`.
    pub fn www_authenticate(&self) -> String {
        self.requirement.challenge().to_string()
    }
}

/// Verifies RFC 9068 access tokens for one audience; see the [module docs](self).
/// Cheap to clone (an `Arc`).
#[derive(Clone, Debug)]
pub struct AccessTokenVerifier {
    verifier: Verifier,
    audience: Arc<str>,
    scopes: Arc<[String]>,
}

impl AccessTokenVerifier {
    /// Starts configuring a verifier for access tokens whose `iss` is exactly `issuer`;
    /// [`audience`](AccessTokenVerifierBuilder::audience) is required.
    pub fn builder(issuer: impl Into<String>) -> AccessTokenVerifierBuilder {
        AccessTokenVerifierBuilder {
            base: Verifier::builder(issuer),
            audience: None,
            scopes: Vec::new(),
        }
    }

    pub(crate) fn sharing(verifier: Verifier, audience: String) -> Self {
        AccessTokenVerifier {
            verifier,
            audience: audience.into(),
            scopes: Arc::new([]),
        }
    }

    /// The same verifier, also requiring every one of `scopes` (`insufficient_scope`, 403).
    #[must_use]
    pub fn with_required_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Verifies `token` at the clock's current time.
    pub async fn verify(&self, token: &str) -> Result<AccessToken, Error> {
        self.verify_at(token, self.verifier.clock().now()).await
    }

    /// Verifies `token` as of `now` (unix seconds).
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<AccessToken, Error> {
        let verified = self.verifier.verify_kind::<AccessKind>(token, now).await?;
        let claims = &verified.claims;
        if !claims.aud.iter().any(|a| **a == *self.audience) {
            return Err(Error::WrongAudience);
        }
        if !self
            .scopes
            .iter()
            .all(|wanted| claims.scopes().any(|s| s == wanted))
        {
            return Err(Error::InsufficientScope {
                scope: self.scopes.join(" "),
            });
        }
        Ok(AccessToken {
            verified,
            now,
            leeway: self.verifier.leeway_seconds(),
        })
    }

    /// The audience tokens must name.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The scopes every token must carry.
    pub fn required_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The underlying verifier (keys, issuer, clock); it verifies session tokens.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// How many verified access tokens the cache holds right now (for metrics).
    pub fn cached_tokens(&self) -> usize {
        self.verifier.cached_access_tokens()
    }
}

/// Configures an [`AccessTokenVerifier`]; see [`AccessTokenVerifier::builder`]. The key
/// and cache settings mean what they mean on [`VerifierBuilder`].
#[must_use]
pub struct AccessTokenVerifierBuilder {
    base: VerifierBuilder,
    audience: Option<String>,
    scopes: Vec<String>,
}

impl std::fmt::Debug for AccessTokenVerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenVerifierBuilder")
            .field("audience", &self.audience)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl AccessTokenVerifierBuilder {
    /// The audience of this resource server: `aud` must contain it (required).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Scopes every token must carry (default none).
    pub fn required_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Start from this [`VerifierBuilder`] (for example [`crate::testing::TestIssuer`]'s).
    pub fn from_verifier_builder(base: VerifierBuilder) -> Self {
        AccessTokenVerifierBuilder {
            base,
            audience: None,
            scopes: Vec::new(),
        }
    }

    /// See [`VerifierBuilder::jwks`].
    pub fn jwks(mut self, set: JwkSet) -> Self {
        self.base = self.base.jwks(set);
        self
    }

    /// See [`VerifierBuilder::jwks_url`].
    #[cfg(feature = "fetch")]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.base = self.base.jwks_url(url);
        self
    }

    /// See [`VerifierBuilder::http_client`].
    #[cfg(feature = "fetch")]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.base = self.base.http_client(client);
        self
    }

    /// See [`VerifierBuilder::jwks_max_ttl`].
    pub fn jwks_max_ttl(mut self, ttl: Duration) -> Self {
        self.base = self.base.jwks_max_ttl(ttl);
        self
    }

    /// See [`VerifierBuilder::jwks_refetch_floor`].
    pub fn jwks_refetch_floor(mut self, floor: Duration) -> Self {
        self.base = self.base.jwks_refetch_floor(floor);
        self
    }

    /// See [`VerifierBuilder::http_timeout`].
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.base = self.base.http_timeout(timeout);
        self
    }

    /// See [`VerifierBuilder::leeway`] (default 5 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.base = self.base.leeway(leeway);
        self
    }

    /// See [`VerifierBuilder::cache_capacity`] (default 10,000).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.base = self.base.cache_capacity(capacity);
        self
    }

    /// See [`VerifierBuilder::clock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.base = self.base.clock(clock);
        self
    }

    /// Builds the verifier; fails without an audience, or as [`VerifierBuilder::build`].
    pub fn build(self) -> Result<AccessTokenVerifier, Error> {
        let audience = match self.audience {
            Some(a) if !a.is_empty() => a,
            _ => {
                return Err(Error::Config(
                    "an access-token verifier needs an audience: call audience()".into(),
                ));
            }
        };
        Ok(self
            .base
            .build()?
            .access_tokens(audience)
            .with_required_scopes(self.scopes))
    }
}
