//! WebAuthn passkeys: registration and assertion ceremonies.
//!
//! A passkey assertion with user verification (UV) counts as both factors (multi-factor,
//! as NIST SP 800-63B treats it); without UV it is a first factor only.
//!
//! The relying party is built on `webauthn-rs-core` rather than on the high-level
//! `webauthn-rs` API, because that one requires UV for every passkey ceremony. Here UV is
//! *preferred*: the authenticator verifies the user when it can, and the result says
//! whether it did. One rule of the library remains: a passkey that verified the user when
//! it was registered must verify the user every time after.
//!
//! Ceremonies are stateful on the server. The state of a registration or a passkey
//! sign-in is a row of `webauthn_ceremonies` that is taken exactly once; the state of a
//! reverification's passkey step lives on the verification row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState, Credential, PublicKeyCredential,
    RegisterPublicKeyCredential, RegistrationState, RequestRegistrationExtensions,
    UserVerificationPolicy,
};

use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::store::{CeremonyRow, PasskeyRow, Store, User};

use crate::relying_party::CEREMONY_TTL_SECS;

/// Ceremony kind: adding a passkey to the signed-in user.
pub(crate) const REGISTRATION: &str = "registration";

/// Ceremony kind: signing in with a discoverable passkey.
pub(crate) const SIGN_IN: &str = "sign_in";

/// Finished or expired ceremonies are kept this long (so that a late answer gets 409 or
/// 410 rather than 404), then purged.
const CEREMONY_RETENTION_SECS: i64 = 86_400;

/// A verified assertion.
#[derive(Debug, Clone)]
pub(crate) struct Assertion {
    /// The passkey's owner.
    pub(crate) user_id: String,
    /// Which passkey (`pk_…`).
    pub(crate) passkey_id: String,
    /// The authenticator verified the user (PIN, biometrics).
    pub(crate) user_verified: bool,
}

/// What is kept of an assertion between its start and the answer.
#[derive(Serialize, Deserialize)]
struct AssertionState {
    /// The user the assertion was started for; `None` for a discoverable sign-in.
    user_id: Option<String>,
    state: AuthenticationState,
}

fn rejected(what: &str, e: impl std::fmt::Debug) -> ApiError {
    tracing::info!(error = ?e, "passkey {what} rejected");
    ApiError::PasskeyRejected
}

/// The WebAuthn credential id as stored: base64url without padding.
pub(crate) fn credential_id(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// The `user.id` (user handle) a passkey is registered with: the user's id, which is
/// random and contains nothing personal.
fn user_handle(user_id: &str) -> &[u8] {
    user_id.as_bytes()
}

/// Reads a `PublicKeyCredential` from `navigator.credentials.create()` (as JSON).
pub(crate) fn parse_registration(
    credential: &Value,
) -> Result<RegisterPublicKeyCredential, ApiError> {
    serde_json::from_value(credential.clone()).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!(
                "`credential` is not a PublicKeyCredential from navigator.credentials.create(): {e}"
            ),
        )
    })
}

/// Reads a `PublicKeyCredential` from `navigator.credentials.get()` (as JSON).
pub(crate) fn parse_assertion(credential: &Value) -> Result<PublicKeyCredential, ApiError> {
    serde_json::from_value(credential.clone()).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!(
                "`credential` is not a PublicKeyCredential from navigator.credentials.get(): {e}"
            ),
        )
    })
}

/// Stores a new ceremony; returns it. Now and then, forgets long-dead ones.
pub(crate) async fn new_ceremony(
    state: &AppState,
    kind: &str,
    user_id: Option<&str>,
    server_state: String,
) -> Result<CeremonyRow, ApiError> {
    let now = state.now();
    let row = CeremonyRow {
        id: secrets::new_id("wac"),
        kind: kind.into(),
        user_id: user_id.map(str::to_owned),
        state: server_state,
        created_at: now,
        expires_at: now + CEREMONY_TTL_SECS,
        completed_at: None,
    };
    state.store.insert_ceremony(&row).await?;
    if secrets::random_bytes::<1>()[0] < 4 {
        state
            .store
            .purge_ceremonies(now - CEREMONY_RETENTION_SECS)
            .await?;
    }
    Ok(row)
}

/// The pending ceremony `id` of `kind` (and, for a registration, of `user_id`): 404 if
/// there is none, 409 if it was answered already, 410 if it expired.
pub(crate) async fn pending_ceremony(
    state: &AppState,
    id: &str,
    kind: &str,
    user_id: Option<&str>,
) -> Result<CeremonyRow, ApiError> {
    let row = state
        .store
        .ceremony(id)
        .await?
        .filter(|c| c.kind == kind && c.user_id.as_deref() == user_id)
        .ok_or(ApiError::NotFound("ceremony"))?;
    check_pending(state, &row)?;
    Ok(row)
}

