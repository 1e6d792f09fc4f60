//! A direct SQLite reader for the hottest query: finding a session by its cookie hash.
//!
//! sqlx runs every SQLite statement on a worker thread and hands the result back through a
//! channel; for a token refresh that hop (two thread wake-ups) costs more than the query.
//! This reader keeps a few read-only rusqlite connections to the same file and runs the
//! indexed lookup inline. In WAL mode a reader never waits for a writer, so the call is a
//! few microseconds of work and does not stall the executor. It reads what sqlx's writers
//! committed, like any other connection to the file.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{SessionRow, StoreError};

const SESSION_BY_SECRET: &str = "SELECT id, user_id, secret_hash, created_at, last_active_at, expires_at, ended_at, end_reason, first_factor_at, second_factor_at, phr_at, amr, ip, user_agent FROM sessions WHERE secret_hash = ?1";

pub(crate) struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteReader {
    /// A reader for an sqlx SQLite URL (`sqlite://path?...`); `None` for in-memory databases.
    pub(crate) fn for_url(url: &str) -> Option<SqliteReader> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() || path.contains(":memory:") {
            return None;
        }
        Some(SqliteReader {
            path: PathBuf::from(path),
            idle: Mutex::new(Vec::new()),
        })
    }

    fn checkout(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(reader_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(reader_error)?;
        Ok(conn)
    }

    pub(crate) fn session_by_secret_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<SessionRow>, StoreError> {
        let conn = self.checkout()?;
        let row = {
            let mut stmt = conn
                .prepare_cached(SESSION_BY_SECRET)
                .map_err(reader_error)?;
            stmt.query_row([secret_hash], |r| {
                Ok(SessionRow {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    secret_hash: r.get(2)?,
                    created_at: r.get(3)?,
                    last_active_at: r.get(4)?,
                    expires_at: r.get(5)?,
                    ended_at: r.get(6)?,
                    end_reason: r.get(7)?,
                    first_factor_at: r.get(8)?,
                    second_factor_at: r.get(9)?,
                    phr_at: r.get(10)?,
                    amr: r.get(11)?,
                    ip: r.get(12)?,
                    user_agent: r.get(13)?,
                })
            })
            .optional()
            .map_err(reader_error)?
        };
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < 8 {
            idle.push(conn);
        }
        Ok(row)
    }
}

fn reader_error(e: rusqlite::Error) -> StoreError {
    StoreError::Reader(e.to_string())
}
