//! The demo bank's ledger: balances and transfers in an SQLite file (by default the one the
//! embedded auth server uses, in tables of its own), and the app's two SDK stores in the
//! same file: used approvals ([`ApprovalStore`], table `reverify_approvals`) and
//! idempotency keys with their answers ([`IdempotencyStore`], table
//! `reverify_idempotency`), with the same tables and statements as the SDK's sqlx stores.
//!
//! A transfer is answered only after the transaction that records it is committed, so an
//! acknowledged transfer survives the process being killed. Every write goes through one
//! connection on one thread, which commits whatever writes are waiting (transfers,
//! idempotency reservations, completions and releases, approval uses) in one transaction
//! (group commit), then answers each of them: SQLite has one writer at a time anyway, and
//! a commit per batch instead of per write keeps the routes fast under load. Each write
//! runs inside a savepoint of the batch: one that fails is rolled back alone and answered
//! with its error, the others of the batch are committed. The balance check and the debit
//! are one statement (`UPDATE … WHERE balance_cents >= amount`), and a `CHECK` constraint
//! backs it: a balance never goes negative, however many transfers arrive at once.
//!
//! The stores keep the SDK stores' contracts: a reservation is one `INSERT … ON CONFLICT DO
//! UPDATE … WHERE expired or abandoned RETURNING` (the losing side reads the row in the
//! same transaction, so it cannot vanish in between); a completion or release acts only
//! with the reservation's token on an unfinished row; an approval's use is an `INSERT … ON
//! CONFLICT DO NOTHING`, first use only. Another process using the SDK's stores on the same
//! file stays correct with them (each is one statement under SQLite's write lock).
//!
//! Durability: the file is in WAL mode with `synchronous = NORMAL`, as the auth server's:
//! a committed write survives a crash or kill of the process; a power loss or OS crash
//! can lose the last commits (not corrupt the file).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use reverify::approval::{ApprovalStore, ConsumedApproval};
use reverify::idempotency::{
    BoxFuture, IdempotencyStore, Reservation, Reserve, Slot, StoreError, StoredResponse, Times,
};
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use tokio::sync::oneshot;

/// Most jobs taken together (the writes among them are committed together).
const MAX_BATCH: usize = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS demo_accounts (
    user_id TEXT PRIMARY KEY,
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0),
    opened_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_transfers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    to_name TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    balance_after_cents INTEGER NOT NULL CHECK (balance_after_cents >= 0),
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS demo_transfers_by_user ON demo_transfers (user_id, id);
CREATE TABLE IF NOT EXISTS reverify_idempotency (
    scope TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    token TEXT NOT NULL, completed INTEGER NOT NULL DEFAULT 0, status INTEGER,
    content_type TEXT, body BLOB, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX IF NOT EXISTS reverify_idempotency_expires ON reverify_idempotency (expires_at);
CREATE TABLE IF NOT EXISTS reverify_approvals (
    approval_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, session_id TEXT,
    action_type TEXT NOT NULL, summary TEXT NOT NULL, digest TEXT NOT NULL,
    consumed_at BIGINT NOT NULL, expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS reverify_approvals_by_user ON reverify_approvals (user_id, consumed_at);
";

/// Inserts the key as in flight, or takes over an expired or abandoned row; returns a row
/// only to the winner (the SDK's statement).
const RESERVE: &str = "INSERT INTO reverify_idempotency \
     (scope, idempotency_key, fingerprint, token, completed, created_at, expires_at) \
     VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6) \
     ON CONFLICT (scope, idempotency_key) DO UPDATE SET \
     fingerprint = excluded.fingerprint, token = excluded.token, completed = 0, \
     status = NULL, content_type = NULL, body = NULL, \
     created_at = excluded.created_at, expires_at = excluded.expires_at \
     WHERE reverify_idempotency.expires_at <= ?5 \
     OR (reverify_idempotency.completed = 0 AND reverify_idempotency.created_at < ?7) \
     RETURNING token";

/// The losing side of a reserve reads what holds the key.
const EXISTING: &str = "SELECT fingerprint, completed, status, content_type, body \
     FROM reverify_idempotency WHERE scope = ?1 AND idempotency_key = ?2";

const COMPLETE: &str = "UPDATE reverify_idempotency \
     SET completed = 1, status = ?4, content_type = ?5, body = ?6 \
     WHERE scope = ?1 AND idempotency_key = ?2 AND token = ?3 AND completed = 0";

const RELEASE: &str = "DELETE FROM reverify_idempotency \
     WHERE scope = ?1 AND idempotency_key = ?2 AND token = ?3 AND completed = 0";

/// The first use inserts the row; any later one inserts nothing.
const CONSUME: &str = "INSERT INTO reverify_approvals \
     (approval_id, user_id, session_id, action_type, summary, digest, consumed_at, expires_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (approval_id) DO NOTHING";

/// Why the ledger could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// The balance is lower than the amount (nothing was written).
    #[error("the balance is too low for this transfer")]
    InsufficientFunds,
    /// The database failed (nothing was acknowledged).
    #[error("ledger: {0}")]
    Database(String),
    /// The ledger's thread is gone.
    #[error("the ledger is closed")]
    Closed,
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Database(e.to_string())
    }
}

