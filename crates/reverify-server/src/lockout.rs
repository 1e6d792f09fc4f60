//! Temporary lockout after repeated wrong secrets on one account.
//!
//! Each kind of guessable secret has its own counter per account: `password:<email>`
//! (keyed by email so that unknown emails behave exactly like known ones),
//! `email_code:<email>`, `totp:<user id>`, `backup_code:<user id>`. `lockout.max_failures`
//! wrong secrets within `lockout.window_secs` lock that kind for `lockout.duration_secs`:
//! every attempt then answers `423 locked` with `Retry-After`, right or wrong. A success
//! clears the counter.

use crate::audit::Event;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;

/// A kind of guessable secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secret {
    Password,
    EmailCode,
    Totp,
    BackupCode,
}

impl Secret {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Secret::Password => "password",
            Secret::EmailCode => "email_code",
            Secret::Totp => "totp",
            Secret::BackupCode => "backup_code",
        }
    }

    /// The counter's key for `subject` (an email for passwords and email codes, a user id
    /// otherwise).
    pub(crate) fn key(self, subject: &str) -> String {
        format!("{}:{subject}", self.as_str())
    }
}

impl AppState {
    /// `423 locked` if `key` is locked now.
    pub(crate) async fn check_lock(&self, key: &str) -> Result<(), ApiError> {
        let now = self.now();
        match self.store.locked_until(key, now).await? {
            Some(until) => Err(ApiError::Locked {
                retry_after: (until - now).max(1) as u64,
            }),
            None => Ok(()),
        }
    }

    /// Counts a wrong secret; when this one locks the account's secret, records
    /// `account.locked`.
    pub(crate) async fn count_failure(
        &self,
        secret: Secret,
        key: &str,
        user_id: Option<&str>,
        client: &Client,
    ) -> Result<(), ApiError> {
        let l = &self.config.lockout;
        let now = self.now();
        let locked = self
            .store
            .count_failure(key, now, l.window_secs, l.max_failures, l.duration_secs)
            .await?;
        if let Some(until) = locked {
            self.audit(Event {
                kind: "account.locked",
                user_id,
                session_id: None,
                client,
                detail: serde_json::json!({ "secret": secret.as_str(), "locked_until": until }),
            })
            .await?;
        }
        Ok(())
    }

    /// Clears the counter after a right secret.
    pub(crate) async fn clear_failures(&self, key: &str) -> Result<(), ApiError> {
        self.store.clear_failures(key).await?;
        Ok(())
    }
}
