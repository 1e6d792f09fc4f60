//! Test your protected routes without an auth server (feature `testing`).
//!
//! [`TestIssuer`] holds an Ed25519 key, a matching JWK set, a [`ManualClock`], and mints
//! tokens with the factor ages you choose. Its [`verifier`](TestIssuer::verifier) trusts
//! exactly those tokens and reads that clock, so a test can make a session stale by moving
//! time instead of sleeping.
//!
//! ```
//! use std::time::Duration;
//! use reverify::testing::TestIssuer;
//! use reverify::STRICT;
//!
//! # tokio_test_block_on(async {
//! let issuer = TestIssuer::new();
//! let verifier = issuer.verifier();
//!
//! let fresh = issuer.token().second_factor_age(Duration::from_secs(60)).sign();
//! assert!(verifier.verify(&fresh).await.unwrap().has(&STRICT));
//!
//! let stale = issuer.token().second_factor_age(Duration::from_secs(600)).sign();
//! assert!(!verifier.verify(&stale).await.unwrap().has(&STRICT));
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
//! #         std::task::Poll::Ready(v) => v,
//! #         std::task::Poll::Pending => unreachable!("static keys never wait"),
//! #     }
//! # }
//! ```
//!
//! [`TestIssuer::access_token`] mints RFC 9068 access tokens, for APIs that take them.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::claims::SessionClaims;
use crate::clock::ManualClock;
use crate::jwk::{Jwk, JwkSet};
use crate::verifier::{Verifier, VerifierBuilder};

/// The issuer name [`TestIssuer::new`] uses.
pub const TEST_ISSUER: &str = "https://reverify.test";

/// The instant a [`TestIssuer`]'s clock starts at: 2027-01-15T08:00:00Z.
pub const TEST_EPOCH: i64 = 1_800_000_000;

