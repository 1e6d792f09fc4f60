//! The one error type of the HTTP API. Every variant maps to a status and a stable machine
//! `code`; the body is `{"code": "...", "message": "..."}`. Internal details are logged,
//! never sent.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a field is invalid: 400 with a specific code.
    #[error("{message}")]
    BadRequest {
        /// Stable code, e.g. `invalid_email`.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// The body is larger than allowed: 413.
    #[error("the request body is too large")]
    BodyTooLarge,
    /// The body is not JSON: 415.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// Email or password wrong (one message for both): 401.
    #[error("the email address or password is incorrect")]
    InvalidCredentials,
    /// No session cookie, or the session ended: 401.
    #[error("you are not signed in")]
    SignedOut,
    /// A wrong one-time code: 422.
    #[error("the code is incorrect")]
    InvalidCode,
    /// A wrong password while verifying a signed-in session: 422 (not 401, which would
    /// say "signed out").
    #[error("the password is incorrect")]
    IncorrectPassword,
    /// The passkey assertion failed (wrong challenge, origin, signature, or not this
    /// user's passkey): 422.
    #[error("the passkey could not be verified")]
    PasskeyRejected,
    /// This step needs a passkey assertion with user verification (PIN or biometrics): 422.
    #[error("this step needs a passkey that verifies you (PIN or biometrics)")]
    UserVerificationRequired,
    /// The code or the flow expired: 410.
    #[error("the code has expired; ask for a new one")]
    CodeExpired,
    /// The flow was already used: 409.
    #[error("this attempt was already completed")]
    FlowCompleted,
    /// Too many wrong attempts: 429 with `Retry-After`.
    #[error("too many attempts; try again in {retry_after} seconds")]
    TooManyAttempts {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Too many wrong secrets of one kind on this account: the kind is locked for a
    /// while. 423 with `Retry-After`.
    #[error("too many wrong attempts on this account; try again in {retry_after} seconds")]
    Locked {
        /// Seconds until the lockout ends.
        retry_after: u64,
    },
    /// Too many requests from this client IP: 429 `rate_limited` with `Retry-After`.
    #[error("too many requests; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The session must be verified again first: the SDK's reverification error
    /// (403, Clerk-shaped body, RFC 9470 `WWW-Authenticate`).
    #[error("reverification required")]
    Reverification(reverify::ReverificationRequired),
    /// The resource existed but is no longer usable (an expired or ended verification): 410.
    #[error("{message}")]
    Gone {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// No such resource (or not yours): 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Conflicts with existing state: 409.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// A verification for an action whose `digest` is not the one the server computes
    /// from its type, summary and fields: 422.
    #[error("the action's digest does not match its type, summary and fields")]
    ActionDigestMismatch,
    /// A TOTP code of a time step that was already used (replayed, or typed twice): 422.
    #[error("this code was just used; wait for the next one in your authenticator app")]
    CodeAlreadyUsed,
    /// The session was ended after too many wrong secrets in a reverification: 401
    /// `signed_out`.
    #[error("too many wrong attempts: you have been signed out")]
    SessionEnded,
    /// A state-changing request with cookies from an origin that is neither the server's
    /// nor an allowed one (cross-site request forgery): 403.
    #[error("this request came from another site; it is refused to protect your session")]
    CrossSiteRequest,
    /// Missing or wrong admin key: 401.
    #[error("a valid admin secret key is required")]
    AdminUnauthorized,
    /// The database is unreachable: 503.
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    /// A bug or an unexpected failure: 500 (details logged).
    #[error("internal server error")]
    Internal(String),
}

impl ApiError {
    /// An internal error with a detail for the log.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(detail.to_string())
    }

    /// A 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Gone { code, .. } => code,
            ApiError::Locked { .. } => "locked",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Reverification(_) => reverify::REVERIFICATION_ERROR_CODE,
            ApiError::BodyTooLarge => "body_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::SignedOut | ApiError::SessionEnded => "signed_out",
            ApiError::CodeAlreadyUsed => "code_already_used",
            ApiError::ActionDigestMismatch => "action_digest_mismatch",
            ApiError::InvalidCode => "invalid_code",
            ApiError::IncorrectPassword => "incorrect_password",
            ApiError::PasskeyRejected => "passkey_rejected",
            ApiError::UserVerificationRequired => "user_verification_required",
            ApiError::CodeExpired => "code_expired",
            ApiError::FlowCompleted => "flow_completed",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::NotFound(_) => "not_found",
            ApiError::AdminUnauthorized => "admin_unauthorized",
            ApiError::CrossSiteRequest => reverify::axum::CROSS_SITE_REQUEST,
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidCredentials
            | ApiError::SignedOut
            | ApiError::SessionEnded
            | ApiError::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::InvalidCode
            | ApiError::CodeAlreadyUsed
            | ApiError::ActionDigestMismatch
            | ApiError::IncorrectPassword
            | ApiError::PasskeyRejected
            | ApiError::UserVerificationRequired => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::CodeExpired => StatusCode::GONE,
            ApiError::FlowCompleted | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyAttempts { .. } | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Locked { .. } => StatusCode::LOCKED,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::Reverification(r) => {
                StatusCode::from_u16(r.status()).unwrap_or(StatusCode::FORBIDDEN)
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::CrossSiteRequest => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => ApiError::bad_request("invalid_body", e.body_text()),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::BodyTooLarge
            }
            other => ApiError::bad_request("invalid_body", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "service unavailable"),
            _ => {}
        }
        if let ApiError::Reverification(required) = self {
            return required.into_response();
        }
        let body = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let ApiError::TooManyAttempts { retry_after }
        | ApiError::Locked { retry_after }
        | ApiError::RateLimited { retry_after } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Why the server could not start: a bad configuration, an unreachable database, a
/// refused listen address… Its message names the step, and the cause follows in the
/// `source` chain: print it with [`chain`] (`reverify` prints `error: <message>: <cause>`).
///
/// ```
/// use reverify_server::config::Config;
/// use reverify_server::error::{StartError, chain};
///
/// let mut config = Config::default();
/// config.sessions.token_lifetime_secs = 1;
/// let e: StartError = config.validate().unwrap_err().into();
/// assert_eq!(
///     chain(&e),
///     "invalid configuration: sessions.token_lifetime_secs must be between 5 and 3600"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid (the message says which key and why).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened or migrated.
    #[error("cannot open the database {url}")]
    Database {
        /// `database.url`, without its password.
        url: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The signing keys could not be read or created.
    #[error("cannot load the signing keys: {0}")]
    Keys(String),
    /// The `[[oidc.clients]]` could not be registered.
    #[error("cannot register the configured OpenID clients: {0}")]
    OidcClients(String),
    /// The password-hashing settings are unusable.
    #[error("cannot set up password hashing: {0}")]
    Passwords(String),
    /// The email settings are unusable (`email.from`, the SMTP relay).
    #[error("cannot set up email delivery: {0}")]
    Email(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Listen {
        /// `server.listen`.
        addr: std::net::SocketAddr,
        /// Why (in use, not permitted…).
        #[source]
        source: std::io::Error,
    },
    /// Serving failed after the start.
    #[error("the server stopped")]
    Serve(#[source] std::io::Error),
}

impl StartError {
    /// A failure of the database at `url` (its password is not repeated in the message).
    pub fn database(url: &str, source: StoreError) -> StartError {
        StartError::Database {
            url: redact_url(url),
            source,
        }
    }

    /// The detail an [`ApiError`] keeps for the log (its public message says nothing).
    pub(crate) fn detail(e: ApiError) -> String {
        match e {
            ApiError::Internal(detail) | ApiError::Unavailable(detail) => detail,
            other => other.to_string(),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// `error` and its causes, outermost first, joined by `: ` (a cause already spelled out in
/// the message before it is not repeated).
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
