//! What a session can say in OpenID terms: an `acr` and the `auth_time` that goes with it.
//!
//! A session keeps the last time of each factor (a first factor, a second factor, a passkey
//! that verified its user), and they are verified at different times. An `acr` is reported
//! with the time at which **every factor it counts** had last been verified, so that
//! `acr` + `auth_time` is one true statement: `urn:reverify:acr:mfa` with `auth_time` T means
//! a first and a second factor, both at or after T. A relying party (or a resource server
//! holding the access token) that checks both — `max_age=60` and `mfa` — cannot be shown an
//! old second factor next to a fresh password (design note 56).

use reverify::acr::Acr;

use crate::store::SessionRow;
use crate::strategy::Amr;

/// The factor times of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The last first-factor verification (a passkey that verified its user counts).
    pub first: Option<i64>,
    /// The last second-factor verification.
    pub second: Option<i64>,
    /// The last verification by a passkey that verified its user.
    pub phr: Option<i64>,
    /// RFC 8176 methods used in the session.
    pub amr: Vec<String>,
}

/// An `acr`, the time it was reached, and the session's methods: what a code carries into
/// the ID token, the access token and introspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// When every factor `acr` counts had last been verified.
    pub auth_time: i64,
    /// The strength.
    pub acr: Acr,
    /// RFC 8176 methods.
    pub amr: Vec<String>,
}

/// What a request asks of the session's authentication.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    /// At least this strength (`acr_values`, an `acr` in `claims`).
    pub acr: Option<Acr>,
    /// Reached at most this many seconds ago (`max_age`).
    pub max_age: Option<i64>,
    /// Reached at or after this time (`prompt=login`: after the request was made).
    pub since: Option<i64>,
}

/// The verification that would meet a request the session does not meet yet, for the
/// provider's page (the reverification modal's levels, and a passkey alone for `phr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A first factor.
    FirstFactor,
    /// A second factor.
    SecondFactor,
    /// Both.
    MultiFactor,
    /// A passkey that verifies its user.
    Passkey,
}

impl Missing {
    /// The reverification level that asks for it (`Passkey` is `multi_factor` with the
    /// passkey alone offered).
    pub fn level(self) -> &'static str {
        match self {
            Missing::FirstFactor => "first_factor",
            Missing::SecondFactor => "second_factor",
            Missing::MultiFactor | Missing::Passkey => "multi_factor",
        }
    }
}

impl Standing {
    /// The session's factor times (a second-factor time of 0 means "enrolled elsewhere,
    /// never verified here": no time).
    pub fn of(session: &SessionRow) -> Standing {
        let positive = |t: Option<i64>| t.filter(|t| *t > 0);
        Standing {
            // A session always starts with a first factor; one without a recorded time
            // (none today) is dated from its creation.
            first: positive(session.first_factor_at).or(Some(session.created_at)),
            second: positive(session.second_factor_at),
            phr: positive(session.phr_at),
            amr: Amr::parse_list(&session.amr)
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        }
    }

    /// When the factors `acr` counts had last all been verified (`None`: never in this
    /// session).
    pub fn time_of(&self, acr: Acr) -> Option<i64> {
        let both = match (self.first, self.second) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        match acr {
            Acr::FirstFactor => self.first.max(self.phr),
            Acr::SecondFactor => self.second.max(self.phr),
            Acr::MultiFactor => both.max(self.phr),
            Acr::PhishingResistant => self.phr,
        }
    }

    /// The strongest `acr` that meets `wanted`, with its time (`None`: the session does not
    /// meet the request).
    pub fn meets(&self, wanted: Wanted, now: i64) -> Option<Authentication> {
        let fresh = |t: i64| {
            wanted.max_age.is_none_or(|max| now - t <= max) && wanted.since.is_none_or(|s| t >= s)
        };
        Acr::ALL
            .into_iter()
            .rev()
            .filter(|acr| wanted.acr.is_none_or(|w| acr.satisfies(w)))
            .find_map(|acr| {
                let t = self.time_of(acr).filter(|t| fresh(*t))?;
                Some(Authentication {
                    auth_time: t,
                    acr,
                    amr: self.amr.clone(),
                })
            })
    }

    /// What to verify so that [`Standing::meets`] finds an answer: only the factors that are
    /// missing or too old; for freshness alone (`max_age`, `prompt=login` without an
    /// `acr`), one factor.
    pub fn missing(&self, wanted: Wanted, now: i64) -> Missing {
        let fresh = |t: Option<i64>| {
            t.is_some_and(|t| {
                wanted.max_age.is_none_or(|max| now - t <= max)
                    && wanted.since.is_none_or(|s| t >= s)
            })
        };
        match wanted.acr {
            // Only fresher: one factor, the second when the session has verified one (an
            // authenticator app code, a backup code or a passkey answers), else the first.
            None if self.second.is_some() => Missing::SecondFactor,
            None | Some(Acr::FirstFactor) => Missing::FirstFactor,
            Some(Acr::PhishingResistant) => Missing::Passkey,
            Some(Acr::SecondFactor) => Missing::SecondFactor,
            Some(Acr::MultiFactor) => match (fresh(self.first), fresh(self.second)) {
                (true, _) => Missing::SecondFactor,
                (false, true) => Missing::FirstFactor,
                (false, false) => Missing::MultiFactor,
            },
        }
    }

    /// Whether the session ever reached `acr` (a request it fails only for freshness asks
    /// to log in again; one it never reached asks for more).
    pub fn ever_reached(&self, acr: Acr) -> bool {
        self.time_of(acr).is_some()
    }
}
