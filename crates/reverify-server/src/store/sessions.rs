//! Sessions: opaque cookie secrets stored hashed, lifetimes, factor verification times.

use super::{Store, StoreError, Tx};

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// `sess_…`
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// SHA-256 of the cookie secret (hex).
    pub secret_hash: String,
    /// Sign-in time.
    pub created_at: i64,
    /// Last use (updated coarsely, not on every request).
    pub last_active_at: i64,
    /// Absolute end.
    pub expires_at: i64,
    /// Set when signed out or revoked.
    pub ended_at: Option<i64>,
    /// `sign_out`, `revoked`, `user_deleted`, …
    pub end_reason: Option<String>,
    /// Last first-factor verification in this session.
    pub first_factor_at: Option<i64>,
    /// Last second-factor verification in this session.
    pub second_factor_at: Option<i64>,
    /// Last verification by a passkey that verified its user (`phr`).
    pub phr_at: Option<i64>,
    /// RFC 8176 methods used in this session, space-separated.
    pub amr: String,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
}

/// What a new session starts with.
pub type NewSession = SessionRow;

/// The factor times a verification records on a session (`None`: unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactorTimes {
    /// A first factor's.
    pub first: Option<i64>,
    /// A second factor's.
    pub second: Option<i64>,
    /// A passkey's that verified its user (`phr`).
    pub phr: Option<i64>,
}

const COLUMNS: &str = "id, user_id, secret_hash, created_at, last_active_at, expires_at, ended_at, end_reason, first_factor_at, second_factor_at, phr_at, amr, ip, user_agent";

impl SessionRow {
    /// Whether the session can be used at `now`.
    pub fn is_active(&self, now: i64, idle_timeout: i64) -> bool {
        self.ended_at.is_none() && now < self.expires_at && now < self.last_active_at + idle_timeout
    }
}

