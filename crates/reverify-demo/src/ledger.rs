//! The demo bank's ledger: balances and transfers in an SQLite file (by default the one the
//! embedded auth server uses, in tables of its own).
//!
//! A transfer is answered only after the transaction that records it is committed, so an
//! acknowledged transfer survives the process being killed. Every write goes through one
//! connection on one thread, which commits whatever transfers are waiting in one
//! transaction (group commit): SQLite has one writer at a time anyway, and a commit per
//! batch instead of per transfer keeps the route fast under load. The balance check and the
//! debit are one statement (`UPDATE … WHERE balance_cents >= amount`), and a `CHECK`
//! constraint backs it: a balance never goes negative, however many transfers arrive at
//! once.
//!
//! Durability: the file is in WAL mode with `synchronous = NORMAL`, as the auth server's:
//! a committed transfer survives a crash or kill of the process; a power loss or OS crash
//! can lose the last commits (not corrupt the file).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use tokio::sync::oneshot;

/// Most transfers committed together.
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
";

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
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
#[derive(Debug, Clone)]
pub struct Ledger {
    jobs: mpsc::Sender<Job>,
    opening_cents: i64,
}

enum Job {
    Transfer {
        user: String,
        to: String,
        amount_cents: i64,
        now: i64,
        reply: oneshot::Sender<Result<Transfer, LedgerError>>,
    },
    Balance {
        user: String,
        reply: oneshot::Sender<Result<i64, LedgerError>>,
    },
    History {
        user: String,
        limit: i64,
        reply: oneshot::Sender<Result<Vec<Transfer>, LedgerError>>,
    },
}

impl Ledger {
    /// Opens (creating if needed) the ledger in the SQLite file at `path`; every account
    /// opens with `opening_cents` on its first transfer.
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
        let (reply, answer) = oneshot::channel();
        self.send(Job::Transfer {
            user: user.to_owned(),
            to: to.to_owned(),
            amount_cents,
            now,
            reply,
        })?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }

    /// The user's balance.
    pub async fn balance(&self, user: &str) -> Result<i64, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Balance {
            user: user.to_owned(),
            reply,
        })?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }

    /// The user's latest transfers, newest first.
    pub async fn history(&self, user: &str, limit: i64) -> Result<Vec<Transfer>, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::History {
            user: user.to_owned(),
            limit,
            reply,
        })?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }

    fn send(&self, job: Job) -> Result<(), LedgerError> {
        self.jobs.send(job).map_err(|_| LedgerError::Closed)
    }
}

/// The writer thread: takes every job waiting, answers reads at once, commits the
/// transfers of the batch together, then acknowledges them.
fn run(mut conn: Connection, queue: &mpsc::Receiver<Job>, opening_cents: i64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut transfers = Vec::new();
        for job in batch {
            match job {
                Job::Balance { user, reply } => {
                    let _ = reply.send(balance(&conn, &user, opening_cents));
                }
                Job::History { user, limit, reply } => {
                    let _ = reply.send(history(&conn, &user, limit));
                }
                Job::Transfer {
                    user,
                    to,
                    amount_cents,
                    now,
                    reply,
                } => transfers.push((user, to, amount_cents, now, reply)),
            }
        }
        if !transfers.is_empty() {
            commit_transfers(&mut conn, transfers, opening_cents);
        }
    }
}

type PendingTransfer = (
    String,
    String,
    i64,
    i64,
    oneshot::Sender<Result<Transfer, LedgerError>>,
);

fn commit_transfers(conn: &mut Connection, pending: Vec<PendingTransfer>, opening_cents: i64) {
    let mut outcomes: Vec<Result<Transfer, LedgerError>> = Vec::with_capacity(pending.len());
    let committed = (|| -> Result<(), LedgerError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (user, to, amount_cents, now, _) in &pending {
            outcomes.push(apply(&tx, user, to, *amount_cents, *now, opening_cents));
            if let Some(Err(LedgerError::Database(_))) = outcomes.last() {
                // The whole batch is rolled back: nothing in it is acknowledged.
                return Err(LedgerError::Database(
                    "a transfer of the batch failed".into(),
                ));
            }
        }
        tx.commit()?;
        Ok(())
    })();
    match committed {
        Ok(()) => {
            for ((.., reply), outcome) in pending.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "ledger: a batch of transfers was rolled back");
            for (.., reply) in pending {
                let _ = reply.send(Err(LedgerError::Database(e.to_string())));
            }
        }
    }
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
