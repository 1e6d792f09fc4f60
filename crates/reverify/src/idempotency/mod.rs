//! Exactly once: an axum layer that runs a sensitive handler once per `Idempotency-Key`.
//!
//! A sensitive call can arrive twice: a lost response, a double submit, a network retry,
//! the retry after a reverification. [`IdempotencyLayer`] stores *(user, key, request
//! fingerprint) → response* in the app's own database (through an [`IdempotencyStore`]):
//! the first request runs the handler, every repeat gets the stored response.
//!
//! ```no_run
//! # #[cfg(feature = "sqlx")]
//! # async fn demo(verifier: reverify::Verifier, pool: sqlx::SqlitePool) -> Result<(), reverify::idempotency::StoreError> {
//! use axum::{Router, routing::post};
//! use reverify::axum::AuthLayer;
//! use reverify::idempotency::{IdempotencyLayer, SqliteIdempotencyStore};
//!
//! # async fn transfer() {}
//! let store = SqliteIdempotencyStore::new(pool);
//! store.migrate().await?;
//! let app: Router = Router::new()
//!     .route("/api/transfer", post(transfer))
//!     .route_layer(IdempotencyLayer::new(store)) // inside AuthLayer
//!     .layer(AuthLayer::new(verifier));
//! # Ok(()) }
//! ```
//!
//! | the request | the answer |
//! |---|---|
//! | `GET`, `HEAD`, `OPTIONS`; no `Idempotency-Key` header; no valid session | passed through untouched (see [`IdempotencyLayer::required`]) |
//! | a key that is not a structured-field string or token of 1..=255 printable ASCII characters | 400 `invalid_idempotency_key` |
//! | a body above the limit (1 MiB) | 413 `body_too_large` |
//! | first use of the key | the handler runs; its answer is stored when it is 2xx or 4xx other than 401, 403, 408, 409, 425, 429 |
//! | the same key and request again | the stored answer, with `Idempotent-Replayed: true` |
//! | the same key while the first is running | 409 `idempotency_request_in_flight`, `Retry-After: 1` |
//! | the same key with another method, path, query or body | 422 `idempotency_key_mismatch` |
//! | the store fails | 503 `idempotency_store_unavailable` (the handler does not run) |
//!
//! The key is scoped to the user (`sub` of the verified session): two users never see each
//! other's answers. Keys expire after [`IdempotencyLayer::ttl`] (24 h by default).
//!
//! **The one at-least-once window.** A reservation whose handler has not finished after
//! [`IdempotencyLayer::lease`] (60 s by default) is taken to be abandoned (its process
//! died, or the connection was dropped and the handler cancelled) and the next request with
//! the key runs the handler again. A handler that really runs longer than the lease must
//! have a longer lease. The late `complete` of a reservation that was taken over changes
//! nothing (each reservation carries a token).

mod key;
mod layer;
#[cfg(feature = "sqlx")]
mod sql;

use std::time::Duration;

pub use crate::store::{BoxFuture, StoreError};
pub use key::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, parse_key};
pub use layer::{IdempotencyLayer, IdempotencyService};
#[cfg(feature = "sqlx")]
pub use sql::{PostgresIdempotencyStore, SqliteIdempotencyStore};

/// A response kept for replay: status, `Content-Type` and body.
///
/// ```
/// let stored = reverify::idempotency::StoredResponse {
///     status: 201,
///     content_type: Some("application/json".into()),
///     body: br#"{"id":7}"#.to_vec(),
/// };
/// assert_eq!(stored.status, 201);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if the response had one.
    pub content_type: Option<String>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Where a key lives: the user (scope) and the client's key.
///
/// ```
/// let slot = reverify::idempotency::Slot { scope: "user_1", key: "8e03978e-40d5" };
/// assert_eq!(slot.scope, "user_1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    /// The user id (`sub`) the key belongs to.
    pub scope: &'a str,
    /// The `Idempotency-Key`, as parsed by [`parse_key`].
    pub key: &'a str,
}

/// A won reservation: only its holder may [`complete`](IdempotencyStore::complete) or
/// [`release`](IdempotencyStore::release) it.
///
/// ```
/// let r = reverify::idempotency::Reservation::new("4f1c…".into());
/// assert_eq!(r.token(), "4f1c…");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    token: String,
}

impl Reservation {
    /// A reservation identified by `token` (random, chosen by the store).
    pub fn new(token: String) -> Self {
        Reservation { token }
    }