/// A signing key, its JWK set, a manual clock, and a token factory.
pub struct TestIssuer {
    issuer: String,
    kid: String,
    key: SigningKey,
    clock: ManualClock,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        TestIssuer::new()
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system RNG only fails on platforms without one, where no test can run anyway.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        panic!("no system random number generator");
    }
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TestIssuer {
    /// A fresh key for [`TEST_ISSUER`], with the clock at [`TEST_EPOCH`].
    pub fn new() -> Self {
        TestIssuer::with_issuer(TEST_ISSUER)
    }

    /// A fresh key for another issuer name.
    pub fn with_issuer(issuer: impl Into<String>) -> Self {
        let key = SigningKey::from_bytes(&random_bytes::<32>());
        let kid = format!("test-{}", hex(&key.verifying_key().as_bytes()[..8]));
        TestIssuer {
            issuer: issuer.into(),
            kid,
            key,
            clock: ManualClock::new(TEST_EPOCH),
        }
    }

    /// The issuer name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id in the JWK set and in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The clock shared by this issuer and its verifiers.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// The clock's current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The public key set.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![Jwk::ed25519(&self.kid, self.key.verifying_key().as_bytes())],
        }
    }

    /// A verifier builder preset with this issuer, its keys and its clock.
    pub fn verifier_builder(&self) -> VerifierBuilder {
        Verifier::builder(&self.issuer)
            .jwks(self.jwks())
            .clock(self.clock.clone())
    }

    /// A verifier that trusts this issuer's tokens and reads its clock.
    pub fn verifier(&self) -> Verifier {
        match self.verifier_builder().build() {
            Ok(v) => v,
            Err(e) => panic!("the test key set is always valid: {e}"),
        }
    }

    /// Starts a token: user `user_test`, session `sess_test`, password verified just now,
    /// no second factor, valid for 60 s from now.
    pub fn token(&self) -> TokenBuilder<'_> {
        TokenBuilder {
            issuer: self,
            sub: "user_test".into(),
            sid: Some("sess_test".into()),
            first: Factor::VerifiedAgo(Duration::ZERO),
            second: Factor::NotEnabled,
            fva_only: false,
            lifetime: Duration::from_secs(60),
            issued_ago: Duration::ZERO,
            azp: None,
            approval: None,
        }
    }

    /// An access-token verifier for `audience` that trusts this issuer and reads its clock.
    pub fn access_token_verifier(&self, audience: &str) -> crate::access::AccessTokenVerifier {
        self.verifier().access_tokens(audience)
    }

    /// Starts an RFC 9068 access token: header `typ: at+jwt`; user `user_test`, audience
    /// [`TEST_AUDIENCE`], client `client_test`, no scope, `auth_time` now, `acr`
    /// `urn:reverify:acr:1fa`, `amr ["pwd"]`, session `sess_test`, valid for 300 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use reverify::access::StepUp;
    /// use reverify::acr::Acr;
    /// use reverify::testing::{TestIssuer, TEST_AUDIENCE};
    /// # let mut f = std::pin::pin!(async {
    /// let issuer = TestIssuer::new();
    /// let api = issuer.access_token_verifier(TEST_AUDIENCE);
    /// let token = issuer.access_token().auth_age(Duration::from_secs(400)).acr(Acr::MultiFactor).sign();
    /// let token = api.verify(&token).await.unwrap();
    /// assert!(token.meets(&StepUp::min_acr(Acr::SecondFactor)));
    /// assert!(!token.meets(&StepUp::max_age(300)));
    /// # });
    /// # let std::task::Poll::Ready(()) = f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) else { unreachable!() };
    /// ```
    pub fn access_token(&self) -> AccessTokenBuilder<'_> {
        let now = self.now();
        AccessTokenBuilder {
            issuer: self,
            typ: Some("at+jwt".into()),
            claims: serde_json::json!({
                "iss": self.issuer,
                "sub": "user_test",
                "aud": TEST_AUDIENCE,
                "client_id": "client_test",
                "iat": now,
                "exp": now + 300,
                "jti": hex(&random_bytes::<12>()),
                "auth_time": now,
                "acr": crate::acr::Acr::FirstFactor.as_str(),
                "amr": ["pwd"],
                "sid": "sess_test",
            }),
        }
    }

    /// Signs arbitrary claims with this issuer's key and `kid`.
    pub fn sign_claims(&self, claims: &SessionClaims) -> String {
        let header = serde_json::json!({ "alg": "EdDSA", "typ": "JWT", "kid": self.kid });
        self.sign_json(&header, &serde_json::to_value(claims).unwrap_or_default())
    }

    /// Signs any header and payload with this issuer's Ed25519 key — for attack tests
    /// (a header lying about `alg`, a foreign `kid`, …).
    pub fn sign_json(&self, header: &serde_json::Value, payload: &serde_json::Value) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

/// The audience [`TestIssuer::access_token`] names.
pub const TEST_AUDIENCE: &str = "https://api.reverify.test";

/// Builds one access token; see [`TestIssuer::access_token`]. Any claim can be set,
/// replaced or removed, for attack tests.
#[must_use]
#[derive(Debug)]
pub struct AccessTokenBuilder<'a> {
    issuer: &'a TestIssuer,
    typ: Option<String>,
    claims: serde_json::Value,
}

