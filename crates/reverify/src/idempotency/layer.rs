//! [`IdempotencyLayer`]: reserve, run once, store, replay.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use http_body::Frame;
use tower_layer::Layer;
use tower_service::Service;

use super::{
    IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, IdempotencyStore, Reservation, Reserve, Slot,
    StoredResponse, Times, fingerprint, parse_key,
};
use crate::axum::{json_response, session_from_parts};

const MIB: usize = 1 << 20;

#[derive(Clone)]
struct Config {
    store: Arc<dyn IdempotencyStore>,
    ttl: Duration,
    lease: Duration,
    required: bool,
    body_limit: usize,
    response_limit: usize,
}

/// Runs the wrapped handlers once per (user, `Idempotency-Key`); see the
/// [module](crate::idempotency) for the answers. Put it inside an
/// [`AuthLayer`](crate::axum::AuthLayer) (it reads the session the same way the
/// [`Session`](crate::Session) extractor does, and the extractor then reuses it).
///
/// ```no_run
/// # #[cfg(feature = "sqlx")]
/// # fn demo(verifier: reverify::Verifier, pool: sqlx::PgPool) -> axum::Router {
/// use std::time::Duration;
/// use axum::{Router, routing::post};
/// use reverify::idempotency::{IdempotencyLayer, PostgresIdempotencyStore};
///
/// # async fn transfer() {}
/// Router::new()
///     .route("/api/transfer", post(transfer))
///     .route_layer(
///         IdempotencyLayer::new(PostgresIdempotencyStore::new(pool))
///             .required(true)
///             .ttl(Duration::from_secs(6 * 3600)),
///     )
///     .layer(reverify::axum::AuthLayer::new(verifier))
/// # }
/// ```
#[derive(Clone)]
pub struct IdempotencyLayer {
    config: Arc<Config>,
}

impl std::fmt::Debug for IdempotencyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("ttl", &self.config.ttl)
            .field("lease", &self.config.lease)
            .field("required", &self.config.required)
            .field("body_limit", &self.config.body_limit)
            .field("response_limit", &self.config.response_limit)
            .finish_non_exhaustive()
    }
}