/// A committed transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Increasing id.
    pub id: i64,
    /// Who receives the money (a name; the demo keeps no account for them).
    pub to: String,
    /// The amount, in cents.
    pub amount_cents: i64,
    /// The sender's balance right after this transfer.
    pub balance_cents: i64,
    /// When it was made (unix seconds).
    pub created_at: i64,
}

/// The ledger: cheap to clone; the writer thread ends when the last clone is dropped.
///
/// It is also the app's [`IdempotencyStore`] and [`ApprovalStore`]: their writes join the
/// writer's batches.
#[derive(Debug, Clone)]
pub struct Ledger {
    jobs: mpsc::Sender<Job>,
    opening_cents: i64,
}

type Reply<T> = oneshot::Sender<Result<T, LedgerError>>;

/// What the writer thread is asked.
enum Job {
    Balance {
        user: String,
        reply: Reply<i64>,
    },
    History {
        user: String,
        limit: i64,
        reply: Reply<Vec<Transfer>>,
    },
    Write(Write),
}

/// A job that writes: applied inside the batch's transaction, answered after its commit.
enum Write {
    Transfer {
        user: String,
        to: String,
        amount_cents: i64,
        now: i64,
        reply: Reply<Transfer>,
    },
    Reserve {
        scope: String,
        key: String,
        /// The request's fingerprint, in hex (as the SDK's stores keep it).
        fingerprint: String,
        token: String,
        times: Times,
        reply: Reply<Reserve>,
    },
    Complete {
        scope: String,
        key: String,
        token: String,
        response: StoredResponse,
        reply: Reply<()>,
    },
    Release {
        scope: String,
        key: String,
        token: String,
        reply: Reply<()>,
    },
    Consume {
        approval: OwnedApproval,
        reply: Reply<bool>,
    },
}

/// A [`ConsumedApproval`] sent to the writer thread.
struct OwnedApproval {
    approval_id: String,
    user_id: String,
    session_id: Option<String>,
    action_type: String,
    summary: String,
    digest: String,
    consumed_at: i64,
    expires_at: i64,
}

impl Ledger {
    /// Opens (creating if needed) the ledger and the app's stores in the SQLite file at
    /// `path`; every account opens with `opening_cents` on its first transfer.
    pub fn open(path: &Path, opening_cents: i64) -> Result<Ledger, LedgerError> {
        let conn = Connection::open(path)?;
        // Another connection (the auth server's) may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("demo-ledger".into())
            .spawn(move || run(conn, &queue, opening_cents))
            .map_err(|e| LedgerError::Database(e.to_string()))?;
        Ok(Ledger {
            jobs,
            opening_cents,
        })
    }

    /// The balance an account opens with.
    pub fn opening_cents(&self) -> i64 {
        self.opening_cents
    }

