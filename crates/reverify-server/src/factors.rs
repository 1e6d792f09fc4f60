//! Checking the secrets a user can guess, shared by sign-in and verification. Attempts are
//! reserved by [`crate::attempts`] before these run; single-use secrets (a TOTP step, a
//! backup code) are consumed by the store inside the transaction that acts on them.

use crate::audit::Event;
use crate::client::Client;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Store, Tx};
use crate::strategy::Strategy;
use crate::totp;

/// The stored hash of a backup code.
pub(crate) fn backup_code_hash(user_id: &str, code: &str) -> String {
    crate::secrets::sha256_hex(&["backup_code", user_id, &totp::normalize_backup_code(code)])
}

/// The shape of a second-factor code: six digits for TOTP, a backup code otherwise.
pub(crate) fn validate_code(strategy: Strategy, code: &str) -> Result<(), ApiError> {
    match strategy {
        Strategy::BackupCode => {
            let n = totp::normalize_backup_code(code);
            if n.len() == 12 && n.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(())
            } else {
                Err(ApiError::bad_request(
                    "invalid_code_format",
                    "a backup code is twelve letters and digits, like k7m2-9xq4-hd3e",
                ))
            }
        }
        _ => crate::validate::code(code).map(|_| ()),
    }
}

/// The time step `code` is right for, if the user's confirmed authenticator app shows it
/// now (±1 step). A read: the caller consumes the step in its transaction
/// (`Store::use_totp_step`), which refuses a step already used.
pub(crate) async fn totp_step(
    state: &AppState,
    user_id: &str,
    code: &str,
) -> Result<Option<i64>, ApiError> {
    let Some(factor) = state.store.totp_of(user_id).await? else {
        return Ok(None);
    };
    if factor.confirmed_at.is_none() {
        return Ok(None);
    }
    Ok(totp::matching_step(
        &factor.secret,
        code.trim(),
        state.now(),
    ))
}

/// Consumes an accepted second-factor code inside `tx`, so that it is never accepted twice,
/// even by two concurrent requests: the TOTP `step` found by [`totp_step`], or the backup
/// `code` (also recording `factor.backup_code_used`, `during` a sign-in or a
/// verification). `Err` with the answer for a code that was already used.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn consume(
    state: &AppState,
    tx: &mut Tx,
    user_id: &str,
    session_id: Option<&str>,
    strategy: Strategy,
    step: Option<i64>,
    code: &str,
    client: &Client,
    during: &str,
) -> Result<Result<(), ApiError>, ApiError> {
    if strategy == Strategy::Totp {
        let step = step.unwrap_or(i64::MAX);
        return Ok(if Store::use_totp_step(tx, user_id, step, None).await? {
            Ok(())
        } else {
            Err(ApiError::CodeAlreadyUsed)
        });
    }
    let hash = backup_code_hash(user_id, code);
    if !Store::use_backup_code(tx, user_id, &hash, state.now()).await? {
        return Ok(Err(ApiError::InvalidCode));
    }
    state
        .audit_tx(
            tx,
            Event {
                kind: "factor.backup_code_used",
                user_id: Some(user_id),
                session_id,
                client,
                detail: serde_json::json!({ "during": during }),
            },
        )
        .await?;
    Ok(Ok(()))
}
