//! The decision: does a verified session satisfy a reverification policy at `now`?
//!
//! ## With only `fva` (for example a Clerk token): the reference algorithm, exactly
//!
//! Let `[a1, a2] = fva` (minutes) and `fresh(a) = a != -1 && afterMinutes > a`:
//!
//! - `[-1, -1]` never passes;
//! - `first_factor`: `fresh(a1)`;
//! - `second_factor`: `a2 == -1 ? fresh(a1) : fresh(a2)`;
//! - `multi_factor`: `a2 == -1 ? fresh(a1) : a1 == -1 ? false : fresh(a1) && fresh(a2)`;
//! - a missing or malformed `fva` never passes.
//!
//! ## With `fvt` (Reverify tokens): the same algorithm on exact ages
//!
//! `fvt` holds the verification *times* (unix seconds), so the ages are computed here, at
//! check time, to the second: `age = now - t` (never negative), and `fresh(age)` is
//! `age / 60 < afterMinutes`. At whole-minute ages this agrees with the `fva` decision.
//!
//! ## Deliberate divergences from the reference
//!
//! 1. **Ages at check time, in seconds.** `fva` is whole minutes computed when the token
//!    was minted, so its freshness lags by up to the token's lifetime (and rounds down).
//!    When a token carries `fvt`, it is used instead of `fva`; a malformed `fvt` fails
//!    closed even if `fva` would pass.
//! 2. **Enrolled but unverified second factor.** The reference reports a second factor
//!    that is enabled but was never verified in this session as `-1`, which silently
//!    downgrades `strict` to a password check. Reverify issuers write `0` ("verified at
//!    the epoch") in `fvt` for that case, so it is simply stale: the user is asked for it.
//! 3. **An invalid policy never passes** — the reference does the same, but here an
//!    invalid [`Policy`] cannot even be constructed; the check is repeated defensively.
//!
//! ```
//! use reverify::{decision, SessionClaims, STRICT};
//!
//! let now = 1_800_000_000;
//! let claims = SessionClaims {
//!     // password 20 minutes ago, TOTP 3 minutes ago
//!     fvt: Some(serde_json::json!([now - 20 * 60, now - 3 * 60])),
//!     ..SessionClaims::default()
//! };
//! assert!(decision::has(&claims, &STRICT, now));
//! assert!(!decision::has(&claims, &STRICT, now + 7 * 60)); // 10 minutes after the TOTP
//! ```

use crate::claims::{FactorAge, FactorClaim, SessionClaims};
use crate::policy::{Level, Policy};

/// Whether `claims` satisfy `policy` at `now` (unix seconds).
///
/// Uses `fvt` when present, otherwise `fva`; fails closed when the claim it uses is
/// missing or malformed.
pub fn has(claims: &SessionClaims, policy: &Policy, now: i64) -> bool {
    if !policy.is_valid() {
        return false;
    }
    match claims.fvt() {
        FactorClaim::Valid(times) => decide_fvt(times, policy, now),
        FactorClaim::Malformed => false,
        FactorClaim::Absent => match claims.fva() {
            FactorClaim::Valid(ages) => decide_fva(ages, policy),
            FactorClaim::Absent | FactorClaim::Malformed => false,
        },
    }
}

/// Whether `claims` satisfy every policy in `policies` at `now`. Asking for nothing is
/// `false`, as the reference's `has({})` is.
pub fn has_all(claims: &SessionClaims, policies: &[Policy], now: i64) -> bool {
    !policies.is_empty() && policies.iter().all(|p| has(claims, p, now))
}

/// The reference decision on `fva` ages (minutes, as minted).
pub fn decide_fva(fva: [FactorAge; 2], policy: &Policy) -> bool {
    let after = policy.after_minutes();
    policy.is_valid() && decide(fva, policy.level(), |age_minutes| after > age_minutes)
}

/// The same decision on `fvt` verification times (unix seconds), with exact ages at `now`.
pub fn decide_fvt(fvt: [FactorAge; 2], policy: &Policy, now: i64) -> bool {
    let after = policy.after_minutes();
    policy.is_valid()
        && decide(fvt, policy.level(), |verified_at| {
            after > age_seconds(verified_at, now) / 60.0
        })
}

/// How many seconds `claims` keep satisfying `policy` after `now`; `None` when they do
/// not satisfy it now. With only `fva`, this is an estimate at minute precision.
pub fn seconds_remaining(claims: &SessionClaims, policy: &Policy, now: i64) -> Option<f64> {
    if !has(claims, policy, now) {
        return None;
    }
    let window = policy.after_minutes() * 60.0;
    let (pair, age_of): ([FactorAge; 2], Box<dyn Fn(f64) -> f64>) = match claims.fvt() {
        FactorClaim::Valid(times) => (times, Box::new(move |t| age_seconds(t, now))),
        _ => match claims.fva() {
            FactorClaim::Valid(ages) => (ages, Box::new(|minutes| minutes * 60.0)),
            _ => return None,
        },
    };
    let remaining = |entry: FactorAge| match entry {
        FactorAge::Value(v) => window - age_of(v),
        FactorAge::NotEnabled => f64::NEG_INFINITY,
    };
    let [first, second] = pair;
    let secs = match (policy.level(), second) {
        (Level::FirstFactor, _) | (_, FactorAge::NotEnabled) => remaining(first),
        (Level::SecondFactor, _) => remaining(second),
        (Level::MultiFactor, _) => remaining(first).min(remaining(second)),
    };
    // `has` is the authority; rounding must not turn a pass into "no time left".
    Some(secs.max(0.0))
}

fn age_seconds(verified_at: f64, now: i64) -> f64 {
    (now as f64 - verified_at).max(0.0)
}

/// The reference algorithm, parameterised by what "fresh" means for one entry.
fn decide(pair: [FactorAge; 2], level: Level, fresh: impl Fn(f64) -> bool) -> bool {
    use FactorAge::{NotEnabled, Value};
    let fresh = |entry: FactorAge| matches!(entry, Value(v) if fresh(v));
    match (level, pair) {
        (_, [NotEnabled, NotEnabled]) => false,
        (Level::FirstFactor, [first, _]) => fresh(first),
        (Level::SecondFactor | Level::MultiFactor, [first, NotEnabled]) => fresh(first),
        (Level::SecondFactor, [_, second]) => fresh(second),
        (Level::MultiFactor, [NotEnabled, _]) => false,
        (Level::MultiFactor, [first, second]) => fresh(first) && fresh(second),
    }
}
