//! Approvals on the auth server: a verification started *for an action* (the protocol is
//! in `docs/approvals.md`).
//!
//! - At the start the action (type, summary, fields) is validated and its digest computed
//!   here, with the SDK's function; a client-sent digest must be that one.
//! - A passkey challenge of such a verification is `16 random bytes ‖ the 32 digest
//!   bytes`: the authenticator signs over the action.
//! - On completion the token minted for the session carries the `apr` claim: an approval
//!   of that digest, single-use (consumed by the app), expiring after
//!   `reverification.approval_ttl_secs`.
//!
//! Pure functions over the stored action and `now`; the routes parse, call and answer.

use reverify::Level;
use reverify::approval::Action;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;

/// What a verification row stores of its action (the `action` column, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredAction {
    pub(crate) r#type: String,
    pub(crate) summary: String,
    pub(crate) fields: std::collections::BTreeMap<String, String>,
    pub(crate) digest: String,
}

impl StoredAction {
    /// The action as the SDK type (for the digest bytes).
    pub(crate) fn action(&self) -> Action {
        self.fields
            .iter()
            .fold(Action::new(&self.r#type, &self.summary), |a, (k, v)| {
                a.field(k, v)
            })
    }

    /// The audit detail of an approval event of verification `verification_id`, with
    /// `extra` fields (level, reason, …) added.
    pub(crate) fn audit_detail(&self, verification_id: &str, extra: Value) -> Value {
        let mut detail = json!({
            "verification_id": verification_id,
            "type": self.r#type,
            "summary": self.summary,
            "digest": self.digest,
        });
        if let (Some(out), Value::Object(extra)) = (detail.as_object_mut(), extra) {
            out.extend(extra);
        }
        detail
    }

    /// The public view (the same shape as the 403 metadata's `action`).
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "type": self.r#type,
            "summary": self.summary,
            "fields": self.fields,
            "digest": self.digest,
        })
    }
}

/// Reads and checks the `action` of a start request: 400 `invalid_action` when it breaks
/// the rules, 422 `action_digest_mismatch` when it carries a digest other than its own.
pub(crate) fn parse(value: &Value) -> Result<StoredAction, ApiError> {
    let action = Action::from_json(value)
        .map_err(|e| ApiError::bad_request("invalid_action", e.to_string()))?;
    let unknown = value.as_object().and_then(|obj| {
        obj.keys()
            .find(|k| !matches!(k.as_str(), "type" | "summary" | "fields" | "digest"))
    });
    if let Some(unknown) = unknown {
        return Err(ApiError::bad_request(
            "invalid_action",
            format!("unknown action field `{unknown}`"),
        ));
    }
    let digest = action
        .digest()
        .map_err(|e| ApiError::bad_request("invalid_action", e.to_string()))?;
    match value.get("digest") {
        None | Some(Value::Null) => {}
        Some(Value::String(sent)) if *sent == digest => {}
        Some(_) => return Err(ApiError::ActionDigestMismatch),
    }
    Ok(StoredAction {
        r#type: action.kind().to_owned(),
        summary: action.summary().to_owned(),
        fields: action.fields().clone(),
        digest,
    })
}

/// The stored action of a verification row, if it has one.
pub(crate) fn stored(column: Option<&str>) -> Result<Option<StoredAction>, ApiError> {
    column
        .map(|json| serde_json::from_str(json).map_err(ApiError::internal))
        .transpose()
}

/// The WebAuthn challenge of a verification for `action`: `nonce ‖ digest`. The nonce
/// keeps every challenge unpredictable and unique; the digest makes the signature cover
/// the action.
pub(crate) fn passkey_challenge(
    nonce: &[u8; 16],
    action: &StoredAction,
) -> Result<Vec<u8>, ApiError> {
    let digest = action.action().digest_bytes().map_err(ApiError::internal)?;
    let mut challenge = Vec::with_capacity(48);
    challenge.extend_from_slice(nonce);
    challenge.extend_from_slice(&digest);
    Ok(challenge)
}

/// The approval a completed verification grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) id: String,
    pub(crate) expires_at: i64,
}

/// The `apr` claim of the token minted at completion.
pub(crate) fn claim(grant: &Grant, action: &StoredAction, level: Level) -> Value {
    json!({
        "id": grant.id,
        "typ": action.r#type,
        "dig": action.digest,
        "lvl": level.as_str(),
        "exp": grant.expires_at,
    })
}

/// The completion answer's `approval` object.
pub(crate) fn grant_json(grant: &Grant, action: &StoredAction) -> Value {
    json!({
        "id": grant.id,
        "object": "approval",
        "type": action.r#type,
        "summary": action.summary,
        "digest": action.digest,
        "expires_at": grant.expires_at,
    })
}
