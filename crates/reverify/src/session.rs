//! A verified session: the token's claims and the instant they were checked at.

use std::sync::Arc;

use crate::claims::SessionClaims;
use crate::decision;
use crate::policy::Policy;
use crate::reverification::{ReverificationRequired, ReverificationStatus};

/// The signed-in session behind a verified token.
///
/// Every policy check uses the same `now` — the instant the token was verified — so that
/// one request sees one consistent answer.
#[derive(Debug, Clone)]
pub struct Session {
    verified: Arc<Verified<SessionClaims>>,
    now: i64,
    status: ReverificationStatus,
}

impl Session {
    pub(crate) fn new(
        verified: Arc<Verified<SessionClaims>>,
        now: i64,
        status: ReverificationStatus,
    ) -> Self {
        Session {
            verified,
            now,
            status,
        }
    }

    /// The verified claims.
    pub fn claims(&self) -> &SessionClaims {
        &self.verified.claims
    }

    /// Deserializes the token's payload into a type of your own, for custom claims.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Org {
    ///     org_id: Option<String>,
    /// }
    /// # fn demo(session: reverify::Session) {
    /// let org: Option<Org> = session.custom_claims().ok();
    /// # }
    /// ```
    pub fn custom_claims<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.verified.payload)
    }

    /// The user id (`sub`).
    pub fn user_id(&self) -> &str {
        &self.claims().sub
    }

    /// The session id (`sid`), when the issuer sets one.
    pub fn session_id(&self) -> Option<&str> {
        self.claims().sid.as_deref()
    }

    /// The instant (unix seconds) the token was verified and policies are checked at.
    pub fn checked_at(&self) -> i64 {
        self.now
    }

    /// Whether the session satisfies `policy` (see [`crate::decision`]).
    pub fn has(&self, policy: &Policy) -> bool {
        decision::has(self.claims(), policy, self.now)
    }

    /// `Ok` when the session satisfies `policy`, otherwise the reverification error to
    /// answer with.
    ///
    /// ```
    /// # fn handler(session: reverify::Session) -> Result<&'static str, reverify::ReverificationRequired> {
    /// session.require(&reverify::STRICT)?;
    /// Ok("transferred")
    /// # }
    /// ```
    pub fn require(&self, policy: &Policy) -> Result<(), ReverificationRequired> {
        if self.has(policy) {
            Ok(())
        } else {
            Err(ReverificationRequired::new(*policy).with_status(self.status))
        }
    }

    /// The status reverification errors of this session answer with (403 or 401).
    #[cfg(feature = "approvals")]
    pub(crate) fn reverification_status(&self) -> ReverificationStatus {
        self.status
    }

    /// Seconds until `policy` stops being satisfied; `None` if it is not satisfied now.
    pub fn seconds_remaining(&self, policy: &Policy) -> Option<f64> {
        decision::seconds_remaining(self.claims(), policy, self.now)
    }
}

/// What the verifier keeps of a token that passed: its claims and its decoded payload.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub(crate) claims: C,
    pub(crate) payload: Box<[u8]>,
}