    /// The token that identifies this reservation in the store.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The outcome of [`IdempotencyStore::reserve`].
///
/// ```
/// use reverify::idempotency::Reserve;
/// let outcome = Reserve::InFlight;
/// assert!(matches!(outcome, Reserve::InFlight));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserve {
    /// The caller holds the key now and runs the handler.
    Reserved(Reservation),
    /// Another request with the same key and fingerprint is running.
    InFlight,
    /// The key was used for a request with another fingerprint.
    Mismatch,
    /// The key's request already ran; this is its response.
    Done(StoredResponse),
}

/// The times of a reservation, in unix milliseconds.
///
/// ```
/// use std::time::Duration;
/// let t = reverify::idempotency::Times::new(1_800_000_000_000, Duration::from_secs(60), Duration::from_secs(10));
/// assert_eq!(t.expires_at, 1_800_000_060_000);
/// assert_eq!(t.abandoned_before, 1_799_999_990_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// Now.
    pub now: i64,
    /// When the new key expires (`now + ttl`).
    pub expires_at: i64,
    /// An unfinished reservation made before this instant is abandoned (`now - lease`).
    pub abandoned_before: i64,
}

impl Times {
    /// The times for a reservation made at `now` (unix ms) with a `ttl` and a `lease`.
    pub fn new(now: i64, ttl: Duration, lease: Duration) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Times {
            now,
            expires_at: now.saturating_add(ms(ttl)),
            abandoned_before: now.saturating_sub(ms(lease)),
        }
    }
}

/// Where the layer keeps keys and responses. Object-safe; implementations must be safe
/// across processes sharing the database (several app instances).
///
/// Contract:
/// - [`reserve`](Self::reserve) is **one atomic statement**: it inserts the key as in
///   flight, or replaces a row that has expired (`expires_at <= now`) or is an abandoned
///   reservation (unfinished, created before `abandoned_before`); only the losing side
///   reads the existing row afterwards. It never holds a transaction open while waiting
///   for anything else.
/// - A different fingerprint on a live row is [`Reserve::Mismatch`]; an unfinished live
///   row is [`Reserve::InFlight`]; a finished one is [`Reserve::Done`].
/// - [`complete`](Self::complete) and [`release`](Self::release) act only when the row
///   still carries the reservation's token and is unfinished.
///
/// ```
/// use reverify::idempotency::{BoxFuture, IdempotencyStore, Reservation, Reserve, Slot, StoreError, StoredResponse, Times};
///
/// /// A store that never remembers anything (every request runs): an example, not a product.
/// struct Forgetful;
///
/// impl IdempotencyStore for Forgetful {
///     fn reserve<'a>(&'a self, _: Slot<'a>, _: [u8; 32], _: Times) -> BoxFuture<'a, Result<Reserve, StoreError>> {
///         Box::pin(async { Ok(Reserve::Reserved(Reservation::new(String::new()))) })
///     }
///     fn complete<'a>(&'a self, _: Slot<'a>, _: &'a Reservation, _: &'a StoredResponse) -> BoxFuture<'a, Result<(), StoreError>> {
///         Box::pin(async { Ok(()) })
///     }
///     fn release<'a>(&'a self, _: Slot<'a>, _: &'a Reservation) -> BoxFuture<'a, Result<(), StoreError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// let _layer = reverify::idempotency::IdempotencyLayer::new(Forgetful);
/// ```
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Atomically reserves `slot` for a request with `fingerprint` (SHA-256 of method,
    /// path and query, body).
    fn reserve<'a>(
        &'a self,
        slot: Slot<'a>,
        fingerprint: [u8; 32],
        times: Times,
    ) -> BoxFuture<'a, Result<Reserve, StoreError>>;

    /// Stores the response of a reservation; later reserves with the key get it.
    fn complete<'a>(
        &'a self,
        slot: Slot<'a>,
        reservation: &'a Reservation,
        response: &'a StoredResponse,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Gives the key up (the response is not to be stored); the next request runs.
    fn release<'a>(
        &'a self,
        slot: Slot<'a>,
        reservation: &'a Reservation,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// SHA-256 over the method, the path and query, and the body: what makes two requests
/// with the same key "the same request".
///
/// ```
/// use reverify::idempotency::fingerprint;
/// let a = fingerprint("POST", "/api/transfer", b"{\"amount\":25}");
/// assert_ne!(a, fingerprint("POST", "/api/transfer", b"{\"amount\":9999}"));
/// assert_ne!(a, fingerprint("POST", "/api/transfer?to=mallory", b"{\"amount\":25}"));
/// ```
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    // Neither the method nor the path can contain NUL: the separators keep the parts apart.
    ctx.update(method.as_bytes());
    ctx.update(b"\0");
    ctx.update(path_and_query.as_bytes());
    ctx.update(b"\0");
    ctx.update(body);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
