//! Email delivery of one-time codes: SMTP through lettre, and a development outbox.
//!
//! In `dev` mode nothing is sent: each message is logged (with its code) and kept in the
//! dev outbox, which `GET /v1/dev/outbox` and the page `/dev/outbox` show to anyone who
//! can reach the server. So `dev` is what `email.mode = "auto"` (the default) means only on
//! a localhost public URL; elsewhere the configuration must choose `smtp`, or accept the
//! published codes with `email.danger_dev_outbox` (see [`Config::validate`]). Messages are
//! sent in the background, so an API response never waits for (or reveals, by its
//! timing) whether an email went out — part of not leaking which accounts exist.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, EmailMode, SmtpSecurity};
use crate::error::ApiError;
use crate::store::{OutboxMessage, Store};

/// Outbox ids sort in sending order (time, then a per-process sequence), so that "newest
/// first" holds for messages sent within the same second.
fn outbox_id(now: i64) -> String {
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("msg_{now:012}_{seq:010}_{}", crate::secrets::new_id("r"))
}

/// One email to send.
#[derive(Debug, Clone)]
pub struct Email {
    /// Recipient address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// The one-time code in it, for the dev outbox.
    pub code: Option<String>,
}

/// Sends emails.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    outbox: Option<Store>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("smtp", &self.smtp.is_some())
            .field("outbox", &self.outbox.is_some())
            .finish()
    }
}

impl Mailer {
    /// Builds the mailer from `[email]` (with `auto` resolved by [`Config::email_mode`]).
    pub fn new(full: &Config, store: &Store) -> Result<Mailer, ApiError> {
        let config = &full.email;
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| ApiError::internal(format!("email.from: {e}")))?;
        let smtp = match full.email_mode() {
            EmailMode::Dev | EmailMode::Auto => None,
            EmailMode::Smtp => {
                let builder = match config.smtp_security {
                    SmtpSecurity::Tls => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(&config.smtp_host)
                    }
                    SmtpSecurity::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.smtp_host)
                    }
                    SmtpSecurity::InsecurePlaintext => Ok(
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host),
                    ),
                }
                .map_err(|e| ApiError::internal(format!("smtp: {e}")))?;
                let mut builder = builder.port(config.smtp_port);
                if !config.smtp_username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        config.smtp_username.clone(),
                        config.smtp_password.clone(),
                    ));
                }
                Some(builder.build())
            }
        };
        let outbox = full.dev_outbox().then(|| store.clone());
        Ok(Mailer { from, smtp, outbox })
    }

    /// Whether the dev outbox is on.
    pub fn has_outbox(&self) -> bool {
        self.outbox.is_some()
    }

    /// Delivers now and reports failure (used by the background sender and by tests).
    pub async fn deliver(&self, email: &Email, now: i64) -> Result<(), ApiError> {
        if let Some(store) = &self.outbox {
            tracing::info!(to = %email.to, subject = %email.subject, code = ?email.code, "dev outbox: email");
            store
                .push_outbox(&OutboxMessage {
                    id: outbox_id(now),
                    recipient: email.to.clone(),
                    subject: email.subject.clone(),
                    body: email.body.clone(),
                    code: email.code.clone(),
                    created_at: now,
                })
                .await?;
        }
        if let Some(smtp) = &self.smtp {
            let to: Mailbox = email
                .to
                .parse()
                .map_err(|e| ApiError::internal(format!("recipient: {e}")))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(&email.subject)
                .body(email.body.clone())
                .map_err(|e| ApiError::internal(format!("message: {e}")))?;
            smtp.send(message)
                .await
                .map_err(|e| ApiError::internal(format!("smtp send: {e}")))?;
        }
        Ok(())
    }

    /// Sends in the background; failures are logged.
    pub fn send(&self, email: Email, now: i64) {
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(e) = mailer.deliver(&email, now).await {
                tracing::error!(to = %email.to, error = %e, "email delivery failed");
            }
        });
    }
}