impl AccessTokenBuilder<'_> {
    /// Sets claim `name` to `value` (any JSON, for attack tests).
    pub fn claim(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.claims[name] = value.into();
        self
    }

    /// Removes claim `name`.
    pub fn without(mut self, name: &str) -> Self {
        if let Some(map) = self.claims.as_object_mut() {
            map.remove(name);
        }
        self
    }

    /// The user id (`sub`).
    pub fn user(self, sub: impl Into<String>) -> Self {
        self.claim("sub", sub.into())
    }

    /// One audience (`aud` as a string).
    pub fn aud(self, aud: impl Into<String>) -> Self {
        self.claim("aud", aud.into())
    }

    /// Several audiences (`aud` as an array).
    pub fn audiences<I, S>(self, auds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let auds: Vec<String> = auds.into_iter().map(Into::into).collect();
        self.claim("aud", auds)
    }

    /// The granted scopes, space-separated (`scope`).
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", scope.into())
    }

    /// The OAuth client (`client_id`).
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", client_id.into())
    }

    /// `auth_time` at this unix time.
    pub fn auth_time(self, at: i64) -> Self {
        self.claim("auth_time", at)
    }

    /// `auth_time` this long before the clock's now.
    pub fn auth_age(self, age: Duration) -> Self {
        let at = self.issuer.now() - age.as_secs() as i64;
        self.auth_time(at)
    }

    /// One of Reverify's `acr` values.
    pub fn acr(self, acr: crate::acr::Acr) -> Self {
        self.claim("acr", acr.as_str())
    }

    /// Any `acr` string (an unknown value, for tests).
    pub fn acr_str(self, acr: &str) -> Self {
        self.claim("acr", acr)
    }

    /// The methods (`amr`, RFC 8176).
    pub fn amr(self, amr: &[&str]) -> Self {
        self.claim("amr", amr.to_vec())
    }

    /// The header's `typ` (default `at+jwt`; `None` leaves it out).
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Valid for this long from now (`exp`).
    pub fn lifetime(self, lifetime: Duration) -> Self {
        let exp = self.issuer.now() + lifetime.as_secs() as i64;
        self.claim("exp", exp)
    }

    /// The claims this builder would sign.
    pub fn claims(&self) -> &serde_json::Value {
        &self.claims
    }

    /// Mints the token (EdDSA, the issuer's `kid`).
    pub fn sign(self) -> String {
        let mut header = serde_json::json!({ "alg": "EdDSA", "kid": self.issuer.kid });
        if let Some(typ) = self.typ {
            header["typ"] = typ.into();
        }
        self.issuer.sign_json(&header, &self.claims)
    }
}

#[derive(Debug, Clone, Copy)]
enum Factor {
    NotEnabled,
    /// Enabled but not verified in this session.
    Unverified,
    VerifiedAgo(Duration),
}

/// Builds one token; see [`TestIssuer::token`].
#[must_use]
#[derive(Debug)]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    sub: String,
    sid: Option<String>,
    first: Factor,
    second: Factor,
    fva_only: bool,
    lifetime: Duration,
    issued_ago: Duration,
    azp: Option<String>,
    approval: Option<crate::approval::ApprovalClaim>,
}