    /// Moves `amount_cents` out of `user`'s account, once committed.
    pub async fn transfer(
        &self,
        user: &str,
        to: &str,
        amount_cents: i64,
        now: i64,
    ) -> Result<Transfer, LedgerError> {
        self.ask(|reply| {
            Job::Write(Write::Transfer {
                user: user.to_owned(),
                to: to.to_owned(),
                amount_cents,
                now,
                reply,
            })
        })
        .await
    }

    /// The user's balance.
    pub async fn balance(&self, user: &str) -> Result<i64, LedgerError> {
        self.ask(|reply| Job::Balance {
            user: user.to_owned(),
            reply,
        })
        .await
    }

    /// The user's latest transfers, newest first.
    pub async fn history(&self, user: &str, limit: i64) -> Result<Vec<Transfer>, LedgerError> {
        self.ask(|reply| Job::History {
            user: user.to_owned(),
            limit,
            reply,
        })
        .await
    }

    /// Sends the job built around a reply channel and waits for the answer.
    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(job(reply))
            .map_err(|_| LedgerError::Closed)?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reservation's token: 128 random bits, in hex.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::new("no randomness for a reservation token"))?;
    Ok(hex(&bytes))
}

impl IdempotencyStore for Ledger {
    fn reserve<'a>(
        &'a self,
        slot: Slot<'a>,
        fingerprint: [u8; 32],
        times: Times,
    ) -> BoxFuture<'a, Result<Reserve, StoreError>> {
        Box::pin(async move {
            let token = new_token()?;
            self.ask(|reply| {
                Job::Write(Write::Reserve {
                    scope: slot.scope.to_owned(),
                    key: slot.key.to_owned(),
                    fingerprint: hex(&fingerprint),
                    token,
                    times,
                    reply,
                })
            })
            .await
            .map_err(StoreError::new)
        })
    }

    fn complete<'a>(
        &'a self,
        slot: Slot<'a>,
        reservation: &'a Reservation,
        response: &'a StoredResponse,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.ask(|reply| {
                Job::Write(Write::Complete {
                    scope: slot.scope.to_owned(),
                    key: slot.key.to_owned(),
                    token: reservation.token().to_owned(),
                    response: response.clone(),
                    reply,
                })
            })
            .await
            .map_err(StoreError::new)
        })
    }

    fn release<'a>(
        &'a self,
        slot: Slot<'a>,
        reservation: &'a Reservation,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.ask(|reply| {
                Job::Write(Write::Release {
                    scope: slot.scope.to_owned(),
                    key: slot.key.to_owned(),
                    token: reservation.token().to_owned(),
                    reply,
                })
            })
            .await
            .map_err(StoreError::new)
        })
    }
}

impl ApprovalStore for Ledger {
    fn consume<'a>(
        &'a self,
        a: &'a ConsumedApproval<'a>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let approval = OwnedApproval {
                approval_id: a.approval_id.to_owned(),
                user_id: a.user_id.to_owned(),
                session_id: a.session_id.map(str::to_owned),
                action_type: a.action_type.to_owned(),
                summary: a.summary.to_owned(),
                digest: a.digest.to_owned(),
                consumed_at: a.consumed_at,
                expires_at: a.expires_at,
            };
            self.ask(|reply| Job::Write(Write::Consume { approval, reply }))
                .await
                .map_err(StoreError::new)
        })
    }
}

/// The writer thread: takes every job waiting, answers reads at once, commits the
/// writes of the batch together, then answers them.
fn run(mut conn: Connection, queue: &mpsc::Receiver<Job>, opening_cents: i64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut writes = Vec::new();
        for job in batch {
            match job {
                Job::Balance { user, reply } => {
                    let _ = reply.send(balance(&conn, &user, opening_cents));
                }
                Job::History { user, limit, reply } => {
                    let _ = reply.send(history(&conn, &user, limit));
                }
                Job::Write(write) => writes.push(write),
            }
        }
        if !writes.is_empty() {
            commit_writes(&mut conn, writes, opening_cents);
        }
    }
}