impl Store {
    /// Inserts a session inside a transaction.
    pub(crate) async fn insert_session(tx: &mut Tx, s: &NewSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, secret_hash, created_at, last_active_at, expires_at, ended_at, end_reason, first_factor_at, second_factor_at, phr_at, amr, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(&s.secret_hash)
        .bind(s.created_at)
        .bind(s.last_active_at)
        .bind(s.expires_at)
        .bind(s.ended_at)
        .bind(&s.end_reason)
        .bind(s.first_factor_at)
        .bind(s.second_factor_at)
        .bind(s.phr_at)
        .bind(&s.amr)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Creates a session on its own.
    pub async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        Store::insert_session(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session whose cookie secret hashes to `secret_hash`.
    pub async fn session_by_secret_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<SessionRow>, StoreError> {
        if let Some(reader) = &self.reader {
            return reader.session_by_secret_hash(secret_hash);
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE secret_hash = $1"
        ));
        Ok(sqlx::query_as(sql)
            .bind(secret_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The session with this id.
    pub async fn session_by_id(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM sessions WHERE id = $1"));
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A user's sessions that have not ended, newest first.
    pub async fn open_sessions_of(&self, user_id: &str) -> Result<Vec<SessionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at DESC, id"
        ));
        Ok(sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Records use of a session, but only if the stored time is older than `now - granularity`:
    /// refreshing does not write on every call.
    pub async fn touch_session(
        &self,
        id: &str,
        now: i64,
        granularity: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE id = $2 AND last_active_at < $3 AND ended_at IS NULL")
            .bind(now)
            .bind(id)
            .bind(now - granularity)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends a session; false if it was already ended or does not exist. Evicted and
    /// announced like every session change (see `SessionWrite`).
    pub async fn end_session(&self, id: &str, now: i64, reason: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_sessions().await?;
        // Evicted and announced even when it had already ended: an instance may still hold
        // it as active.
        tx.changed.push(Change::Session(id.to_owned()));
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(tx.tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a factor verification in a session on its own (see
    /// `Store::record_factors_tx`).
    pub async fn record_factors(
        &self,
        id: &str,
        times: FactorTimes,
        amr: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_sessions().await?;
        let done = Store::record_factors_tx(&mut tx, id, times, amr).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Starts a write transaction that may change sessions.
    pub(crate) async fn write_sessions(&self) -> Result<SessionWrite, StoreError> {
        Ok(self.changing_sessions(self.write().await?))
    }

    /// Lets an open write transaction change sessions from here on: it must then be
    /// committed through the returned [`SessionWrite`].
    pub(crate) fn changing_sessions(&self, tx: Tx) -> SessionWrite {
        SessionWrite {
            tx,
            store: self.clone(),
            changed: Vec::new(),
        }
    }

    /// Records verified factors on a session inside `tx` (reverification, enrolling a
    /// second factor). Times only move forward. False if the session has ended. A
    /// second-factor time is only recorded on a session whose user has a second factor
    /// (`second_factor_at` not `NULL`): for a user without one, a passkey with user
    /// verification must not leave a time that a later first-factor verification cannot
    /// refresh (the SDK would then judge `strict` by it and ask again forever).
    pub(crate) async fn record_factors_tx(
        tx: &mut SessionWrite,
        id: &str,
        times: FactorTimes,
        amr: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET \
               first_factor_at = CASE WHEN $1 IS NULL THEN first_factor_at WHEN first_factor_at IS NULL OR first_factor_at < $1 THEN $1 ELSE first_factor_at END, \
               second_factor_at = CASE WHEN $2 IS NULL OR second_factor_at IS NULL THEN second_factor_at WHEN second_factor_at < $2 THEN $2 ELSE second_factor_at END, \
               phr_at = CASE WHEN $5 IS NULL THEN phr_at WHEN phr_at IS NULL OR phr_at < $5 THEN $5 ELSE phr_at END, \
               amr = $3 \
             WHERE id = $4 AND ended_at IS NULL",
        )
        .bind(times.first)
        .bind(times.second)
        .bind(amr)
        .bind(id)
        .bind(times.phr)
        .execute(tx.tx.conn())
        .await?;
        tx.changed.push(Change::Session(id.to_owned()));
        Ok(done.rows_affected() == 1)
    }

    /// Ends the user's other open sessions inside `tx`; returns how many.
    pub(crate) async fn end_other_sessions(
        tx: &mut SessionWrite,
        user_id: &str,
        except: &str,
        now: i64,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE user_id = $3 AND id <> $4 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .bind(except)
        .execute(tx.tx.conn())
        .await?;
        if done.rows_affected() > 0 {
            tx.changed.push(Change::User(user_id.to_owned()));
        }
        Ok(done.rows_affected())
    }

    /// Marks the user's open sessions as "second factor enrolled, not verified" (after
    /// enrolling) or "no second factor" (after removing it).
    pub(crate) async fn set_second_factor_enrolled(
        tx: &mut SessionWrite,
        user_id: &str,
        enrolled: bool,
    ) -> Result<(), StoreError> {
        let sql = if enrolled {
            "UPDATE sessions SET second_factor_at = 0 WHERE user_id = $1 AND second_factor_at IS NULL AND ended_at IS NULL"
        } else {
            "UPDATE sessions SET second_factor_at = NULL WHERE user_id = $1 AND ended_at IS NULL"
        };
        sqlx::query(sql).bind(user_id).execute(tx.tx.conn()).await?;
        tx.changed.push(Change::User(user_id.to_owned()));
        Ok(())
    }

    /// Deletes the user's sessions inside `tx` (deleting the user).
    pub(super) async fn delete_sessions_of(
        tx: &mut SessionWrite,
        user_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(tx.tx.conn())
            .await?;
        tx.changed.push(Change::User(user_id.to_owned()));
        Ok(())
    }

    /// Evicts changed sessions from this instance's cache.
    fn forget(&self, changed: &[Change]) {
        for change in changed {
            match change {
                Change::Session(id) => self.session_cache.evict(id),
                Change::User(id) => self.session_cache.evict_user(id),
            }
        }
    }
}

/// A session, or all of a user's sessions, changed: other instances must forget them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    Session(String),
    User(String),
}

impl Change {
    /// The `NOTIFY` payload (see [`SessionCache::apply`](crate::store::SessionCache)).
    fn payload(&self) -> String {
        match self {
            Change::Session(id) => format!("s:{id}"),
            Change::User(id) => format!("u:{id}"),
        }
    }
}

/// A write transaction that may change session rows: the one owner of session
/// invalidation. The functions that change sessions (ending one, deleting a user's,
/// recording factor times, second-factor enrollment) take a `SessionWrite` and note what
/// they changed; [`SessionWrite::commit`] is the only way to make that durable, and it
/// tells every instance. So no path — HTTP, CLI or an embedding program — can change a
/// session and leave another instance serving its cached copy.
///
/// It dereferences to the transaction, for the other writes made in the same transaction.
/// Dropping it rolls back.
pub(crate) struct SessionWrite {
    tx: Tx,
    store: Store,
    changed: Vec<Change>,
}

impl std::fmt::Debug for SessionWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWrite")
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for SessionWrite {
    type Target = Tx;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for SessionWrite {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl SessionWrite {
    /// Commits, and tells every instance which sessions changed: on PostgreSQL by
    /// `NOTIFY reverify_sessions` sent *inside* the transaction (PostgreSQL delivers it
    /// exactly when the commit succeeds, so the change and its announcement cannot come
    /// apart, even if this process dies right after committing); on this instance by
    /// evicting them from the cache once committed.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        self.changed.sort();
        self.changed.dedup();
        if self.store.backend() == super::Backend::Postgres {
            for change in &self.changed {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(super::session_cache::CHANNEL)
                    .bind(change.payload())
                    .execute(self.tx.conn())
                    .await?;
            }
        }
        self.tx.commit().await?;
        self.store.forget(&self.changed);
        Ok(())
    }
}
