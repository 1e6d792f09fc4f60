//! Input validation with stable error codes.

use crate::config::PasswordConfig;
use crate::error::ApiError;

/// Normalises (trims, lowercases) and checks an email address.
pub fn email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let invalid = || ApiError::bad_request("invalid_email", "enter a valid email address");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.len() >= 3
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    if domain_ok && local_ok {
        Ok(email)
    } else {
        Err(invalid())
    }
}

/// Checks a new password against the policy (NIST 800-63B: length, not composition).
pub fn new_password(password: &str, policy: &PasswordConfig) -> Result<(), ApiError> {
    if password.chars().count() < policy.min_length {
        return Err(ApiError::bad_request(
            "password_too_short",
            format!(
                "the password must have at least {} characters",
                policy.min_length
            ),
        ));
    }
    if password.len() > policy.max_length {
        return Err(ApiError::bad_request(
            "password_too_long",
            format!("the password must have at most {} bytes", policy.max_length),
        ));
    }
    Ok(())
}

/// Checks the shape of a one-time code (six digits).
pub fn code(code: &str) -> Result<&str, ApiError> {
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(ApiError::bad_request(
            "invalid_code_format",
            "the code is six digits",
        ))
    }
}

/// Masks an email for display: `a***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}