fn check_pending(state: &AppState, row: &CeremonyRow) -> Result<(), ApiError> {
    if row.completed_at.is_some() {
        return Err(ApiError::Conflict {
            code: "ceremony_used",
            message: "this challenge was already answered; start again".into(),
        });
    }
    if state.now() >= row.expires_at {
        return Err(ApiError::Gone {
            code: "ceremony_expired",
            message: "this challenge has expired; start again".into(),
        });
    }
    Ok(())
}

/// Takes the pending ceremony `row` inside `tx`, once: 409 if another request took it.
pub(crate) async fn take_ceremony(
    state: &AppState,
    tx: &mut crate::store::Tx,
    row: &CeremonyRow,
) -> Result<CeremonyRow, ApiError> {
    Store::take_ceremony(tx, &row.id, &row.kind, state.now())
        .await?
        .ok_or(ApiError::Conflict {
            code: "ceremony_used",
            message: "this challenge was already answered; start again".into(),
        })
}

/// Starts adding a passkey for `user`: the options for `navigator.credentials.create()`
/// (the `{"publicKey": …}` object) and the server-side state. The user's passkeys are
/// excluded (an authenticator that holds one says so instead of making another).
pub(crate) fn start_registration(
    state: &AppState,
    user: &User,
    existing: &[PasskeyRow],
) -> Result<(Value, String), ApiError> {
    let exclude = existing
        .iter()
        .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
        .collect::<Vec<_>>();
    let extensions = RequestRegistrationExtensions {
        cred_props: Some(true),
        ..Default::default()
    };
    let builder = state
        .relying_party
        .core
        .new_challenge_register_builder(user_handle(&user.id), &user.email, &user.email)
        .map_err(ApiError::internal)?
        .attestation(AttestationConveyancePreference::None)
        .user_verification_policy(UserVerificationPolicy::Preferred)
        // A passkey is a discoverable credential: it can sign in without an email.
        .require_resident_key(true)
        .exclude_credentials(Some(exclude))
        .extensions(Some(extensions));
    let (options, registration) = state
        .relying_party
        .core
        .generate_challenge_register(builder)
        .map_err(ApiError::internal)?;
    let options = serde_json::to_value(options).map_err(ApiError::internal)?;
    let server_state = serde_json::to_string(&registration).map_err(ApiError::internal)?;
    Ok((options, server_state))
}

/// Checks the answer to a registration (signature, challenge, origin, RP id) against its
/// server-side state; returns the credential to store.
pub(crate) fn finish_registration(
    state: &AppState,
    server_state: &str,
    credential: &RegisterPublicKeyCredential,
) -> Result<Credential, ApiError> {
    let registration: RegistrationState =
        serde_json::from_str(server_state).map_err(ApiError::internal)?;
    state
        .relying_party
        .core
        .register_credential(credential, &registration, None)
        .map_err(|e| rejected("registration", e))
}

/// The row of a newly registered credential.
pub(crate) fn passkey_row(
    user_id: &str,
    name: &str,
    credential: &Credential,
    now: i64,
) -> Result<PasskeyRow, ApiError> {
    Ok(PasskeyRow {
        id: secrets::new_id("pk"),
        user_id: user_id.into(),
        credential_id: credential_id(&credential.cred_id),
        name: name.into(),
        credential: serde_json::to_string(credential).map_err(ApiError::internal)?,
        created_at: now,
        last_used_at: None,
    })
}

