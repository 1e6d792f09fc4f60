//! WebAuthn passkeys: registration and assertion ceremonies.
//!
//! A passkey assertion with user verification (UV) counts as both factors (multi-factor,
//! as NIST SP 800-63B treats it); without UV it is a first factor only.

use crate::error::ApiError;
use crate::state::AppState;

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

/// Starts an assertion: the options for `navigator.credentials.get()` (the
/// `{"publicKey": …}` object) and the server-side state to keep until the answer.
/// With `user_id`, only that user's passkeys are allowed; without, any discoverable one.
pub(crate) async fn start_assertion(
    state: &AppState,
    user_id: Option<&str>,
) -> Result<(serde_json::Value, String), ApiError> {
    let _ = (state, user_id);
    Err(ApiError::internal("passkeys are not built yet"))
}

/// Checks the browser's answer (`PublicKeyCredential` as JSON) against the state from
/// [`start_assertion`], updates the credential's counter, and says who it proves.
pub(crate) async fn finish_assertion(
    state: &AppState,
    server_state: &str,
    credential: &serde_json::Value,
) -> Result<Assertion, ApiError> {
    let _ = (state, server_state, credential);
    Err(ApiError::internal("passkeys are not built yet"))
}
