//! What the app-database stores share: their future type and their error.

use std::future::Future;
use std::pin::Pin;

/// The boxed future the methods of the stores (`IdempotencyStore`, `ApprovalStore`) return (the trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a store failed (a database error, typically).
///
/// ```
/// let e = reverify::idempotency::StoreError::new(std::io::Error::other("disk full"));
/// assert_eq!(e.to_string(), "store: disk full");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps the underlying error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError(error.into())
    }
}
