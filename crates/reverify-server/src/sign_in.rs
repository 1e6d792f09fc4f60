//! The multi-step sign-in (and the code confirmation of a sign-up), as a state machine.
//!
//! A sign-in starts with a first factor: a password (answered at once), an emailed code
//! (a flow at [`Stage::NeedsEmailCode`]) or a passkey. A user with a second factor then
//! gets a flow at [`Stage::NeedsSecondFactor`]; the session is created only when a TOTP or
//! backup code is accepted. A sign-up is a flow at [`Stage::NeedsEmailCode`] whose
//! account is created with its first session when the code is confirmed.
//!
//! The rules are pure functions ([`Stage::of`], [`allows`], [`check_open`],
//! [`second_step_amr`]); the async functions run one step against the store: validate,
//! reserve the attempt (`crate::attempts`), check the secret holding no transaction,
//! then act in one short transaction.

use serde_json::json;

use crate::attempts::{Attempt, Counter, Refused};
use crate::audit::Event;
use crate::client::Client;
use crate::error::ApiError;
use crate::secrets;
use crate::session::{self, Verified};
use crate::state::AppState;
use crate::store::{Flow, FlowKind, SessionRow, Store, StoreError, Tx, User};
use crate::strategy::{Amr, Strategy};

/// Wrong codes allowed per emailed-code flow; then it is dead and a new one must be started.
pub const CODE_ATTEMPTS: i64 = 5;

/// Where a flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the code sent by email (a code sign-in, or a sign-up).
    NeedsEmailCode,
    /// The first factor is verified; waiting for a TOTP or backup code.
    NeedsSecondFactor,
}

impl Stage {
    /// The stage of a stored flow.
    pub fn of(flow: &Flow) -> Stage {
        if flow.stage.as_deref() == Some(NEEDS_SECOND_FACTOR) {
            Stage::NeedsSecondFactor
        } else {
            Stage::NeedsEmailCode
        }
    }
}

const NEEDS_SECOND_FACTOR: &str = "needs_second_factor";

/// Whether `strategy` can be attempted at `stage`.
pub fn allows(stage: Stage, strategy: Strategy) -> bool {
    match stage {
        Stage::NeedsEmailCode => strategy == Strategy::EmailCode,
        Stage::NeedsSecondFactor => strategy.is_second_factor(),
    }
}

/// The attempt budget of a flow at `stage` (`second`: `reverification.max_attempts`).
pub fn attempt_budget(stage: Stage, second: i64) -> i64 {
    match stage {
        Stage::NeedsEmailCode => CODE_ATTEMPTS,
        Stage::NeedsSecondFactor => second,
    }
}

/// Whether the flow can take an attempt at `now`.
pub fn check_open(flow: &Flow, now: i64, max_attempts: i64) -> Result<(), ApiError> {
    if flow.completed_at.is_some() {
        return Err(ApiError::FlowCompleted);
    }
    if now >= flow.expires_at {
        return Err(match Stage::of(flow) {
            Stage::NeedsEmailCode => ApiError::CodeExpired,
            Stage::NeedsSecondFactor => ApiError::Gone {
                code: "sign_in_expired",
                message: "this sign-in has expired; start again".into(),
            },
        });
    }
    if flow.attempts >= max_attempts {
        return Err(ApiError::TooManyAttempts {
            retry_after: (flow.expires_at - now).max(1) as u64,
        });
    }
    Ok(())
}

/// The session's methods after the second step: the first step's, then `otp` and `mfa`.
pub fn second_step_amr(first: &str) -> Vec<Amr> {
    let mut amr = Amr::parse_list(first);
    if amr.is_empty() {
        amr.push(Amr::Pwd);
    }
    for m in [Amr::Otp, Amr::Mfa] {
        if !amr.contains(&m) {
            amr.push(m);
        }
    }
    amr
}

/// A completed sign-in: the new session, its cookie secret, the user, a first token, and a
/// new device cookie when the browser had none.
#[derive(Debug)]
pub(crate) struct SignedIn {
    pub(crate) session: SessionRow,
    pub(crate) secret: String,
    pub(crate) user: User,
    pub(crate) token: String,
    pub(crate) device_secret: Option<String>,
}

/// What a sign-in step led to.
#[derive(Debug)]
pub(crate) enum Step {
    /// Signed in.
    SignedIn(Box<SignedIn>),
    /// The second factor is needed: the flow to continue.
    NeedsSecondFactor(Box<Flow>),
}