/// Starts an assertion: the options for `navigator.credentials.get()` (the
/// `{"publicKey": …}` object) and the server-side state to keep until the answer.
/// With `user_id`, only that user's passkeys are allowed; without, any discoverable one.
pub(crate) async fn start_assertion(
    state: &AppState,
    user_id: Option<&str>,
    challenge: Option<Vec<u8>>,
) -> Result<(serde_json::Value, String), ApiError> {
    let credentials = match user_id {
        Some(id) => {
            let rows = state.store.passkeys_of(id).await?;
            if rows.is_empty() {
                return Err(ApiError::bad_request(
                    "strategy_not_allowed",
                    "this account has no passkey",
                ));
            }
            rows.iter()
                .map(|p| serde_json::from_str::<Credential>(&p.credential))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ApiError::internal)?
        }
        // No allowed credentials: the authenticator offers whichever it holds for this
        // relying party.
        None => Vec::new(),
    };
    let core = &state.relying_party.core;
    let builder = core
        .new_challenge_authenticate_builder(credentials, Some(UserVerificationPolicy::Preferred))
        .map_err(ApiError::internal)?
        // A device-bound credential may become a synced one (never the reverse).
        .allow_backup_eligible_upgrade(true);
    let (options, mut authentication) = core
        .generate_challenge_authenticate(builder)
        .map_err(ApiError::internal)?;
    // The answer is checked against the stored credential, read again then (its counter
    // may have moved): the state needs only the challenge and the policy.
    authentication.set_allowed_credentials(Vec::new());
    let mut options = serde_json::to_value(options).map_err(ApiError::internal)?;
    if let Some(challenge) = challenge {
        // The library draws its own challenge; a bound one (an approval's) replaces it in
        // both the options and the state the answer is checked against.
        let encoded = serde_json::Value::String(URL_SAFE_NO_PAD.encode(&challenge));
        let mut saved = serde_json::to_value(&authentication).map_err(ApiError::internal)?;
        match (
            saved.get_mut("challenge"),
            options.pointer_mut("/publicKey/challenge"),
        ) {
            (Some(s), Some(o)) => {
                *s = encoded.clone();
                *o = encoded;
            }
            _ => return Err(ApiError::internal("no challenge in the assertion state")),
        }
        authentication = serde_json::from_value(saved).map_err(ApiError::internal)?;
    }
    let saved = AssertionState {
        user_id: user_id.map(str::to_owned),
        state: authentication,
    };
    let server_state = serde_json::to_string(&saved).map_err(ApiError::internal)?;
    Ok((options, server_state))
}

/// Checks the browser's answer (`PublicKeyCredential` as JSON) against the state from
/// [`start_assertion`], updates the credential's counter, and says who it proves.
pub(crate) async fn finish_assertion(
    state: &AppState,
    server_state: &str,
    credential: &serde_json::Value,
) -> Result<Assertion, ApiError> {
    let answer = parse_assertion(credential)?;
    let saved: AssertionState = serde_json::from_str(server_state).map_err(ApiError::internal)?;
    let row = state
        .store
        .passkey_by_credential_id(&credential_id(&answer.raw_id))
        .await?
        .ok_or_else(|| rejected("assertion", "unknown credential"))?;
    // The credential decides whose account this is; the user handle the authenticator
    // returns (unsigned) must agree, and a discoverable sign-in must have one.
    if saved.user_id.as_deref().is_some_and(|id| id != row.user_id) {
        return Err(rejected("assertion", "another user's credential"));
    }
    match answer.response.user_handle.as_deref() {
        Some(handle) if handle != user_handle(&row.user_id) => {
            return Err(rejected("assertion", "user handle of another user"));
        }
        None if saved.user_id.is_none() => {
            return Err(rejected(
                "assertion",
                "no user handle in a discoverable sign-in",
            ));
        }
        _ => {}
    }
    let mut stored: Credential =
        serde_json::from_str(&row.credential).map_err(ApiError::internal)?;
    let result = state
        .relying_party
        .core
        .authenticate_single_credential(&answer, &saved.state, &stored)
        .map_err(|e| match e {
            // Registered with UV, so it must verify the user every time.
            WebauthnError::UserNotVerified => ApiError::UserVerificationRequired,
            e => rejected("assertion", e),
        })?;
    if result.counter() > stored.counter {
        stored.counter = result.counter();
    }
    stored.backup_state = result.backup_state();
    stored.backup_eligible |= result.backup_eligible();
    let updated = serde_json::to_string(&stored).map_err(ApiError::internal)?;
    let mut tx = state.store.write().await?;
    Store::passkey_used(&mut tx, &row.id, &updated, state.now()).await?;
    tx.commit().await?;
    Ok(Assertion {
        user_id: row.user_id,
        passkey_id: row.id,
        user_verified: result.user_verified(),
    })
}

/// Whether a stored passkey verifies its user: registered with user verification, it must
/// verify the user at every use (see [`finish_assertion`]'s `UserNotVerified`), which is
/// what the OpenID provider's `phr` needs. One registered without it may never do so.
pub(crate) fn verifies_user(row: &PasskeyRow) -> bool {
    serde_json::from_str::<Credential>(&row.credential).is_ok_and(|c| c.user_verified)
}

/// The public view of a passkey.
pub(crate) fn passkey_json(p: &PasskeyRow) -> Value {
    serde_json::json!({
        "id": p.id,
        "object": "passkey",
        "name": p.name,
        "created_at": p.created_at,
        "last_used_at": p.last_used_at,
    })
}
