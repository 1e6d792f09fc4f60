//! Administrative operations that are more than one call on a service: revoking a signing
//! key (the key ring's change plus its audit event). Used by the admin API, the CLI and
//! embedding programs.

use crate::client::Client;
use crate::error::ApiError;
use crate::keys::RevokedKey;
use crate::state::AppState;

impl AppState {
    /// Revokes the signing key `kid` now (see [`crate::keys::KeyRing::revoke`]) and records the audit
    /// event `key.revoked`; `by` says who, for the audit trail (`cli`, `admin`, …).
    /// `NotFound` when there is no such key.
    pub async fn revoke_signing_key(&self, kid: &str, by: &str) -> Result<RevokedKey, ApiError> {
        self.revoke_signing_key_for(kid, by, &Client::default())
            .await
    }

    pub(crate) async fn revoke_signing_key_for(
        &self,
        kid: &str,
        by: &str,
        client: &Client,
    ) -> Result<RevokedKey, ApiError> {
        let revoked = self
            .keys
            .revoke(kid, self.now(), self.config.sessions.token_lifetime_secs)
            .await?
            .ok_or(ApiError::NotFound("key"))?;
        self.audit(crate::audit::Event {
            kind: "key.revoked",
            user_id: None,
            session_id: None,
            client,
            detail: serde_json::json!({
                "kid": revoked.kid,
                "replaced_by": revoked.replaced_by,
                "by": by,
            }),
        })
        .await?;
        Ok(revoked)
    }
}