/// Completes a sign-in inside `tx`: a new session, the device remembered, its audit event
/// (`kind`), committed; then a first token.
pub(crate) async fn finish(
    state: &AppState,
    mut tx: Tx,
    user: &User,
    verified: &Verified,
    client: &Client,
    kind: &'static str,
) -> Result<SignedIn, ApiError> {
    let now = state.now();
    let (session, secret) = session::establish(state, &mut tx, user, verified, client).await?;
    let device_secret = match client.device_hash() {
        Some(hash) => {
            Store::remember_device_tx(&mut tx, &hash, &user.id, now).await?;
            None
        }
        None => {
            let device = secrets::new_secret();
            Store::remember_device_tx(&mut tx, &secrets::sha256_hex(&[&device]), &user.id, now)
                .await?;
            Some(device)
        }
    };
    state
        .audit_tx(
            &mut tx,
            Event {
                kind,
                user_id: Some(&user.id),
                session_id: Some(&session.id),
                client,
                detail: json!({ "amr": verified.amr }),
            },
        )
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, session_id = %session.id, amr = ?verified.amr, "signed in");
    let token = session::mint_token(state, &session, client.origin.as_deref()).await?;
    Ok(SignedIn {
        session,
        secret,
        user: user.clone(),
        token,
        device_secret,
    })
}

/// Creates the flow of a sign-in waiting for its second factor, after a first factor
/// (`first`: its methods), inside `tx`.
async fn second_factor_flow_tx(
    state: &AppState,
    tx: &mut Tx,
    email: &str,
    user: &User,
    client: &Client,
    first: &[Amr],
) -> Result<Flow, ApiError> {
    let now = state.now();
    let flow = Flow {
        id: secrets::new_id("flow"),
        kind: FlowKind::SignInSecondFactor.as_str().into(),
        email: email.into(),
        user_id: Some(user.id.clone()),
        password_hash: None,
        code_hash: None,
        attempts: 0,
        created_at: now,
        expires_at: now + state.config.reverification.verification_ttl_secs,
        completed_at: None,
        stage: Some(NEEDS_SECOND_FACTOR.into()),
        amr: Some(Amr::join(first)),
    };
    Store::insert_flow_tx(tx, &flow).await?;
    state
        .audit_tx(
            tx,
            Event {
                kind: "sign_in.second_factor_required",
                user_id: Some(&user.id),
                session_id: None,
                client,
                detail: json!({ "first_factor": Amr::join(first), "sign_in_id": flow.id }),
            },
        )
        .await?;
    Ok(flow)
}

/// After a first factor: the session, or the second-factor step for a user who has one.
/// `attempt`'s reservations are given back in the same transaction. A code sign-in's
/// `flow` moves on to its second step (same id) or is completed.
async fn after_first_factor(
    state: &AppState,
    attempt: Option<&Attempt>,
    user: &User,
    email: &str,
    first: Vec<Amr>,
    client: &Client,
    flow: Option<&Flow>,
) -> Result<Step, ApiError> {
    let has_second = state.store.has_second_factor(&user.id).await?;
    let now = state.now();
    let mut tx = state.store.write().await?;
    if let Some(attempt) = attempt {
        attempt.release(&mut tx).await?;
    }
    if has_second {
        let next = match flow {
            Some(flow) => {
                let expires_at = now + state.config.reverification.verification_ttl_secs;
                let amr = Amr::join(&first);
                if !Store::advance_flow(&mut tx, &flow.id, NEEDS_SECOND_FACTOR, &amr, expires_at)
                    .await?
                {
                    return Err(ApiError::FlowCompleted);
                }
                Flow {
                    stage: Some(NEEDS_SECOND_FACTOR.into()),
                    amr: Some(amr),
                    attempts: 0,
                    expires_at,
                    ..flow.clone()
                }
            }
            None => second_factor_flow_tx(state, &mut tx, email, user, client, &first).await?,
        };
        tx.commit().await?;
        return Ok(Step::NeedsSecondFactor(Box::new(next)));
    }
    if let Some(flow) = flow
        && !Store::complete_flow(&mut tx, &flow.id, now).await?
    {
        return Err(ApiError::FlowCompleted);
    }
    let verified = Verified {
        amr: first,
        first_factor: true,
        second_factor: false,
        second_enrolled: false,
    };
    let signed_in = finish(state, tx, user, &verified, client, "sign_in.succeeded").await?;
    Ok(Step::SignedIn(Box::new(signed_in)))
}

