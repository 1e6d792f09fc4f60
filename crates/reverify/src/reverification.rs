//! The reverification error: what a backend answers when a session is not fresh enough.
//!
//! ```text
//! HTTP/1.1 403 Forbidden
//! Content-Type: application/json
//! WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="A second-factor verification within the last 10 minutes is required", max_age=600, acr_values="second_factor"
//!
//! {"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":"strict"}}}
//! ```
//!
//! The body is the reference's (so existing client code recognises it); the header is the
//! RFC 9470 step-up challenge, for non-browser clients. Unlike the reference we send
//! `Content-Type: application/json`.

use crate::approval::{Action, ApprovalPolicy};
use crate::challenge::StepUpChallenge;
use crate::policy::Policy;

/// The HTTP status of reverification errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReverificationStatus {
    /// 403, as the reference answers (default).
    #[default]
    Forbidden,
    /// 401, as RFC 9470 specifies for bearer-token APIs.
    Unauthorized,
}

impl ReverificationStatus {
    /// The numeric status.
    pub fn code(self) -> u16 {
        match self {
            ReverificationStatus::Forbidden => 403,
            ReverificationStatus::Unauthorized => 401,
        }
    }
}

/// The session does not satisfy a reverification policy: answer with
/// [`status`](Self::status), [`body`](Self::body) and [`www_authenticate`](Self::www_authenticate).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("reverification required: {}", .policy.describe())]
pub struct ReverificationRequired {
    policy: Policy,
    status: ReverificationStatus,
    /// The action to approve (with its digest), for an approval error.
    action: Option<Box<(Action, String)>>,
}

/// The stable machine code of the reverification error.
pub const REVERIFICATION_ERROR_CODE: &str = "reverification-error";

impl ReverificationRequired {
    /// The error for `policy`, with status 403.
    pub fn new(policy: Policy) -> Self {
        ReverificationRequired {
            policy,
            status: ReverificationStatus::Forbidden,
            action: None,
        }
    }

    /// The error of a route that needs an approval of `action` (whose digest is `digest`):
    /// the reference's body with `metadata.action` added, and an RFC 9470 challenge with
    /// `max_age=0` (verify now).
    ///
    /// ```
    /// use reverify::approval::{Action, APPROVE};
    /// use reverify::ReverificationRequired;
    /// let action = Action::new("transfer", "Send €25.00 to Bob").field("payee", "Bob");
    /// let e = ReverificationRequired::for_action(&APPROVE, &action, action.digest().unwrap());
    /// let body = e.body();
    /// assert_eq!(body["clerk_error"]["reason"], "reverification-error");
    /// assert_eq!(body["clerk_error"]["metadata"]["action"]["summary"], "Send €25.00 to Bob");
    /// assert_eq!(body["clerk_error"]["metadata"]["reverification"]["level"], "second_factor");
    /// assert!(e.www_authenticate().contains("max_age=0"));
    /// ```
    pub fn for_action(policy: &ApprovalPolicy, action: &Action, digest: String) -> Self {
        ReverificationRequired {
            policy: policy.error_policy(),
            status: ReverificationStatus::Forbidden,
            action: Some(Box::new((action.clone(), digest))),
        }
    }

    /// The action to approve, when this is an approval error.
    pub fn action(&self) -> Option<&Action> {
        self.action.as_deref().map(|(a, _)| a)
    }

    /// The action's JSON (`type`, `summary`, `fields`, `digest`).
    fn action_json(&self) -> Option<serde_json::Value> {
        self.action.as_deref().map(|(a, digest)| {
            serde_json::json!({
                "type": a.kind(),
                "summary": a.summary(),
                "fields": a.fields(),
                "digest": digest,
            })
        })
    }

    /// The same error with another status.
    pub fn with_status(mut self, status: ReverificationStatus) -> Self {
        self.status = status;
        self
    }

    /// The policy that was not satisfied.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// 403 (default) or 401.
    pub fn status(&self) -> u16 {
        self.status.code()
    }

    /// The reference's JSON body, naming the policy.
    pub fn body(&self) -> serde_json::Value {
        let mut metadata = serde_json::json!({ "reverification": self.policy.to_json() });
        if let Some(action) = self.action_json() {
            metadata["action"] = action;
        }
        serde_json::json!({
            "clerk_error": {
                "type": "forbidden",
                "reason": REVERIFICATION_ERROR_CODE,
                "metadata": metadata
            }
        })
    }

    /// The body as sent: the reference's JSON, keys always in its order (`type`, `reason`,
    /// `metadata`), whatever features of `serde_json` the rest of the program enables.
    pub fn body_string(&self) -> String {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            clerk_error: ClerkError<'a>,
        }
        #[derive(serde::Serialize)]
        struct ClerkError<'a> {
            r#type: &'static str,
            reason: &'static str,
            metadata: Metadata<'a>,
        }
        #[derive(serde::Serialize)]
        struct Metadata<'a> {
            reverification: &'a Policy,
            #[serde(skip_serializing_if = "Option::is_none")]
            action: Option<serde_json::Value>,
        }
        serde_json::to_string(&Body {
            clerk_error: ClerkError {
                r#type: "forbidden",
                reason: REVERIFICATION_ERROR_CODE,
                metadata: Metadata {
                    reverification: &self.policy,
                    action: self.action_json(),
                },
            },
        })
        .unwrap_or_else(|_| self.body().to_string())
    }

    /// The RFC 9470 challenge for the `WWW-Authenticate` header.
    pub fn www_authenticate(&self) -> String {
        let mut challenge = StepUpChallenge::for_policy(&self.policy);
        if self.action.is_some() {
            // The summary stays in the body: a header is no place for arbitrary text.
            challenge.max_age = Some(0);
            challenge.error_description = Some("An approval of this action is required".into());
        }
        challenge.to_string()
    }

    /// The valid action in a parsed body's `metadata.action`, with its digest as sent.
    fn body_action(&self, value: &serde_json::Value) -> Option<Box<(Action, String)>> {
        let action = value.get("clerk_error")?.get("metadata")?.get("action")?;
        let digest = action.get("digest")?.as_str()?.to_owned();
        Some(Box::new((Action::from_json(action).ok()?, digest)))
    }

    /// Recognises the reverification error in a response body, as clients do:
    /// `clerk_error.type == "forbidden" && clerk_error.reason == "reverification-error"`.
    /// Returns the policy it names (`None` if the body is not that error). A missing or
    /// unparseable policy defaults to `strict`, whose level (`second_factor`) is what
    /// the reference's frontend assumes.
    pub fn from_body(body: &[u8]) -> Option<ReverificationRequired> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let error = value.get("clerk_error")?;
        if error.get("type")?.as_str()? != "forbidden"
            || error.get("reason")?.as_str()? != REVERIFICATION_ERROR_CODE
        {
            return None;
        }
        let policy = error
            .get("metadata")
            .and_then(|m| m.get("reverification"))
            .and_then(|p| Policy::from_json(p).ok())
            .unwrap_or(crate::policy::STRICT);
        let mut error = ReverificationRequired::new(policy);
        let action = error.body_action(&value);
        error.action = action;
        Some(error)
    }
}
