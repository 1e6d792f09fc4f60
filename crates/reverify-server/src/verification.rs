//! The reverification of a session, as a state machine.
//!
//! A verification belongs to one session and one [`Level`]. It starts at
//! [`Status::NeedsFirstFactor`] or [`Status::NeedsSecondFactor`], moves forward as factors
//! are proved, and ends [`Status::Complete`] or [`Status::Cancelled`]; it also dies when it
//! expires or has used its attempts. The rules are pure functions over the stored row and
//! `now` ([`next_status`], [`allows`], [`check_open`], [`proof_of`], [`apply`]), tested
//! without HTTP; `attempt` runs one attempt against the store: validate, reserve
//! (`crate::attempts`), check the secret holding no transaction, then apply the proof in
//! one short transaction.

use reverify::Level;
use serde_json::{Value, json};

use crate::attempts::{Counter, Lane, Refused};
use crate::audit::Event;
use crate::client::Client;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{FactorTimes, SessionRow, Store, User, VerificationRow};
use crate::strategy::{Amr, Strategy};
use crate::{factors, secrets, validate};

/// Where a verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A first factor (password, emailed code, passkey) is needed.
    NeedsFirstFactor,
    /// The second factor (TOTP, backup code, or a passkey with user verification) is
    /// needed.
    NeedsSecondFactor,
    /// Done: the session's verification times were updated.
    Complete,
    /// Cancelled by the user.
    Cancelled,
}

impl Status {
    /// The stored and answered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NeedsFirstFactor => "needs_first_factor",
            Status::NeedsSecondFactor => "needs_second_factor",
            Status::Complete => "complete",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "needs_first_factor" => Status::NeedsFirstFactor,
            "needs_second_factor" => Status::NeedsSecondFactor,
            "complete" => Status::Complete,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Whether the verification has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Complete | Status::Cancelled)
    }
}

/// The status after the factors verified so far (`has_second`: the user has a second
/// factor; without one, `second_factor` and `multi_factor` fall back to a first factor,
/// as the reference does).
pub fn next_status(level: Level, has_second: bool, first: bool, second: bool) -> Status {
    match level {
        Level::FirstFactor if first || second => Status::Complete,
        Level::FirstFactor => Status::NeedsFirstFactor,
        Level::SecondFactor if has_second && second => Status::Complete,
        Level::SecondFactor if has_second => Status::NeedsSecondFactor,
        Level::SecondFactor if first => Status::Complete,
        Level::SecondFactor => Status::NeedsFirstFactor,
        Level::MultiFactor => match (first, second, has_second) {
            (true, true, _) | (true, false, false) => Status::Complete,
            (true, false, true) => Status::NeedsSecondFactor,
            _ => Status::NeedsFirstFactor,
        },
    }
}

/// Whether `strategy` can be attempted at `status`. A passkey can be tried at either
/// step (at the second only with user verification, which [`proof_of`]'s caller checks).
pub fn allows(status: Status, strategy: Strategy) -> bool {
    match strategy {
        Strategy::Password | Strategy::EmailCode => status == Status::NeedsFirstFactor,
        Strategy::Totp | Strategy::BackupCode => status == Status::NeedsSecondFactor,
        Strategy::Passkey => matches!(status, Status::NeedsFirstFactor | Status::NeedsSecondFactor),
    }
}

/// Why a verification cannot take an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// It completed or was cancelled.
    Ended(String),
    /// It expired.
    Expired,
    /// It used its attempts; it dies at its expiry, this many seconds from now.
    OutOfAttempts {
        /// Seconds until it expires.
        retry_after: u64,
    },
}

impl From<Closed> for ApiError {
    fn from(c: Closed) -> ApiError {
        match c {
            Closed::Ended(status) => ApiError::Conflict {
                code: "verification_ended",
                message: format!("this verification is {status}; start a new one"),
            },
            Closed::Expired => ApiError::Gone {
                code: "verification_expired",
                message: "this verification has expired; start a new one".into(),
            },
            Closed::OutOfAttempts { retry_after } => ApiError::TooManyAttempts { retry_after },
        }
    }
}

/// Whether the verification can take an attempt at `now` (`max_attempts` wrong secrets
/// kill it).
pub fn check_open(row: &VerificationRow, now: i64, max_attempts: i64) -> Result<(), Closed> {
    if row.ended_at.is_some() {
        return Err(Closed::Ended(row.status.clone()));
    }
    if now >= row.expires_at {
        return Err(Closed::Expired);
    }
    if row.attempts >= max_attempts {
        return Err(Closed::OutOfAttempts {
            retry_after: (row.expires_at - now).max(1) as u64,
        });
    }
    Ok(())
}