/// A reservation refused: `423` as is; a closed flow is read again to say why.
async fn refused(state: &AppState, r: Refused, id: &str, max: i64) -> ApiError {
    match r {
        Refused::Locked(e) => e,
        Refused::CounterClosed => match state.store.flow_by_id(id).await {
            Ok(Some(flow)) => check_open(&flow, state.now(), max)
                .err()
                .unwrap_or(ApiError::TooManyAttempts { retry_after: 1 }),
            Ok(None) => ApiError::NotFound("flow"),
            Err(e) => e.into(),
        },
    }
}

/// A password sign-in. Unknown emails cost the same Argon2 verification and count in the
/// same lane as known ones.
pub(crate) async fn password(
    state: &AppState,
    email: &str,
    user: Option<User>,
    password: &str,
    client: &Client,
) -> Result<Step, ApiError> {
    let user_id = user.as_ref().map(|u| u.id.clone());
    let lane = state
        .account_lane(Strategy::Password, email, user_id.as_deref(), client)
        .await?;
    let attempt = match state.reserve_attempt(Some(lane), None).await {
        Ok(a) => a,
        Err(Refused::Locked(e)) => return Err(e),
        Err(Refused::CounterClosed) => return Err(ApiError::internal("no counter")),
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let right = state.passwords.verify(password, stored).await? && user.is_some();
    let Some(user) = user.filter(|_| right) else {
        state
            .audit(Event {
                kind: "sign_in.failed",
                user_id: user_id.as_deref(),
                session_id: None,
                client,
                detail: json!({ "factor": "password", "email": email }),
            })
            .await?;
        state
            .attempt_failed(&attempt, user_id.as_deref(), client)
            .await?;
        return Err(ApiError::InvalidCredentials);
    };
    after_first_factor(
        state,
        Some(&attempt),
        &user,
        email,
        vec![Amr::Pwd],
        client,
        None,
    )
    .await
}

/// After a passkey assertion (not guessable: nothing to reserve): signed in, or the second
/// step when the passkey did not verify its user and the user has a second factor.
pub(crate) async fn passkey(
    state: &AppState,
    user: &User,
    user_verified: bool,
    client: &Client,
) -> Result<Step, ApiError> {
    let second_enrolled = state.store.has_second_factor(&user.id).await?;
    if !user_verified {
        return after_first_factor(state, None, user, &user.email, vec![Amr::Hwk], client, None)
            .await;
    }
    let verified = Verified {
        amr: vec![Amr::Hwk, Amr::User, Amr::Mfa],
        first_factor: true,
        second_factor: true,
        second_enrolled,
    };
    let tx = state.store.write().await?;
    let signed_in = finish(state, tx, user, &verified, client, "sign_in.succeeded").await?;
    Ok(Step::SignedIn(Box::new(signed_in)))
}

/// Reserves an attempt at `flow` in the emailed-code lane of its email.
async fn reserve_code(state: &AppState, flow: &Flow, client: &Client) -> Result<Attempt, ApiError> {
    let lane = state
        .account_lane(
            Strategy::EmailCode,
            &flow.email,
            flow.user_id.as_deref(),
            client,
        )
        .await?;
    let counter = Counter::Flow {
        id: flow.id.clone(),
    };
    match state
        .reserve_attempt(Some(lane), Some((counter, CODE_ATTEMPTS)))
        .await
    {
        Ok(a) => Ok(a),
        Err(r) => Err(refused(state, r, &flow.id, CODE_ATTEMPTS).await),
    }
}

/// Whether `code` is the flow's code (a flow for an unknown email has none: never).
fn code_matches(flow: &Flow, code: &str) -> bool {
    let given = secrets::sha256_hex(&[&flow.id, code]);
    flow.code_hash
        .as_deref()
        .is_some_and(|expected| secrets::ct_eq(expected, &given))
}

/// The emailed code of a code sign-in.
pub(crate) async fn email_code(
    state: &AppState,
    flow: Flow,
    code: &str,
    client: &Client,
) -> Result<Step, ApiError> {
    check_open(&flow, state.now(), CODE_ATTEMPTS)?;
    let attempt = reserve_code(state, &flow, client).await?;
    if !code_matches(&flow, code) {
        state
            .attempt_failed(&attempt, flow.user_id.as_deref(), client)
            .await?;
        return Err(ApiError::InvalidCode);
    }
    let user_id = flow.user_id.clone().ok_or(ApiError::InvalidCode)?;
    let user = state
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    after_first_factor(
        state,
        Some(&attempt),
        &user,
        &flow.email,
        vec![Amr::Email],
        client,
        Some(&flow),
    )
    .await
}

/// The second step: a TOTP or backup code.
pub(crate) async fn second_factor(
    state: &AppState,
    flow: Flow,
    strategy: Strategy,
    code: &str,
    client: &Client,
) -> Result<SignedIn, ApiError> {
    crate::factors::validate_code(strategy, code)?;
    let max = state.config.reverification.max_attempts;
    check_open(&flow, state.now(), max)?;
    let user_id = flow.user_id.clone().ok_or(ApiError::NotFound("flow"))?;
    let user = state
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(ApiError::NotFound("flow"))?;
    let lane = state
        .account_lane(strategy, &user_id, Some(&user_id), client)
        .await?;
    let counter = Counter::Flow {
        id: flow.id.clone(),
    };
    let attempt = match state
        .reserve_attempt(Some(lane), Some((counter, max)))
        .await
    {
        Ok(a) => a,
        Err(r) => return Err(refused(state, r, &flow.id, max).await),
    };
    let wrong = |error: ApiError| async {
        state
            .audit(Event {
                kind: "sign_in.failed",
                user_id: Some(&user_id),
                session_id: None,
                client,
                detail: json!({ "factor": strategy.as_str(), "sign_in_id": flow.id }),
            })
            .await?;
        state
            .attempt_failed(&attempt, Some(&user_id), client)
            .await?;
        Err::<SignedIn, ApiError>(error)
    };
    let step = match strategy {
        Strategy::Totp => match crate::factors::totp_step(state, &user_id, code).await? {
            Some(step) => Some(step),
            None => return wrong(ApiError::InvalidCode).await,
        },
        _ => None,
    };
    let now = state.now();
    let mut tx = state.store.write().await?;
    let consumed = crate::factors::consume(
        state, &mut tx, &user_id, None, strategy, step, code, client, "sign_in",
    )
    .await?;
    if let Err(error) = consumed {
        if matches!(error, ApiError::CodeAlreadyUsed) {
            // A replayed code is right, only used: not a guess (design note 27). Recorded,
            // its attempt given back.
            attempt.release(&mut tx).await?;
            tx.commit().await?;
            state
                .audit(Event {
                    kind: "sign_in.failed",
                    user_id: Some(&user_id),
                    session_id: None,
                    client,
                    detail: json!({
                        "factor": strategy.as_str(),
                        "sign_in_id": flow.id,
                        "reason": error.code(),
                    }),
                })
                .await?;
            return Err(error);
        }
        tx.rollback().await?;
        return wrong(error).await;
    }
    attempt.release(&mut tx).await?;
    if !Store::complete_flow(&mut tx, &flow.id, now).await? {
        return Err(ApiError::FlowCompleted);
    }
    let verified = Verified {
        amr: second_step_amr(flow.amr.as_deref().unwrap_or("pwd")),
        first_factor: true,
        second_factor: true,
        second_enrolled: true,
    };
    finish(state, tx, &user, &verified, client, "sign_in.succeeded").await
}

/// The emailed code of a sign-up: the account and its first session, in one transaction.
pub(crate) async fn confirm_sign_up(
    state: &AppState,
    flow: Flow,
    code: &str,
    client: &Client,
) -> Result<SignedIn, ApiError> {
    check_open(&flow, state.now(), CODE_ATTEMPTS)?;
    let attempt = reserve_code(state, &flow, client).await?;
    if !code_matches(&flow, code) {
        state.attempt_failed(&attempt, None, client).await?;
        return Err(ApiError::InvalidCode);
    }
    let now = state.now();
    let user = User::new(flow.email.clone(), flow.password_hash.clone(), now);
    let mut tx = state.store.write().await?;
    attempt.release(&mut tx).await?;
    if !Store::complete_flow(&mut tx, &flow.id, now).await? {
        return Err(ApiError::FlowCompleted);
    }
    Store::insert_user(&mut tx, &user)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict {
                code: "email_taken",
                message: "an account with this email address already exists; sign in instead"
                    .into(),
            },
            other => other.into(),
        })?;
    let verified = Verified {
        amr: vec![Amr::Pwd, Amr::Email],
        first_factor: true,
        second_factor: false,
        second_enrolled: false,
    };
    finish(state, tx, &user, &verified, client, "sign_up.completed").await
}