impl TokenBuilder<'_> {
    /// The user id (`sub`).
    pub fn user(mut self, sub: impl Into<String>) -> Self {
        self.sub = sub.into();
        self
    }

    /// The session id (`sid`).
    pub fn session(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }

    /// The first factor was verified this long ago.
    pub fn first_factor_age(mut self, age: Duration) -> Self {
        self.first = Factor::VerifiedAgo(age);
        self
    }

    /// The user has a second factor, verified this long ago.
    pub fn second_factor_age(mut self, age: Duration) -> Self {
        self.second = Factor::VerifiedAgo(age);
        self
    }

    /// The user has a second factor but has not verified it in this session.
    pub fn second_factor_unverified(mut self) -> Self {
        self.second = Factor::Unverified;
        self
    }

    /// The user has no second factor (the default).
    pub fn no_second_factor(mut self) -> Self {
        self.second = Factor::NotEnabled;
        self
    }

    /// No first factor verified in this session either (`fva: [-1, -1]`).
    pub fn no_factors(mut self) -> Self {
        self.first = Factor::NotEnabled;
        self.second = Factor::NotEnabled;
        self
    }

    /// Emit only Clerk's `fva` (minutes at mint time), not `fvt`: the token looks like a
    /// Clerk token, and an unverified second factor is reported as `-1`, as Clerk does.
    pub fn fva_only(mut self) -> Self {
        self.fva_only = true;
        self
    }

    /// How long the token is valid from its `iat` (default 60 s).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The token was minted this long ago (its `iat`, `nbf` and factor ages shift with it).
    pub fn issued_ago(mut self, ago: Duration) -> Self {
        self.issued_ago = ago;
        self
    }

    /// The authorized party (`azp`).
    pub fn azp(mut self, azp: impl Into<String>) -> Self {
        self.azp = Some(azp.into());
        self
    }

    /// Carries an approval of `action` (the `apr` claim), as the auth server puts in the
    /// token it mints when a verification for that action completes: a random id, the
    /// action's digest, `level`, expiring `valid_for` after now. Panics on an invalid
    /// action (a bug in the test).
    ///
    /// ```
    /// use reverify::approval::Action;
    /// use reverify::testing::TestIssuer;
    /// use reverify::Level;
    /// let issuer = TestIssuer::new();
    /// let action = Action::new("transfer", "Send €25.00 to Bob").field("payee", "Bob");
    /// let builder = issuer.token().approval(&action, Level::SecondFactor, std::time::Duration::from_secs(120));
    /// assert_eq!(builder.claims().approval().unwrap().dig, action.digest().unwrap());
    /// ```
    pub fn approval(
        mut self,
        action: &crate::approval::Action,
        level: crate::Level,
        valid_for: Duration,
    ) -> Self {
        #[allow(clippy::expect_used)]
        let dig = action.digest().expect("a valid action");
        self.approval = Some(crate::approval::ApprovalClaim {
            id: format!("apr_{}", hex(&random_bytes::<12>())),
            typ: action.kind().to_owned(),
            dig,
            lvl: level,
            exp: self.issuer.now() + valid_for.as_secs() as i64,
        });
        self
    }

    /// Carries exactly this `apr` claim (expired, foreign, weak: for tests).
    pub fn approval_claim(mut self, claim: crate::approval::ApprovalClaim) -> Self {
        self.approval = Some(claim);
        self
    }

    /// The claims this builder would sign.
    pub fn claims(&self) -> SessionClaims {
        let now = self.issuer.now();
        let iat = now - self.issued_ago.as_secs() as i64;
        // Verification times are absolute; ages are relative to the clock, not to `iat`.
        let time = |f: Factor| match f {
            Factor::NotEnabled => -1,
            Factor::Unverified => 0,
            Factor::VerifiedAgo(age) => now - age.as_secs() as i64,
        };
        // `fva` is computed at mint time, in whole minutes, as the reference does.
        let minutes = |f: Factor| match f {
            Factor::NotEnabled => -1,
            Factor::Unverified if self.fva_only => -1,
            Factor::Unverified => iat / 60,
            Factor::VerifiedAgo(_) => (iat - time(f)).max(0) / 60,
        };
        let mut amr = Vec::new();
        if matches!(self.first, Factor::VerifiedAgo(_)) {
            amr.push("pwd".to_owned());
        }
        if matches!(self.second, Factor::VerifiedAgo(_)) {
            amr.extend(["otp".to_owned(), "mfa".to_owned()]);
        }
        SessionClaims {
            iss: self.issuer.issuer.clone(),
            sub: self.sub.clone(),
            sid: self.sid.clone(),
            iat,
            nbf: Some(iat),
            exp: iat + self.lifetime.as_secs() as i64,
            jti: Some(hex(&random_bytes::<12>())),
            azp: self.azp.clone(),
            fva: Some(serde_json::json!([
                minutes(self.first),
                minutes(self.second)
            ])),
            fvt: (!self.fva_only).then(|| serde_json::json!([time(self.first), time(self.second)])),
            auth_time: match self.first {
                Factor::VerifiedAgo(age) => Some(now - age.as_secs() as i64),
                _ => None,
            },
            amr,
            acr: None,
            apr: self
                .approval
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
        }
    }

    /// Mints the token.
    pub fn sign(self) -> String {
        self.issuer.sign_claims(&self.claims())
    }
}
