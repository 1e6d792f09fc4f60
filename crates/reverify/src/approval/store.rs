//! Consumption: an approval id is used once, across every instance of the app.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};

use super::{Action, ActionError, ApprovalPolicy, Check, Refusal, check};
use crate::reverification::ReverificationRequired;
use crate::session::Session;
use crate::store::{BoxFuture, StoreError};

/// An approval being used: the row an [`ApprovalStore`] inserts once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedApproval<'a> {
    /// The approval id (`apr_…`): the unique key.
    pub approval_id: &'a str,
    /// The user (`sub`).
    pub user_id: &'a str,
    /// The session (`sid`), when the token names one.
    pub session_id: Option<&'a str>,
    /// The action type.
    pub action_type: &'a str,
    /// The summary the user approved.
    pub summary: &'a str,
    /// The action digest.
    pub digest: &'a str,
    /// Now (unix seconds).
    pub consumed_at: i64,
    /// When the approval expires (unix seconds): the row must live at least until then.
    pub expires_at: i64,
}

/// Where used approvals are recorded. Object-safe; implementations must be safe across
/// processes sharing the database (several app instances).
///
/// Contract: [`consume`](Self::consume) is **one atomic statement** that inserts the row
/// keyed by `approval_id` and says whether this call inserted it (`true`: first use) or it
/// was there already (`false`: a second use, whoever won the race).
///
/// ```
/// use reverify::approval::{ApprovalStore, ConsumedApproval};
/// use reverify::idempotency::{BoxFuture, StoreError};
///
/// /// Refuses every approval (nothing is ever "first use"): an example, not a product.
/// struct Closed;
/// impl ApprovalStore for Closed {
///     fn consume<'a>(&'a self, _: &'a ConsumedApproval<'a>) -> BoxFuture<'a, Result<bool, StoreError>> {
///         Box::pin(async { Ok(false) })
///     }
/// }
/// let _approvals = reverify::approval::Approvals::new(Closed);
/// ```
pub trait ApprovalStore: Send + Sync + 'static {
    /// Records the use; `true` if this is the first.
    fn consume<'a>(
        &'a self,
        approval: &'a ConsumedApproval<'a>,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// The app's approval store, shared by its routes: put it in the request extensions with
/// [`AuthLayer::approvals`](crate::axum::AuthLayer::approvals) (or `Extension`).
#[derive(Clone)]
pub struct Approvals {
    store: Arc<dyn ApprovalStore>,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Approvals")
    }
}

/// How a request was let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// An approval of this action, now consumed (its id).
    Approved(String),
    /// The policy let a fresh session through without an approval.
    Fresh,
}

/// Why [`Approvals::approve`] refused.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No usable approval: 403 with the reverification body and the action.
    #[error(transparent)]
    Required(#[from] ReverificationRequired),
    /// The route described an invalid action (a bug in the app): 500 `invalid_action`.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// The store failed: 503 `approval_store_unavailable`; the handler must not run.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApprovalError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApprovalError::Required(e) => e.status(),
            ApprovalError::Action(_) => 500,
            ApprovalError::Store(_) => 503,
        }
    }

    /// The stable machine code (`reverification-error` for [`ApprovalError::Required`]).
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalError::Required(_) => crate::REVERIFICATION_ERROR_CODE,
            ApprovalError::Action(e) => e.code(),
            ApprovalError::Store(_) => "approval_store_unavailable",
        }
    }
}

impl IntoResponse for ApprovalError {
    fn into_response(self) -> Response {
        match self {
            ApprovalError::Required(e) => e.into_response(),
            ApprovalError::Action(e) => {
                tracing::error!(error = %e, "a route described an invalid action");
                crate::axum::json_response(
                    500,
                    serde_json::json!({ "code": e.code(), "message": "internal server error" })
                        .to_string(),
                    None,
                )
            }
            ApprovalError::Store(e) => {
                tracing::error!(error = %e, "approval store failed");
                let mut r = crate::axum::json_response(
                    503,
                    serde_json::json!({
                        "code": "approval_store_unavailable",
                        "message": "try again in a moment",
                    })
                    .to_string(),
                    None,
                );
                r.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                );
                r
            }
        }
    }
}

impl Approvals {
    /// The handle over `store`.
    pub fn new(store: impl ApprovalStore) -> Self {
        Approvals {
            store: Arc::new(store),
        }
    }

    /// Lets the request through if `session` carries a live approval of `action` at the
    /// policy's level, consuming it (once, across instances); or, when the policy allows
    /// it, if the session is fresh enough. Otherwise the reverification error carrying
    /// the action.
    ///
    /// ```no_run
    /// # async fn handler(session: reverify::Session, approvals: reverify::approval::Approvals) -> Result<&'static str, reverify::approval::ApprovalError> {
    /// use reverify::approval::{Action, APPROVE};
    /// let action = Action::new("password.change", "Change your password");
    /// approvals.approve(&session, &action, &APPROVE).await?;
    /// Ok("changed")
    /// # }
    /// ```
    pub async fn approve(
        &self,
        session: &Session,
        action: &Action,
        policy: &ApprovalPolicy,
    ) -> Result<Grant, ApprovalError> {
        let digest = action.digest()?;
        let claims = session.claims();
        let refusal = match check(claims, &digest, policy, session.checked_at()) {
            Check::Fresh => return Ok(Grant::Fresh),
            Check::Refused(refusal) => refusal,
            Check::Consume(claim) => {
                let used = ConsumedApproval {
                    approval_id: &claim.id,
                    user_id: &claims.sub,
                    session_id: claims.sid.as_deref(),
                    action_type: action.kind(),
                    summary: action.summary(),
                    digest: &digest,
                    consumed_at: session.checked_at(),
                    expires_at: claim.exp,
                };
                if self.store.consume(&used).await? {
                    tracing::info!(
                        approval_id = %claim.id,
                        user_id = %claims.sub,
                        session_id = claims.sid.as_deref().unwrap_or(""),
                        action_type = action.kind(),
                        summary = action.summary(),
                        "approval consumed"
                    );
                    return Ok(Grant::Approved(claim.id));
                }
                Refusal::Used
            }
        };
        tracing::info!(
            reason = refusal.as_str(),
            user_id = %claims.sub,
            session_id = claims.sid.as_deref().unwrap_or(""),
            action_type = action.kind(),
            summary = action.summary(),
            "approval refused"
        );
        Err(ApprovalError::Required(
            ReverificationRequired::for_action(policy, action, digest)
                .with_status(session.reverification_status()),
        ))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Approvals {
    type Rejection = Response;

    /// The [`Approvals`] installed by [`AuthLayer::approvals`](crate::axum::AuthLayer::approvals).
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Approvals>().cloned().ok_or_else(|| {
            tracing::error!("no Approvals in the request extensions (AuthLayer::approvals)");
            crate::axum::json_response(
                500,
                serde_json::json!({ "code": "approvals_missing", "message": "internal server error" })
                    .to_string(),
                None,
            )
        })
    }
}
