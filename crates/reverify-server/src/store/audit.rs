//! Audit events: append-only, queried by the admin API and the CLI.

use super::{Store, StoreError, Tx};
use sqlx::Any;

/// An audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEvent {
    /// `evt_…`
    pub id: String,
    /// When (unix seconds).
    pub created_at: i64,
    /// What happened, e.g. `verification.succeeded` (see `docs/server.md`).
    pub kind: String,
    /// Whose account.
    pub user_id: Option<String>,
    /// Which session.
    pub session_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Details as a JSON object (factor, level, reason, …).
    pub detail: String,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this user's.
    pub user_id: Option<String>,
    /// Only this session's.
    pub session_id: Option<String>,
    /// Only this kind (exact) or kind prefix ending in `.` (e.g. `verification.`).
    pub kind: Option<String>,
    /// Only events strictly older than this time.
    pub before: Option<i64>,
    /// At most this many (capped at 1000).
    pub limit: i64,
}

const COLUMNS: &str = "id, created_at, kind, user_id, session_id, ip, user_agent, detail";
const INSERT: &str = "INSERT INTO audit_events (id, created_at, kind, user_id, session_id, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

impl Store {
    /// Appends an event on its own.
    pub async fn insert_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        bind_event(sqlx::query(INSERT), e)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Appends an event inside the transaction that does what it records.
    pub(crate) async fn insert_audit_tx(tx: &mut Tx, e: &AuditEvent) -> Result<(), StoreError> {
        bind_event(sqlx::query(INSERT), e)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    /// Events matching `filter`, newest first.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.user_id.is_some() {
            sql.push_str(&format!(" AND user_id = ${}", next()));
        }
        if filter.session_id.is_some() {
            sql.push_str(&format!(" AND session_id = ${}", next()));
        }
        let kind = filter.kind.as_deref().map(|k| {
            if let Some(prefix) = k.strip_suffix('.') {
                (format!("{prefix}.%"), true)
            } else {
                (k.to_owned(), false)
            }
        });
        if let Some((_, prefix)) = &kind {
            let op = if *prefix { "LIKE" } else { "=" };
            sql.push_str(&format!(" AND kind {op} ${}", next()));
        }
        if filter.before.is_some() {
            sql.push_str(&format!(" AND created_at < ${}", next()));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT ${}",
            next()
        ));
        let sql = sqlx::AssertSqlSafe(sql);
        let mut q = sqlx::query_as::<_, AuditEvent>(sql);
        if let Some(u) = &filter.user_id {
            q = q.bind(u.clone());
        }
        if let Some(s) = &filter.session_id {
            q = q.bind(s.clone());
        }
        if let Some((k, _)) = kind {
            q = q.bind(k);
        }
        if let Some(b) = filter.before {
            q = q.bind(b);
        }
        q = q.bind(filter.limit.clamp(1, 1000));
        Ok(q.fetch_all(self.pool()).await?)
    }
}

fn bind_event<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    e: &'q AuditEvent,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    q.bind(&e.id)
        .bind(e.created_at)
        .bind(&e.kind)
        .bind(&e.user_id)
        .bind(&e.session_id)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(&e.detail)
}