/// What an accepted factor proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// A first factor.
    pub first: bool,
    /// A second factor.
    pub second: bool,
    /// The methods it adds.
    pub amr: Vec<Amr>,
}

/// What an accepted `strategy` proves (`user_verified`: a passkey assertion said the
/// authenticator verified its user — then it is both factors).
pub fn proof_of(strategy: Strategy, user_verified: bool) -> Proof {
    match strategy {
        Strategy::Passkey if user_verified => Proof {
            first: true,
            second: true,
            amr: vec![Amr::Hwk, Amr::User],
        },
        s if s.is_second_factor() => Proof {
            first: false,
            second: true,
            amr: vec![s.amr()],
        },
        s => Proof {
            first: true,
            second: false,
            amr: vec![s.amr()],
        },
    }
}

/// Applies an accepted proof at `now`: factor times, methods, the spent challenge, and the
/// next status (returned and stored in the row; a complete one is also ended).
pub fn apply(row: &mut VerificationRow, proof: &Proof, has_second: bool, now: i64) -> Status {
    if proof.first {
        row.first_factor_at = Some(now);
    }
    if proof.second {
        row.second_factor_at = Some(now);
    }
    row.amr = Amr::merge(&Amr::parse_list(&row.amr), &proof.amr, false);
    row.passkey_state = None;
    row.code_hash = None;
    row.code_expires_at = None;
    let level: Level = row.level.parse().unwrap_or(Level::MultiFactor);
    let status = next_status(
        level,
        has_second,
        row.first_factor_at.is_some(),
        row.second_factor_at.is_some(),
    );
    row.status = status.as_str().into();
    if status.is_final() {
        row.ended_at = Some(now);
    }
    status
}

/// The session's methods after a complete verification: its own, the verification's, and
/// `mfa` when a second factor was proved and a first one is in (now or earlier in the
/// session).
pub fn session_amr(session: &SessionRow, row: &VerificationRow) -> String {
    let multi = row.second_factor_at.is_some()
        && (row.first_factor_at.is_some() || session.first_factor_at.is_some_and(|t| t > 0));
    Amr::merge(
        &Amr::parse_list(&session.amr),
        &Amr::parse_list(&row.amr),
        multi,
    )
}

/// Whether these methods include a passkey that verified its user (`phr`).
pub fn is_phr(amr: &[Amr]) -> bool {
    amr.contains(&Amr::Hwk) && amr.contains(&Amr::User)
}

/// An attempt as submitted.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    pub(crate) strategy: Strategy,
    pub(crate) password: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) credential: Option<Value>,
}

/// What an accepted attempt led to.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// One step done, another needed.
    Progress(Box<VerificationRow>),
    /// Complete: the session as updated, and the approval granted when the verification
    /// was for an action.
    Complete(Box<(VerificationRow, SessionRow, Option<crate::approval::Grant>)>),
}

/// A secret checked, ready to be applied.
enum Checked {
    Right {
        user_verified: bool,
        totp_step: Option<i64>,
    },
    Wrong(ApiError),
}

fn not_now(strategy: Strategy, status: &str) -> ApiError {
    ApiError::bad_request(
        "strategy_not_allowed",
        format!("{strategy} cannot be used now: the verification {status}"),
    )
}

fn missing(strategy: Strategy, field: &'static str) -> ApiError {
    ApiError::bad_request("invalid_body", format!("{strategy} needs `{field}`"))
}

