//! Audit events: what happened to an account, in which session, from where.
//!
//! Kinds (stable strings): `sign_up.completed`, `sign_in.succeeded`, `sign_in.failed`,
//! `sign_in.second_factor_required`, `sign_out`, `session.revoked`,
//! `verification.started`, `verification.succeeded`, `verification.failed`,
//! `verification.cancelled`, `factor.totp_enrolled`, `factor.totp_removed`,
//! `factor.backup_codes_regenerated`, `factor.backup_code_used`, `factor.passkey_added`,
//! `factor.passkey_renamed`, `factor.passkey_removed`, `password.changed`,
//! `account.locked`, `account.deleted`, `key.revoked`.

use serde_json::Value;

use crate::client::Client;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::store::{AuditEvent, Store};

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub(crate) struct Event<'a> {
    pub(crate) kind: &'static str,
    pub(crate) user_id: Option<&'a str>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) client: &'a Client,
    pub(crate) detail: Value,
}

/// Ids sort in creation order: the time, then a per-process sequence, then randomness
/// (events of one second from several instances interleave in no particular order).
fn event_id(now: i64) -> String {
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000_000;
    let random = secrets::new_id("r");
    format!("evt_{now:012}{n:09}{}", &random[2..])
}

impl Event<'_> {
    fn row(&self, now: i64) -> AuditEvent {
        AuditEvent {
            id: event_id(now),
            created_at: now,
            kind: self.kind.to_owned(),
            user_id: self.user_id.map(str::to_owned),
            session_id: self.session_id.map(str::to_owned),
            ip: self.client.ip.clone(),
            user_agent: self.client.user_agent.clone(),
            detail: self.detail.to_string(),
        }
    }
}

impl AppState {
    /// Records an event on its own (failures, which roll back everything else).
    pub(crate) async fn audit(&self, event: Event<'_>) -> Result<(), ApiError> {
        let row = event.row(self.now());
        tracing::info!(kind = %row.kind, user_id = ?row.user_id, session_id = ?row.session_id, detail = %row.detail, "audit");
        self.store.insert_audit(&row).await?;
        Ok(())
    }

    /// Records an event in the transaction that does what it records: both or neither.
    pub(crate) async fn audit_tx(
        &self,
        tx: &mut crate::store::Tx,
        event: Event<'_>,
    ) -> Result<(), ApiError> {
        let row = event.row(self.now());
        tracing::info!(kind = %row.kind, user_id = ?row.user_id, session_id = ?row.session_id, detail = %row.detail, "audit");
        Store::insert_audit_tx(tx, &row).await?;
        Ok(())
    }
}

/// The public view of an event.
pub fn event_json(e: &AuditEvent) -> Value {
    serde_json::json!({
        "id": e.id,
        "created_at": e.created_at,
        "kind": e.kind,
        "user_id": e.user_id,
        "session_id": e.session_id,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
    })
}
