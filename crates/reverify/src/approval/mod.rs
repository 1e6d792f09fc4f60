//! Approvals: the user approves *this* action (amount, payee), once.
//!
//! Freshness ([`Session::require`](crate::Session::require)) says the user verified
//! recently. An approval says the user verified *for this action*: the auth server showed
//! them its summary, bound the proof to the action's [digest](Action::digest), and put a
//! single-use approval of that digest in the session token it minted on completion (the
//! `apr` claim). A route describes the action **from the request** and asks for an
//! approval of it:
//!
//! ```no_run
//! # #[cfg(feature = "approvals")]
//! # mod demo {
//! use reverify::approval::{Action, Approve, Approved};
//!
//! #[derive(serde::Deserialize)]
//! struct Transfer { amount_cents: u64, payee: String }
//!
//! impl Approve for Transfer {
//!     fn action(&self) -> Action {
//!         Action::new("transfer", format!("Send €{}.{:02} to {}", self.amount_cents / 100, self.amount_cents % 100, self.payee))
//!             .field("amount_cents", self.amount_cents)
//!             .field("currency", "EUR")
//!             .field("payee", &self.payee)
//!     }
//! }
//!
//! // Runs only with an approval of exactly this transfer; once.
//! async fn transfer(Approved(session, t): Approved<Transfer>) -> String {
//!     format!("{} sent {} cents to {}", session.user_id(), t.amount_cents, t.payee)
//! }
//! # }
//! ```
//!
//! Without an approval of that digest the answer is the standard reverification error
//! (403, the reference's body, the RFC 9470 challenge) with the action added to its
//! metadata; the browser SDK shows the summary, verifies, and retries. The protocol is in
//! `docs/approvals.md`.
//!
//! | piece | where |
//! |---|---|
//! | [`Action`], its digest and rules | here, always available |
//! | [`ApprovalPolicy`] ([`APPROVE`], [`APPROVE_MFA`]) | here |
//! | [`ApprovalClaim`], [`check`] (the pure decision) | here |
//! | `ApprovalStore`, `Approvals`, `Approved<T>` | feature `approvals` |
//! | `SqliteApprovalStore`, `PostgresApprovalStore` | feature `sqlx` |

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::claims::SessionClaims;
use crate::decision;
use crate::policy::{Level, Policy};

#[cfg(feature = "approvals")]
mod extract;
#[cfg(feature = "sqlx")]
mod sql;
#[cfg(feature = "approvals")]
mod store;

#[cfg(feature = "approvals")]
pub use crate::store::{BoxFuture, StoreError};
#[cfg(feature = "approvals")]
pub use extract::{Approve, Approved};
#[cfg(feature = "sqlx")]
pub use sql::{PostgresApprovalStore, SqliteApprovalStore};
#[cfg(feature = "approvals")]
pub use store::{ApprovalError, ApprovalStore, Approvals, ConsumedApproval, Grant};

/// The domain separator of the digest (version 1 of the encoding).
const DIGEST_CONTEXT: &[u8] = b"reverify-action-v1";

/// The most fields an action may have.
pub const MAX_FIELDS: usize = 20;
/// The longest summary, in characters.
pub const MAX_SUMMARY: usize = 200;
/// The longest action type and field key, in characters.
pub const MAX_NAME: usize = 64;
/// The longest field value, in characters.
pub const MAX_VALUE: usize = 500;

/// What a user approves: a type (`transfer`), the summary they are shown ("Send €25.00 to
/// Bob") and the fields that define it (amount, currency, payee…), all strings.
///
/// ```
/// use reverify::approval::Action;
/// let a = Action::new("transfer", "Send €25.00 to Bob").field("amount_cents", 2500).field("payee", "Bob");
/// let b = Action::new("transfer", "Send €25.00 to Bob").field("payee", "Bob").field("amount_cents", 2500);
/// assert_eq!(a.digest().unwrap(), b.digest().unwrap()); // field order does not matter
/// let c = Action::new("transfer", "Send €9,999.00 to Mallory").field("amount_cents", 999900).field("payee", "Mallory");
/// assert_ne!(a.digest().unwrap(), c.digest().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    kind: String,
    summary: String,
    fields: BTreeMap<String, String>,
}

/// Why an action description is invalid (`invalid_action`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid action: {0}")]
pub struct ActionError(pub String);

impl ActionError {
    /// The stable machine code: `invalid_action`.
    pub fn code(&self) -> &'static str {
        "invalid_action"
    }
}

fn is_name(s: &str, extra: &[char]) -> bool {
    (1..=MAX_NAME).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || extra.contains(&c))
}

fn is_text(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.chars().count()) && !s.chars().any(char::is_control)
}

