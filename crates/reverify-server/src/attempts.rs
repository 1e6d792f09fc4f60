//! Attempts at guessable secrets — the one place that reserves them.
//!
//! Every check of a password, an emailed code, a TOTP code or a backup code goes through
//! [`AppState::reserve_attempt`] first. In one short write transaction it reserves:
//!
//! - a slot in a **lane**, a windowed counter in the database (so it holds across
//!   instances): `lockout.max_failures` checks per `lockout.window_secs` — failures plus
//!   checks in flight —, and the failure that reaches the limit locks the lane for
//!   `lockout.duration_secs` (`423 locked`); a request refused only because the remaining
//!   checks are in flight gets `429 rate_limited` with `Retry-After: 1`;
//! - a slot in the **counter** of the flow or verification the attempt belongs to (its own
//!   small budget, `429 too_many_attempts` once spent).
//!
//! Only then is the secret checked. A wrong secret turns its reservation into a failure
//! ([`AppState::attempt_failed`]), which can set or extend a lock but never shorten or
//! clear one; however many requests arrive at once, at most the configured number of
//! secrets are checked. A right secret gives its reservations back inside the transaction
//! that acts on it ([`Attempt::release`]).
//!
//! Lanes (see `docs/server.md`, "Security model"):
//!
//! - sign-in and sign-up secrets count per account *and device*: a browser that signed in
//!   to the account before (its device cookie) has a lane of its own, everyone else shares
//!   the account's anonymous lane — so anonymous guessing locks the anonymous lane only,
//!   never the owner's known browsers (nor passkeys, which are not guessable);
//! - a reverification's secrets count per *session*: when a session's lane locks, the
//!   session is ended instead of locking the account (a stolen session gets
//!   `lockout.max_failures` guesses, then it is gone).

use crate::client::Client;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Limit, Reserved, Store, StoreError, Tx};
use crate::strategy::Strategy;

/// Where an attempt's failures are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lane {
    /// A sign-in or sign-up secret of an account (`subject`: the email for passwords and
    /// emailed codes, so unknown emails behave exactly like known ones; the user id for
    /// second factors), from a known device (the hash of its cookie) or from anyone.
    Account {
        strategy: Strategy,
        subject: String,
        device: Option<String>,
    },
    /// A reverification secret in one session.
    Session { id: String },
}

impl Lane {
    /// The counter's key.
    pub(crate) fn key(&self) -> String {
        match self {
            Lane::Account {
                strategy,
                subject,
                device: None,
            } => format!("{strategy}:{subject}"),
            Lane::Account {
                strategy,
                subject,
                device: Some(device),
            } => format!("{strategy}:{subject}|device:{device}"),
            Lane::Session { id } => format!("session:{id}"),
        }
    }
}

/// The flow or verification an attempt belongs to, with its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Counter {
    /// A reverification of a session.
    Verification { id: String, session_id: String },
    /// A sign-up or sign-in flow.
    Flow { id: String },
}

/// A reserved attempt: check the secret, then [`Attempt::release`] it inside the
/// transaction that acts on a right one, or [`AppState::attempt_failed`] on a wrong one.
#[derive(Debug)]
pub(crate) struct Attempt {
    lane: Option<Lane>,
    counter: Option<Counter>,
    limit: Limit,
    /// The counter's attempts, counting this one.
    pub(crate) attempts: i64,
}

/// Why nothing was reserved.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The lane is locked: `423 locked`.
    Locked(ApiError),
    /// The flow or verification is completed, expired or out of attempts: the caller
    /// reads it again to say which.
    CounterClosed,
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Refused {
        Refused::Locked(e.into())
    }
}

impl AppState {
    /// The lockout rule of every lane (`[lockout]`).
    pub(crate) fn lockout_limit(&self) -> Limit {
        let l = &self.config.lockout;
        Limit {
            max: l.max_failures,
            window: l.window_secs,
            duration: l.duration_secs,
        }
    }

    /// The lane of an account secret attempted by `client`: its device's own lane when
    /// the device signed in to `user_id` before, else the account's anonymous lane.
    pub(crate) async fn account_lane(
        &self,
        strategy: Strategy,
        subject: &str,
        user_id: Option<&str>,
        client: &Client,
    ) -> Result<Lane, ApiError> {
        let device = match (user_id, client.device_hash()) {
            (Some(user_id), Some(device))
                if self.store.is_known_device(&device, user_id).await? =>
            {
                Some(device)
            }
            _ => None,
        };
        Ok(Lane::Account {
            strategy,
            subject: subject.to_owned(),
            device,
        })
    }

