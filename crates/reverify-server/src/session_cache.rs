//! An in-process cache of session rows, so that token refreshes (the most frequent
//! request by far) usually skip the database.
//!
//! An entry is trusted for `sessions.cache_ttl_secs` (default 2 s) after it was read; the
//! session's own expiry and idle limits are still checked on every hit. Ending a session
//! on this instance evicts it at once; an instance sharing the database sees the end
//! within the TTL. (Session tokens already minted stay valid until their `exp`, ≤ 60 s, in
//! any case.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::SessionRow;

const CAPACITY: usize = 100_000;

#[derive(Debug)]
pub(crate) struct SessionCache {
    ttl: i64,
    entries: Mutex<HashMap<String, (Arc<SessionRow>, i64)>>,
}

impl SessionCache {
    pub(crate) fn new(ttl_secs: i64) -> SessionCache {
        SessionCache {
            ttl: ttl_secs.max(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<SessionRow>, i64)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached row for a secret hash, if read less than the TTL ago.
    pub(crate) fn get(&self, secret_hash: &str, now: i64) -> Option<Arc<SessionRow>> {
        if self.ttl == 0 {
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
}
