//! The development outbox: emails kept in the database so a page and an endpoint can show
//! them (only written in dev mode or with `email.danger_dev_outbox`).

use super::{Store, StoreError};

/// One email in the dev outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct OutboxMessage {
    /// Message id.
    pub id: String,
    /// Recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// The one-time code it carries, if any.
    pub code: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl Store {
    /// Keeps a message.
    pub async fn push_outbox(&self, m: &OutboxMessage) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO dev_outbox (id, recipient, subject, body, code, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&m.id)
            .bind(&m.recipient)
            .bind(&m.subject)
            .bind(&m.body)
            .bind(&m.code)
            .bind(m.created_at)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The newest messages (by id: ids sort in sending order), optionally only those to
    /// `recipient`.
    pub async fn outbox(
        &self,
        recipient: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = match recipient {
            Some(r) => {
                sqlx::query_as("SELECT id, recipient, subject, body, code, created_at FROM dev_outbox WHERE recipient = $1 ORDER BY id DESC LIMIT $2")
                    .bind(r)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query_as("SELECT id, recipient, subject, body, code, created_at FROM dev_outbox ORDER BY id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        Ok(rows)
    }
}
