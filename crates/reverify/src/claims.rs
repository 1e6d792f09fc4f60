//! Typed session-token claims.
//!
//! Reverify tokens carry, besides the registered JWT claims:
//!
//! | claim | meaning |
//! |---|---|
//! | `sid` | the session id |
//! | `fva` | Clerk-compatible `[firstFactorAgeMinutes, secondFactorAgeMinutes]`, whole minutes at mint time, `-1` = no such factor |
//! | `fvt` | ours: `[firstFactorVerifiedAt, secondFactorVerifiedAt]`, unix seconds, `-1` = no such factor enabled, `0` = enabled but never verified in this session |
//! | `auth_time` | OIDC: when the user signed in to this session (unix seconds) |
//! | `amr` | RFC 8176 methods used in this session (`pwd`, `otp`, `hwk`, `mfa`, …) |
//! | `acr` | OIDC / RFC 9470 authentication context class, when the issuer sets one |
//! | `azp` | the authorized party (origin of the frontend that obtained the token) |
//! | `apr` | ours: an approval of one action (`{id, typ, dig, lvl, exp}`), only in the token minted when a verification for that action completes (see [`crate::approval`]) |
//!
//! Tokens from other issuers that carry only `fva` (for example Clerk's) work too: the
//! decision then follows the reference algorithm exactly (see [`crate::decision`]).
//!
//! ## Claims of another type
//!
//! A registered claim the verifier checks (`iss`, `sub`, `iat`, `nbf`, `exp`, `azp`) or
//! hands out as an identifier (`sid`, `jti`) must have its type, or the token is refused
//! (`token_claims_invalid`). `auth_time`, `amr` and `acr` are informational: no check or
//! decision of this SDK reads them, and other issuers define them loosely. A value of
//! another type (`"amr": "pwd"`, `"auth_time": "yesterday"`, `"acr": 2`) leaves the token
//! valid and reads as absent (`None`, an empty `amr`), so it can never satisfy anything.
//! `fva` and `fvt`, which the decision does read, are kept raw: a malformed one fails
//! every reverification check (see [`FactorClaim::Malformed`]).

use serde::{Deserialize, Deserializer, Serialize};

/// The claims of a verified session token.
///
/// `fva` and `fvt` are kept as raw JSON: a malformed value must not make the whole token
/// unreadable, it must only make every reverification check fail (fail closed). Use
/// [`SessionClaims::fva`] and [`SessionClaims::fvt`] for validated views.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user id.
    pub sub: String,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Authorized party: the origin the token was minted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Clerk-compatible factor ages in whole minutes at mint time (raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fva: Option<serde_json::Value>,
    /// Per-factor verification times in unix seconds (raw JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fvt: Option<serde_json::Value>,
    /// When the user signed in to this session (unix seconds). `None` when absent or not
    /// an integer (the token stays valid; see the module docs).
    #[serde(
        default,
        deserialize_with = "lenient::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_time: Option<i64>,
    /// Authentication methods references (RFC 8176). Empty when absent or not an array of
    /// strings (the token stays valid; see the module docs).
    #[serde(
        default,
        deserialize_with = "lenient::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub amr: Vec<String>,
    /// Authentication context class reference. `None` when absent or not a string (the
    /// token stays valid; see the module docs).
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub acr: Option<String>,
    /// An approval of one action (raw JSON; read it with [`SessionClaims::approval`]: a
    /// malformed one approves nothing and leaves the token valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apr: Option<serde_json::Value>,
}

/// Readers for the informational claims: a value of another type reads as absent.
pub(crate) mod lenient {
    use super::{Deserialize, Deserializer};
    use serde_json::Value;

    pub(crate) fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
    }

    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    /// All or nothing: an array with one odd entry reads as absent, not as its other
    /// entries, so that a method can never be read out of a value the issuer did not mean.
    pub(crate) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let Value::Array(items) = Value::deserialize(d)? else {
            return Ok(Vec::new());
        };
        Ok(items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default())
    }
}

/// A validated `fva` or `fvt` claim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FactorClaim {
    /// The token does not carry the claim.
    Absent,
    /// The claim is present but not a valid pair: every check fails.
    Malformed,
    /// `[first factor, second factor]`.
    Valid([FactorAge; 2]),
}

/// One entry of a factor claim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FactorAge {
    /// `-1`: the factor is not enabled (or, in `fva`, not verified in this session).
    NotEnabled,
    /// A verification this many minutes ago (`fva`), or at this unix time (`fvt`).
    Value(f64),
}

impl SessionClaims {
    /// The validated `fva` claim. Valid: an array of two finite numbers, each `-1` or `>= 0`.
    pub fn fva(&self) -> FactorClaim {
        parse_claim(self.fva.as_ref(), false)
    }

    /// The validated `fvt` claim. Valid: an array of two integers, each `-1` or `>= 0`.
    pub fn fvt(&self) -> FactorClaim {
        parse_claim(self.fvt.as_ref(), true)
    }
}

fn parse_claim(value: Option<&serde_json::Value>, integers: bool) -> FactorClaim {
    let Some(value) = value else {
        return FactorClaim::Absent;
    };
    let pair = match value {
        serde_json::Value::Array(items) => match items.as_slice() {
            [a, b] => parse_entry(a, integers).zip(parse_entry(b, integers)),
            _ => None,
        },
        _ => None,
    };
    match pair {
        Some((a, b)) => FactorClaim::Valid([a, b]),
        None => FactorClaim::Malformed,
    }
}

fn parse_entry(value: &serde_json::Value, integers: bool) -> Option<FactorAge> {
    let serde_json::Value::Number(n) = value else {
        return None;
    };
    let x = if integers {
        n.as_i64()? as f64
    } else {
        n.as_f64()?
    };
    if x == -1.0 {
        Some(FactorAge::NotEnabled)
    } else if x.is_finite() && x >= 0.0 {
        Some(FactorAge::Value(x))
    } else {
        None
    }
}
