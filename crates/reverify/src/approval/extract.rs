//! `Approved<T>`: the JSON body, run only with an approval of the action it describes.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::{APPROVE, Action, ApprovalError, ApprovalPolicy, Approvals};
use crate::axum::{json_response, session_from_parts};
use crate::session::Session;

/// A request body that describes the action it performs.
pub trait Approve {
    /// The approval policy of this action ([`APPROVE`] unless overridden).
    const POLICY: ApprovalPolicy = APPROVE;

    /// The action, computed from the request (never from a client-sent digest).
    fn action(&self) -> Action;
}

/// Extracts the session and the JSON body `T`, and lets the handler run only when the
/// session carries an approval of `T::action()` (consumed here, once). The body is read
/// up to 64 KiB.
///
/// Needs an [`Approvals`] in the request extensions
/// ([`AuthLayer::approvals`](crate::axum::AuthLayer::approvals)).
///
/// | the request | the answer |
/// |---|---|
/// | no valid session | 401 (as [`Session`]) |
/// | no `Content-Type: application/json` | 415 `unsupported_media_type` |
/// | a body that is not `T` | 400 `invalid_body` (413 `body_too_large` above 64 KiB) |
/// | no live approval of this action | 403 `reverification-error` with `metadata.action` |
/// | the store fails | 503 `approval_store_unavailable` |
#[derive(Debug, Clone)]
pub struct Approved<T>(pub Session, pub T);

/// The largest body [`Approved`] reads.
const BODY_LIMIT: usize = 64 * 1024;

fn refuse(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        serde_json::json!({ "code": code, "message": message }).to_string(),
        None,
    )
}

impl<S, T> FromRequest<S> for Approved<T>
where
    S: Send + Sync,
    T: Approve + DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = session_from_parts(&mut parts)
            .await
            .map_err(IntoResponse::into_response)?;
        let approvals = parts
            .extensions
            .get::<Approvals>()
            .cloned()
            .ok_or_else(|| {
                tracing::error!("Approved<T> needs an Approvals in the request extensions");
                refuse(500, "approvals_missing", "internal server error")
            })?;
        let json = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json")
                    || (m.len() > 5 && m[m.len() - 5..].eq_ignore_ascii_case("+json"))
            });
        if !json {
            return Err(refuse(
                415,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .map_err(|_| refuse(413, "body_too_large", "the body is too large"))?;
        let value: T = serde_json::from_slice(&bytes)
            .map_err(|e| refuse(400, "invalid_body", &format!("invalid body: {e}")))?;
        approvals
            .approve(&session, &value.action(), &T::POLICY)
            .await
            .map_err(ApprovalError::into_response)?;
        Ok(Approved(session, value))
    }
}
