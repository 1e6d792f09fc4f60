//! Authentication Context Class References: the OpenID Connect `acr` values Reverify
//! issues and understands, one per strength of authentication, weakest first.
//!
//! | value | meaning |
//! |---|---|
//! | `urn:reverify:acr:1fa` | a first factor (password, email code, passkey without user verification) |
//! | `urn:reverify:acr:2fa` | a second factor (TOTP, backup code) |
//! | `urn:reverify:acr:mfa` | a first *and* a second factor, or a passkey with user verification |
//! | `phr` | phishing-resistant: a passkey with user verification (OpenID EAP ACR Values) |
//!
//! Unlike a reverification policy, an `acr` never falls back for users without a second
//! factor: it says what was verified. A relying party asking for `urn:reverify:acr:2fa`
//! for a user who has no second factor gets `unmet_authentication_requirements` when the
//! request is essential.

use std::fmt;
use std::str::FromStr;

/// A strength of authentication, ordered weakest first: a stronger one satisfies a request
/// for a weaker one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Acr {
    /// A first factor.
    FirstFactor,
    /// A second factor.
    SecondFactor,
    /// A first and a second factor, or a passkey with user verification.
    MultiFactor,
    /// A passkey with user verification.
    PhishingResistant,
}

impl Acr {
    /// Every value, weakest first (the order of `acr_values_supported`).
    pub const ALL: [Acr; 4] = [
        Acr::FirstFactor,
        Acr::SecondFactor,
        Acr::MultiFactor,
        Acr::PhishingResistant,
    ];

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Acr::FirstFactor => "urn:reverify:acr:1fa",
            Acr::SecondFactor => "urn:reverify:acr:2fa",
            Acr::MultiFactor => "urn:reverify:acr:mfa",
            Acr::PhishingResistant => "phr",
        }
    }

    /// Whether an authentication of strength `self` meets a request for `wanted`.
    pub fn satisfies(self, wanted: Acr) -> bool {
        self >= wanted
    }
}

impl fmt::Display for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `acr` value Reverify does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown acr value {0:?}")]
pub struct UnknownAcr(pub String);

impl FromStr for Acr {
    type Err = UnknownAcr;

    /// Exactly one of the wire values (case-sensitive, nothing around it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Acr::ALL
            .into_iter()
            .find(|acr| acr.as_str() == s)
            .ok_or_else(|| UnknownAcr(s.to_owned()))
    }
}
