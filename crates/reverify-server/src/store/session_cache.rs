//! An in-process cache of session rows, so that token refreshes (the most frequent
//! request by far) usually skip the database.
//!
//! - The cache belongs to the [`Store`](crate::store::Store), and every change to a session
//!   row goes through one owner there (`store/sessions.rs`): ending a session, deleting a
//!   user, recording factor times, second-factor enrollment. Committing such a change
//!   evicts the sessions on this instance and — on PostgreSQL — tells every other instance
//!   through `NOTIFY reverify_sessions`, sent by the committing transaction itself; each
//!   instance listens and evicts too. While its listener is not connected, an instance does
//!   not use its cache at all (and clears it on reconnecting, since notifications may have
//!   been missed).
//! - An entry is trusted for at most `sessions.cache_ttl_secs` (default 300 s) after it was
//!   read: a backstop, and the bound for several processes sharing one SQLite file, which
//!   have no notifications.
//! - The session's own expiry and idle limits are checked on every use; a cached row that
//!   looks expired is read again before the request is refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::SessionRow;

const CAPACITY: usize = 100_000;

/// The PostgreSQL channel session changes are announced on.
pub(crate) const CHANNEL: &str = "reverify_sessions";

type Entries = HashMap<String, (Arc<SessionRow>, i64)>;

#[derive(Debug)]
pub(crate) struct SessionCache {
    /// Seconds an entry is trusted; 0 turns the cache off (until [`SessionCache::enable`]).
    ttl: AtomicI64,
    /// False while changes made by other instances could go unnoticed.
    healthy: AtomicBool,
    /// The PostgreSQL listener was started (once per cache).
    listening: AtomicBool,
    /// Moves on every eviction and every change of health, under the entries' lock: a row
    /// read from the database is cached only if nothing was evicted since the read began
    /// (else a change committed during the read could be cached over).
    generation: AtomicU64,
    entries: Mutex<Entries>,
}

impl SessionCache {
    /// A cache that is off: it keeps nothing until [`SessionCache::enable`]d.
    pub(crate) fn off() -> SessionCache {
        SessionCache {
            ttl: AtomicI64::new(0),
            healthy: AtomicBool::new(true),
            listening: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Turns the cache on with `ttl_secs`. On PostgreSQL (`listen_url`) it is used only
    /// while a listener for other instances' changes is connected; the listener is started
    /// here, once.
    pub(crate) fn enable(self: &Arc<Self>, ttl_secs: i64, listen_url: Option<&str>) {
        let ttl = ttl_secs.max(0);
        if let Some(url) = listen_url.filter(|_| ttl > 0)
            && !self.listening.swap(true, Ordering::AcqRel)
        {
            self.suspend();
            tokio::spawn(listen(url.to_owned(), Arc::downgrade(self)));
        }
        self.ttl.store(ttl, Ordering::Release);
    }

    fn ttl(&self) -> i64 {
        self.ttl.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached row for a secret hash, if read less than the TTL ago.
    pub(crate) fn get(&self, secret_hash: &str, now: i64) -> Option<Arc<SessionRow>> {
        let ttl = self.ttl();
        if ttl == 0 || !self.healthy.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.lock();
        let (row, read_at) = entries.get(secret_hash)?;
        (now - read_at < ttl).then(|| Arc::clone(row))
    }

    /// The generation to pass to [`SessionCache::put`]: read it before reading the row.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a row read at `now`, unless something was evicted (or the cache's health
    /// changed) since `generation` was read.
    pub(crate) fn put(&self, row: Arc<SessionRow>, now: i64, generation: u64) {
        let ttl = self.ttl();
        if ttl == 0 {
            return;
        }
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, read_at)| now - *read_at < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(row.secret_hash.clone(), (row, now));
    }

    /// Forgets the entries `matches` selects, and moves the generation.
    fn evict_where(&self, matches: impl Fn(&SessionRow) -> bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, (row, _)| !matches(row));
    }

    /// Forgets a session (it ended, or its factors changed).
    pub(crate) fn evict(&self, session_id: &str) {
        self.evict_where(|row| row.id == session_id);
    }

    /// Forgets every session of a user.
    pub(crate) fn evict_user(&self, user_id: &str) {
        self.evict_where(|row| row.user_id == user_id);
    }

    /// Applies a change announced by another instance: `s:<session id>` or `u:<user id>`.
    pub(crate) fn apply(&self, payload: &str) {
        match payload.split_once(':') {
            Some(("s", id)) => self.evict(id),
            Some(("u", id)) => self.evict_user(id),
            _ => self.evict_where(|_| true),
        }
    }

    /// Empties the cache and turns it off or on. Turning it on empties it too: a row cached
    /// while nobody listened may have changed unannounced.
    fn set_healthy(&self, healthy: bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.healthy.store(healthy, Ordering::Release);
    }

    fn suspend(&self) {
        self.set_healthy(false);
    }
}

/// Listens for other instances' session changes on PostgreSQL, for as long as the cache
/// lives. Reconnects forever; the cache is off while disconnected.
async fn listen(url: String, cache: Weak<SessionCache>) {
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
            Some(c) => c.set_healthy(true),
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
