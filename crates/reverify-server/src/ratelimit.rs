//! Per-IP rate limits: a token bucket per client IP and kind of request, in memory.
//!
//! Each instance counts on its own (behind a load balancer spreading requests over N
//! instances, a client gets up to N times the rate); the per-account lockout, which lives
//! in the database, is what bounds guessing across instances.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::ApiError;

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bucket {
    /// Sign-in and sign-up requests.
    SignIn,
    /// Verification requests.
    Verification,
    /// Wrong admin keys.
    AdminKey,
}

/// Buckets above this many are pruned of full (idle) ones.
const PRUNE_ABOVE: usize = 100_000;

/// The limiter.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    buckets: Mutex<HashMap<(Bucket, String), (f64, i64)>>,
}

impl RateLimiter {
    /// Takes one token for `ip` from `bucket` at `now` (unix seconds), with capacity and
    /// refill of `per_minute` (0: unlimited). Without an IP there is nothing to key on.
    pub(crate) fn check(
        &self,
        bucket: Bucket,
        ip: Option<&str>,
        per_minute: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        self.guard(bucket, ip, per_minute, now, || false)
            .map(|_| ())
    }

    /// Runs `attempt` unless `ip` has no token left in `bucket`; only a failed attempt
    /// (`false`) takes a token. Checking the bucket, attempting and counting happen under
    /// one lock, so parallel requests cannot all pass a check before any is counted. Keep
    /// `attempt` short (a comparison): every bucket waits for it.
    pub(crate) fn guard(
        &self,
        bucket: Bucket,
        ip: Option<&str>,
        per_minute: u32,
        now: i64,
        attempt: impl FnOnce() -> bool,
    ) -> Result<bool, ApiError> {
        let (Some(ip), true) = (ip, per_minute > 0) else {
            return Ok(attempt());
        };
        let capacity = f64::from(per_minute);
        let rate = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, (tokens, at)| *tokens + (now - *at) as f64 * rate < capacity);
        }
        let entry = buckets
            .entry((bucket, ip.to_owned()))
            .or_insert((capacity, now));
        let tokens = (entry.0 + (now - entry.1).max(0) as f64 * rate).min(capacity);
        if tokens >= 1.0 {
            let succeeded = attempt();
            *entry = (if succeeded { tokens } else { tokens - 1.0 }, now);
            Ok(succeeded)
        } else {
            *entry = (tokens, now);
            let wait = ((1.0 - tokens) / rate).ceil().max(1.0);
            Err(ApiError::RateLimited {
                retry_after: wait as u64,
            })
        }
    }
}