/// Runs one attempt at verification `id` of the current session.
pub(crate) async fn attempt(
    state: &AppState,
    session: &SessionRow,
    user: &User,
    id: &str,
    sub: Submission,
    client: &Client,
) -> Result<Outcome, ApiError> {
    let session_id = &session.id;
    let max = state.config.reverification.max_attempts;
    let now = state.now();
    let row = state
        .store
        .verification(id, session_id)
        .await?
        .ok_or(ApiError::NotFound("verification"))?;
    check_open(&row, now, max)?;
    let status = Status::parse(&row.status).ok_or_else(|| ApiError::internal("bad status"))?;
    let strategy = sub.strategy;
    if !allows(status, strategy) {
        return Err(not_now(strategy, &row.status));
    }
    // Everything that is not the secret itself is checked before anything is reserved.
    match strategy {
        Strategy::Password => {
            sub.password
                .as_deref()
                .ok_or_else(|| missing(strategy, "password"))?;
        }
        Strategy::EmailCode => {
            validate::code(
                sub.code
                    .as_deref()
                    .ok_or_else(|| missing(strategy, "code"))?,
            )?;
            let Some(expires) = row.code_expires_at.filter(|_| row.code_hash.is_some()) else {
                return Err(ApiError::bad_request(
                    "not_prepared",
                    "ask for a code first (prepare with strategy email_code)",
                ));
            };
            if now >= expires {
                return Err(ApiError::CodeExpired);
            }
        }
        Strategy::Totp | Strategy::BackupCode => {
            factors::validate_code(
                strategy,
                sub.code
                    .as_deref()
                    .ok_or_else(|| missing(strategy, "code"))?,
            )?;
        }
        Strategy::Passkey => {
            sub.credential
                .as_ref()
                .ok_or_else(|| missing(strategy, "credential"))?;
            if row.passkey_state.is_none() {
                return Err(ApiError::bad_request(
                    "not_prepared",
                    "ask for a challenge first (prepare with strategy passkey)",
                ));
            }
        }
    }
    let lane = strategy.is_guessable().then(|| Lane::Session {
        id: session_id.clone(),
    });
    let counter = Counter::Verification {
        id: row.id.clone(),
        session_id: session_id.clone(),
    };
    let reserved = match state.reserve_attempt(lane, Some((counter, max))).await {
        Ok(a) => a,
        Err(Refused::Locked(e)) => return Err(e),
        Err(Refused::CounterClosed) => {
            let row = state
                .store
                .verification(id, session_id)
                .await?
                .ok_or(ApiError::NotFound("verification"))?;
            check_open(&row, state.now(), max)?;
            return Err(ApiError::TooManyAttempts {
                retry_after: (row.expires_at - now).max(1) as u64,
            });
        }
    };
    // Check the secret, holding no transaction.
    let checked = match strategy {
        Strategy::Password => {
            let right = state
                .passwords
                .verify(
                    sub.password.as_deref().unwrap_or_default(),
                    user.password_hash.as_deref(),
                )
                .await?;
            if right {
                Checked::Right {
                    user_verified: false,
                    totp_step: None,
                }
            } else {
                Checked::Wrong(ApiError::IncorrectPassword)
            }
        }
        Strategy::EmailCode => {
            let code = sub.code.as_deref().unwrap_or_default();
            let expected = row.code_hash.as_deref().unwrap_or_default();
            if secrets::ct_eq(expected, &secrets::sha256_hex(&[&row.id, code])) {
                Checked::Right {
                    user_verified: false,
                    totp_step: None,
                }
            } else {
                Checked::Wrong(ApiError::InvalidCode)
            }
        }
        Strategy::Totp => {
            let code = sub.code.as_deref().unwrap_or_default();
            match factors::totp_step(state, &user.id, code).await? {
                Some(step) => Checked::Right {
                    user_verified: false,
                    totp_step: Some(step),
                },
                None => Checked::Wrong(ApiError::InvalidCode),
            }
        }
        Strategy::BackupCode => Checked::Right {
            user_verified: false,
            totp_step: None,
        },
        Strategy::Passkey => {
            let credential = sub.credential.as_ref().unwrap_or(&Value::Null);
            let server_state = row.passkey_state.as_deref().unwrap_or_default();
            match crate::passkeys::finish_assertion(state, server_state, credential).await {
                Ok(a) if a.user_id != user.id => Checked::Wrong(ApiError::PasskeyRejected),
                Ok(a) if status == Status::NeedsSecondFactor && !a.user_verified => {
                    Checked::Wrong(ApiError::UserVerificationRequired)
                }
                Ok(a) => Checked::Right {
                    user_verified: a.user_verified,
                    totp_step: None,
                },
                Err(ApiError::PasskeyRejected) => Checked::Wrong(ApiError::PasskeyRejected),
                Err(e) => return Err(e),
            }
        }
    };
    let (user_verified, totp_step) = match checked {
        Checked::Right {
            user_verified,
            totp_step,
        } => (user_verified, totp_step),
        Checked::Wrong(error) => {
            return failed(state, &row, &reserved, user, strategy, client, error).await;
        }
    };
    // A TOTP or backup code was accepted only because the user has an authenticator app.
    let has_second = strategy.is_second_factor() || state.store.has_second_factor(&user.id).await?;
    let proof = proof_of(strategy, user_verified);
    let mut tx = state.store.write().await?;
    if strategy.is_second_factor() {
        let code = sub.code.as_deref().unwrap_or_default();
        let consumed = factors::consume(
            state,
            &mut tx,
            &user.id,
            Some(session_id),
            strategy,
            totp_step,
            code,
            client,
            "verification",
        )
        .await?;
        if let Err(error) = consumed {
            if matches!(error, ApiError::CodeAlreadyUsed) {
                // A replayed code is right, only used: not a guess (design note 27).
                reserved.release(&mut tx).await?;
                tx.commit().await?;
                audit_failed(state, &row, &reserved, user, strategy, client, true).await?;
                return Err(error);
            }
            tx.rollback().await?;
            return failed(state, &row, &reserved, user, strategy, client, error).await;
        }
    }
    reserved.release_lane(&mut tx).await?;
    let mut row = state
        .store
        .verification_for_update(&mut tx, id, session_id)
        .await?
        .ok_or(ApiError::NotFound("verification"))?;
    // This attempt's reservation is given back with the row's update below; only the
    // end matters here.
    check_open(&row, now, i64::MAX)?;
    row.attempts = (row.attempts - 1).max(0);
    let status = apply(&mut row, &proof, has_second, now);
    Store::update_verification(&mut tx, &row).await?;
    if status != Status::Complete {
        tx.commit().await?;
        return Ok(Outcome::Progress(Box::new(row)));
    }
    let amr = session_amr(session, &row);
    // From here on the transaction changes the session: committing it evicts and
    // announces the change on every instance.
    let mut tx = state.store.changing_sessions(tx);
    let times = FactorTimes {
        first: row.first_factor_at,
        second: row.second_factor_at,
        // A passkey that verified its user sets both factors' times at once.
        phr: row
            .first_factor_at
            .filter(|_| is_phr(&Amr::parse_list(&row.amr))),
    };
    if !Store::record_factors_tx(&mut tx, session_id, times, &amr).await? {
        return Err(ApiError::SignedOut);
    }
    state
        .audit_tx(
            &mut tx,
            Event {
                kind: "verification.succeeded",
                user_id: Some(&user.id),
                session_id: Some(session_id),
                client,
                detail: json!({
                    "verification_id": row.id,
                    "level": row.level,
                    "factor": strategy.as_str(),
                    "amr": row.amr.split_whitespace().collect::<Vec<_>>(),
                }),
            },
        )
        .await?;
    let grant = match crate::approval::stored(row.action.as_deref())? {
        Some(action) => {
            let grant = crate::approval::Grant {
                id: secrets::new_id("apr"),
                expires_at: now + state.config.reverification.approval_ttl_secs,
            };
            state
                .audit_tx(
                    &mut tx,
                    Event {
                        kind: "approval.granted",
                        user_id: Some(&user.id),
                        session_id: Some(session_id),
                        client,
                        detail: action.audit_detail(
                            &row.id,
                            json!({
                                "approval_id": grant.id,
                                "level": row.level,
                                "factor": strategy.as_str(),
                                "expires_at": grant.expires_at,
                            }),
                        ),
                    },
                )
                .await?;
            Some(grant)
        }
        None => None,
    };
    tx.commit().await?;
    let session = state
        .store
        .session_by_id(session_id)
        .await?
        .ok_or(ApiError::SignedOut)?;
    Ok(Outcome::Complete(Box::new((row, session, grant))))
}