impl IdempotencyLayer {
    /// A layer on `store`: keys live 24 h, a reservation is abandoned after 60 s, the
    /// header is optional, request and response bodies up to 1 MiB.
    pub fn new(store: impl IdempotencyStore) -> Self {
        IdempotencyLayer {
            config: Arc::new(Config {
                store: Arc::new(store),
                ttl: Duration::from_secs(24 * 3600),
                lease: Duration::from_secs(60),
                required: false,
                body_limit: MIB,
                response_limit: MIB,
            }),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// How long a key (and its stored response) lives. Default 24 h.
    ///
    /// ```
    /// # fn demo(layer: reverify::idempotency::IdempotencyLayer) {
    /// let layer = layer.ttl(std::time::Duration::from_secs(3600));
    /// # }
    /// ```
    pub fn ttl(self, ttl: Duration) -> Self {
        self.with(|c| c.ttl = ttl)
    }

    /// After how long an unfinished reservation counts as abandoned and may be taken over
    /// (the one at-least-once window). Default 60 s; make it longer than your slowest
    /// handler.
    ///
    /// ```
    /// # fn demo(layer: reverify::idempotency::IdempotencyLayer) {
    /// let layer = layer.lease(std::time::Duration::from_secs(120));
    /// # }
    /// ```
    pub fn lease(self, lease: Duration) -> Self {
        self.with(|c| c.lease = lease)
    }

    /// `true`: a state-changing request of a signed-in user without an `Idempotency-Key`
    /// gets 400 `idempotency_key_required`. Default `false`: it passes through untouched.
    ///
    /// ```
    /// # fn demo(layer: reverify::idempotency::IdempotencyLayer) {
    /// let layer = layer.required(true);
    /// # }
    /// ```
    pub fn required(self, required: bool) -> Self {
        self.with(|c| c.required = required)
    }

    /// The largest request body hashed (413 `body_too_large` above it). Default 1 MiB.
    ///
    /// ```
    /// # fn demo(layer: reverify::idempotency::IdempotencyLayer) {
    /// let layer = layer.body_limit(64 * 1024);
    /// # }
    /// ```
    pub fn body_limit(self, bytes: usize) -> Self {
        self.with(|c| c.body_limit = bytes)
    }

    /// The largest response stored; a larger one is passed through and not stored (the key
    /// is released). Default 1 MiB.
    ///
    /// ```
    /// # fn demo(layer: reverify::idempotency::IdempotencyLayer) {
    /// let layer = layer.response_limit(256 * 1024);
    /// # }
    /// ```
    pub fn response_limit(self, bytes: usize) -> Self {
        self.with(|c| c.response_limit = bytes)
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = IdempotencyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`IdempotencyLayer`].
#[derive(Clone)]
pub struct IdempotencyService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for IdempotencyService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> Service<Request<Body>> for IdempotencyService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was driven to readiness is the one that must be called.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(handle(config, inner, request))
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    json_response(status.as_u16(), body, None)
}

/// Whether a response is the final answer to the request (stored) or one a retry with the
/// same key must not get (released): 2xx and 4xx, except 401, 403 (the reverification
/// error: the retry after verifying must run), 408, 409, 425, 429.
fn storable(status: StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error()
            && !matches!(status.as_u16(), 401 | 403 | 408 | 409 | 425 | 429))
}

fn now_millis() -> i64 {
    crate::clock::system_millis()
}

async fn handle<S>(
    config: Arc<Config>,
    mut inner: S,
    request: Request<Body>,
) -> Result<Response, Infallible>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || (!config.required && !request.headers().contains_key(IDEMPOTENCY_KEY))
    {
        return inner.call(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // No valid session: the handler's own extractor gives the 401.
    let Ok(session) = session_from_parts(&mut parts).await else {
        return inner.call(Request::from_parts(parts, body)).await;
    };
    let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
    let key = match (values.next(), values.next()) {
        (None, _) => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "this request needs an Idempotency-Key header",
            ));
        }
        (Some(value), None) => parse_key(value.as_bytes()),
        (Some(_), Some(_)) => None,
    };
    let Some(key) = key else {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "the Idempotency-Key must be one string of 1 to 255 printable ASCII characters",
        ));
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.body_limit as u64) {
        return Ok(too_large());
    }
    let bytes = match read_limited(body, config.body_limit).await {
        Read::Whole(bytes) => bytes,
        Read::TooLarge(..) => return Ok(too_large()),
        Read::Failed(e) => {
            tracing::debug!(error = %e, "idempotency: request body unreadable");
            return Ok(error(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                "the request body could not be read",
            ));
        }
    };
    let print = fingerprint(
        parts.method.as_str(),
        parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
        &bytes,
    );
    let slot = Slot {
        scope: session.user_id(),
        key: &key,
    };
    let times = Times::new(now_millis(), config.ttl, config.lease);
    let reservation = match config.store.reserve(slot, print, times).await {
        Ok(Reserve::Reserved(reservation)) => reservation,
        Ok(Reserve::Done(stored)) => return Ok(replay(stored)),
        Ok(Reserve::InFlight) => {
            let mut response = error(
                StatusCode::CONFLICT,
                "idempotency_request_in_flight",
                "a request with this Idempotency-Key is still running; retry shortly",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(response);
        }
        Ok(Reserve::Mismatch) => {
            return Ok(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_mismatch",
                "this Idempotency-Key was used for a different request",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "idempotency: reserve failed");
            return Ok(unavailable());
        }
    };

    let response = inner
        .call(Request::from_parts(parts, Body::from(bytes)))
        .await?;
    let release = || release(&*config.store, slot, &reservation);
    if !storable(response.status()) {
        release().await;
        return Ok(response);
    }
    let (head, body) = response.into_parts();
    match read_limited(body, config.response_limit).await {
        Read::Whole(bytes) => {
            let stored = StoredResponse {
                status: head.status.as_u16(),
                content_type: head
                    .headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body: bytes.to_vec(),
            };
            if let Err(e) = config.store.complete(slot, &reservation, &stored).await {
                // The handler ran: its answer still goes to the client. The key stays in
                // flight until the lease runs out (then a retry may run again).
                tracing::error!(error = %e, "idempotency: storing the response failed");
            }
            Ok(Response::from_parts(head, Body::from(bytes)))
        }
        Read::TooLarge(prefix, rest) => {
            release().await;
            Ok(Response::from_parts(
                head,
                Body::new(Prefixed {
                    prefix: Some(prefix),
                    rest,
                }),
            ))
        }
        Read::Failed(e) => {
            tracing::error!(error = %e, "idempotency: response body failed");
            release().await;
            Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response_body_failed",
                "the response could not be produced",
            ))
        }
    }
}

async fn release(store: &dyn IdempotencyStore, slot: Slot<'_>, reservation: &Reservation) {
    if let Err(e) = store.release(slot, reservation).await {
        // The key stays in flight until the lease runs out: no second run before then.
        tracing::error!(error = %e, "idempotency: release failed");
    }
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is too large",
    )
}

fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "idempotency_store_unavailable",
        "the request could not be recorded; it was not run",
    )
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(value) = stored
        .content_type
        .and_then(|c| HeaderValue::try_from(c).ok())
    {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

enum Read {
    Whole(Bytes),
    /// What was read so far, and the rest of the body.
    TooLarge(Bytes, Body),
    Failed(axum::Error),
}

/// Reads a body up to `limit` bytes; trailers are ignored.
async fn read_limited(mut body: Body, limit: usize) -> Read {
    let mut buffer = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Read::Whole(Bytes::from(buffer)),
            Some(Err(e)) => return Read::Failed(e),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buffer.extend_from_slice(&data);
                    if buffer.len() > limit {
                        return Read::TooLarge(Bytes::from(buffer), body);
                    }
                }
            }
        }
    }
}

/// Bytes already read, then the rest of the body.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Body,
}

impl HttpBody for Prefixed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}
