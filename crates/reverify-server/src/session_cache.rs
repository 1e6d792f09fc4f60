//! An in-process cache of session rows, so that token refreshes (the most frequent
//! request by far) usually skip the database.
//!
//! - Ending a session (sign-out, revocation, user deletion) evicts it on this instance at
//!   once, and — on PostgreSQL — tells every other instance through `NOTIFY
//!   reverify_sessions`; each instance listens and evicts too. While its listener is not
//!   connected, an instance does not use its cache at all (and clears it on reconnecting,
//!   since notifications may have been missed).
//! - An entry is trusted for at most `sessions.cache_ttl_secs` (default 300 s) after it was
//!   read: a backstop, and the bound for several processes sharing one SQLite file, which
//!   have no notifications.
//! - The session's own expiry and idle limits are checked on every use; a cached row that
//!   looks expired is read again before the request is refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::store::SessionRow;

const CAPACITY: usize = 100_000;

/// The PostgreSQL channel session changes are announced on.
pub(crate) const CHANNEL: &str = "reverify_sessions";

type Entries = HashMap<String, (Arc<SessionRow>, i64)>;

#[derive(Debug)]
pub(crate) struct SessionCache {
    ttl: i64,
    /// False while changes made by other instances could go unnoticed.
    healthy: AtomicBool,
    entries: Mutex<Entries>,
}

impl SessionCache {
    /// `healthy` is true when no other instance can change sessions unannounced (SQLite),
    /// false until the PostgreSQL listener is connected.
    pub(crate) fn new(ttl_secs: i64, healthy: bool) -> SessionCache {
        SessionCache {
            ttl: ttl_secs.max(0),
            healthy: AtomicBool::new(healthy),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached row for a secret hash, if read less than the TTL ago.
    pub(crate) fn get(&self, secret_hash: &str, now: i64) -> Option<Arc<SessionRow>> {
        if self.ttl == 0 || !self.healthy.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.lock();
        let (row, read_at) = entries.get(secret_hash)?;
        (now - read_at < self.ttl).then(|| Arc::clone(row))
    }

    pub(crate) fn put(&self, row: Arc<SessionRow>, now: i64) {
        if self.ttl == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, (_, read_at)| now - *read_at < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(row.secret_hash.clone(), (row, now));
    }

    /// Forgets a session (it ended, or its factors changed).
    pub(crate) fn evict(&self, session_id: &str) {
        self.lock().retain(|_, (row, _)| row.id != session_id);
    }

    /// Forgets every session of a user.
    pub(crate) fn evict_user(&self, user_id: &str) {
        self.lock().retain(|_, (row, _)| row.user_id != user_id);
    }

    /// Applies a change announced by another instance: `s:<session id>` or `u:<user id>`.
    pub(crate) fn apply(&self, payload: &str) {
        match payload.split_once(':') {
            Some(("s", id)) => self.evict(id),
            Some(("u", id)) => self.evict_user(id),
            _ => self.lock().clear(),
        }
    }

    fn suspend(&self) {
        self.healthy.store(false, Ordering::Release);
        self.lock().clear();
    }
}

/// Listens for other instances' session changes on PostgreSQL, for as long as the cache
/// lives. Reconnects forever; the cache is off while disconnected.
pub(crate) async fn listen(url: String, cache: Weak<SessionCache>) {
    loop {
        match cache.upgrade() {
            Some(c) => c.suspend(),
            None => return,
        }
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "session change listener: cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "session change listener: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        match cache.upgrade() {
            Some(c) => c.healthy.store(true, Ordering::Release),
            None => return,
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match cache.upgrade() {
                    Some(c) => c.apply(n.payload()),
                    None => return,
                },
                // The connection dropped: changes may have been missed.
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "session change listener failed; reconnecting");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
            }
        }
    }
}