/// A wrong secret: its reservation already counted it; audited, and answered with
/// `error` — or, when it locked the session's lane, the session is ended.
async fn failed(
    state: &AppState,
    row: &VerificationRow,
    reserved: &crate::attempts::Attempt,
    user: &User,
    strategy: Strategy,
    client: &Client,
    error: ApiError,
) -> Result<Outcome, ApiError> {
    audit_failed(state, row, reserved, user, strategy, client, false).await?;
    if state
        .attempt_failed(reserved, Some(&user.id), client)
        .await?
    {
        return Err(ApiError::SessionEnded);
    }
    Err(error)
}

/// Records `verification.failed`; `replayed`: a code that was right but already used
/// (recorded with `"reason": "code_already_used"`; its attempt was given back).
async fn audit_failed(
    state: &AppState,
    row: &VerificationRow,
    reserved: &crate::attempts::Attempt,
    user: &User,
    strategy: Strategy,
    client: &Client,
    replayed: bool,
) -> Result<(), ApiError> {
    let mut detail = json!({
        "verification_id": row.id,
        "level": row.level,
        "factor": strategy.as_str(),
        "attempts": reserved.attempts - i64::from(replayed),
    });
    if replayed {
        detail["reason"] = json!(ApiError::CodeAlreadyUsed.code());
    }
    state
        .audit(Event {
            kind: "verification.failed",
            user_id: Some(&user.id),
            session_id: Some(&row.session_id),
            client,
            detail,
        })
        .await?;
    // The last attempt of a verification for an action: the approval is refused.
    let dead = !replayed && reserved.attempts >= state.config.reverification.max_attempts;
    if let Some(action) = crate::approval::stored(row.action.as_deref())?.filter(|_| dead) {
        state
            .audit(Event {
                kind: "approval.refused",
                user_id: Some(&user.id),
                session_id: Some(&row.session_id),
                client,
                detail: action.audit_detail(&row.id, json!({ "reason": "too_many_attempts" })),
            })
            .await?;
    }
    Ok(())
}