impl Action {
    /// An action of type `kind` shown to the user as `summary`.
    pub fn new(kind: impl Into<String>, summary: impl Into<String>) -> Self {
        Action {
            kind: kind.into(),
            summary: summary.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a field. Write values as the app means them: an amount in cents
    /// (`2500`), never a float.
    pub fn field(mut self, key: impl Into<String>, value: impl fmt::Display) -> Self {
        self.fields.insert(key.into(), value.to_string());
        self
    }

    /// The action type.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The summary the user is shown.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The fields, sorted by key.
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    /// Checks the rules: type 1–64 of `a-z 0-9 _ . -`; summary 1–200 characters without
    /// control characters; at most 20 fields, keys 1–64 of `a-z 0-9 _`, values 0–500
    /// characters without control characters.
    ///
    /// ```
    /// use reverify::approval::Action;
    /// assert!(Action::new("transfer", "Send €25.00 to Bob").validate().is_ok());
    /// assert!(Action::new("Transfer", "x").validate().is_err());            // upper case
    /// assert!(Action::new("transfer", "").validate().is_err());             // empty summary
    /// assert!(Action::new("transfer", "a\nb").validate().is_err());         // control character
    /// assert!(Action::new("transfer", "x").field("Payee", "Bob").validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ActionError> {
        if !is_name(&self.kind, &['.', '-']) {
            return Err(ActionError(
                "type must be 1-64 characters of a-z, 0-9, _ . -".into(),
            ));
        }
        if !is_text(&self.summary, 1, MAX_SUMMARY) {
            return Err(ActionError(
                "summary must be 1-200 characters without control characters".into(),
            ));
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(ActionError("at most 20 fields".into()));
        }
        for (key, value) in &self.fields {
            if !is_name(key, &[]) {
                return Err(ActionError(
                    "field names must be 1-64 characters of a-z, 0-9, _".into(),
                ));
            }
            if !is_text(value, 0, MAX_VALUE) {
                return Err(ActionError(format!(
                    "field {key} must be at most 500 characters without control characters"
                )));
            }
        }
        Ok(())
    }

    /// The raw SHA-256 of the canonical encoding (see [`digest`](Self::digest)).
    pub fn digest_bytes(&self) -> Result<[u8; 32], ActionError> {
        self.validate()?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        // No part can contain NUL (a control character): the separators keep them apart.
        ctx.update(DIGEST_CONTEXT);
        ctx.update(b"\0");
        ctx.update(self.kind.as_bytes());
        ctx.update(b"\0");
        ctx.update(self.summary.as_bytes());
        ctx.update(b"\0");
        for (key, value) in &self.fields {
            ctx.update(key.as_bytes());
            ctx.update(b"\0");
            ctx.update(value.as_bytes());
            ctx.update(b"\0");
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Ok(out)
    }

    /// The digest every Reverify component computes the same way:
    /// `base64url(SHA-256("reverify-action-v1" 0 type 0 summary 0 (key 0 value 0)*))`,
    /// fields sorted by key. The summary is part of it: what the user was shown is what
    /// they approved.
    ///
    /// ```
    /// use reverify::approval::Action;
    /// let d = Action::new("transfer", "Send €25.00 to Bob").field("amount_cents", 2500).digest().unwrap();
    /// assert_eq!(d.len(), 43);
    /// ```
    pub fn digest(&self) -> Result<String, ActionError> {
        Ok(URL_SAFE_NO_PAD.encode(self.digest_bytes()?))
    }

    /// The action as JSON, with its digest: what the 403 metadata and the auth server carry.
    pub fn to_json(&self) -> Result<serde_json::Value, ActionError> {
        Ok(serde_json::json!({
            "type": self.kind,
            "summary": self.summary,
            "fields": self.fields,
            "digest": self.digest()?,
        }))
    }

    /// Reads `{"type", "summary", "fields"}` (a `digest`, if present, is not read here:
    /// compare it with [`digest`](Self::digest)). Field values must be strings.
    ///
    /// ```
    /// use reverify::approval::Action;
    /// let v = serde_json::json!({"type": "transfer", "summary": "Send €25.00 to Bob", "fields": {"payee": "Bob"}});
    /// let a = Action::from_json(&v).unwrap();
    /// assert_eq!(a.fields()["payee"], "Bob");
    /// assert!(Action::from_json(&serde_json::json!({"type": "transfer", "summary": "x", "fields": {"n": 1}})).is_err());
    /// ```
    pub fn from_json(value: &serde_json::Value) -> Result<Action, ActionError> {
        #[derive(Deserialize)]
        struct Wire {
            r#type: String,
            summary: String,
            #[serde(default)]
            fields: BTreeMap<String, String>,
        }
        let wire = Wire::deserialize(value).map_err(|_| {
            ActionError(
                "an action is {\"type\": string, \"summary\": string, \"fields\": {string: string}}"
                    .into(),
            )
        })?;
        let action = Action {
            kind: wire.r#type,
            summary: wire.summary,
            fields: wire.fields,
        };
        action.validate()?;
        Ok(action)
    }
}

/// How strong the verification behind an approval must be, and whether a fresh session
/// may stand in for an approval (by default it may not: every approved action needs its
/// own verification).
///
/// ```
/// use reverify::approval::{ApprovalPolicy, APPROVE};
/// use reverify::{Level, Policy};
/// assert_eq!(APPROVE.level(), Level::SecondFactor);
/// assert!(APPROVE.fresh().is_none());
/// // Small amounts: a verification in the last two minutes is enough.
/// let relaxed = APPROVE.or_fresh(Policy::custom(Level::SecondFactor, 2.0).unwrap());
/// assert!(relaxed.fresh().is_some());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApprovalPolicy {
    level: Level,
    fresh: Option<Policy>,
}

/// Approval after a second-factor verification (users without one: the first factor).
pub const APPROVE: ApprovalPolicy = ApprovalPolicy::new(Level::SecondFactor);
/// Approval after a multi-factor verification.
pub const APPROVE_MFA: ApprovalPolicy = ApprovalPolicy::new(Level::MultiFactor);

impl ApprovalPolicy {
    /// Approval after a verification at `level`.
    pub const fn new(level: Level) -> Self {
        ApprovalPolicy { level, fresh: None }
    }