    /// Reserves an attempt in `lane` and in `counter` (whose budget is `max`), atomically:
    /// both or neither.
    pub(crate) async fn reserve_attempt(
        &self,
        lane: Option<Lane>,
        counter: Option<(Counter, i64)>,
    ) -> Result<Attempt, Refused> {
        let now = self.now();
        let limit = self.lockout_limit();
        let mut tx = self.store.write().await?;
        if let Some(lane) = &lane {
            match Store::reserve_tx(&mut tx, &lane.key(), now, limit).await? {
                Reserved::Granted => {}
                Reserved::Locked { until } => {
                    tx.rollback().await?;
                    return Err(Refused::Locked(ApiError::Locked {
                        retry_after: (until - now).max(1) as u64,
                    }));
                }
                Reserved::Busy => {
                    tx.rollback().await?;
                    return Err(Refused::Locked(ApiError::RateLimited { retry_after: 1 }));
                }
            }
        }
        let mut attempts = 0;
        if let Some((counter, max)) = &counter {
            let used = match counter {
                Counter::Verification { id, session_id } => {
                    Store::reserve_verification_attempt_tx(&mut tx, id, session_id, now, *max)
                        .await?
                }
                Counter::Flow { id } => {
                    Store::reserve_flow_attempt_tx(&mut tx, id, now, *max).await?
                }
            };
            match used {
                Some(n) => attempts = n,
                None => {
                    tx.rollback().await?;
                    return Err(Refused::CounterClosed);
                }
            }
        }
        tx.commit().await?;
        Ok(Attempt {
            lane,
            counter: counter.map(|(c, _)| c),
            limit,
            attempts,
        })
    }

    /// After a wrong secret: its reservation becomes a failure. When that failure locks an
    /// account lane, records `account.locked`; when it locks a session lane, ends the
    /// session (and records `session.ended`). Returns whether the session was ended.
    pub(crate) async fn attempt_failed(
        &self,
        attempt: &Attempt,
        user_id: Option<&str>,
        client: &Client,
    ) -> Result<bool, ApiError> {
        let Some(lane) = &attempt.lane else {
            return Ok(false);
        };
        let Some(until) = self
            .store
            .fail(&lane.key(), self.now(), attempt.limit)
            .await?
        else {
            return Ok(false);
        };
        match lane {
            Lane::Account {
                strategy, device, ..
            } => {
                self.audit(crate::audit::Event {
                    kind: "account.locked",
                    user_id,
                    session_id: None,
                    client,
                    detail: serde_json::json!({
                        "secret": strategy.as_str(),
                        "lane": if device.is_some() { "device" } else { "anonymous" },
                        "locked_until": until,
                    }),
                })
                .await?;
                Ok(false)
            }
            Lane::Session { id } => {
                self.end_session(id, "too_many_failures").await?;
                self.audit(crate::audit::Event {
                    kind: "session.ended",
                    user_id,
                    session_id: Some(id),
                    client,
                    detail: serde_json::json!({ "reason": "too_many_failures" }),
                })
                .await?;
                Ok(true)
            }
        }
    }
}

impl Attempt {
    /// Gives back the lane's reservation only (the caller gives back the counter's in
    /// the same transaction, with its own row).
    pub(crate) async fn release_lane(&self, tx: &mut Tx) -> Result<(), StoreError> {
        if let Some(lane) = &self.lane {
            Store::release_tx(tx, &lane.key()).await?;
        }
        Ok(())
    }

    /// The secret was right: gives the reservations back, inside the transaction that
    /// acts on it.
    pub(crate) async fn release(&self, tx: &mut Tx) -> Result<(), StoreError> {
        if let Some(lane) = &self.lane {
            Store::release_tx(tx, &lane.key()).await?;
        }
        match &self.counter {
            Some(Counter::Verification { id, .. }) => {
                Store::release_verification_attempt_tx(tx, id).await?
            }
            Some(Counter::Flow { id }) => Store::release_flow_attempt_tx(tx, id).await?,
            None => {}
        }
        Ok(())
    }
}