/// Sends a write's answer once the batch's fate is known: the batch's error if it was
/// rolled back, else the write's own outcome.
type Answer = Box<dyn FnOnce(&Result<(), LedgerError>)>;

/// The answer of a write whose outcome is `outcome`, and whether it failed in the
/// database (its savepoint is then rolled back).
fn settle<T: 'static>(reply: Reply<T>, outcome: Result<T, LedgerError>) -> (Answer, bool) {
    let failed = matches!(outcome, Err(LedgerError::Database(_)));
    let answer: Answer = Box::new(move |batch| {
        let _ = reply.send(match batch {
            Ok(()) => outcome,
            Err(e) => Err(e.clone()),
        });
    });
    (answer, failed)
}

impl Write {
    /// Applies the write inside its own savepoint of the batch's transaction. `Err` only
    /// when the transaction itself is lost (the batch is then rolled back).
    fn apply(
        self,
        tx: &rusqlite::Transaction<'_>,
        opening_cents: i64,
    ) -> Result<Answer, LedgerError> {
        tx.prepare_cached("SAVEPOINT job")?.execute([])?;
        let (answer, failed) = match self {
            Write::Transfer {
                user,
                to,
                amount_cents,
                now,
                reply,
            } => settle(
                reply,
                apply(tx, &user, &to, amount_cents, now, opening_cents),
            ),
            Write::Reserve {
                scope,
                key,
                fingerprint,
                token,
                times,
                reply,
            } => settle(reply, reserve(tx, &scope, &key, &fingerprint, token, times)),
            Write::Complete {
                scope,
                key,
                token,
                response,
                reply,
            } => {
                let done = tx
                    .prepare_cached(COMPLETE)
                    .and_then(|mut s| {
                        s.execute(params![
                            scope,
                            key,
                            token,
                            i64::from(response.status),
                            response.content_type,
                            response.body,
                        ])
                    })
                    .map(drop)
                    .map_err(LedgerError::from);
                settle(reply, done)
            }
            Write::Release {
                scope,
                key,
                token,
                reply,
            } => {
                let done = tx
                    .prepare_cached(RELEASE)
                    .and_then(|mut s| s.execute(params![scope, key, token]))
                    .map(drop)
                    .map_err(LedgerError::from);
                settle(reply, done)
            }
            Write::Consume { approval: a, reply } => {
                let inserted = tx
                    .prepare_cached(CONSUME)
                    .and_then(|mut s| {
                        s.execute(params![
                            a.approval_id,
                            a.user_id,
                            a.session_id,
                            a.action_type,
                            a.summary,
                            a.digest,
                            a.consumed_at,
                            a.expires_at,
                        ])
                    })
                    .map(|rows| rows == 1)
                    .map_err(LedgerError::from);
                settle(reply, inserted)
            }
        };
        if failed {
            // This write alone is undone; the others of the batch go on.
            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
        }
        tx.prepare_cached("RELEASE job")?.execute([])?;
        Ok(answer)
    }