    /// Lets a session that satisfies `policy` go through without an approval. Only for
    /// actions where freshness is deliberately enough.
    pub const fn or_fresh(mut self, policy: Policy) -> Self {
        self.fresh = Some(policy);
        self
    }

    /// The level the verification must have had.
    pub const fn level(&self) -> Level {
        self.level
    }

    /// The freshness policy that may stand in, if any.
    pub const fn fresh(&self) -> Option<Policy> {
        self.fresh
    }

    /// The policy named in the error's `metadata.reverification` (what a client that knows
    /// only the reference's body asks for): the stand-in policy, else `level` within 10
    /// minutes.
    pub fn error_policy(&self) -> Policy {
        self.fresh
            .or_else(|| Policy::custom(self.level, 10.0).ok())
            .unwrap_or(crate::policy::STRICT)
    }
}

/// The `apr` claim of a session token: an approval of one action's digest.
///
/// ```json
/// "apr": {"id": "apr_…", "typ": "transfer", "dig": "3bq1…", "lvl": "second_factor", "exp": 1764490000}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct ApprovalClaim {
    /// The approval id: what is consumed, once.
    pub id: String,
    /// The action type.
    pub typ: String,
    /// The action digest.
    pub dig: String,
    /// The level of the verification that granted it.
    pub lvl: Level,
    /// Expiry (unix seconds).
    pub exp: i64,
}

impl SessionClaims {
    /// The approval this token carries, if it carries a well-formed one.
    pub fn approval(&self) -> Option<ApprovalClaim> {
        let claim = ApprovalClaim::deserialize(self.apr.as_ref()?).ok()?;
        (!claim.id.is_empty() && claim.id.len() <= 128).then_some(claim)
    }
}

/// `true` when a verification at `had` is at least as strong as `needed`.
pub(crate) fn level_covers(had: Level, needed: Level) -> bool {
    let rank = |l: Level| match l {
        Level::FirstFactor => 0,
        Level::SecondFactor => 1,
        Level::MultiFactor => 2,
    };
    rank(had) >= rank(needed)
}

/// The decision before consumption (pure: claims, action, policy, now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The token carries a live approval of this action at a sufficient level: consume it.
    Consume(ApprovalClaim),
    /// No usable approval, but the policy lets this fresh session through.
    Fresh,
    /// Refused: answer with the reverification error carrying the action.
    Refused(Refusal),
}

/// Why an approval was refused (logged; the client gets the same error for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The token carries no (well-formed) approval.
    Missing,
    /// The approval is for another action.
    OtherAction,
    /// The verification behind it was weaker than the policy asks.
    TooWeak,
    /// It expired.
    Expired,
    /// It was already used (found by the store).
    Used,
}

impl Refusal {
    /// A stable name for logs: `missing`, `other_action`, `too_weak`, `expired`, `used`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::OtherAction => "other_action",
            Refusal::TooWeak => "too_weak",
            Refusal::Expired => "expired",
            Refusal::Used => "used",
        }
    }
}

/// Decides whether `claims` approve the action of digest `digest` under `policy` at `now`.
///
/// ```
/// use reverify::approval::{check, Action, Check, Refusal, APPROVE};
/// let claims = reverify::SessionClaims::default();
/// let digest = Action::new("transfer", "Send €25.00 to Bob").digest().unwrap();
/// assert_eq!(check(&claims, &digest, &APPROVE, 0), Check::Refused(Refusal::Missing));
/// ```
pub fn check(claims: &SessionClaims, digest: &str, policy: &ApprovalPolicy, now: i64) -> Check {
    let refusal = match claims.approval() {
        None => Refusal::Missing,
        Some(claim) if claim.dig != digest => Refusal::OtherAction,
        Some(claim) if !level_covers(claim.lvl, policy.level) => Refusal::TooWeak,
        Some(claim) if claim.exp <= now => Refusal::Expired,
        Some(claim) => return Check::Consume(claim),
    };
    match policy.fresh {
        Some(fresh) if decision::has(claims, &fresh, now) => Check::Fresh,
        _ => Check::Refused(refusal),
    }
}
