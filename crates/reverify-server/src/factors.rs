//! Checking the secrets a user can guess, shared by sign-in and verification: each check
//! honours the account's lockout and counts failures; second-factor checks consume what
//! they accept (a TOTP step, a backup code) inside the caller's transaction, so a code can
//! never be accepted twice, even by two concurrent requests.

use serde::Deserialize;
use sqlx::{Any, Transaction};

use crate::error::ApiError;
use crate::lockout::Secret;
use crate::state::AppState;
use crate::store::{Store, User};
use crate::totp;
use crate::web::Client;

/// A second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SecondFactor {
    /// A code from an authenticator app.
    Totp,
    /// One of the user's backup codes.
    BackupCode,
}

impl SecondFactor {
    pub(crate) fn secret(self) -> Secret {
        match self {
            SecondFactor::Totp => Secret::Totp,
            SecondFactor::BackupCode => Secret::BackupCode,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        self.secret().as_str()
    }
}

/// The stored hash of a backup code.
pub(crate) fn backup_code_hash(user_id: &str, code: &str) -> String {
    crate::secrets::sha256_hex(&["backup_code", user_id, &totp::normalize_backup_code(code)])
}

/// Checks `password` for `email` (whose account is `user`, if any): `Ok(true)` when right.
/// Unknown emails cost the same and count towards the same lockout. `423` while locked.
pub(crate) async fn check_password(
    state: &AppState,
    email: &str,
    user: Option<&User>,
    password: &str,
    client: &Client,
) -> Result<bool, ApiError> {
    let key = Secret::Password.key(email);
    state.check_lock(&key).await?;
    let stored = user.and_then(|u| u.password_hash.as_deref());
    let right = state.passwords.verify(password, stored).await? && user.is_some();
    if right {
        state.clear_failures(&key).await?;
    } else {
        state
            .count_failure(Secret::Password, &key, user.map(|u| u.id.as_str()), client)
            .await?;
    }
    Ok(right)
}

/// The shape of a second-factor code: six digits for TOTP, a backup code otherwise.
pub(crate) fn validate_code(factor: SecondFactor, code: &str) -> Result<(), ApiError> {
    match factor {
        SecondFactor::Totp => crate::validate::code(code).map(|_| ()),
        SecondFactor::BackupCode => {
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
    }
}

/// Checks and consumes a second-factor code inside `tx`: `Ok(true)` when accepted. The
/// caller commits on success; on `Ok(false)` it rolls back and calls [`second_factor_failed`].
pub(crate) async fn consume_second_factor(
    state: &AppState,
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    factor: SecondFactor,
    code: &str,
) -> Result<bool, ApiError> {
    let now = state.now();
    match factor {
        SecondFactor::Totp => {
            let Some(factor) = state.store.totp_of(user_id).await? else {
                return Ok(false);
            };
            if factor.confirmed_at.is_none() {
                return Ok(false);
            }
            match totp::matching_step(&factor.secret, code.trim(), now) {
                Some(step) => Ok(Store::use_totp_step(tx, user_id, step, None).await?),
                None => Ok(false),
            }
        }
        SecondFactor::BackupCode => {
            let hash = backup_code_hash(user_id, code);
            Ok(Store::use_backup_code(tx, user_id, &hash, now).await?)
        }
    }
}

/// `423` while the user's `factor` is locked.
pub(crate) async fn check_second_factor_lock(
    state: &AppState,
    user_id: &str,
    factor: SecondFactor,
) -> Result<(), ApiError> {
    state.check_lock(&factor.secret().key(user_id)).await
}

/// Counts a wrong second-factor code towards the account's lockout (call after rolling
/// back: SQLite has one writer).
pub(crate) async fn second_factor_failed(
    state: &AppState,
    user_id: &str,
    factor: SecondFactor,
    client: &Client,
) -> Result<(), ApiError> {
    let key = factor.secret().key(user_id);
    state
        .count_failure(factor.secret(), &key, Some(user_id), client)
        .await
}

/// Clears the account's counter after a right second-factor code.
pub(crate) async fn second_factor_succeeded(
    state: &AppState,
    user_id: &str,
    factor: SecondFactor,
) -> Result<(), ApiError> {
    state.clear_failures(&factor.secret().key(user_id)).await
}

/// The RFC 8176 methods of a session, merged: `a` then the new ones of `b`, and `mfa` when
/// both a first and a second factor are in.
pub(crate) fn merge_amr(a: &str, b: &[&str], multi_factor: bool) -> String {
    let mut out: Vec<&str> = a.split_whitespace().collect();
    for m in b {
        if !out.contains(m) {
            out.push(m);
        }
    }
    if multi_factor && !out.contains(&"mfa") {
        out.push("mfa");
    }
    out.join(" ")
}