    /// Answers the write with `error` (its batch could not run it).
    fn fail(self, error: LedgerError) {
        match self {
            Write::Transfer { reply, .. } => drop(reply.send(Err(error))),
            Write::Reserve { reply, .. } => drop(reply.send(Err(error))),
            Write::Complete { reply, .. } | Write::Release { reply, .. } => {
                drop(reply.send(Err(error)));
            }
            Write::Consume { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}

/// Commits the writes in one transaction, then answers each (with the batch's error if
/// the commit failed).
fn commit_writes(conn: &mut Connection, writes: Vec<Write>, opening_cents: i64) {
    let mut answers: Vec<Answer> = Vec::with_capacity(writes.len());
    let mut writes = writes.into_iter();
    let committed = (|| -> Result<(), LedgerError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for write in writes.by_ref() {
            answers.push(write.apply(&tx, opening_cents)?);
        }
        tx.commit()?;
        Ok(())
    })();
    if let Err(e) = &committed {
        // The whole batch is rolled back: nothing in it is acknowledged.
        tracing::error!(error = %e, "ledger: a batch of writes was rolled back");
        for write in writes {
            write.fail(e.clone());
        }
    }
    for answer in answers {
        answer(&committed);
    }
}

/// One reservation inside the batch's transaction: the SDK's single statement; the losing
/// side reads the row that holds the key (it cannot change in between: this thread is the
/// writer).
fn reserve(
    tx: &rusqlite::Transaction<'_>,
    scope: &str,
    key: &str,
    fingerprint: &str,
    token: String,
    times: Times,
) -> Result<Reserve, LedgerError> {
    let won: Option<String> = tx
        .prepare_cached(RESERVE)?
        .query_row(
            params![
                scope,
                key,
                fingerprint,
                token,
                times.now,
                times.expires_at,
                times.abandoned_before
            ],
            |row| row.get(0),
        )
        .optional()?;
    if won.is_some() {
        return Ok(Reserve::Reserved(Reservation::new(token)));
    }
    let existing = tx
        .prepare_cached(EXISTING)?
        .query_row(params![scope, key], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<Vec<u8>>>(4)?,
            ))
        })
        .optional()?;
    Ok(match existing {
        // Cannot happen within the one transaction; the SDK's answer for a key that keeps
        // disappearing.
        None => Reserve::InFlight,
        Some((stored, _, _, _, _)) if stored != fingerprint => Reserve::Mismatch,
        Some((_, 0, _, _, _)) => Reserve::InFlight,
        Some((_, _, status, content_type, body)) => Reserve::Done(StoredResponse {
            status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
            content_type,
            body: body.unwrap_or_default(),
        }),
    })
}

/// One transfer inside the batch's transaction: opens the account if needed, debits it
/// only if the balance covers the amount, and records the transfer.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    user: &str,
    to: &str,
    amount_cents: i64,
    now: i64,
    opening_cents: i64,
) -> Result<Transfer, LedgerError> {
    tx.prepare_cached(
        "INSERT INTO demo_accounts (user_id, balance_cents, opened_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id) DO NOTHING",
    )?
    .execute(params![user, opening_cents, now])?;
    let balance: Option<i64> = tx
        .prepare_cached(
            "UPDATE demo_accounts SET balance_cents = balance_cents - ?2 \
             WHERE user_id = ?1 AND balance_cents >= ?2 RETURNING balance_cents",
        )?
        .query_row(params![user, amount_cents], |row| row.get(0))
        .optional()?;
    let Some(balance_cents) = balance else {
        return Err(LedgerError::InsufficientFunds);
    };
    tx.prepare_cached(
        "INSERT INTO demo_transfers (user_id, to_name, amount_cents, balance_after_cents, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![user, to, amount_cents, balance_cents, now])?;
    Ok(Transfer {
        id: tx.last_insert_rowid(),
        to: to.to_owned(),
        amount_cents,
        balance_cents,
        created_at: now,
    })
}

fn balance(conn: &Connection, user: &str, opening_cents: i64) -> Result<i64, LedgerError> {
    let balance: Option<i64> = conn
        .prepare_cached("SELECT balance_cents FROM demo_accounts WHERE user_id = ?1")?
        .query_row(params![user], |row| row.get(0))
        .optional()?;
    Ok(balance.unwrap_or(opening_cents))
}

fn history(conn: &Connection, user: &str, limit: i64) -> Result<Vec<Transfer>, LedgerError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, to_name, amount_cents, balance_after_cents, created_at FROM demo_transfers \
         WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![user, limit], |row| {
        Ok(Transfer {
            id: row.get(0)?,
            to: row.get(1)?,
            amount_cents: row.get(2)?,
            balance_cents: row.get(3)?,
            created_at: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The SQLite file of an sqlx-style URL (`sqlite://demo.sqlite?mode=rwc`), or `None` for
/// another database or an in-memory one.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}
